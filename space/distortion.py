"""Elastic distortion of digit images: each pixel moved by a smooth random field (Simard et al., 2003).

Applied to the training batches in the input pipeline (space/feeding.py), not as a layer of the
model: Keras' own RandomElasticTransform (3.15) draws the same field for x and y (one seed for
both) and, in a tf.data pipeline whose batch size is unknown, one field for the whole batch; a
layer of our own would keep the saved model from loading in plain Keras.
"""

from __future__ import annotations

import numpy as np

SMOOTHNESS = 6.0  # pixels: the Gaussian that smooths the random field (Ciresan et al., 2010: 5-6)


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A 1-D Gaussian of standard deviation `sigma`, out to 3 sigma, summing to 1."""
    radius = int(np.ceil(3 * sigma))
    t = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-(t**2) / (2 * sigma**2))
    return (kernel / kernel.sum()).astype(np.float32)


def elastic_distortion(images, pixels: float, smoothness: float = SMOOTHNESS, seed=None):
    """`images` (a batch shaped (n, height, width, 1), any range) with each one's pixels moved by its own
    smooth random displacement field, `pixels` being the field's standard deviation in each direction.

    The field is white noise smoothed by a Gaussian of `smoothness` pixels and scaled to `pixels`;
    the image is resampled bilinearly, zeros (the background) coming in at the edges. Returns float32.
    `seed`: a stateless seed (two integers) for a repeatable field; None draws from TensorFlow's
    global generator (seeded by keras.utils.set_random_seed).
    """
    import keras
    import tensorflow as tf

    images = tf.cast(images, tf.float32)
    shape = tf.shape(images)
    count, height, width = shape[0], shape[1], shape[2]
    kernel = gaussian_kernel(smoothness)
    # Smoothing white noise of variance 1 by a kernel k leaves a variance of sum(k^2) (2-D: its outer product).
    gain = pixels / float(np.sqrt(np.sum(np.outer(kernel, kernel) ** 2)))
    field_shape = tf.stack([count, height, width, 2])
    noise = tf.random.normal(field_shape) if seed is None else tf.random.stateless_normal(field_shape, seed=seed)
    down = np.tile(kernel.reshape(-1, 1, 1, 1), (1, 1, 2, 1))
    across = np.tile(kernel.reshape(1, -1, 1, 1), (1, 1, 2, 1))
    field = tf.nn.depthwise_conv2d(noise, down, [1, 1, 1, 1], "SAME")
    field = tf.nn.depthwise_conv2d(field, across, [1, 1, 1, 1], "SAME") * gain
    rows, columns = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")

    def resample(image_and_field):
        image, moves = image_and_field
        coordinates = tf.stack([rows + moves[..., 0], columns + moves[..., 1]])
        return keras.ops.image.map_coordinates(image[..., 0], coordinates, order=1, fill_mode="constant")

    # One image at a time, as map_coordinates needs a known size, vectorised over the batch.
    return tf.vectorized_map(resample, (images, field))[..., None]


def stroke_width(images, share: float, seed, thinned: float = 2 / 3):
    """`images` (a batch (n, height, width, 1), 0-255) with `share` of them changed in stroke width:
    `thinned` of those thinned by a pixel each side (grey erosion by a 3x3 cross), as a fine pen
    writes, the rest thickened alike (grey dilation), as a marker does. Thinning gets the larger part:
    a thinned digit loses ink it cannot be read without, a thickened one keeps its shape.
    `seed`: a stateless seed (two integers). Float32."""
    import tensorflow as tf

    images = tf.cast(images, tf.float32)
    thinner = -_cross_maximum(-images)
    thicker = _cross_maximum(images)
    draw = tf.random.stateless_uniform(tf.stack([tf.shape(images)[0], 1, 1, 1]), seed=seed)
    return tf.where(draw < share * thinned, thinner, tf.where(draw < share, thicker, images))


def _cross_maximum(images):
    """Each pixel's maximum over the 3x3 cross around it (grey dilation by the cross), the border
    padded with nothing: the larger of a 1x3 and a 3x1 max-pool, in half the time of tf.nn.dilation2d
    (a batch of 64 on two cores)."""
    import tensorflow as tf

    across = tf.nn.max_pool2d(images, (1, 3), 1, "SAME")
    down = tf.nn.max_pool2d(images, (3, 1), 1, "SAME")
    return tf.maximum(across, down)


def sensor_noise(images, most: float, seed, share: float = 0.5):
    """`images` (a batch, 0-255) with `share` of them given Gaussian noise, each one's standard deviation
    drawn evenly from 0 to `most` levels, clipped to 0-255; the rest stay clean, so that clean digits
    keep their weight in training. `seed`: a stateless seed (two integers). Float32."""
    import tensorflow as tf

    images = tf.cast(images, tf.float32)
    shape = tf.shape(images)
    for_sigma, for_noise, for_whom = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    per_image = tf.stack([shape[0], 1, 1, 1])
    sigma = tf.random.stateless_uniform(per_image, seed=for_sigma, maxval=most)
    sigma = tf.where(tf.random.stateless_uniform(per_image, seed=for_whom) < share, sigma, 0.0)
    noise = tf.random.stateless_normal(shape, seed=for_noise)
    return tf.clip_by_value(images + noise * sigma, 0.0, 255.0)


HAIRLINE_THRESHOLDS = (64.0, 160.0)  # of 255: where a grey stroke counts as ink, drawn per image
HAIRLINE_SOFTNESS = (0.3, 0.8)  # pixels: the Gaussian that softens the line's edges, drawn per image


def hairline(images, share: float, seed):
    """`images` (a batch (n, height, width, 1), 0-255) with `share` of them redrawn as the finest pen
    writes: each stroke's centre line (scikit-image's skeleton of the ink), one pixel wide at full
    strength, its edges softened by a Gaussian. Where the ink starts and how soft the line is are
    drawn per image, so that no one pen is learnt. `seed`: a stateless seed (two integers). Float32.

    Runs in NumPy (about 40 microseconds an image): skeletons need scikit-image, and a share of a
    batch costs a fraction of a training step."""
    import tensorflow as tf

    images = tf.cast(images, tf.float32)
    count = tf.shape(images)[0]
    for_whom, for_threshold, for_softness = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    chosen = tf.random.stateless_uniform([count], seed=for_whom) < share
    low, high = HAIRLINE_THRESHOLDS
    threshold = tf.random.stateless_uniform([count], seed=for_threshold, minval=low, maxval=high)
    low, high = HAIRLINE_SOFTNESS
    softness = tf.random.stateless_uniform([count], seed=for_softness, minval=low, maxval=high)
    out = tf.numpy_function(_centre_lines, [images, chosen, threshold, softness], tf.float32, stateful=False)
    return tf.ensure_shape(out, images.shape)


def _centre_lines(images: np.ndarray, chosen: np.ndarray, threshold: np.ndarray, softness: np.ndarray) -> np.ndarray:
    """`images` with each chosen one replaced by its softened skeleton at full strength (see `hairline`)."""
    from scipy import ndimage
    from skimage.morphology import skeletonize

    out = images.copy()
    for i in np.flatnonzero(chosen):
        line = skeletonize(images[i, ..., 0] > threshold[i]).astype(np.float32)
        soft = ndimage.gaussian_filter(line, float(softness[i]))
        if soft.max() > 0:  # a blank image stays as it is
            out[i, ..., 0] = soft * (255.0 / soft.max())
    return out


SHRINK_RANGE = (0.55, 0.9)  # of MNIST's size: a digit written small, down to 11 of MNIST's 20 pixels


def shrink(images, share: float, seed, scales=SHRINK_RANGE):
    """`images` (a batch (n, height, width, 1), 0-255) with `share` of them scaled about the centre to a
    size drawn evenly from `scales`, as people write digits smaller than MNIST's, black coming in at
    the edges. Only a share: zooming every digit out as far costs clean accuracy (docs/experiments.md).
    `seed`: a stateless seed (two integers). Float32."""
    import keras
    import tensorflow as tf

    images = tf.cast(images, tf.float32)
    shape = tf.shape(images)
    for_scale, for_whom = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    count = shape[0]
    scale = tf.random.stateless_uniform([count], seed=for_scale, minval=scales[0], maxval=scales[1])
    scale = tf.where(tf.random.stateless_uniform([count], seed=for_whom) < share, scale, 1.0)
    # The transform maps each output pixel to the input pixel it samples: centre + (p - centre) / scale.
    inverse = 1.0 / scale
    centre_row = (tf.cast(shape[1], tf.float32) - 1) / 2
    centre_column = (tf.cast(shape[2], tf.float32) - 1) / 2
    zeros = tf.zeros_like(inverse)
    transform = tf.stack(
        [inverse, zeros, centre_column * (1 - inverse), zeros, inverse, centre_row * (1 - inverse), zeros, zeros],
        axis=1,
    )
    return keras.ops.image.affine_transform(images, transform, interpolation="bilinear", fill_mode="constant")
