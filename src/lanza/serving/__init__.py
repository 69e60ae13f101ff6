"""Real-time serving: deployments, the data plane every face shares, batching and swaps."""
