"""The cost ledger of the LLM gateway and the budgets that watch it."""
