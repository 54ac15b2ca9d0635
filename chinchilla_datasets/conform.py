"""Checking a parsed source record against the raw features before it is written.

A record from JSON can hold anything; writing it with the wrong shape either crashes the
Arrow writer or silently drops fields. ``conformer(features)`` builds a check that returns the
record with absent optional keys filled with None, or raises ``ValueError`` naming the path.
"""

from __future__ import annotations

import datasets

_PY_TYPES = {
    "string": str,
    "large_string": str,
    "int8": int,
    "int16": int,
    "int32": int,
    "int64": int,
    "bool": bool,
    "float32": (int, float),
    "float64": (int, float),
}
_INT_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}


def conformer(feature, optional: frozenset = frozenset(), path: str = ""):
    """The check for one feature tree, compiled once: a function ``value -> conformed value`` that
    fills absent optional keys with None or raises ``ValueError`` naming the path. Compiling avoids
    dispatching on the feature type at every node of every record (a raw build compiles once per split)."""
    if isinstance(feature, (dict, datasets.Features)):
        fields = []
        for key, sub in feature.items():
            sub_path = f"{path}.{key}" if path else key
            fields.append((key, conformer(sub, optional, sub_path), sub_path in optional, sub_path))
        where = path or "record"

        def check_dict(value):
            if not isinstance(value, dict):
                raise ValueError(f"{where}: expected an object, got {type(value).__name__}")
            out = {}
            for key, check, is_optional, sub_path in fields:
                v = value.get(key)
                if v is None:
                    if is_optional:
                        out[key] = None
                        continue
                    raise ValueError(f"missing key {sub_path!r}")
                out[key] = check(v)
            return out

        return check_dict
    if isinstance(feature, datasets.List):
        check_item = conformer(feature.feature, optional, path)

        def check_list(value):
            if not isinstance(value, list):
                raise ValueError(f"{path}: expected a list, got {type(value).__name__}")
            return [check_item(v) for v in value]

        return check_list
    if isinstance(feature, datasets.ClassLabel):
        names = set(feature.names)

        def check_label(value):
            if value not in names:
                raise ValueError(f"{path}: unknown label {value!r}")
            return value

        return check_label
    if isinstance(feature, datasets.Value):
        expected = _PY_TYPES.get(feature.dtype)
        bits = _INT_BITS.get(feature.dtype)
        if expected is None:
            return lambda value: value
        if expected is str:
            def check_str(value):
                if isinstance(value, str):
                    return value
                raise ValueError(f"{path}: expected {feature.dtype}, got {type(value).__name__} {value!r:.40}")
            return check_str
        lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if bits else (None, None)

        def check_value(value):
            if isinstance(value, expected) and not (expected is int and isinstance(value, bool)):
                if bits is not None and not lo <= value < hi:
                    raise ValueError(f"{path}: {value} is out of the {feature.dtype} range")
                return value
            raise ValueError(f"{path}: expected {feature.dtype}, got {type(value).__name__} {value!r:.40}")

        return check_value
    return lambda value: value
