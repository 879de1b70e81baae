"""Running a search, one sub-package or module per stage:

- `config`, `presets`, `cli`: what a run is started with, and the command line built from it;
- `data/`: loading digit datasets (npz, IDX, Keras, scikit-learn's digits) and splitting them;
- `engine/`: the trial engine over Keras Tuner, the tuner variants, distributed chief and workers;
- `pipeline`: `run_search`, the stages in order (prepare data, search, best, retrain, test, write);
- `retrain`: the retrain of the best CNN and its schedule; `rundir`: writing the run directory;
- `display/`: live progress and the final summary; `bench/`: benchmarks and their command line;
- `errors`: `UserError` and its kinds, the mistakes a user can fix.
"""
