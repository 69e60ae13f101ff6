"""Request bodies of the ingest faces: decompression (gzip, zstd) and multipart parts.

The LangSmith SDK sends zstd-compressed multipart streams; OTLP exporters often gzip.
Starlette's form parser cannot read a compressed body, so parts are split here.
"""

from __future__ import annotations

import gzip
import json
import zlib
from dataclasses import dataclass
from typing import Any

from lanza.errors import InvalidInputError, PayloadTooLargeError, UnsupportedMediaTypeError

MAX_INFLATED = 256 * 1024 * 1024  # a compressed body may not expand past this


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


def inflate(body: bytes, encoding: str | None) -> bytes:
    """The body without its ``Content-Encoding`` (none, gzip, deflate or zstd)."""
    encoding = (encoding or "identity").strip().lower()
    try:
        if encoding in ("", "identity"):
            return body
        if encoding == "gzip":
            inflated = gzip.decompress(body)
        elif encoding == "deflate":
            inflated = zlib.decompress(body)
        elif encoding == "zstd" and zstd_available():
            import zstandard

            reader = zstandard.ZstdDecompressor().stream_reader(body)
            inflated = reader.read(MAX_INFLATED + 1)
        else:
            raise UnsupportedMediaTypeError(f"Content-Encoding '{encoding}' is not supported.")
    except (OSError, zlib.error, EOFError) as exc:
        raise InvalidInputError(f"The {encoding} body cannot be decompressed: {exc}.") from exc
    except UnsupportedMediaTypeError:
        raise
    except Exception as exc:  # zstandard raises its own ZstdError
        raise InvalidInputError(f"The {encoding} body cannot be decompressed: {exc}.") from exc
    if len(inflated) > MAX_INFLATED:
        raise PayloadTooLargeError(f"The decompressed body is over {MAX_INFLATED:,} bytes.")
    return inflated


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
