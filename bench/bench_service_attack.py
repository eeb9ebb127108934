"""Load test under attack: normal keyed clients of `faceprint serve`, with and without cheap attacks.

    nice python bench/bench_service_attack.py --seconds 15

Starts the server in a child process on 127.0.0.1 (``--max-body-mb 0.25``, otherwise its defaults)
on a fresh gallery with LFW people enrolled through the API. Then ``--clients`` normal clients
(one key, from 127.0.0.1) call ``POST /v1/detect`` and ``POST /v1/identify`` back to back with
LFW photos for ``--seconds``: once alone ("calm"), once beside the attack ("attack"). The attack,
from other loopback addresses (127.0.0.2, 127.0.0.3: the server tells clients apart by address),
bounded in connections and requests and stopped with the round:

- ``--stalled`` keyless sockets that announce a 0.25 MB ``POST /v1/identify``, send all but 10
  bytes of it and stall (reopened when the server closes them);
- ``--keyed-stalled`` such sockets with the attacker's own (valid, recognise) key;
- ``--keyless-flood`` clients sending keyless photo uploads back to back;
- ``--queue-flood`` concurrent requests of the attacker's key, re-sent as soon as answered, to
  fill the engine's queue.

Printed per server and condition: the normal clients' requests, requests/s, p50/p99 latency and
error rate (any answer but 200, or no answer), what the attack's requests got, and what one detect
of a flat 7000x7000 PNG (160 KB, 49 Mpx) gets and costs on that server. With
``--baseline SRC`` (another checkout's ``src`` folder, e.g. the code before a change) the same
runs against a server of that code (``PYTHONPATH=SRC``):

    git worktree add /tmp/old HEAD
    nice python bench/bench_service_attack.py --seconds 15 --baseline /tmp/old/src

Everything stays on 127.0.0.1-127.0.0.3; the attack opens at most ``--max-connections``
connections per round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import check_baseline_src
from bench_service_load import enrolled_server, lfw_root, percentile, pick_people

BODY_MB = 0.25
NORMAL_IP, STALL_IP, FLOOD_IP = "127.0.0.1", "127.0.0.2", "127.0.0.3"


async def normal_clients(url: str, key: str, photos: list[bytes], clients: int, stop: float) -> dict:
    """``clients`` keyed clients alternating detect and identify until ``stop``; their figures."""
    import httpx

    latencies: list[float] = []
    statuses: Counter = Counter()

    async def client(number: int) -> None:
        turn = number
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=30.0,
                                     limits=httpx.Limits(max_connections=1)) as http:
            while time.perf_counter() < stop:
                route = "/v1/detect" if turn % 2 else "/v1/identify"
                body = photos[turn % len(photos)]
                turn += clients
                started = time.perf_counter()
                try:
                    answer = await http.post(route, files={"image": ("photo.jpg", body)})
                    statuses[answer.status_code] += 1
                    if answer.status_code == 200:
                        latencies.append(time.perf_counter() - started)
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1

    await asyncio.gather(*(client(i) for i in range(clients)))
    total = sum(statuses.values())
    errors = total - statuses.get(200, 0)
    return {"requests": total, "ok": statuses.get(200, 0),
            "error_rate": round(errors / total, 4) if total else None,
            "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
            "p99_ms": round(1000 * percentile(latencies, 99), 1) if latencies else None,
            "statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)}}


class Attack:
    """The attack traffic of one round, bounded in connections and time.

    Args:
        host, port: the server.
        key: the attacker's valid key (for the keyed stalls and the queue flood).
        photo: an upload for the floods.
        args: the command line (counts and bounds).
    """

    def __init__(self, host: str, port: int, key: str, photo: bytes, args: argparse.Namespace) -> None:
        self.host, self.port, self.key, self.photo, self.args = host, port, key, photo, args
        self.connections = 0
        self.statuses: Counter = Counter()

    async def run(self, stop: float) -> dict:
        tasks = [self._staller(None, stop) for _ in range(self.args.stalled)]
        tasks += [self._staller(self.key, stop) for _ in range(self.args.keyed_stalled)]
        tasks += [self._flooder(None, FLOOD_IP, stop) for _ in range(self.args.keyless_flood)]
        tasks += [self._flooder(self.key, STALL_IP, stop) for _ in range(self.args.queue_flood)]
        await asyncio.gather(*tasks)
        return {"connections": self.connections, "answers": {str(k): v for k, v in sorted(self.statuses.items())}}

    def _may_connect(self) -> bool:
        if self.connections >= self.args.max_connections:
            return False
        self.connections += 1
        return True

    async def _staller(self, key: str | None, stop: float) -> None:
        size = int(BODY_MB * 1024 * 1024)
        head = (b"POST /v1/identify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=xx\r\n"
                + (f"X-API-Key: {key}\r\n".encode() if key else b"") + f"Content-Length: {size}\r\n\r\n".encode())
        label = "stalled keyed" if key else "stalled keyless"
        while time.perf_counter() < stop and self._may_connect():
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port, local_addr=(STALL_IP, 0))
            except OSError:
                await asyncio.sleep(0.1)
                continue
            try:
                writer.write(head + b"x" * (size - 10))
                await writer.drain()
                first = await asyncio.wait_for(reader.read(64), max(0.01, stop - time.perf_counter()))
                self.statuses[f"{label}: {first[9:12].decode(errors='replace') or 'closed'}"] += 1
            except asyncio.TimeoutError:
                self.statuses[f"{label}: held to the end"] += 1
            except OSError:
                self.statuses[f"{label}: reset"] += 1
            finally:
                writer.close()
            await asyncio.sleep(0.05)

    async def _flooder(self, key: str | None, source: str, stop: float) -> None:
        import httpx

        label = "queue flood" if key else "keyless flood"
        transport = httpx.AsyncHTTPTransport(local_address=source)
        headers = {"X-API-Key": key} if key else {}
        if not self._may_connect():
            return
        async with httpx.AsyncClient(base_url=f"http://{self.host}:{self.port}", headers=headers, timeout=30.0,
                                     transport=transport) as http:
            sent = 0
            while time.perf_counter() < stop and sent < self.args.max_requests:
                sent += 1
                try:
                    remaining = max(0.1, stop - time.perf_counter())
                    answer = await asyncio.wait_for(
                        http.post("/v1/detect", files={"image": ("photo.jpg", self.photo)}), remaining)
                    self.statuses[f"{label}: {answer.status_code}"] += 1
                    if answer.status_code != 200:
                        await asyncio.sleep(0.01)
                except (httpx.HTTPError, asyncio.TimeoutError) as exc:
                    self.statuses[f"{label}: {type(exc).__name__}"] += 1
                    await asyncio.sleep(0.05)


def attack_process(port: int, key: str, photo: bytes, args: argparse.Namespace, seconds: float, out) -> None:
    """The attack in a process of its own, so that its event loop does not slow the normal clients'."""
    traffic = Attack("127.0.0.1", port, key, photo, args)
    out.put(asyncio.run(traffic.run(time.perf_counter() + seconds)))


