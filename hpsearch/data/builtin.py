"""Built-in data sets: `--data digits` (digits.npz, shipped) and `--data spiral` (generated)."""

from __future__ import annotations

from importlib import resources

import numpy as np



def load_builtin(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "digits":
        return digits()
    if name == "spiral":
        return spiral()
    raise KeyError(name)


def digits() -> tuple[np.ndarray, np.ndarray]:
    """UCI Optical Recognition of Handwritten Digits (CC BY 4.0), scikit-learn's 8x8 copy.

    1,797 samples, 64 features (pixel counts 0..16), 10 classes; exported once into digits.npz.
    """
    with resources.files(__package__).joinpath("digits.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as z:
            return z["X"].astype(np.float32), z["y"].astype(np.int64)


def spiral(points_per_class: int = 100, num_classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """CS231n's spiral: `num_classes` interleaved 2-D arms, not linearly separable. Fixed seed: same data every run."""
    rng = np.random.default_rng(seed)
    n = points_per_class
    X = np.zeros((n * num_classes, 2), dtype=np.float32)
    y = np.zeros(n * num_classes, dtype=np.int64)
    for k in range(num_classes):
        ix = slice(n * k, n * (k + 1))
        r = np.linspace(0.0, 1, n)
        t = np.linspace(k * 4, (k + 1) * 4, n) + rng.standard_normal(n) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = k
    return X, y
