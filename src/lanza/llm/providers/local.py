"""A Hugging Face ``transformers`` causal LM from a local folder, run by lanza.

Generation runs in a worker thread (one at a time per model: a model's generation is
not safe to interleave), greedy by default or sampled when a temperature is given, with
stop sequences and token-by-token streaming through ``TextIteratorStreamer``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanza.errors import InvalidInputError
from lanza.llm.providers.base import (
    ChatMessage,
    Choice,
    Completion,
    Delta,
    GenerationParams,
    Prompt,
    Provider,
    Usage,
)
from lanza.llm.providers.text import StopScanner, cut_at_stop, plain_chat_prompt

DEFAULT_MAX_TOKENS = 256


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError("The deployment asks for device 'cuda' but no GPU is visible.")
    return device


def local_folder(model: str) -> Path:
    """The model's folder; 400 if it does not exist."""
    path = Path(model).expanduser()
    if not path.is_dir():
        raise InvalidInputError(f"The model folder {model} does not exist.")
    return path


UNSUPPORTED = {
    "tools": "tool calls",
    "functions": "function calls",
    "logprobs": "log probabilities",
    "top_logprobs": "log probabilities",
}


def local_prompt(prompt: Prompt, params: GenerationParams) -> str | list[int]:
    """The one prompt (text or token ids) a local model continues; what it cannot do is a 400."""
    for key, what in UNSUPPORTED.items():
        if params.extra.get(key):
            raise InvalidInputError(
                f"Field '{key}': a local-transformers deployment does not give {what}; "
                "use a remote (openai) deployment."
            )
    kind = (params.extra.get("response_format") or {}).get("type", "text")
    if kind != "text":
        raise InvalidInputError(
            f"Field 'response_format': a local-transformers deployment answers text, not '{kind}'."
        )
    if isinstance(prompt, list) and len(prompt) == 1 and not isinstance(prompt[0], int):
        prompt = prompt[0]
    if isinstance(prompt, str):
        return prompt
    if prompt and all(isinstance(i, int) for i in prompt):
        return [int(i) for i in prompt if isinstance(i, int)]
    raise InvalidInputError(
        "Field 'prompt': a local-transformers deployment takes one prompt (text or token ids)."
    )


@dataclass
class _Run:
    """What one generation produced, filled in by the worker thread."""

    new_tokens: int = 0
    prompt_tokens: int = 0
    error: BaseException | None = None