def one_round(server, keys: dict, photos: list[bytes], args, attack: bool) -> dict:
    import multiprocessing

    if not attack:
        stop = time.perf_counter() + args.seconds
        return {"normal": asyncio.run(normal_clients(server.url, keys["normal"], photos, args.clients, stop))}
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    attacker = context.Process(target=attack_process, args=(server.port, keys["attacker"], photos[0], args,
                                                             args.seconds + 2.0, out))
    attacker.start()
    try:
        time.sleep(1.5)  # the attack is under way before the normal clients are measured
        stop = time.perf_counter() + args.seconds
        figures = asyncio.run(normal_clients(server.url, keys["normal"], photos, args.clients, stop))
        attacked = out.get(timeout=args.seconds + 60)
    finally:
        attacker.join(30)
        if attacker.is_alive():
            attacker.kill()
    return {"normal": figures, "attack": attacked}


def measure(label: str, root: Path, people: list[Path], photos: list[bytes], args, src: Path | None) -> dict:
    from faceprint.service.keys import KeyStore

    root.mkdir(parents=True)
    store = KeyStore(root / "keys.json")
    keys = {"admin": store.create("admin", "bench")[0], "normal": store.create("recognise", "normal")[0],
            "attacker": store.create("recognise", "attacker")[0]}
    server = enrolled_server(root, people, args.photos, keys["admin"], ["--max-body-mb", str(BODY_MB)], src)
    try:
        warm_stop = time.perf_counter() + 2.0
        asyncio.run(normal_clients(server.url, keys["normal"], photos, args.clients, warm_stop))
        calm = one_round(server, keys, photos, args, attack=False)
        attacked = one_round(server, keys, photos, args, attack=True)
        time.sleep(1.0)
        after = asyncio.run(normal_clients(server.url, keys["normal"], photos, 1, time.perf_counter() + 2.0))
        large = large_png_cost(server.url, keys["attacker"])
    finally:
        server.stop()
    return {"server": label, "calm": calm["normal"], "attack": attacked["normal"], "attack_traffic": attacked["attack"],
            "after_attack_ok": after["ok"], "after_attack_requests": after["requests"], "large_png": large}


