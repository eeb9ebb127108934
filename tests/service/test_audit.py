"""The audit log: one line per admin action and per refused key (401) or scope (403), with time,
action, outcome, key id (never the key), client, route template and subject; to the log or to a
0600 file of its own; one line whatever a name holds; JSON fields with ``--log-format json``."""

from __future__ import annotations

import json
import logging
import os
import stat

import pytest

pytest.importorskip("fastapi", reason="the service needs its extra: pip install 'faceprint[serve]'")
pytest.importorskip("multipart", reason="the service needs python-multipart: pip install 'faceprint[serve]'")

from service_helpers import named_photo  # noqa: E402

AUDIT = "faceprint.audit"


def quote_path(name: str) -> str:
    from urllib.parse import quote as url_quote

    return url_quote(name, safe="")


def key_id(headers: dict[str, str]) -> str:
    return headers["X-API-Key"].split("_")[1]


@pytest.fixture()
def audit_lines(caplog):
    """A function giving the audit records logged since the last call (message, fields)."""
    caplog.set_level(logging.INFO, logger=AUDIT)
    seen = 0

    def lines() -> list[tuple[str, dict]]:
        nonlocal seen
        records = [r for r in caplog.records if r.name == AUDIT]
        new, seen = records[seen:], len(records)
        return [(r.getMessage(), r.fields) for r in new]

    return lines


def test_admin_actions_are_audited(env, lfw, audit_lines):
    c, admin = env["client"], env["admin"]
    audit_lines()
    assert c.post("/v1/subjects", json={"name": "Ada Lovelace"}, headers=admin).status_code == 201
    assert c.patch("/v1/subjects/Ada Lovelace", json={"name": "Ada King"}, headers=admin).status_code == 200
    answer = c.post("/v1/subjects/Ada King/faces", files={"images": named_photo(lfw, "Colin_Powell", 1)}, headers=admin)
    assert answer.status_code == 201, answer.text
    face_id = c.get("/v1/faces", params={"subject": "Ada King"}, headers=admin).json()["faces"][0]["id"]
    assert c.delete(f"/v1/faces/{face_id}", headers=admin).status_code == 200
    assert c.delete("/v1/subjects/Ada King", headers=admin).status_code == 200
    assert c.delete("/v1/subjects/Ada King", headers=admin).status_code == 404  # a failed action is audited too
    lines = audit_lines()
    actions = [(f["action"], f["outcome"], f.get("subject")) for _, f in lines]
    assert actions == [("subject.create", 201, "Ada Lovelace"), ("subject.rename", 200, "Ada Lovelace"),
                       ("face.enrol", 201, "Ada King"), ("face.delete", 200, None),
                       ("subject.delete", 200, "Ada King"), ("subject.delete", 404, "Ada King")]
    for message, fields in lines:
        assert fields["key_id"] == key_id(admin) and fields["client"] and fields["time"].endswith("Z")
        assert admin["X-API-Key"] not in message and admin["X-API-Key"] not in json.dumps(fields)
        assert message.startswith("time=") and "\n" not in message
    assert lines[1][1]["to"] == "Ada King"
    assert lines[2][1]["faces_added"] == 1 and lines[2][1]["route"] == "POST /v1/subjects/{name}/faces"
    assert str(lines[3][1]["face_id"]) == str(face_id)
    assert 'route="DELETE /v1/subjects/{name}"' in lines[4][0] and 'subject="Ada King"' in lines[4][0]


def test_reads_are_not_audited(env, audit_lines):
    c = env["client"]
    audit_lines()
    for path in ("/v1/subjects", "/v1/faces", "/v1/me", "/metrics", "/healthz"):
        c.get(path, headers=env["admin"])
    c.get("/v1/subjects", headers=env["reader"])
    assert audit_lines() == []


