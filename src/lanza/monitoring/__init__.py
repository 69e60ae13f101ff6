"""Monitoring: the prediction log, ground truth, drift, alerts and the dashboard."""
