"""Fixtures for the LLM tests: a tiny causal LM built here, never downloaded."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from tests.servers import running

SENTENCES = [
    "hello world the cat sat on a mat and the dog ran to the park",
    "user assistant system says yes no maybe today is a good day",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} \n{% endfor %}"
    "{% if add_generation_prompt %}assistant : {% endif %}"
)


def build_tiny_lm(folder: Path) -> Path:
    """A 2-layer GPT-2 with random weights and a word-level tokenizer, saved to ``folder``."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]", "[EOS]"])
    tokenizer.train_from_iterator([*SENTENCES, ":"], trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = GPT2Config(
        n_layer=2,
        n_head=2,
        n_embd=32,
        n_positions=256,
        vocab_size=len(fast),
        eos_token_id=fast.eos_token_id,
        bos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the tiny causal LM."""
    return build_tiny_lm(tmp_path_factory.mktemp("tiny-lm"))


class Upstream:
    """A small OpenAI-compatible server for the 'remote provider' path: echoes, fails on demand."""

    def __init__(self) -> None:
        self.failures: list[int] = []
        self.calls: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    def app(self) -> FastAPI:
        """The FastAPI app: ``/v1/chat/completions`` (plain and SSE) and ``/v1/embeddings``."""
        app = FastAPI()

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.post("/v1/chat/completions", response_model=None)
        async def chat(request: Request) -> JSONResponse | StreamingResponse:
            body = await request.json()
            self.calls.append(body)
            self.headers.append(dict(request.headers))
            if body["model"] == "slow":
                await asyncio.sleep(3)
            if body["model"] == "always-500" or self.failures:
                status = self.failures.pop(0) if self.failures else 500
                return JSONResponse({"error": {"message": "upstream down"}}, status_code=status)
            text = "echo: " + body["messages"][-1]["content"]
            if body["model"] == "grader":
                text = "Grade: 4"
            if body.get("stream"):
                return StreamingResponse(_sse_echo(text), media_type="text/event-stream")
            return JSONResponse(
                {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": 1000,
                        "completion_tokens": 500,
                        "total_tokens": 1500,
                    },
                }
            )

        return app


async def _sse_echo(text: str) -> AsyncIterator[str]:
    for word in text.split(" "):
        chunk = {"choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
        yield f"data: {json.dumps(chunk)}\n\n"
    end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    yield f"data: {json.dumps(end)}\n\n"
    usage = {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}
    yield f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n"


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[Upstream, str]]:
    """The fake provider running on a free port; yields it and its ``/v1`` base URL."""
    fake = Upstream()
    with running(fake.app()) as url:
        yield fake, url + "/v1"


class Hooks:
    """A webhook receiver on a real port: keeps every JSON body POSTed to ``/hook``."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    def app(self) -> FastAPI:
        """The receiver's app."""
        app = FastAPI()

        @app.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.post("/hook")
        async def hook(request: Request) -> dict[str, str]:
            self.received.append(await request.json())
            return {"status": "ok"}

        return app


@pytest.fixture(scope="module")
def hooks() -> Iterator[tuple[Hooks, str]]:
    """The receiver and its ``/hook`` URL."""
    receiver = Hooks()
    with running(receiver.app()) as url:
        yield receiver, url + "/hook"
