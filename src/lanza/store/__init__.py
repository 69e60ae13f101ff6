"""lanza's own database: deployments, jobs, prediction log, traces, keys, audit history."""

from lanza.store.database import Database

__all__ = ["Database"]