def test_refused_keys_and_scopes_are_audited(env, audit_lines):
    c, reader = env["client"], env["reader"]
    audit_lines()
    assert c.get("/v1/subjects").status_code == 401
    revoked, entry = env["keys"].create("admin", "gone")
    env["keys"].revoke(entry.id)
    assert c.delete("/v1/subjects/Someone", headers={"Authorization": f"Bearer {revoked}"}).status_code == 401
    assert c.delete("/v1/subjects/Someone", headers=reader).status_code == 403
    assert c.get("/metrics", headers=reader).status_code == 403
    lines = audit_lines()
    assert [(f["action"], f["outcome"], f["route"]) for _, f in lines] == [
        ("auth.refused", 401, "GET /v1/subjects"), ("auth.refused", 401, "DELETE /v1/subjects/{name}"),
        ("auth.forbidden", 403, "DELETE /v1/subjects/{name}"), ("auth.forbidden", 403, "GET /metrics")]
    assert lines[0][1]["key_id"] == "-" and lines[0][1]["presented_key_id"] == ""
    # a revoked key: the id it claims, never the key
    assert lines[1][1]["presented_key_id"] == entry.id and lines[1][1]["subject"] == "Someone"
    assert revoked not in lines[1][0] and revoked.split("_")[2] not in json.dumps(lines[1][1])
    assert lines[2][1]["key_id"] == key_id(reader)


def test_a_name_cannot_forge_a_line(env, audit_lines):
    c = env["client"]
    audit_lines()
    # (a "\n" never reaches a route: Starlette's path patterns stop at it)
    forged = "Eve\r time=2020-01-01T00:00:00Z action=subject.create outcome=201\u2028x\x1b[2K"
    answer = c.delete("/v1/subjects/" + quote_path(forged), headers=env["admin"])
    assert answer.status_code in (400, 404), answer.text
    ((message, fields),) = audit_lines()
    assert not any(ch in message for ch in "\r\n\u2028\x1b")
    assert "\\r" in message and "\\u2028" in message and "\\u001b" in message
    assert fields["subject"] == forged  # the field keeps the name as it came
    from faceprint.service.audit import quote

    assert quote("plain-name_1.jpg") == "plain-name_1.jpg"
    assert quote("a b") == '"a b"'


def test_audit_file_0600_json(tmp_path, running_service, caplog):
    caplog.set_level(logging.INFO, logger=AUDIT)
    path = tmp_path / "audit" / "audit.log"
    path.parent.mkdir()
    root = tmp_path / "service"
    root.mkdir()
    with running_service(root, warm=False, audit_log=str(path), log_format="json") as started:
        c = started["client"]
        assert c.post("/v1/subjects", json={"name": "Grace Hopper"}, headers=started["admin"]).status_code == 201
        assert c.get("/v1/subjects", headers={"X-API-Key": "fpk_1234abcd_guess"}).status_code == 401
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    lines = path.read_text().splitlines()
    objects = [json.loads(line) for line in lines]
    assert [(o["action"], o["outcome"]) for o in objects] == [("subject.create", 201), ("auth.refused", 401)]
    first = objects[0]
    assert first["logger"] == AUDIT and first["level"] == "INFO" and first["subject"] == "Grace Hopper"
    assert first["key_id"] == key_id(started["admin"]) and first["route"] == "POST /v1/subjects"
    assert objects[1]["presented_key_id"] == "1234abcd" and "guess" not in lines[1]
    # a file of its own: not in the log as well
    assert not [r for r in caplog.records if r.name == AUDIT]


def test_audit_file_text_appends(tmp_path):
    from faceprint.service.audit import AuditLog

    log = AuditLog(tmp_path / "a.log")
    log.write({"time": "t", "action": "subject.delete", "outcome": 200, "subject": "A B"})
    log.close()
    log.write({"time": "t2", "action": "face.delete", "outcome": 404, "face_id": 3})
    log.close()
    assert (tmp_path / "a.log").read_text().splitlines() == [
        'time=t action=subject.delete outcome=200 subject="A B"', "time=t2 action=face.delete outcome=404 face_id=3"]
    with pytest.raises(ValueError, match="json"):
        AuditLog(tmp_path / "b.log", "xml")


