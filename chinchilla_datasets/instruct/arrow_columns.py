"""Arrow column helpers of the renderer: struct fields, a table's annotations flattened per task,
JSON string quoting of a whole string array (as orjson quotes), joining list arrays, and the gold
items of an annotation column."""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc


def _field(array: pa.Array, *path: str) -> pa.Array:
    """A (nested) field of a struct array."""
    for name in path:
        array = pc.struct_field(array, name)
    return array


def _annotations(column: pa.Array, task: str) -> tuple:
    """``(offsets, labels, items, label_array)`` of a unified annotation column (a list<struct>
    Arrow array): record ``i``'s annotations are ``labels[offsets[i]:offsets[i+1]]`` (also as the
    Arrow array ``label_array``) with their answer items
    (NER: the mention; RE: ``{"head", "tail"[, "qualifiers"]}``; EE: ``(trigger, [(role, text)])``).
    Only the fields an answer uses are converted to Python: no per-record dicts of spans."""
    lengths = pc.fill_null(pc.list_value_length(column), 0).to_numpy(zero_copy_only=False)
    offsets = [0, *np.cumsum(lengths).tolist()]
    values = column.flatten()  # null lists contribute nothing

    def nested(array, *path) -> tuple:  # a list<struct> field: its per-item counts and flattened values
        inner = _field(array, *path)
        counts = pc.fill_null(pc.list_value_length(inner), 0).to_pylist()
        return counts, inner.flatten()

    label_array = _field(values, "type")
    labels = label_array.to_pylist()
    if task == "NER":
        items = _field(values, "text").to_pylist()
    elif task == "RE":
        heads, tails = _field(values, "head", "text").to_pylist(), _field(values, "tail", "text").to_pylist()
        counts, qualifiers = nested(values, "qualifiers")
        roles, texts = _field(qualifiers, "role").to_pylist(), _field(qualifiers, "text").to_pylist()
        items, q = [], 0
        for head, tail, count in zip(heads, tails, counts):
            item = {"head": head, "tail": tail}
            if count:
                item["qualifiers"] = dict(zip(roles[q : q + count], texts[q : q + count]))
                q += count
            items.append(item)
    else:
        triggers = _field(values, "trigger", "text").to_pylist()
        counts, arguments = nested(values, "arguments")
        roles, texts = _field(arguments, "role").to_pylist(), _field(arguments, "text").to_pylist()
        items, a = [], 0
        for trigger, count in zip(triggers, counts):
            items.append((trigger, list(zip(roles[a : a + count], texts[a : a + count]))))
            a += count
    return offsets, labels, items, label_array


_JSON_ESCAPED = r'[\x00-\x1f"\\]'  # the characters a JSON string escapes (orjson keeps the rest as they are)


def _json_strings(array: pa.Array) -> pa.Array:
    """``orjson.dumps`` of each string of an Arrow array, vectorized: the string in quotes, and
    through orjson the few strings with a character to escape. Nulls stay null."""
    quoted = pc.binary_join_element_wise('"', array, '"', "")
    escaped = pc.fill_null(pc.match_substring_regex(array, _JSON_ESCAPED), False)
    if pc.any(escaped).as_py():
        fixed = pa.array([orjson.dumps(value).decode() for value in array.filter(escaped).to_pylist()], pa.string())
        quoted = pc.replace_with_mask(quoted, escaped, fixed)
    return quoted


def _joined(lengths: np.ndarray, values: pa.Array, separator: str) -> pa.Array:
    """``values`` cut into consecutive runs (``lengths``), each run joined with ``separator``."""
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]), pa.int32())
    return pc.binary_join(pa.ListArray.from_arrays(offsets, values), separator)


def _nested_count(array: pa.Array) -> np.ndarray:
    return pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False).astype(np.int64)


def _gold_items(values: pa.Array, task: str) -> tuple:
    """``(items, triggers, ok)`` of flattened annotations (a struct array), with Arrow: each
    one's answer item as compact JSON, the bytes ``dump_answer`` gives for the loop's item (NER: the
    mention; RE: ``{"head","tail"[,"qualifiers"]}``; EE: ``{"trigger","arguments":[{"role","argument"}]}``),
    each EE trigger as a JSON string (else None), and whether the item can be rendered this way:
    not with a null field, nor a relation of several qualifiers (the loop compares those as dicts,
    regardless of their order)."""
    triggers = None
    if task == "NER":
        items = _json_strings(_field(values, "text"))
        ok = True
    elif task == "RE":
        qualifiers = _field(values, "qualifiers")
        count = _nested_count(qualifiers)
        flat = qualifiers.flatten()
        pairs = pc.binary_join_element_wise(_json_strings(_field(flat, "role")), _json_strings(_field(flat, "text")), ":")
        listed = pc.binary_join_element_wise(',"qualifiers":{', _joined(count, pairs, ","), "}", "")
        listed = pc.if_else(pa.array(count > 0), listed, "")
        head, tail = _json_strings(_field(values, "head", "text")), _json_strings(_field(values, "tail", "text"))
        items = pc.binary_join_element_wise('{"head":', head, ',"tail":', tail, listed, "}", "")
        ok = count <= 1
    else:
        arguments = _field(values, "arguments")
        flat = arguments.flatten()
        listed = pc.binary_join_element_wise('{"role":', _json_strings(_field(flat, "role")), ',"argument":', _json_strings(_field(flat, "text")), "}", "")
        triggers = _json_strings(_field(values, "trigger", "text"))
        items = pc.binary_join_element_wise('{"trigger":', triggers, ',"arguments":[', _joined(_nested_count(arguments), listed, ","), "]}", "")
        ok = True
    return items, triggers, ok & pc.is_valid(items).to_numpy(zero_copy_only=False)
