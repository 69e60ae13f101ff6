"""Request bodies of the ingest faces: decompression (gzip, zstd) and multipart parts.

The LangSmith SDK sends zstd-compressed multipart streams; OTLP exporters often gzip.
Starlette's form parser cannot read a compressed body, so parts are split here.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from lanza.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaTypeError

MAX_INFLATED = 256 * 1024 * 1024  # a compressed body may not expand past this
CHUNK = 1024 * 1024  # inflated at most this much at a time


@dataclass(frozen=True)
class Part:
    """One part of a multipart body: its form name, content type and bytes."""

    name: str
    content_type: str
    data: bytes


def zstd_available() -> bool:
    """Whether zstd bodies can be read (the ``zstandard`` package is installed)."""
    try:
        import zstandard  # noqa: F401
    except ImportError:
        return False
    return True


async def read_body(request: Request, limit: int = MAX_INFLATED) -> bytes:
    """A request's body without its ``Content-Encoding``, decompressed off the event loop.

    Inflating a hostile body takes seconds of CPU: in a worker thread, other requests
    (``/healthz``, predictions) are answered meanwhile.
    """
    body = await request.body()
    encoding = request.headers.get("content-encoding")
    if (encoding or "identity").strip().lower() in ("", "identity"):
        return body
    return await run_in_threadpool(inflate, body, encoding, limit)


def inflate(body: bytes, encoding: str | None, limit: int = MAX_INFLATED) -> bytes:
    """The body without its ``Content-Encoding`` (none, gzip, deflate or zstd).

    Decompressed in chunks and stopped as soon as the output passes ``limit`` (413): a
    body that would inflate to gigabytes never takes more than ``limit`` of memory.
    """
    encoding = (encoding or "identity").strip().lower()
    try:
        if encoding in ("", "identity"):
            return body
        if encoding in ("gzip", "deflate"):
            inflated = _zlib_bounded(body, 16 + zlib.MAX_WBITS if encoding == "gzip" else 0, limit)
        elif encoding == "zstd" and zstd_available():
            import zstandard

            reader = zstandard.ZstdDecompressor().stream_reader(body)
            inflated = reader.read(limit + 1)
        else:
            raise UnsupportedMediaTypeError(f"Content-Encoding '{encoding}' is not supported.")
    except (OSError, zlib.error, EOFError) as exc:
        raise InvalidInputError(f"The {encoding} body cannot be decompressed: {exc}.") from exc
    except (UnsupportedMediaTypeError, PayloadTooLargeError):
        raise
    except Exception as exc:  # zstandard raises its own ZstdError
        raise InvalidInputError(f"The {encoding} body cannot be decompressed: {exc}.") from exc
    if len(inflated) > limit:
        raise PayloadTooLargeError(f"The decompressed body is over {limit:,} bytes.")
    return inflated


def _zlib_bounded(body: bytes, wbits: int, limit: int) -> bytes:
    """gzip (every member) or deflate (zlib-wrapped, or raw), at most ``limit + 1`` bytes."""
    if wbits == 0:  # deflate: zlib-wrapped as the RFC says, raw as some clients send
        wbits = zlib.MAX_WBITS if body[:1] and (body[0] & 0x0F) == 8 else -zlib.MAX_WBITS
    out = bytearray()
    data = body
    while data:
        engine = zlib.decompressobj(wbits)
        while data:
            out += engine.decompress(data, CHUNK)
            if len(out) > limit:
                raise PayloadTooLargeError(f"The decompressed body is over {limit:,} bytes.")
            data = engine.unconsumed_tail
        if not engine.eof:
            raise EOFError("the compressed data ends early")
        data = engine.unused_data if wbits > 16 else b""  # the next gzip member, if any
    return bytes(out)


def load_json(data: bytes, what: str) -> Any:
    """Parse JSON, or a 400 that names what was being read."""
    try:
        return json.loads(data)
    except ValueError as exc:
        raise InvalidInputError(f"The {what} is not valid JSON: {exc}.") from exc
    except RecursionError as exc:
        raise InvalidInputError(f"The {what} is nested too deeply.") from exc


def multipart(body: bytes, content_type: str) -> list[Part]:
    """Split a ``multipart/form-data`` body into its parts."""
    boundary = _boundary(content_type)
    delimiter = b"--" + boundary
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise InvalidInputError("A multipart part has no header end.")
        headers = _headers(head.decode("latin-1"))
        name = _param(headers.get("content-disposition", ""), "name")
        if name is None:
            raise InvalidInputError("A multipart part has no name.")
        parts.append(Part(name, headers.get("content-type", ""), data.removesuffix(b"\r\n")))
    return parts


def _boundary(content_type: str) -> bytes:
    found = _param(content_type, "boundary")
    if not content_type.lower().startswith("multipart/") or not found:
        raise UnsupportedMediaTypeError("Expected a multipart/form-data body with a boundary.")
    return found.encode("latin-1")


def _headers(head: str) -> dict[str, str]:
    headers = {}
    for line in head.split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            headers[key.strip().lower()] = value.strip()
    return headers


def _param(header: str, key: str) -> str | None:
    for item in header.split(";")[1:]:
        name, sep, value = item.strip().partition("=")
        if sep and name.strip().lower() == key:
            return value.strip().strip('"')
    return None
