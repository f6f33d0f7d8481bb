"""Data loss and regularization penalties, each returning the value and its gradient."""

from __future__ import annotations

import numpy as np


def softmax_cross_entropy(scores: np.ndarray, y: np.ndarray):
    """Mean softmax cross-entropy.

    scores: (N, C) unnormalized class scores, y: (N,) integer labels in [0, C).
    Returns (loss, dscores) with dscores: (N, C). Stable: scores are shifted by their row maximum,
    which leaves the softmax unchanged, so exp never overflows.
    """
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_z
    rows = np.arange(n)
    loss = -log_probs[rows, y].mean()
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1
    dscores /= n
    return float(loss), dscores


def l2_penalty(w: np.ndarray, reg: float):
    """0.5 * reg * ||w||^2 and its gradient reg * w (the 0.5 makes the gradient clean)."""
    return 0.5 * reg * float(np.vdot(w, w)), reg * w


def l1_penalty(w: np.ndarray, reg: float):
    """reg * sum |w| and its (sub)gradient reg * sign(w)."""
    return reg * float(np.abs(w).sum()), reg * np.sign(w)


PENALTIES = {"l2": l2_penalty, "l1": l1_penalty}
