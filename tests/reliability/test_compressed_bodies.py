"""Compressed ingest bodies: inflated off the event loop, and never past 256 MiB."""

from __future__ import annotations

import asyncio
import gzip
import threading
import zlib
from pathlib import Path

import httpx
import pytest

from lanza.llm.tracing.bodies import MAX_INFLATED, inflate, read_body
from lanza.server import create_app
from lanza.settings import Settings
from lanza.workspace import Workspace
from tests.servers import running


def _bomb(size: int) -> bytes:
    """A gzip body that inflates to ``size`` zero bytes (about 1/1000 of that on the wire)."""
    engine = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [engine.compress(block) for _ in range(size // len(block))]
    parts.append(engine.compress(bytes(size % len(block))))
    return b"".join(parts) + engine.flush()


def test_inflation_is_bounded_while_streaming_and_reads_every_gzip_member() -> None:
    with pytest.raises(Exception, match="over 1,000 bytes") as refused:
        inflate(_bomb(10_000_000), "gzip", limit=1000)
    assert refused.value.status_code == 413  # type: ignore[attr-defined]
    assert inflate(gzip.compress(b"a") + gzip.compress(b"b"), "gzip") == b"ab"
    assert inflate(zlib.compress(b"wrapped"), "deflate") == b"wrapped"
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert inflate(raw.compress(b"raw") + raw.flush(), "deflate") == b"raw"
    with pytest.raises(Exception, match="cannot be decompressed"):
        inflate(gzip.compress(b"abcdef" * 100)[:-20], "gzip")


def test_the_event_loop_keeps_turning_while_a_body_inflates() -> None:
    from starlette.requests import Request

    body = _bomb(300 * 1024 * 1024)
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "headers": [(b"content-encoding", b"gzip")]}

    async def main() -> int:
        ticks = 0
        task = asyncio.create_task(read_body(Request(scope, receive)))
        while not task.done():
            ticks += 1
            await asyncio.sleep(0)
        with pytest.raises(Exception, match="over 268,435,456 bytes"):
            task.result()
        return ticks

    assert asyncio.run(main()) > 1


@pytest.mark.slow
def test_a_gzip_bomb_gets_413_on_both_ingest_routes_and_health_answers_meanwhile(
    tmp_path: Path,
) -> None:
    ws = Workspace(Settings(home=tmp_path / "home"))
    just_over = _bomb(MAX_INFLATED + 1)
    headers = {"content-encoding": "gzip", "content-type": "application/json"}
    answers: list[httpx.Response] = []
    try:
        with running(create_app(workspace=ws)) as url:

            def send(path: str) -> None:
                answers.append(
                    httpx.post(url + path, content=just_over, headers=headers, timeout=120)
                )

            threads = [
                threading.Thread(target=send, args=(p,))
                for p in ("/otlp/v1/traces", "/langsmith/runs/batch")
            ]
            for thread in threads:
                thread.start()
            health = httpx.get(url + "/healthz", timeout=60)
            for thread in threads:
                thread.join()
        assert health.status_code == 200
        assert [a.status_code for a in answers] == [413, 413], [a.text for a in answers]
        assert "over 268,435,456 bytes" in answers[0].json()["error"]["message"]
    finally:
        ws.close()
