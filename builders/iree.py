"""IREE — a financial event extraction corpus distributed by LUGE (千言, dataset 72), after registration.

What is known: LUGE lists it as a Chinese event extraction dataset in the finance domain, distributed
like Baidu's other LUGE corpora (DuEE, DuEE-fin) behind a login. What is NOT known: no public copy,
paper or format description could be found, so the file names and the record format here are
ASSUMPTIONS modelled on DuEE / DuEE-fin:

* files ``iree_train.json``, ``iree_dev.json``, ``iree_test.json`` and ``iree_event_schema.json``;
* JSON Lines ``{"text", "id", "event_list": [{"event_type", "trigger", "arguments": [{"role",
  "argument"}]}]}``, with DuEE's optional offsets (``trigger_start_index``, ``argument_start_index``,
  kept when they point at the mention) and DuEE-fin's optional ``title`` (the unified text is then
  ``title + "\\n" + body``, mentions grounded in the body first); a record without ``event_list`` has
  no events (as in DuEE-fin);
* ``iree_test.json`` is unlabelled, as LUGE test sets are (raw view only; any ``event_list`` it has
  is still kept there);
* the schema file is DuEE's ``{"event_type", "role_list": [{"role"}]}`` per line.

A numeric ``id`` is read as a string. When a file holds something else, every line is rejected with a
reason naming what was found (``not a DuEE-style event record: keys found [...]``, ``invalid JSON:
...``); the build completes and its report lists them, so a format mismatch is visible, not a crash.
"""

import datasets

from chinchilla_datasets.base import ChinchillaBuilder, unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.duee_events import not_event_record, offset_locator, title_body_text, unified_events
from chinchilla_datasets.sources import Reject, read_event_schema, read_json_lines

_string = datasets.Value("string")
_offset = datasets.Value("int32")

CORPUS = Corpus(
    name="iree",
    task="EE",
    title="IREE (LUGE financial event extraction)",
    domain="finance",
    homepage="https://www.luge.ai/#/luge/dataDetail?id=72",
    license="LUGE data terms (research use after registration; redistribution not granted)",
    license_name="luge-data-terms",
    citation=(
        "@misc{luge_iree,\n  title={{IREE}: financial event extraction dataset},\n  howpublished={LUGE (千言), "
        "\\url{https://www.luge.ai/#/luge/dataDetail?id=72}},\n  note={No paper or public description known}\n}"
    ),
    files={"train": ("iree_train.json",), "validation": ("iree_dev.json",), "test": ("iree_test.json",)},
    schema_file="iree_event_schema.json",
    manual=True,
    unlabelled_splits=frozenset({"test"}),
    redistributable=False,
    description="Financial event extraction (event type, trigger, role-labelled arguments); format assumed DuEE-style.",
    quirks=(
        "No public format description: file names and the DuEE-style JSON Lines format are assumed.",
        "Offsets (DuEE) and a title (DuEE-fin) are both optional; records without event_list have no events.",
        "A file in another format is rejected line by line with the keys found.",
    ),
)


class IREE(ChinchillaBuilder):
    corpus = CORPUS
    raw_features = datasets.Features(
        {
            "text": _string,
            "id": _string,
            "title": _string,
            "event_list": datasets.List(
                {
                    "event_type": _string,
                    "trigger": _string,
                    "trigger_start_index": _offset,
                    "arguments": datasets.List(
                        {"role": _string, "argument": _string, "argument_start_index": _offset, "alias": datasets.List(_string)}
                    ),
                    "class": _string,
                }
            ),
        }
    )
    optional_keys = frozenset(
        {
            "id",
            "title",
            "event_list",
            "event_list.trigger_start_index",
            "event_list.class",
            "event_list.arguments.argument_start_index",
            "event_list.arguments.alias",
        }
    )

    one_record_per_line = True  # JSON Lines
    def read(self, path, split):
        for line_no, record in read_json_lines(path):
            if not isinstance(record, Reject):
                reason = not_event_record(record)
                if reason:
                    record = Reject(reason)
                elif isinstance(record.get("id"), int) and not isinstance(record["id"], bool):
                    record = {**record, "id": str(record["id"])}
            yield line_no, record

    def to_unified(self, raw):
        flags = []
        if raw["title"]:
            text, locate = title_body_text(raw["title"], raw["text"], flags)
        else:
            text, locate = raw["text"], offset_locator(raw["text"], flags)
        return unified_record(text, events=unified_events(raw["event_list"], locate), flags=flags)

    def read_schema(self, path):
        return read_event_schema(path)
