"""Batch inference: one model over one input dataset into numbered parts, exactly once.

Readers stream Arrow chunks, an engine (local or Ray) scores them through the same
runtime as real-time serving, writers commit numbered parts, and a manifest records
what is committed so a killed job resumes with no row lost or written twice.
"""

from lanza.batch.spec import BatchOptions, BatchSummary

__all__ = ["BatchOptions", "BatchSummary"]
