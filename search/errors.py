"""Errors a user can act on. Every one is a `UserError`: the command lines catch that class
alone and print one line (exit 2). Imported without loading TensorFlow."""


class UserError(ValueError):
    """A mistake or a state the user can fix: bad options, bad data, a run directory in the way."""


class ConfigError(UserError):
    """Options that cannot start a run, or that differ from the run directory's."""


class DataError(UserError):
    """Data that is missing, unreadable or not digit images and labels."""


class SplitError(UserError):
    """A split or subset that the data cannot give."""


class SearchError(UserError):
    """The search cannot produce a model (every trial so far failed)."""


class RetrainError(UserError):
    """The retrain diverged or could not run."""
