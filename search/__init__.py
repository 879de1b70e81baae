"""Running a search: data, split, tuner, progress, retrain, test."""
