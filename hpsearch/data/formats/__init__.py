"""Readers of user files: .npz, .csv, X.npy + y.npy, MNIST IDX (plain or .gz), CIFAR-10 binary (files.py dispatches)."""
