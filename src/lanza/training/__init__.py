"""Training: candidates from simplest to most complex, and the simplest-adequate rule.

Submodules are imported where they are used (``lanza.training.service`` for the whole
job); this package imports nothing itself so that serving and batch, which only need
``lanza.runtime.serialization``, never import it for the trainer.
"""
