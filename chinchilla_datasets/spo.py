"""DuIE-style subject-predicate-object records (DuIE, CMeIE) as unified relations, written once.

Both corpora list ``{"predicate", "subject", "subject_type", "object": {"@value", ...},
"object_type": {"@value", ...}}`` without offsets: subjects and objects are grounded at their first
occurrence (``spans.entity``). DuIE's complex predicates carry further object slots (``inWork``,
``onDate``, ...), which become qualifiers; CMeIE has ``@value`` only. Their schema files are JSON
Lines with a ``predicate`` key.
"""

from __future__ import annotations

from .sources import Reject, read_json_lines
from .spans import entity


def unified_spo(text: str, spo_list: list, flags: list, qualifier_slots: tuple = ()) -> tuple:
    """``(entities, relations)`` of an ``spo_list``: every head and tail listed once as an entity, in
    order of appearance; ``qualifier_slots`` name the object slots kept as qualifiers when not null."""
    entities, relations = [], []
    for spo in spo_list:
        head = entity(text, spo["subject_type"], spo["subject"], flags=flags)
        tail = entity(text, spo["object_type"]["@value"], spo["object"]["@value"], flags=flags)
        qualifiers = []
        for slot in qualifier_slots:
            value = spo["object"][slot]
            if value is not None:
                qualifiers.append({"role": slot, **entity(text, spo["object_type"][slot], value, flags=flags)})
        relations.append({"type": spo["predicate"], "head": head, "tail": tail, "qualifiers": qualifiers})
        for mention in (head, tail):
            if mention not in entities:
                entities.append(mention)
    return entities, relations


def read_predicate_schema(path: str) -> dict:
    """The predicates of a JSON Lines schema file (one per ``predicate`` key, first seen first) as a
    label schema; an invalid line is skipped, as the schema only lists labels."""
    predicates = []
    for _, line in read_json_lines(path):
        predicate = line.get("predicate") if not isinstance(line, Reject) else None
        if isinstance(predicate, str) and predicate not in predicates:
            predicates.append(predicate)
    return {"types": [[p, p] for p in predicates], "roles": {}}