def test_json_formatter_and_server_config():
    from faceprint.log_format import JsonFormatter, server_logging_config

    record = logging.LogRecord("faceprint.audit", logging.INFO, __file__, 1, "%s", ("line\nwith newline",), None)
    record.fields = {"action": "subject.create", "outcome": 201, "message": "not overwritten"}
    text = JsonFormatter().format(record)
    assert "\n" not in text
    obj = json.loads(text)
    assert obj["message"] == "line\nwith newline" and obj["action"] == "subject.create" and obj["outcome"] == 201
    assert set(obj) >= {"time", "level", "logger", "message"}
    config = server_logging_config("json", logging.WARNING)
    assert config["root"]["level"] == "WARNING" and config["loggers"]["faceprint.audit"]["level"] == "INFO"
    assert all(f.get("()") == "faceprint.log_format.JsonFormatter" for f in config["formatters"].values())
    assert "()" not in server_logging_config("text", logging.INFO)["formatters"]["faceprint"]


def test_config_and_cli_options(tmp_path, monkeypatch):
    from faceprint.cli.serve_cmd import build_config
    from faceprint.service.config import ServiceConfig

    monkeypatch.setenv("FACEPRINT_SERVE_LOG_FORMAT", "JSON")
    monkeypatch.setenv("FACEPRINT_SERVE_AUDIT_LOG", str(tmp_path / "x.log"))
    config = build_config({"gallery": tmp_path / "g.db", "keys": tmp_path / "k.json"})
    assert config.log_format == "json" and config.audit_log == str(tmp_path / "x.log")
    assert ServiceConfig.from_env(config.to_env()).log_format == "json"
    with pytest.raises(ValueError, match="log format"):
        ServiceConfig(gallery=tmp_path / "g.db", keys=tmp_path / "k.json", log_format="yaml")


@pytest.mark.slow
def test_serve_json_log_with_workers(tmp_path):
    """`faceprint serve --log-format json --workers 2`: each line on stderr is one JSON object, and
    the audit lines of the worker processes are among them with their fields."""
    import httpx

    from faceprint.service.keys import KeyStore
    from faceprint.service.launch import LocalServer

    admin, _ = KeyStore(tmp_path / "keys.json").create("admin", "ops")
    server = LocalServer(tmp_path / "gallery.db", tmp_path / "keys.json", log=tmp_path / "server.log",
                         extra=["--log-format", "json", "--workers", "2"])
    with server:
        assert httpx.get(server.url + "/v1/subjects", timeout=30).status_code == 401
        answer = httpx.post(server.url + "/v1/subjects", json={"name": "Ada"}, headers={"X-API-Key": admin}, timeout=30)
        assert answer.status_code == 201, answer.text
    lines = [line for line in (tmp_path / "server.log").read_text().splitlines() if line.strip()]
    objects = [json.loads(line) for line in lines]  # every line is JSON
    audited = [o for o in objects if o["logger"] == AUDIT]
    assert [(o["action"], o["outcome"]) for o in audited] == [("auth.refused", 401), ("subject.create", 201)]
    assert audited[1]["key_id"] == admin.split("_")[1] and audited[1]["subject"] == "Ada"
    assert audited[1]["client"] == "127.0.0.1" and admin not in "\n".join(lines)
    assert any(o["logger"] == "faceprint.serve" for o in objects)


def test_serve_refuses_an_unwritable_audit_log(tmp_path):
    from typer.testing import CliRunner

    from faceprint.cli.main import app

    result = CliRunner().invoke(app, ["serve", "--gallery", str(tmp_path / "g.db"), "--keys", str(tmp_path / "k.json"),
                                      "--audit-log", str(tmp_path / "missing" / "audit.log")])
    assert result.exit_code != 0
    assert "--audit-log" in result.output and "cannot write it" in result.output and "Traceback" not in result.output
