"""The HTTP ceiling: a bare ASGI app that reads the body and answers a fixed prediction.

No framework, no model: what uvicorn with httptools alone allows on this machine, the
reference every other server's throughput is divided by.

    uvicorn --http httptools --loop uvloop --no-access-log ceiling:app
"""

from __future__ import annotations

from typing import Any

BODY = b'{"predictions":[0]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"19")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Drain the request body, answer ``{"predictions": [0]}``."""
    if scope["type"] != "http":  # lifespan: accept start-up and shut-down
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
