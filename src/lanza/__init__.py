"""lanza: from a training table to production, and healthy there."""

__version__ = "0.1.0"
