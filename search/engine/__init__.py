"""The engine over Keras Tuner.

- `trials`: the mechanism mixed into every tuner (seeding, divergence guard, records, budget, display);
- `tuners`: the thin tuner variants and `make_tuner`;
- `distributed`: the chief and its local workers on Keras Tuner's own gRPC engine;
- `records`: the best trial, a trial's values and error line (no TensorFlow needed);
- `kt_compat`: every use of Keras Tuner's internals, with the version it was checked against.

Import from the submodules: importing this package alone loads nothing heavy.
"""

_PUBLIC = {
    "TrialEngine": "search.engine.trials",
    "VARIANTS": "search.engine.tuners",
    "make_tuner": "search.engine.tuners",
    "planned_trials": "search.engine.tuners",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
    # The tuners load Keras and TensorFlow: only when first asked for.
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'search.engine' has no attribute {name!r}")
