"""The LLMOps pages of the dashboard: traces as trees, and evaluations side by side."""
