"""Data: loading digit datasets in MNIST's convention (npz, IDX, Keras, scikit-learn's digits),
checked, and the stratified subsets and train/validation split of a run."""

from search.data.load import DATASETS, Dataset, check_arrays, load_arrays, load_dataset, load_digits
from search.data.split import stratified_subset, train_val_split
from search.errors import DataError, SplitError

__all__ = [
    "DATASETS",
    "DataError",
    "Dataset",
    "SplitError",
    "check_arrays",
    "load_arrays",
    "load_dataset",
    "load_digits",
    "stratified_subset",
    "train_val_split",
]
