"""Feeding image arrays to Keras as tf.data pipelines with tf.data's autotuning off.

Given NumPy arrays, Keras builds a tf.data pipeline of its own, with autotuned parallelism and
prefetching. On these 2-core machines freeing such a pipeline's iterator waits for the autotuner:
Keras makes a new iterator every epoch (for training, and for each validation pass), and 11-14 s
went by before the first step of about half the epochs over full MNIST (epochs of 25-28 s took
38-44 s), and as long again when `fit` returned (docs/experiments.md). The same pipeline with
autotuning off trains as fast and frees its iterator at once.
"""

from __future__ import annotations

import numpy as np

PREFETCH = 2  # batches made ahead of the training step: enough for arrays already in memory


def batches(x: np.ndarray, y: np.ndarray | None = None, batch_size: int = 128, shuffle: bool = False, distort=None):
    """A tf.data pipeline of (x, y) in batches of `batch_size` (x alone when `y` is None), the last batch
    partial, reshuffled every epoch when `shuffle` (seeded by TensorFlow's global seed, which
    keras.utils.set_random_seed sets). `distort`: a function of a batch of images and a stateless seed
    (two integers), applied to each batch of x as it is made, with a new seed every epoch (repeatable
    under TensorFlow's global seed)."""
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if shuffle:
        data = data.shuffle(len(x), reshuffle_each_iteration=True)
    options = tf.data.Options()
    options.autotune.enabled = False
    data = data.batch(batch_size)
    if distort is not None:
        # Random ops in a map draw the same numbers every epoch once a global seed is set (as the
        # retrain sets it): each batch gets its own stateless seed, drawn anew every epoch instead.
        seeds = tf.data.Dataset.random(rerandomize_each_iteration=True).batch(2)
        data = tf.data.Dataset.zip(data, seeds).map(
            (lambda images, seed: distort(images, seed))
            if y is None
            else (lambda pair, seed: (distort(pair[0], seed), pair[1]))
        )
    return data.with_options(options).prefetch(PREFETCH)


def fit_arrays(model, x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = True, distort=None, **fit_kwargs):
    """`model.fit` over arrays fed through `batches`, and `validation_data` arrays alike; returns its History.

    `distort` changes the training batches only (see `batches`), never the validation ones."""
    validation = fit_kwargs.get("validation_data")
    if isinstance(validation, tuple) and len(validation) == 2 and is_arrays(*validation):
        fit_kwargs["validation_data"] = batches(*validation, batch_size=batch_size)
    # The pipeline shuffles itself; shuffle=False keeps Keras from warning that it would not.
    return model.fit(batches(x, y, batch_size, shuffle, distort), shuffle=False, **fit_kwargs)


def is_arrays(*values) -> bool:
    """True when every value is a NumPy array (what `batches` takes), False for a dataset or anything else."""
    return all(isinstance(v, np.ndarray) for v in values)
