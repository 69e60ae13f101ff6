"""The OpenAI-compatible LLM gateway: deployments, policies, routes."""
