"""What `evaluate` and `predict` share: model files (files or folders of them) and the data they are applied to,
checked against each other (feature count, labels), and the ensemble's probabilities."""

from __future__ import annotations

from pathlib import Path


def load_models(paths: list[str]) -> list:
    """SavedModels from files and folders (a folder: every *.npz in it, by name); all with the same classes."""
    from hpsearch.errors import ModelFileError
    from hpsearch.trainer.saved import load_model

    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(path.glob("*.npz"), key=_natural)
            if not found:
                raise ModelFileError(f"{p}: no model files (*.npz) in this folder",
                                     "save models with hpsearch train --save")
            files += found
        else:
            files.append(path)
    models = [load_model(str(f)) for f in files]
    first = models[0]
    for m in models[1:]:
        if m.classes != first.classes or m.features != first.features:
            raise ModelFileError(f"{m.path} and {first.path} do not predict the same thing ({m.features} vs "
                                 f"{first.features} features, classes {list(m.classes)[:5]} vs {list(first.classes)[:5]})",
                                 "ensemble models trained on the same data")
    return models


def _natural(p: Path) -> list:
    """trial-6.npz before trial-11.npz."""
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def load_data(path: str, label_column: str | None, flatten: bool, models: list, labels: bool = True):
    """(X raw (N, D), y as indices into the models' classes or None): the test part of a folder in a known
    layout (MNIST t10k-*, CIFAR-10 test_batch.bin), or the file(s) as given."""
    import numpy as np

    from hpsearch.config.plain import plain
    from hpsearch.data.dataset import load
    from hpsearch.errors import DataError, ModelFileError

    ds = load(path, label_column, flatten=flatten, test=True)
    m = models[0]
    if ds.X.shape[1] != m.features:
        raise ModelFileError(f"--data {path} has {ds.X.shape[1]} features per sample, model {m.path} expects "
                             f"{m.features}", "evaluate on data of the kind the model was trained on")
    if not labels:
        return np.asarray(ds.X), None
    index = {_key(c): i for i, c in enumerate(m.classes)}
    data_classes = [plain(c) for c in ds.classes]
    missing = [c for c in data_classes if _key(c) not in index]
    if missing:
        raise DataError(f"--data {path} has labels {missing[:5]} that model {m.path} does not know (its classes: "
                        f"{list(m.classes)[:10]})", "evaluate on data with the model's labels")
    remap = np.array([index[_key(c)] for c in data_classes], dtype=np.int64)
    return np.asarray(ds.X), remap[ds.y]


def _key(label) -> str:
    """Labels compare as text: a CSV's "3" and digits' 3 are the same class."""
    return str(label)


def ensemble_proba(models: list, X):
    """The mean of the members' softmax probabilities (N, C), and each member's own."""
    import numpy as np

    each = [m.predict_proba(X) for m in models]
    return np.mean(each, axis=0), each
