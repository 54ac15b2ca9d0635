"""DuEE-fin — Baidu's document-level financial event extraction corpus (LIC 2021), from LUGE.

JSON Lines ``{"text", "title", "id", "event_list": [{"trigger", "event_type", "arguments":
[{"role", "argument"}]}]}``. Quirks: no offsets (triggers and arguments are grounded at their first
occurrence); documents with no event are stored WITHOUT the ``event_list`` key and are kept as
negatives; texts contain newlines and zero-width spaces; the role 公司上市.环节 takes enum values
(筹备上市, …) that need not occur in the text, so their offsets are null.

Annotators read the title too: in the dev file every non-enum mention absent from the body occurs
in the title (e.g. a trigger only the headline states). So the unified text is ``title + "\n" +
body``; mentions are grounded in the body first and in the title only when the body lacks them
(flag ``grounded_in_title``). The raw view keeps title and text apart, as in the source.
"""

import datasets

from chinchilla_datasets.base import ChinchillaBuilder, unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.duee_events import title_body_text, unified_events
from chinchilla_datasets.sources import read_event_schema, read_json_lines

CORPUS = Corpus(
    name="duee_fin",
    task="EE",
    title="DuEE-fin",
    domain="finance (documents)",
    homepage="https://www.luge.ai/#/luge/dataDetail?id=7",
    license="LUGE data terms (research use after registration; redistribution not granted)",
    license_name="luge-data-terms",
    citation=(
        "@inproceedings{han2022duee,\n  title={DuEE-Fin: A Large-Scale Dataset for Document-Level Event Extraction},\n"
        "  author={Han, Cuiyun and Zhang, Jinchuan and Li, Xinyu and Xu, Guojin and Peng, Weihua and Zeng, Zengfeng},\n"
        "  booktitle={NLPCC},\n  year={2022}\n}"
    ),
    files={"train": ("duee_fin_train.json",), "validation": ("duee_fin_dev.json",), "test1": ("duee_fin_test1.json",)},
    schema_file="duee_fin_event_schema.json",
    manual=True,
    unlabelled_splits=frozenset({"test1"}),
    redistributable=False,
    description="Document-level financial event extraction over 13 event types; no offsets in the source.",
    quirks=(
        "Documents without events have no event_list key; they are kept with no events.",
        "Enum arguments (公司上市.环节) need not occur in the text: their offsets are null.",
        "Triggers and arguments are grounded at their first occurrence in the body, else in the title; "
        "the unified text is the title, a newline, and the body.",
    ),
)


class DuEEFin(ChinchillaBuilder):
    corpus = CORPUS
    raw_features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "title": datasets.Value("string"),
            "id": datasets.Value("string"),
            "event_list": datasets.List(
                {
                    "trigger": datasets.Value("string"),
                    "event_type": datasets.Value("string"),
                    "arguments": datasets.List({"role": datasets.Value("string"), "argument": datasets.Value("string")}),
                }
            ),
        }
    )
    # A labelled document without events has no event_list at all: absent means "no events".
    optional_keys = frozenset({"event_list"})

    one_record_per_line = True  # JSON Lines
    def read(self, path, split):
        yield from read_json_lines(path)

    def to_unified(self, raw):
        flags = []
        text, locate = title_body_text(raw["title"], raw["text"], flags)
        return unified_record(text, events=unified_events(raw["event_list"], locate), flags=flags)

    def read_schema(self, path):
        return read_event_schema(path)
