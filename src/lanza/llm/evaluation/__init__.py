"""Evaluations: a dataset run against a deployment or a prompt, scored, logged to MLflow."""
