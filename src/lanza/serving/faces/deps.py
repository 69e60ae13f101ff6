"""Typed access to the components a router needs, from ``app.state``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from lanza.records import caller_request_id

if TYPE_CHECKING:
    from lanza.serving.component import ServingComponent


def serving(request: Request) -> ServingComponent:
    """The serving component of this app."""
    component: ServingComponent = request.app.state.serving
    return component


def request_id(request: Request) -> str:
    """The caller's ``X-Request-ID`` if it sent one, else empty (the data plane makes one)."""
    return caller_request_id(request.headers.get("x-request-id"))
