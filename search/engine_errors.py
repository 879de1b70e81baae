"""Errors of a search that a user can act on (imported without loading TensorFlow)."""


class SearchError(RuntimeError):
    """The search cannot produce a model (every trial so far failed)."""


class RetrainError(RuntimeError):
    """The retrain diverged or could not run."""
