"""The model file: a trained network with everything needed to use it on raw data, and nothing executable.

One `.npz` (NumPy's zip of arrays, read with allow_pickle=False): every parameter array and batchnorm running
statistic under its own name, `preprocess_mean` and `preprocess_std` (D,), and `header`, UTF-8 JSON bytes:

    {"format": "hpsearch-model", "version": 1,
     "config": {...TrainConfig...}, "features": D, "classes": [labels as in the data, e.g. CSV names],
     "preprocess": {"kind": "standardize", "applies_to": "raw values as read from the data file"},
     "data": {"spec": ..., "fingerprint": ...}, "provenance": {"results": ..., "trial": ..., "seed": ...,
     "final": bool, "epochs": ...}}

The model sees (x_raw - preprocess_mean) / preprocess_std: the statistics are in the units of the file's own
values (0-255 pixels stay 0-255; their scaling to [0, 1] is folded into the std). `load_model(path)` checks
the file and returns a SavedModel with predict(X) (original labels) and predict_proba(X).
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass

import numpy as np

from hpsearch.config.files import write_atomic
from hpsearch.config.plain import plain
from hpsearch.config.train import TrainConfig
from hpsearch.errors import HPSearchError, ModelFileError, OutputError
from hpsearch.trainer.reference.model import MLP

FORMAT, VERSION = "hpsearch-model", 1
READS = (1,)


@dataclass
class SavedModel:
    """A trained MLP and what it needs to read raw data: `predict(X)` -> labels, `predict_proba(X)` -> (N, C)."""
    model: MLP
    cfg: TrainConfig
    classes: tuple  # the original label of each output, in order
    mean: np.ndarray  # (D,) subtracted from raw features
    std: np.ndarray  # (D,) then divided out
    header: dict
    path: str = ""

    @property
    def features(self) -> int:
        return int(self.mean.shape[0])

    def scores(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.features:
            raise ModelFileError(f"{self.path or 'model'}: expects {self.features} features per sample, the data has "
                                 f"{X.shape[1] if X.ndim == 2 else X.shape}", "use data of the kind the model was "
                                 "trained on")
        # as the split does it: the raw values in the model's dtype, then (x - mean) / std computed in float64
        Z = ((X.astype(self.model.dtype).astype(np.float64) - self.mean) / self.std).astype(self.model.dtype)
        return self.model.scores(Z).astype(np.float64)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Softmax probabilities (N, C), columns in the order of `classes`."""
        s = self.scores(X)
        s -= s.max(axis=1, keepdims=True)
        p = np.exp(s)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The original label of the most probable class of each row."""
        return np.asarray(self.classes, dtype=object)[self.scores(X).argmax(axis=1)]


def save_model(path: str, model: MLP, cfg: TrainConfig, split, provenance: dict) -> None:
    """Write the model file atomically (config.files.write_atomic)."""
    D = model.dims[0]
    mean = split.mean if split.mean is not None else np.zeros(D)
    std = split.std if split.std is not None else np.ones(D)
    header = {"format": FORMAT, "version": VERSION, "config": cfg.to_dict(), "features": D,
              "classes": [plain(c) for c in (getattr(split, "classes", ()) or range(split.num_classes))],
              "preprocess": {"kind": getattr(split, "preprocess", "standardize"),
                             "applies_to": "raw values as read from the data file"},
              "data": {"spec": split.name, "fingerprint": split.fingerprint},
              "provenance": plain(provenance)}
    arrays = {k: np.asarray(v) for k, v in model.state_dict().items()}
    arrays["preprocess_mean"] = np.asarray(mean, dtype=np.float64)
    arrays["preprocess_std"] = np.asarray(std, dtype=np.float64)
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    try:
        write_atomic(path, lambda f: np.savez(f, **arrays), binary=True)
    except OSError as e:
        raise OutputError(f"{path}: cannot write the model file ({e.strerror})", "choose a writable path") from None


def load_model(path: str) -> SavedModel:
    """Read and check a model file; a bad, truncated or foreign file raises ModelFileError (one line)."""
    path = str(path)
    if not os.path.isfile(path):
        from hpsearch.config.files import kind

        try:
            what = f"is {kind(os.stat(path).st_mode)}, not a model file"
        except OSError:
            what = "no such model file"
        raise ModelFileError(f"{path}: {what}", "give a file written by hpsearch train --save")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a model file (not an .npz archive)",
                             "give a file written by hpsearch train --save")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError, MemoryError) as e:
        raise ModelFileError(f"{path}: not a readable model file ({type(e).__name__}: {e})",
                             "give a file written by hpsearch train --save") from None
    header = _header(path, arrays)
    try:
        cfg = TrainConfig.from_dict(header["config"])
    except (HPSearchError, TypeError, KeyError, ValueError) as e:
        raise ModelFileError(f"{path}: header.config is not a valid configuration ({e})", None) from None
    classes = header.get("classes")
    D = header.get("features")
    if not isinstance(D, int) or D < 1 or not isinstance(classes, list) or len(classes) < 2:
        raise ModelFileError(f"{path}: header.features / header.classes missing or invalid", None)
    model = MLP(D, len(classes), cfg, np.random.default_rng(0))
    state = {}
    for k in list(model.params) + [f"running_{s}{i}" for i in range(1, len(model.bn) + 1) for s in ("mean", "var")]:
        want = model.params[k].shape if k in model.params else (model.bn[int(k[-1]) - 1].running_mean.shape)
        if k not in arrays or arrays[k].shape != want or not np.issubdtype(arrays[k].dtype, np.floating):
            got = "missing" if k not in arrays else f"shape {arrays[k].shape} {arrays[k].dtype}"
            raise ModelFileError(f"{path}: array {k} is {got}, the architecture in the header needs {want}", None)
        if not np.isfinite(arrays[k]).all():
            raise ModelFileError(f"{path}: array {k} holds NaN or inf", None)
        state[k] = arrays[k]
    model.load_state_dict(state)
    mean, std = arrays.get("preprocess_mean"), arrays.get("preprocess_std")
    if mean is None or std is None or mean.shape != (D,) or std.shape != (D,) or not (np.isfinite(mean).all()
                                                                                       and (std > 0).all()):
        raise ModelFileError(f"{path}: preprocess_mean / preprocess_std missing or invalid for {D} features", None)
    return SavedModel(model, cfg, tuple(classes), mean.astype(np.float64), std.astype(np.float64), header, path)


def _header(path: str, arrays: dict) -> dict:
    raw = arrays.get("header")
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"{path}: no hpsearch header: not an hpsearch model file",
                             "give a file written by hpsearch train --save")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path}: the header is not valid JSON ({e})", None) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an hpsearch model file (format {header.get('format') if isinstance(header, dict) else None!r})",
                             "give a file written by hpsearch train --save")
    if header.get("version") not in READS:
        raise ModelFileError(f"{path}: model file version {header.get('version')!r} is not supported (this hpsearch "
                             f"reads {', '.join(map(str, READS))})", "use the hpsearch version that wrote it")
    return header
