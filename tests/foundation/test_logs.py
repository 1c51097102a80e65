"""Logs carry no message text, personal data or IP addresses."""

from __future__ import annotations

import io
import json
import logging

import pytest

from coordinator import logs


@pytest.fixture
def captured():
    stream = io.StringIO()
    logs.setup("DEBUG", stream=stream)
    yield stream
    logs.setup("WARNING")


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize(
    "secret",
    [
        "203.0.113.7",
        "2001:db8::1",
        "fe80::1ff:fe23:4567:890a",
        "maria@example.org",
        "@maria:matrix.example.org",
        "+1 (555) 010-9999",
    ],
)
def test_identifiers_are_scrubbed_from_library_records(captured, secret):
    logging.getLogger("aiohttp.server").warning("connection from %s failed", secret)
    logging.getLogger("some.lib").error(f"raw f-string with {secret} inside")
    out = captured.getvalue()
    assert secret not in out
    assert len(lines(captured)) == 2


def test_structured_fields_are_json_and_scrubbed(captured):
    log = logs.get_logger("dsx.test")
    log.info("request.filed", case="REQ-1", count=3, contact="maria@example.org", ok=True)
    (record,) = lines(captured)
    assert record["event"] == "request.filed"
    assert record["case"] == "REQ-1" and record["count"] == 3 and record["ok"] is True
    assert record["contact"] == "[email]"
    assert record["level"] == "info" and record["logger"] == "dsx.test"


def test_long_values_are_truncated(captured):
    logs.get_logger("dsx.test").info("x", blob="a" * 5000)
    (record,) = lines(captured)
    assert len(record["blob"]) <= logs.MAX_FIELD + 1


def test_exceptions_log_their_type_not_their_message(captured):
    log = logs.get_logger("dsx.test")
    try:
        raise ValueError("the organization is Maria's Legal Aid")
    except ValueError:
        log.error("handler.failed", exc_info=True)
    out = captured.getvalue()
    assert "Maria" not in out
    assert lines(captured)[0]["error"] == "ValueError"


def test_matrix_server_names_survive_for_debugging():
    assert logs.scrub("@maria:example.org") == "@[user]:example.org"
    assert logs.scrub("event $abc:localhost:8448 in !room:localhost:8448") == (
        "event $abc:localhost:8448 in !room:localhost:8448"
    )


def test_timestamps_are_iso_8601_utc(captured):
    logs.get_logger("dsx.test").info("service.ready", rooms=3)
    (line,) = lines(captured)
    from datetime import datetime

    assert line["ts"].endswith("Z") and "T" in line["ts"]
    parsed = datetime.fromisoformat(line["ts"].replace("Z", "+00:00"))
    assert parsed.utcoffset().total_seconds() == 0


def test_console_format_is_readable_and_scrubbed_the_same_way():
    stream = io.StringIO()
    logs.setup("INFO", stream=stream, fmt="console")
    try:
        logs.get_logger("dsx.test").info("request.filed", case="r-1", who="@ann:example.org")
        logging.getLogger("aiohttp.server").warning("from 203.0.113.7 mail a@b.example")
    finally:
        logs.setup("WARNING")
    first, second = stream.getvalue().splitlines()
    assert " info    request.filed " in first and 'case="r-1"' in first
    assert "@ann" not in first and "@[user]:example.org" in first
    assert "203.0.113.7" not in second and "a@b.example" not in second
    with pytest.raises(json.JSONDecodeError):
        json.loads(first)


def test_auto_format_is_json_when_not_a_terminal(captured):
    stream = io.StringIO()
    logs.setup("INFO", stream=stream, fmt="auto")
    try:
        logs.get_logger("dsx.test").info("service.ready")
    finally:
        logs.setup("WARNING")
    assert json.loads(stream.getvalue())["event"] == "service.ready"


async def test_migrating_says_one_line_not_alembics_seven(tmp_path):
    from coordinator.store import migrate

    stream = io.StringIO()
    logs.setup("INFO", stream=stream)
    try:
        await migrate(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    finally:
        logs.setup("WARNING")
    events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert events == ["store.migrated"], events
