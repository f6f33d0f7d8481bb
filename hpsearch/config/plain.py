"""Plain values for JSON documents and messages: NaN to None, tuples to lists, numbers as people read them."""

from __future__ import annotations

import math
from typing import Any


def finite_or_none(v: Any) -> Any:
    """A JSON-safe number: None and non-finite floats become None, integers stay integers, the rest float."""
    if v is None:
        return None
    if hasattr(v, "item") and callable(v.item):  # numpy scalars
        v = v.item()
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    v = float(v)
    return v if math.isfinite(v) else None


def strict(obj: Any) -> Any:
    """A deep copy fit for strict JSON: non-finite floats become None, tuples lists, keys strings,
    numpy scalars Python numbers."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return strict(obj.item())
    return obj


def plain(v: Any) -> Any:
    """A tuple (hidden widths) as the list JSON and YAML hold; anything else as it is."""
    return list(v) if isinstance(v, (tuple, list)) else v


def fmt(v: Any, spec: str = ".4g") -> str:
    """A table cell: `spec`-formatted, '-' for a missing or non-finite value."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return format(v, spec)


def short(v: Any) -> str:
    """A value in a warning: floats to 3 significant digits, anything else as str()."""
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def is_number(v: Any) -> bool:
    """A finite int or float (a bool is not a number here)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def cell(v: Any) -> str:
    """A searched value in a table or a picture: floats to 3 significant digits (scientific outside 1e-3..1e4),
    lists comma-joined, anything else as str()."""
    if isinstance(v, float):
        return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.2e}"
    if isinstance(v, list):
        return ",".join(map(str, v))
    return str(v)


def as_written(v: Any) -> str:
    """A value in a validation error as the user wrote it: 0 not 0.0, 1e-05 not 0.00001."""
    return f"{v:g}" if isinstance(v, float) else str(v)
