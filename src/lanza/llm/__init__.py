"""LLMOps: providers, the OpenAI-compatible gateway, tracing, prompts and evaluation."""
