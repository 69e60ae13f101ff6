"""Training: candidates from simplest to most complex, and the simplest-adequate rule."""

from lanza.training.data import TrainingData, load_table, prepare
from lanza.training.metrics import Metric, resolve_metric
from lanza.training.selection import Selection, select_simplest
from lanza.training.trainer import CandidateResult, Leaderboard, Trainer

__all__ = [
    "CandidateResult",
    "Leaderboard",
    "Metric",
    "Selection",
    "Trainer",
    "TrainingData",
    "load_table",
    "prepare",
    "resolve_metric",
    "select_simplest",
]
