"""Automation: lanza.yaml (plan, apply, export), the scheduler, and retrain pipelines."""
