"""Versioned prompt templates with aliases, on MLflow's prompt registry."""

from lanza.llm.prompts.registry import PromptInfo, PromptStore
from lanza.llm.prompts.render import render_messages, render_text

__all__ = ["PromptInfo", "PromptStore", "render_messages", "render_text"]
