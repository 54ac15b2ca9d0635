"""Checking a parsed source record against the raw features before it is written.

A record from JSON can hold anything; writing it with the wrong shape either crashes the
Arrow writer or silently drops fields. ``conform`` returns the record with absent optional
keys filled with None, or raises ``ValueError`` naming the offending path.
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


def conform(value, feature, optional: frozenset = frozenset(), path: str = ""):
    if isinstance(feature, (dict, datasets.Features)):
        if not isinstance(value, dict):
            raise ValueError(f"{path or 'record'}: expected an object, got {type(value).__name__}")
        out = {}
        for key, sub in feature.items():
            sub_path = f"{path}.{key}" if path else key
            if key not in value or value[key] is None:
                if sub_path in optional:
                    out[key] = None
                    continue
                raise ValueError(f"missing key {sub_path!r}")
            out[key] = conform(value[key], sub, optional, sub_path)
        return out
    if isinstance(feature, datasets.List):
        if not isinstance(value, list):
            raise ValueError(f"{path}: expected a list, got {type(value).__name__}")
        return [conform(v, feature.feature, optional, path) for v in value]
    if isinstance(feature, datasets.ClassLabel):
        if value not in feature.names:
            raise ValueError(f"{path}: unknown label {value!r}")
        return value
    if isinstance(feature, datasets.Value):
        expected = _PY_TYPES.get(feature.dtype)
        # bool is an int subclass: an int field must not accept true/false.
        if expected is None or (isinstance(value, expected) and not (expected is int and isinstance(value, bool))):
            bits = _INT_BITS.get(feature.dtype)
            # JSON integers are unbounded; one outside the column's range would crash the Arrow writer.
            if bits is not None and not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
                raise ValueError(f"{path}: {value} is out of the {feature.dtype} range")
            return value
        raise ValueError(f"{path}: expected {feature.dtype}, got {type(value).__name__} {value!r:.40}")
    return value