class TransformersProvider(Provider):
    """Chat and completions from a local causal LM."""

    kind = "local-transformers"

    def __init__(self, model: str, device: str) -> None:
        self.folder = local_folder(model)
        self.device_choice = device
        self.device = "cpu"
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None

    async def load(self) -> None:
        await asyncio.to_thread(self._load)

    def _load(self) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = resolve_device(self.device_choice)
        self._tokenizer = AutoTokenizer.from_pretrained(self.folder, local_files_only=True)
        model: Any = AutoModelForCausalLM.from_pretrained(self.folder, local_files_only=True)
        self._model = model.to(self.device).eval()

    async def close(self) -> None:
        self._model = self._tokenizer = None

    def chat_prompt(self, messages: list[ChatMessage]) -> str:
        """The conversation as the model's chat template writes it."""
        if getattr(self._tokenizer, "chat_template", None):
            wire = [{"role": m.role, "content": m.text()} for m in messages]
            text = self._tokenizer.apply_chat_template(
                wire, add_generation_prompt=True, tokenize=False
            )
            return str(text)
        return plain_chat_prompt(messages)

    async def chat(self, messages: list[ChatMessage], params: GenerationParams) -> Completion:
        return await self.complete(self.chat_prompt(messages), params)

    def stream_chat(
        self, messages: list[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[Delta]:
        return self.stream_complete(self.chat_prompt(messages), params)

    async def complete(self, prompt: Prompt, params: GenerationParams) -> Completion:
        text = local_prompt(prompt, params)
        # ``n`` answers are ``n`` generations: sampled ones differ, greedy ones agree.
        answers = [await asyncio.to_thread(self._complete, text, params) for _ in range(params.n)]
        usage = Usage(
            answers[0].usage.prompt_tokens, sum(a.usage.completion_tokens for a in answers)
        )
        return Completion.of([Choice(a.text, a.finish_reason) for a in answers], usage)

    def _complete(self, prompt: str | list[int], params: GenerationParams) -> Completion:
        inputs = self._encode(prompt)
        start = int(inputs["input_ids"].shape[1])
        with self._lock:
            _seed(params)
            output = self._model.generate(**inputs, **self._generate_kwargs(params, start))
        new = output[0, start:]
        text = self._tokenizer.decode(new, skip_special_tokens=True)
        text, stopped = cut_at_stop(text, params.stop)
        limit = params.max_tokens or DEFAULT_MAX_TOKENS
        reason = "length" if len(new) >= limit and not stopped else "stop"
        return Completion(text, reason, Usage(start, len(new)))

    async def stream_complete(
        self, prompt: Prompt, params: GenerationParams
    ) -> AsyncIterator[Delta]:
        from transformers import TextIteratorStreamer

        if params.n != 1:
            raise InvalidInputError(
                "Field 'n': a local model streams one choice; ask without 'stream' for more."
            )
        inputs = self._encode(local_prompt(prompt, params))
        start = int(inputs["input_ids"].shape[1])
        streamer = TextIteratorStreamer(
            self._tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600
        )
        run = _Run(prompt_tokens=start)
        kwargs = {**inputs, **self._generate_kwargs(params, start), "streamer": streamer}
        worker = threading.Thread(
            target=self._generate_into, args=(kwargs, params, run), daemon=True
        )
        worker.start()
        scanner = StopScanner(params.stop)
        pieces = iter(streamer)
        while (piece := await asyncio.to_thread(next, pieces, None)) is not None:
            if text := scanner.feed(piece):
                yield Delta(text=text)
        await asyncio.to_thread(worker.join)
        if run.error is not None:
            raise run.error
        if tail := scanner.flush():
            yield Delta(text=tail)
        limit = params.max_tokens or DEFAULT_MAX_TOKENS
        reason = "length" if run.new_tokens >= limit and not scanner.stopped else "stop"
        yield Delta(finish_reason=reason, usage=Usage(start, run.new_tokens))

    def _generate_into(self, kwargs: dict[str, Any], params: GenerationParams, run: _Run) -> None:
        try:
            with self._lock:
                _seed(params)
                output = self._model.generate(**kwargs)
            run.new_tokens = int(output.shape[1]) - run.prompt_tokens
        except BaseException as exc:  # handed to the awaiting request, never lost
            run.error = exc
            kwargs["streamer"].end()

    def _encode(self, prompt: str | list[int]) -> Any:
        if self._model is None:
            raise InvalidInputError("The model is not loaded.")
        if isinstance(prompt, str):
            return self._tokenizer(prompt, return_tensors="pt").to(self.device)
        import torch

        size = int(self._model.get_input_embeddings().num_embeddings)
        if not all(0 <= i < size for i in prompt):
            raise InvalidInputError(
                f"Field 'prompt': token ids must be between 0 and {size - 1} for this model."
            )
        ids = torch.tensor([prompt], dtype=torch.long, device=self.device)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def _generate_kwargs(self, params: GenerationParams, start: int) -> dict[str, Any]:

        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_tokens or DEFAULT_MAX_TOKENS,
            "do_sample": not params.greedy,
            "pad_token_id": self._pad_token_id(),
        }
        if not params.greedy:
            kwargs["temperature"] = params.temperature
            kwargs["top_p"] = params.top_p if params.top_p is not None else 1.0
        if params.stop:
            kwargs["stopping_criteria"] = _stop_criteria(self._tokenizer, start, params.stop)
        return kwargs

    def _pad_token_id(self) -> int | None:
        tokenizer = self._tokenizer
        pad = tokenizer.pad_token_id
        return int(pad) if pad is not None else tokenizer.eos_token_id


def _seed(params: GenerationParams) -> None:
    """Seed torch's generator for a sampled request (under the model's lock)."""
    if params.seed is not None and not params.greedy:
        import torch

        torch.manual_seed(params.seed)


def _stop_criteria(tokenizer: Any, start: int, stops: tuple[str, ...]) -> Any:
    """Ends generation as soon as the decoded new text holds a stop sequence."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StopOnText(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            text = tokenizer.decode(input_ids[0, start:], skip_special_tokens=True)
            hit = any(s in text for s in stops)
            return torch.full((input_ids.shape[0],), hit, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopOnText()])
