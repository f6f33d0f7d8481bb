"""hpsearch: sanity checks and coarse-to-fine hyperparameter search for NumPy MLPs (the CS231n recipe)."""

__version__ = "0.1.0"
