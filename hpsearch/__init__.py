"""hpsearch: sanity checks and coarse-to-fine hyperparameter search for NumPy MLPs (the CS231n recipe)."""

__version__ = "0.1.0"


def load_model(path):
    """Load a model file written by `hpsearch train --save`: an object with predict(X) and predict_proba(X)
    on raw feature rows (hpsearch/trainer/saved.py documents the format)."""
    from hpsearch.trainer.saved import load_model as load

    return load(path)