def large_png_cost(url: str, key: str, side: int = 7000) -> dict:
    """One detect of a flat ``side`` x ``side`` PNG (small in bytes, large in pixels): status and seconds."""
    import io

    import httpx
    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((side, side, 3), 128, np.uint8)).save(buffer, format="PNG", optimize=True)
    started = time.perf_counter()
    answer = httpx.post(url + "/v1/detect", headers={"X-API-Key": key},
                        files={"image": ("flat.png", buffer.getvalue())}, timeout=300)
    return {"pixels": side * side, "kb": round(len(buffer.getvalue()) / 1000), "status": answer.status_code,
            "seconds": round(time.perf_counter() - started, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each round (calm, attack)")
    parser.add_argument("--clients", type=int, default=4, help="normal keyed clients")
    parser.add_argument("--people", type=int, default=10, help="LFW people enrolled")
    parser.add_argument("--photos", type=int, default=2, help="photos enrolled per person")
    parser.add_argument("--stalled", type=int, default=8, help="keyless sockets that stall a 0.25 MB body")
    parser.add_argument("--keyed-stalled", type=int, default=2, help="stalled sockets with the attacker's key")
    parser.add_argument("--keyless-flood", type=int, default=4, help="clients flooding keyless uploads")
    parser.add_argument("--queue-flood", type=int, default=64, help="concurrent requests of the attacker's key")
    parser.add_argument("--max-connections", type=int, default=2000, help="most attack connections per round")
    parser.add_argument("--max-requests", type=int, default=5000, help="most requests per flooding client per round")
    parser.add_argument("--baseline", type=Path, metavar="SRC", help="also run against the code of this src folder")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    check_baseline_src(args.baseline)
    lfw = lfw_root()
    people = pick_people(lfw, args.people, args.photos)
    # probes: unenrolled photos of the enrolled people and photos of strangers, same set each run
    probes = [sorted(p.glob("*.jpg"))[args.photos].read_bytes() for p in people]
    strangers = pick_people(lfw, args.people + 5, args.photos)[args.people:]
    probes += [sorted(p.glob("*.jpg"))[0].read_bytes() for p in strangers]
    random.Random(0).shuffle(probes)

    results = []
    with tempfile.TemporaryDirectory(prefix="faceprint-attack-") as tmp:
        results.append(measure("current", Path(tmp) / "current", people, probes, args, None))
        if args.baseline is not None:
            results.append(measure("baseline", Path(tmp) / "baseline", people, probes, args, args.baseline))

    print(f"normal clients: {args.clients} (detect + identify, LFW photos), {args.seconds:g} s per round; attack: "
          f"{args.stalled} stalled keyless + {args.keyed_stalled} stalled keyed bodies, {args.keyless_flood} keyless "
          f"flooders, {args.queue_flood} concurrent keyed queue-flood requests")
    print(f"{'server':9} {'round':7} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  statuses")
    for result in results:
        for condition in ("calm", "attack"):
            f = result[condition]
            rate = f["ok"] / args.seconds
            error = f"{100 * f['error_rate']:.1f}%" if f["error_rate"] is not None else "-"
            print(f"{result['server']:9} {condition:7} {f['requests']:8d} {rate:7.1f} {f['p50_ms'] or '-':>8} "
                  f"{f['p99_ms'] or '-':>8} {error:>7}  {f['statuses']}")
        print(f"{'':9} attack traffic got: {result['attack_traffic']['answers']}")
        print(f"{'':9} after the attack: {result['after_attack_ok']}/{result['after_attack_requests']} requests ok")
        large = result["large_png"]
        print(f"{'':9} a flat {large['pixels'] / 1e6:.0f} Mpx PNG of {large['kb']} KB: {large['status']} in "
              f"{large['seconds']:.2f} s")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results},
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
