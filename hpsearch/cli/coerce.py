"""Flag values without Pydantic: Typer (0.29+) turns every flag value into its type through a Pydantic
TypeAdapter, built per flag on each run, and importing Pydantic alone takes longer than the rest of the CLI.
`install()` gives the plain flags (str, int, float, a fixed set of names) a direct conversion; any value it is
not sure of (an error, an unusual spelling) goes through Typer's own adapter, so values and error messages are
Typer's. Should a future Typer lack the hook, nothing is installed and Typer works as before."""

from __future__ import annotations

import re
from typing import Any

_INT = re.compile(r"[+-]?[1-9][0-9]{0,17}|[+-]?0")  # what int() and Pydantic read alike (no _, no spaces)
_FLOAT = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})(?:[eE][+-]?[0-9]{1,3})?")
_MISS = object()


def fast_value(annotation: Any, info: Any, value: Any, ctx: Any = None) -> Any:
    """`value` as Typer would give it for a flag of type `annotation`, or _MISS when not sure (then Typer's
    adapter decides). `info`: the flag's typer ParameterInfo."""
    from typing import Literal, get_args, get_origin

    if info.parser is not None or getattr(info, "clamp", False):
        return _MISS
    if annotation is str:
        return value if isinstance(value, str) else _MISS
    if annotation is int or annotation is float:
        if isinstance(value, bool):
            return _MISS
        if isinstance(value, str):
            if not (_INT if annotation is int else _FLOAT).fullmatch(value):
                return _MISS
            value = annotation(value)
        elif annotation is float and isinstance(value, int):
            value = float(value)
        if not isinstance(value, annotation):
            return _MISS
        if (info.min is not None and not value >= info.min) or (info.max is not None and not value <= info.max):
            return _MISS
        return value
    if get_origin(annotation) is Literal and isinstance(value, str):
        if getattr(ctx, "token_normalize_func", None) is not None:
            return _MISS
        names = get_args(annotation)
        return value if all(isinstance(n, str) for n in names) and value in names else _MISS
    return _MISS


def install() -> bool:
    """Give Typer's flags the direct conversion (once); False when this Typer has no place for it."""
    try:
        from dataclasses import dataclass

        from typer import core
        from typer._coercion import RuntimeParam, build_runtime_param
    except ImportError:  # pragma: no cover - another Typer layout
        return False
    cls = getattr(core, "_TyperParameter", None)
    if cls is None or not hasattr(cls, "get_runtime_param") or getattr(cls, "hpsearch_light", False):
        return bool(cls is not None and getattr(cls, "hpsearch_light", False))

    @dataclass(frozen=True)
    class Light(RuntimeParam):
        descriptor: Any = None

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            v = fast_value(self.annotation, self.parameter_info, value, ctx)
            if v is not _MISS:
                return v
            full = param.__dict__.get("hpsearch_full")
            if full is None:
                full = param.__dict__["hpsearch_full"] = build_runtime_param(self.descriptor)
            return full.coerce(value, param=param, ctx=ctx)

    def get_runtime_param(self):
        if self._runtime_param is None:
            d = self.type_descriptor
            if d.file_annotation is None and _simple(d.annotation):
                self._runtime_param = Light(parameter_info=d.parameter_info, annotation=d.annotation, descriptor=d)
            else:
                self._runtime_param = build_runtime_param(d)
        return self._runtime_param

    cls.get_runtime_param = get_runtime_param
    cls.hpsearch_light = True
    return True


def _simple(annotation: Any) -> bool:
    from typing import Literal, get_origin

    return annotation in (str, int, float) or get_origin(annotation) is Literal
