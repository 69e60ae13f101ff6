"""Annotation queues: people review the traces the filters and the evaluators point at."""
