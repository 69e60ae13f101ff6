"""What the gateway does around each call besides calling: budgets, guardrails, the ledger.

The OpenAI face calls these hooks at five points: which prompt (``prompt_of``: a
deployment's default prompt, one arm of a prompt experiment), before a call (``admit`` a caller
against the budgets, ``screen`` the input through the deployment's guardrails), after it
(``screen`` the answer, ``judge_answer`` with the deployment's judge, ``charge`` the ledger)
and on the call's span (``annotate`` it with what the guardrails did). Findings of one
request travel in a context variable, so
the face's signatures stay as they are. With no budgets and no guardrails every hook
returns at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from lanza.errors import BudgetExceededError, GuardrailBlockedError, NotFoundError
from lanza.llm.budgets.ledger import Charge
from lanza.llm.guardrails import Finding, Guardrails, screen
from lanza.llm.guardrails.judge import judge_prompt, question_of, verdict
from lanza.llm.guardrails.spec import Side
from lanza.llm.prompts.experiment import pick
from lanza.llm.providers.base import ChatMessage, Completion, Usage

if TYPE_CHECKING:
    from lanza.llm.budgets.budgets import Budgets
    from lanza.llm.budgets.ledger import Ledger
    from lanza.llm.gateway.observe import Traces
    from lanza.llm.gateway.schemas import ChatRequest
    from lanza.llm.gateway.spec_cache import SpecCache
    from lanza.llm.tracing import Span
    from lanza.security.keys import KeyStore

log = logging.getLogger("lanza.llm")
_FINDINGS: ContextVar[list[Finding] | None] = ContextVar("lanza_guardrail_findings", default=None)
_PROMPT: ContextVar[str | None] = ContextVar("lanza_call_prompt", default=None)
_VERSION: ContextVar[str | None] = ContextVar("lanza_call_prompt_version", default=None)
_USER: ContextVar[str | None] = ContextVar("lanza_call_user", default=None)


def set_user(user: str | None) -> None:
    """The caller's user id (``X-Lanza-User``), which keeps a prompt experiment's arm."""
    _USER.set(user)


Ask = Callable[[str, str, str], Awaitable[str]]
"""One judge call: deployment, prompt and the caller it is charged to in; the reply out."""
KEY_NAMES_TTL_S = 5.0
NO_RAILS = Guardrails()
INTERNAL_CALLERS = ("evaluator",)


class CallPolicy:
    """Budgets, guardrails and the cost ledger, as hooks the OpenAI face calls."""

    def __init__(
        self,
        specs: SpecCache,
        ledger: Ledger | None = None,
        budgets: Budgets | None = None,
        keys: KeyStore | None = None,
        ask: Ask | None = None,
    ) -> None:
        self.specs = specs
        self.ask = ask
        self.ledger = ledger
        self.budgets = budgets
        self.keys = keys
        self._names: tuple[float, dict[str, str]] = (-1e9, {})

    def rails(self, deployment: str) -> Guardrails:
        """The guardrails of a deployment (none when it has none, or does not exist)."""
        try:
            return self.specs.get(deployment).guardrails
        except NotFoundError:  # the gateway's call answers 404, inside the call's span
            return NO_RAILS

    def holds_output(self, deployment: str) -> bool:
        """Whether a streamed answer must be generated whole first (it may be rewritten)."""
        return self.rails(deployment).holds_output()

    async def admit(self, deployment: str, caller: str) -> None:
        """429 when a blocking budget covering this caller and deployment is spent."""
        _FINDINGS.set([])
        _PROMPT.set(None)
        _VERSION.set(None)
        if self.budgets is None:
            return
        try:
            key = await asyncio.to_thread(self.key_name, caller)
            await asyncio.to_thread(self.budgets.admit, key, deployment)
        except BudgetExceededError:
            raise
        except Exception:  # a database outage: the call goes on, the ledger catches up later
            log.exception(
                "checking the budgets of a call to '%s' failed; letting it through", deployment
            )

    def prompt_of(self, body: ChatRequest) -> str | None:
        """The prompt reference a chat request uses: its own, else its deployment's default;
        an experiment split is resolved to one arm (sticky per user)."""
        text = body.prompt
        if not text:
            try:
                text = self.specs.get(body.model).prompt
            except NotFoundError:
                return None
        if not text:
            return None
        user = _USER.get() or (body.model_extra or {}).get("user")
        return pick(text, str(user) if user else None)

    def remember_prompt(self, reference: str, version: str | None = None) -> None:
        """The prompt a request used (``NAME@ALIAS`` and ``NAME/VERSION``), for ledger and trace."""
        _PROMPT.set(reference)
        _VERSION.set(version)

    def screen_messages(
        self, deployment: str, messages: list[ChatMessage], traces: Traces
    ) -> list[ChatMessage]:
        """The messages after the input guardrails; a blocked input is traced, then raised."""
        rails = self.rails(deployment)
        if not rails.active or "input" not in rails.sides:
            return messages
        screened = []
        for message in messages:
            if not isinstance(message.content, str):
                screened.append(message)
                continue
            text = self._screen(deployment, message.content, rails, "input", "chat", traces)
            screened.append(message.model_copy(update={"content": text}))
        return screened

    def screen_text(self, deployment: str, text: str, traces: Traces, operation: str) -> str:
        """A prompt after the input guardrails."""
        rails = self.rails(deployment)
        if not rails.active or "input" not in rails.sides:
            return text
        return self._screen(deployment, text, rails, "input", operation, traces)

    def screen_answer(
        self, deployment: str, completion: Completion, enforce: bool = True
    ) -> Completion:
        """The answer after the output guardrails (raises when one blocks it); with
        ``enforce`` off (an answer already streamed) the findings are only recorded."""
        rails = self.rails(deployment)
        if not rails.active or "output" not in rails.sides:
            return completion
        first = self._answer(deployment, completion.text, rails, enforce)
        # Every choice of an ``n`` > 1 request is screened like the first.
        more = tuple(
            dataclasses.replace(c, text=self._answer(deployment, c.text, rails, enforce))
            for c in completion.more
        )
        return dataclasses.replace(completion, text=first, more=more)

    def _answer(self, deployment: str, text: str, rails: Guardrails, enforce: bool) -> str:
        result = screen(text, rails, "output")
        self._keep(result.findings)
        if result.blocked is not None and enforce:
            raise GuardrailBlockedError(
                f"The answer of '{deployment}' was blocked by its guardrail: {result.blocked}."
            )
        return result.text

    async def judge_answer(
        self,
        deployment: str,
        inputs: dict[str, Any],
        completion: Completion,
        caller: str,
        enforce: bool = True,
    ) -> None:
        """The judge check of a deployment that has one: a failing grade is kept for the
        trace, and raised when it blocks (with ``enforce`` off, only kept)."""
        rails = self.rails(deployment)
        if rails.judge is None or "output" not in rails.sides or self.ask is None:
            return
        prompt = judge_prompt(rails, question_of(inputs), completion.text)
        try:
            reply = await self.ask(rails.judge, prompt, caller)
        except Exception as exc:  # a judge that fails lets the answer through, flagged
            log.warning("the guardrail judge '%s' of '%s' failed: %s", rails.judge, deployment, exc)
            detail = f"the judge '{rails.judge}' did not answer: {exc}"
            self._keep([Finding("judge", "output", "flag", detail=detail[:300])])
            return
        finding = verdict(rails, reply)
        if finding is None:
            return
        self._keep([finding])
        if finding.action == "block" and enforce:
            raise GuardrailBlockedError(
                f"The answer of '{deployment}' was blocked by its guardrail: "
                f"judge ({finding.detail})."
            )

    def annotate(self, span: Span) -> None:
        """Put what the guardrails did, and the prompt version, on the call's span."""
        findings = _FINDINGS.get()
        if findings:
            span.add_metadata({"guardrails": [f.view() for f in findings]})
            span.add_tags(sorted({f"guardrail:{f.action}" for f in findings}))
        prompt = _PROMPT.get()
        if prompt:
            span.add_metadata({"prompt": prompt, "prompt_version": _VERSION.get()})

    def charge(
        self,
        deployment: str,
        served_by: str,
        model: str,
        caller: str,
        usage: Usage,
        cost: float | None,
    ) -> None:
        """One line in the ledger, then the alerting budgets it may have spent."""
        if self.ledger is None:
            return
        try:
            key = self.key_name(caller)
            self.ledger.record(
                Charge(
                    at=time.time(),
                    key=key,
                    deployment=deployment,
                    served_by=served_by,
                    model=model,
                    prompt=_PROMPT.get(),
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                    cost_usd=cost or 0.0,
                )
            )
            if self.budgets is not None:
                self._watch(key, deployment)
        except Exception:  # the ledger must never fail the call it records
            log.exception("recording the cost of a call to '%s' failed", deployment)

    def _watch(self, key: str, deployment: str) -> None:
        """Check the alerting budgets off the event loop (they read and write the database)."""
        assert self.budgets is not None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.budgets.watch(key, deployment)
            return
        done = loop.run_in_executor(None, self.budgets.watch, key, deployment)
        done.add_done_callback(_log_failure)

    def key_name(self, caller: str) -> str:
        """The API key's name for a caller id (``key:<id>``); lanza's own callers (the
        online ``evaluator``) by their name; anyone else is ``anonymous``."""
        if caller in INTERNAL_CALLERS:
            return caller
        if not caller.startswith("key:") or self.keys is None:
            return "anonymous"
        stamp, names = self._names
        key_id = caller.removeprefix("key:")
        if key_id not in names or time.monotonic() - stamp > KEY_NAMES_TTL_S:
            names = {info.id: info.name for info in self.keys.list()}
            self._names = (time.monotonic(), names)
        return names.get(key_id, key_id)

    def _screen(
        self,
        deployment: str,
        text: str,
        rails: Guardrails,
        side: Side,
        operation: str,
        traces: Traces,
    ) -> str:
        result = screen(text, rails, side)
        self._keep(result.findings)
        if result.blocked is None:
            return result.text
        error = GuardrailBlockedError(
            f"The request to '{deployment}' was blocked by its guardrail: {result.blocked}."
        )
        # The refusal is a trace too: what was found, never the text that held it.
        inputs: dict[str, Any] = {"blocked": result.blocked}
        with traces.call(operation, deployment, inputs) as span:
            self.annotate(span)
            raise error
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _keep(findings: list[Finding]) -> None:
        if not findings:
            return
        current = _FINDINGS.get()
        if current is None:
            current = []
            _FINDINGS.set(current)
        current.extend(findings)


def _log_failure(done: asyncio.Future[list[str]]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.error("checking the alerting budgets failed", exc_info=done.exception())
