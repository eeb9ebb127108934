"""Load test of `faceprint serve`: concurrent clients calling identify on 127.0.0.1.

    nice python bench/bench_service_load.py --clients 20 --seconds 30

Starts the server in a child process on a fresh gallery in a temporary folder, enrols LFW people
through the API, warms up, then runs ``--clients`` concurrent HTTP clients (asyncio + httpx, one
connection each) that call ``POST /v1/identify`` back to back for ``--seconds`` with photos of the
enrolled people and of strangers. Printed: requests, requests/s, latency p50/p90/p99/max, the
status codes (any 5xx fails the run), the server's RSS before and after the run (it fails when it
grows by more than 10 %), and how many images the server's batcher put in one batch. With
``--compare-batching N``, also N alternating rounds against a server that embeds one image at a
time (``--max-batch 1``) on the same gallery, and the median ratio of their requests/s.

With ``--baseline SRC`` (another checkout's ``src`` folder, e.g. the code before a change), a
second server runs that code (``PYTHONPATH=SRC``) on its own gallery enrolled the same way, and
``--rounds`` alternating rounds of ``--seconds`` each load both (the order flips every round, so a
load change on the machine hits both); printed: each one's requests/s and p50 latency per round,
their medians, and the median ratio of requests/s (this code over the baseline):

    nice python bench/bench_service_load.py --clients 8 --seconds 15 --baseline ../baseline/src --rounds 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from _common import check_baseline_src


def lfw_root() -> Path:
    from faceprint import settings

    data = settings.data_dir()
    if data is None or not (data / "lfw").is_dir():
        sys.exit("LFW not found: set FACEPRINT_DATA to the folder holding lfw/")
    return data / "lfw"


def pick_people(lfw: Path, count: int, photos: int) -> list[Path]:
    """The first ``count`` people (by name) with at least ``photos`` + 3 photos: same set each run."""
    people = [d for d in sorted(lfw.iterdir()) if d.is_dir() and len(list(d.glob("*.jpg"))) >= photos + 3]
    return people[:count]


def rss_mb(pid: int) -> float:
    """Resident memory of the server process and its children, in MB."""
    import psutil

    process = psutil.Process(pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total / 1e6


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def load(url: str, key: str, probes: list[bytes], clients: int, seconds: float) -> tuple[list[float], Counter]:
    import httpx

    latencies: list[float] = []
    statuses: Counter = Counter()
    stop = time.perf_counter() + seconds

    async def client(number: int) -> None:
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=60.0,
                                     limits=httpx.Limits(max_connections=1)) as http:
            turn = number
            while time.perf_counter() < stop:
                body = probes[turn % len(probes)]
                turn += clients
                started = time.perf_counter()
                try:
                    response = await http.post("/v1/identify", files={"image": ("probe.jpg", body)})
                    statuses[response.status_code] += 1
                except httpx.HTTPError as exc:
                    statuses[f"error: {type(exc).__name__}"] += 1
                    continue
                latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client(i) for i in range(clients)))
    return latencies, statuses


def compare_batching(batched, root: Path, key: str, probes: list[bytes], args) -> dict:
    """Requests/s of the batched server against one on the same gallery with --max-batch 1, in
    alternating rounds (the order flips every round, so a load change on the machine hits both)."""
    from faceprint.service.launch import LocalServer

    single = LocalServer(root / "gallery.db", root / "keys.json", extra=["--max-batch", "1"],
                         env=SHARED_CLIENT_ENV).start()
    try:
        asyncio.run(load(single.url, key, probes, args.clients, args.warmup))
        rates: dict[str, list[float]] = {"batched": [], "one_at_a_time": []}
        for number in range(args.compare_batching):
            order = [("batched", batched), ("one_at_a_time", single)]
            for label, server in (order if number % 2 == 0 else order[::-1]):
                latencies, _ = asyncio.run(load(server.url, key, probes, args.clients, args.compare_seconds))
                rates[label].append(len(latencies) / args.compare_seconds)
    finally:
        single.stop()
    ratios = [b / o for b, o in zip(rates["batched"], rates["one_at_a_time"]) if o > 0]
    return {"rounds": args.compare_batching, "seconds_each": args.compare_seconds,
            "requests_per_s": {k: [round(v, 1) for v in vals] for k, vals in rates.items()},
            "median_ratio_batched_over_one_at_a_time": round(statistics.median(ratios), 2) if ratios else None}


# Every load client here shares one key and one address: lift the per-client shares (the front
# door's defaults would turn most of them away with 429), as variables so an older server ignores them.
SHARED_CLIENT_ENV = {"FACEPRINT_SERVE_MAX_UPLOADS_PER_KEY": "1000", "FACEPRINT_SERVE_MAX_UPLOADS_PER_ADDRESS": "0",
                     "FACEPRINT_SERVE_MAX_QUEUE_PER_CLIENT": "1000"}


def enrolled_server(root: Path, people: list[Path], photos: int, admin: str, extra: list[str],
                    src: Path | None = None, env: dict[str, str] | None = None):
    """``faceprint serve`` on ``root``'s gallery, started (from ``src`` when given) and with
    ``photos`` photos of each of ``people`` enrolled through the API."""
    import httpx

    from faceprint.service.launch import LocalServer

    env = (env or {}) | ({"PYTHONPATH": str(Path(src).resolve())} if src is not None else {})
    server = LocalServer(root / "gallery.db", root / "keys.json", extra=extra, env=env)
    server.start()
    try:
        for person in people:
            files = [("images", (p.name, p.read_bytes())) for p in sorted(person.glob("*.jpg"))[:photos]]
            answer = httpx.post(f"{server.url}/v1/subjects/{person.name}/faces", files=files,
                                headers={"X-API-Key": admin}, timeout=120)
            answer.raise_for_status()
    except BaseException:
        server.stop()
        raise
    return server


def compare_baseline(current, root: Path, people: list[Path], probes: list[bytes], args) -> dict:
    """Requests/s and p50 latency of this code's server against the baseline code's, each on its
    own gallery enrolled the same way, in ``--rounds`` alternating rounds of ``--seconds``."""
    from faceprint.service.keys import KeyStore

    base_root = root / "baseline"
    base_root.mkdir()
    admin, _ = KeyStore(base_root / "keys.json").create("admin", "bench")
    reader, _ = KeyStore(base_root / "keys.json").create("recognise", "bench")
    baseline = enrolled_server(base_root, people, args.photos, admin, ["--workers", str(args.workers)], args.baseline,
                               SHARED_CLIENT_ENV)
    figures: dict[str, dict[str, list[float]]] = {"current": {"requests_per_s": [], "p50_ms": []},
                                                   "baseline": {"requests_per_s": [], "p50_ms": []}}
    try:
        asyncio.run(load(baseline.url, reader, probes, args.clients, args.warmup))
        for number in range(args.rounds):
            order = [("current", current, args.reader_key), ("baseline", baseline, reader)]
            for label, server, key in (order if number % 2 == 0 else order[::-1]):
                latencies, _ = asyncio.run(load(server.url, key, probes, args.clients, args.seconds))
                figures[label]["requests_per_s"].append(round(len(latencies) / args.seconds, 1))
                figures[label]["p50_ms"].append(round(1000 * statistics.median(latencies), 1) if latencies else None)
    finally:
        baseline.stop()
    medians = {label: {name: statistics.median([v for v in values if v is not None]) for name, values in f.items()}
               for label, f in figures.items()}
    ratios = [c / b for c, b in zip(figures["current"]["requests_per_s"], figures["baseline"]["requests_per_s"]) if b]
    return {"baseline_src": str(args.baseline), "rounds": args.rounds, "seconds_each": args.seconds,
            "per_round": figures, "median": medians,
            "median_ratio_current_over_baseline": round(statistics.median(ratios), 3) if ratios else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--people", type=int, default=20, help="LFW people to enrol")
    parser.add_argument("--photos", type=int, default=3, help="photos enrolled per person")
    parser.add_argument("--workers", type=int, default=1, help="server processes (faceprint serve --workers)")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before measuring")
    parser.add_argument("--compare-batching", type=int, default=0, metavar="ROUNDS",
                        help="then compare with a second server on the same gallery that embeds one image at a "
                             "time (--max-batch 1): ROUNDS alternating rounds of --compare-seconds each")
    parser.add_argument("--compare-seconds", type=float, default=10.0)
    parser.add_argument("--baseline", type=Path, metavar="SRC",
                        help="also load a server running the code of this src folder (PYTHONPATH=SRC), on its own "
                             "gallery, in --rounds alternating rounds of --seconds with this code's server")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds against --baseline")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    import httpx

    from faceprint.service.keys import KeyStore

    check_baseline_src(args.baseline)
    lfw = lfw_root()
    people = pick_people(lfw, args.people, args.photos)
    strangers = pick_people(lfw, args.people + 10, args.photos)[args.people:]
    with tempfile.TemporaryDirectory(prefix="faceprint-load-") as tmp:
        root = Path(tmp)
        admin, _ = KeyStore(root / "keys.json").create("admin", "bench")
        reader, _ = KeyStore(root / "keys.json").create("recognise", "bench")
        args.reader_key = reader
        server = enrolled_server(root, people, args.photos, admin, ["--workers", str(args.workers)],
                                 env=SHARED_CLIENT_ENV)
        try:
            probes = [p.read_bytes() for person in people for p in sorted(person.glob("*.jpg"))[args.photos:args.photos + 3]]
            probes += [sorted(s.glob("*.jpg"))[0].read_bytes() for s in strangers]
            # warm-up: the first requests pay for lazy set-up (index load, allocator growth)
            asyncio.run(load(server.url, reader, probes, args.clients, args.warmup))
            before = httpx.get(f"{server.url}/readyz", timeout=10).json()
            rss_start = rss_mb(server.pid)
            samples: list[float] = []
            sampling = threading.Event()

            def sample() -> None:  # RSS every 5 s during the run: flat, or creeping up?
                while not sampling.wait(5.0):
                    samples.append(round(rss_mb(server.pid), 1))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            latencies, statuses = asyncio.run(load(server.url, reader, probes, args.clients, args.seconds))
            sampling.set()
            sampler.join()
            rss_end = rss_mb(server.pid)
            ready = httpx.get(f"{server.url}/readyz", timeout=10).json()
            comparison = (compare_batching(server, root, reader, probes, args) if args.compare_batching else None)
            against_baseline = compare_baseline(server, root, people, probes, args) if args.baseline else None
        finally:
            server.stop()

    errors_5xx = sum(n for s, n in statuses.items() if isinstance(s, int) and s >= 500)
    failures = sum(n for s, n in statuses.items() if not isinstance(s, int))
    growth = (rss_end - rss_start) / rss_start
    result = {
        "clients": args.clients, "seconds": args.seconds, "workers": args.workers,
        "enrolled_people": len(people), "enrolled_faces": ready.get("faces"), "probe_photos": len(probes),
        "requests": len(latencies), "requests_per_s": round(len(latencies) / args.seconds, 1),
        "latency_ms": {"p50": round(1000 * statistics.median(latencies), 1),
                       "p90": round(1000 * percentile(latencies, 90), 1),
                       "p99": round(1000 * percentile(latencies, 99), 1),
                       "max": round(1000 * max(latencies), 1)},
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)},
        "mean_batch_size": (round((ready["batched_images"] - before["batched_images"])
                                  / max(1, ready["batches"] - before["batches"]), 2) if args.workers == 1 else None),
        "5xx": errors_5xx, "connection_errors": failures,
        "server_rss_mb": {"start": round(rss_start, 1), "end": round(rss_end, 1),
                          "growth_percent": round(100 * growth, 1), "every_5_s": samples},
    }
    if comparison is not None:
        result["batching_vs_one_at_a_time"] = comparison
    if against_baseline is not None:
        result["current_vs_baseline"] = against_baseline
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    ok = errors_5xx == 0 and failures == 0 and abs(growth) <= 0.10
    print(f"{'PASS' if ok else 'FAIL'}: {len(latencies)} requests, {result['requests_per_s']} req/s, "
          f"p50 {result['latency_ms']['p50']} ms, p99 {result['latency_ms']['p99']} ms, {errors_5xx} 5xx, "
          f"RSS {rss_start:.0f} -> {rss_end:.0f} MB ({100 * growth:+.1f} %)", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
