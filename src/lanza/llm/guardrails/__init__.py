"""Guardrails of an LLM deployment: checks on what goes in and what comes out."""

from lanza.llm.guardrails.checks import Finding, Screened, screen
from lanza.llm.guardrails.spec import Guardrails

__all__ = ["Finding", "Guardrails", "Screened", "screen"]
