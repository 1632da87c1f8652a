"""Dataclasses from JSON, checked against their type hints: the one way a
file's JSON (results.json, a metrics.jsonl line, a checkpoint's history)
becomes a typed value. Pure Python."""
from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from typing import Any

_hints = functools.cache(typing.get_type_hints)  # resolved once per class, not per results.json read


def from_json(cls: type, record: dict[str, Any], where: str = "") -> Any:
    """A dataclass from its JSON object, each field checked against its type
    hint (the one schema of results.json and metrics.jsonl alike): ValueError
    naming the first key that is missing or of the wrong type; a field with a
    default may be absent."""
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        key = f"{where}{f.name}"
        if f.name not in record:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"'{key}' is missing")
            continue
        values[f.name] = _value(hints[f.name], record[f.name], key)
    return cls(**values)


def _value(hint: Any, value: Any, key: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):  # Optional[X]
        if value is None:
            return None
        (hint,) = [a for a in args if a is not type(None)]
        return _value(hint, value, key)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ValueError(f"'{key}' is a {type(value).__name__}")
        return from_json(hint, value, f"{key}.")
    if origin is tuple:
        if not isinstance(value, list):
            raise ValueError(f"'{key}' is a {type(value).__name__}")
        return tuple(_value(args[0], item, key) for item in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"'{key}' is a {type(value).__name__}")
        if args and args[1] is str and not all(isinstance(v, str) for v in value.values()):
            raise ValueError(f"'{key}' holds something other than text")
        return dict(value)
    if hint is float:
        if value is None:  # JSON has no NaN: a NaN written by Python reads back as NaN, null as NaN too
            return math.nan
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"'{key}' is a {type(value).__name__}")
        return float(value)
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"'{key}' is a {type(value).__name__}")
    if hint in (str, bool) and not isinstance(value, hint):
        raise ValueError(f"'{key}' is a {type(value).__name__}")
    return value
