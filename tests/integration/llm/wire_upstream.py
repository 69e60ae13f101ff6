"""An OpenAI-compatible server for gateway tests: it speaks the wire format a real provider does.

It answers tool calls (whole, or streamed as fragments), ``n`` choices, log probabilities,
JSON mode, token-id prompts and ``dimensions``; a model named ``bad-request`` answers
OpenAI's 400 error object and ``rate-limited`` a 429. Every request body is kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

BAD_REQUEST = {
    "message": "Invalid value for 'tool_choice': no function named 'nope'.",
    "type": "invalid_request_error",
    "param": "tool_choice",
    "code": "invalid_value",
}
RATE_LIMITED = {
    "message": "Rate limit reached for requests.",
    "type": "requests",
    "param": None,
    "code": "rate_limit_exceeded",
}
TOOL_CALL = {
    "id": "call_abc123",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "c"}'},
}
USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


class WireUpstream:
    """The upstream provider; ``calls`` holds every body it was sent."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def app(self) -> FastAPI:
        """``/v1/chat/completions``, ``/v1/completions`` and ``/v1/embeddings``."""
        app = FastAPI()

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.post("/v1/chat/completions", response_model=None)
        async def chat(request: Request) -> JSONResponse | StreamingResponse:
            body = await request.json()
            self.calls.append(body)
            if (failure := _failure(body)) is not None:
                return failure
            choices = [_chat_choice(body, i) for i in range(int(body.get("n") or 1))]
            if body.get("stream"):
                return StreamingResponse(_chat_stream(choices), media_type="text/event-stream")
            return JSONResponse(_envelope(body, "chat.completion") | {"choices": choices})

        @app.post("/v1/completions", response_model=None)
        async def completions(request: Request) -> JSONResponse | StreamingResponse:
            body = await request.json()
            self.calls.append(body)
            if (failure := _failure(body)) is not None:
                return failure
            prompt = body["prompt"]
            text = f" {len(prompt)} token ids" if isinstance(prompt[0], int) else " continued"
            choices = [
                {"index": i, "text": text, "finish_reason": "stop", "logprobs": None}
                for i in range(int(body.get("n") or 1))
            ]
            if body.get("stream"):
                return StreamingResponse(_text_stream(choices), media_type="text/event-stream")
            return JSONResponse(_envelope(body, "text_completion") | {"choices": choices})

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> JSONResponse:
            body = await request.json()
            self.calls.append(body)
            inputs = body["input"]
            size = int(body.get("dimensions") or 8)
            data = [
                {"object": "embedding", "index": i, "embedding": [0.5] * size}
                for i in range(len(inputs))
            ]
            usage = {"prompt_tokens": 3, "total_tokens": 3}
            return JSONResponse(
                {"object": "list", "data": data, "model": body["model"], "usage": usage}
            )

        return app


def _failure(body: dict[str, Any]) -> JSONResponse | None:
    if body["model"] == "bad-request":
        return JSONResponse({"error": BAD_REQUEST}, status_code=400)
    if body["model"] == "rate-limited":
        return JSONResponse({"error": RATE_LIMITED}, status_code=429)
    return None


def _envelope(body: dict[str, Any], kind: str) -> dict[str, Any]:
    return {"id": "up-1", "object": kind, "created": 0, "model": body["model"], "usage": USAGE}


def _chat_choice(body: dict[str, Any], index: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": f"answer {index}"}
    reason = "stop"
    if body.get("tools") and body["messages"][-1]["role"] != "tool":
        message = {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]}
        reason = "tool_calls"
    elif body["messages"][-1]["role"] == "tool":
        message["content"] = "It is " + json.loads(body["messages"][-1]["content"])["temp"]
    elif (body.get("response_format") or {}).get("type") == "json_object":
        message["content"] = '{"ok": true}'
    logprobs = None
    if body.get("logprobs"):
        top = [{"token": "answer", "logprob": -0.5, "bytes": [97]}] * int(
            body.get("top_logprobs") or 0
        )
        token = {"token": "answer", "logprob": -0.25, "bytes": [97], "top_logprobs": top}
        logprobs = {"content": [token], "refusal": None}
    return {"index": index, "message": message, "finish_reason": reason, "logprobs": logprobs}


def _chat_stream(choices: list[dict[str, Any]]) -> Iterator[str]:
    """The way OpenAI streams: role, content or tool-call fragments, finish, usage, DONE."""
    for choice in choices:
        index, message = choice["index"], choice["message"]
        yield _event([{"index": index, "delta": {"role": "assistant", "content": ""}}])
        if message.get("tool_calls"):
            call = message["tool_calls"][0]
            head = {"index": 0, "id": call["id"], "type": "function"}
            head["function"] = {"name": call["function"]["name"], "arguments": ""}
            yield _event([{"index": index, "delta": {"tool_calls": [head]}}])
            arguments = call["function"]["arguments"]
            for part in (arguments[:9], arguments[9:]):
                fragment = {"index": 0, "function": {"arguments": part}}
                yield _event([{"index": index, "delta": {"tool_calls": [fragment]}}])
        else:
            for word in message["content"].split(" "):
                delta = {"content": word + " "}
                yield _event([{"index": index, "delta": delta, "logprobs": choice["logprobs"]}])
        yield _event([{"index": index, "delta": {}, "finish_reason": choice["finish_reason"]}])
    yield _event([], USAGE)
    yield "data: [DONE]\n\n"


def _text_stream(choices: list[dict[str, Any]]) -> Iterator[str]:
    for choice in choices:
        yield _event([{**choice, "finish_reason": None}])
        yield _event([{**choice, "text": "", "finish_reason": "stop"}])
    yield "data: [DONE]\n\n"


def _event(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> str:
    payload: dict[str, Any] = {"id": "up-1", "object": "chunk", "created": 0, "model": "m"}
    payload |= {"choices": choices, "usage": usage}
    return f"data: {json.dumps(payload)}\n\n"
