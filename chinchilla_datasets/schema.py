"""The unified IE schema shared by every corpus, and the instruction-row schema.

Offsets are character offsets into ``text`` with ``end`` exclusive; a span whose
mention does not occur in the text has ``start = end = None``.
"""

from __future__ import annotations

import datasets

TASKS = ("NER", "RE", "EE")
# The unified column holding each task's annotations.
TASK_COLUMN = {"NER": "entities", "RE": "relations", "EE": "events"}
VIEWS = ("raw", "unified", "instruct")

_string = datasets.Value("string")
_offset = datasets.Value("int32")

ENTITY = {"type": _string, "text": _string, "start": _offset, "end": _offset}
TRIGGER = {"text": _string, "start": _offset, "end": _offset}
ARGUMENT = {"role": _string, "text": _string, "start": _offset, "end": _offset}
QUALIFIER = {"role": _string, "type": _string, "text": _string, "start": _offset, "end": _offset}

UNIFIED_FEATURES = datasets.Features(
    {
        "id": _string,
        "corpus": _string,
        "task": _string,
        "text": _string,
        "entities": datasets.List(ENTITY),
        "relations": datasets.List(
            {"type": _string, "head": ENTITY, "tail": ENTITY, "qualifiers": datasets.List(QUALIFIER)}
        ),
        "events": datasets.List({"type": _string, "trigger": TRIGGER, "arguments": datasets.List(ARGUMENT)}),
        # Quality flags, e.g. "ambiguous_span" (mention occurs several times and the source gives no
        # offset) or "ungrounded_span" (mention absent from the text): rows are flagged, never dropped.
        "flags": datasets.List(_string),
    }
)

INSTRUCT_FEATURES = datasets.Features(
    {
        "id": _string,
        "record_id": _string,
        "corpus": _string,
        "task": _string,
        "split": _string,
        "instruction": _string,
        "input": _string,
        "output": _string,
        "template_id": _string,
        "schema": datasets.List(_string),
        # The generation parameters (InstructOptions and the split mode) so the row can be regenerated.
        "params": {
            "seed": datasets.Value("int64"),
            "language": _string,
            "ner_batch": datasets.Value("int32"),
            "re_batch": datasets.Value("int32"),
            "ee_batch": datasets.Value("int32"),
            "negative_ratio": datasets.Value("float64"),
            "empty_cap": datasets.Value("float64"),
            "subtasks": datasets.Value("bool"),
            "split_mode": _string,  # "train" (gold + negative types) or "eval" (the full schema in batches)
        },
    }
)


def empty_record(record_id: str, corpus: str, task: str, text: str) -> dict:
    """A unified record with no annotations yet."""
    return {
        "id": record_id,
        "corpus": corpus,
        "task": task,
        "text": text,
        "entities": [],
        "relations": [],
        "events": [],
        "flags": [],
    }


def spans_of(record: dict):
    """Every span of a unified record: entities, relation heads, tails and qualifiers, event
    triggers and arguments (each a dict with ``text``, ``start``, ``end``)."""
    yield from record["entities"]
    for relation in record["relations"]:
        yield relation["head"]
        yield relation["tail"]
        yield from relation["qualifiers"]
    for event in record["events"]:
        yield event["trigger"]
        yield from event["arguments"]
