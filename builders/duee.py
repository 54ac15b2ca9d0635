"""DuEE 1.0 — Baidu's sentence-level event extraction corpus (LIC 2020), from LUGE.

JSON Lines ``{"text", "id", "event_list": [{"event_type", "trigger", "trigger_start_index",
"arguments": [{"role", "argument", "argument_start_index", "alias"}], "class"}]}``. Offsets are
0-based character indexes into ``text`` and are kept. ``event_type`` is ``class-subtype`` and the
class may itself contain '/' (``财经/交易-出售/收购``). ``duee_test1.json`` is unlabelled (text and id).
Two versions of the dev file circulate (1498 and 1492 lines: six records removed).
"""

import datasets

from chinchilla_datasets.base import ChinchillaBuilder, unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.duee_events import offset_locator, unified_events
from chinchilla_datasets.sources import read_event_schema, read_json_lines

CORPUS = Corpus(
    name="duee",
    task="EE",
    title="DuEE 1.0",
    domain="news",
    homepage="https://www.luge.ai/#/luge/dataDetail?id=6",
    license="LUGE data terms (research use after registration; redistribution not granted)",
    license_name="luge-data-terms",
    citation=(
        "@inproceedings{li2020duee,\n  title={DuEE: A Large-Scale Dataset for Chinese Event Extraction in Real-World "
        "Scenarios},\n  author={Li, Xinyu and Li, Fayuan and Pan, Lu and Chen, Yuguang and Peng, Weihua and Wang, "
        "Quan and Lyu, Yajuan and Zhu, Yong},\n  booktitle={NLPCC},\n  year={2020}\n}"
    ),
    files={"train": ("duee_train.json",), "validation": ("duee_dev.json",), "test1": ("duee_test1.json",)},
    schema_file="duee_event_schema.json",
    manual=True,
    unlabelled_splits=frozenset({"test1"}),
    redistributable=False,
    description="Sentence-level event extraction over 65 event types with trigger and argument offsets.",
    quirks=(
        "event_type is class-subtype and the class may contain '/'.",
        "Two dev versions circulate (1498 and 1492 lines).",
    ),
)


class DuEE(ChinchillaBuilder):
    corpus = CORPUS
    raw_features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "id": datasets.Value("string"),
            "event_list": datasets.List(
                {
                    "event_type": datasets.Value("string"),
                    "trigger": datasets.Value("string"),
                    "trigger_start_index": datasets.Value("int32"),
                    "arguments": datasets.List(
                        {
                            "role": datasets.Value("string"),
                            "argument": datasets.Value("string"),
                            "argument_start_index": datasets.Value("int32"),
                            "alias": datasets.List(datasets.Value("string")),
                        }
                    ),
                    "class": datasets.Value("string"),
                }
            ),
        }
    )
    optional_keys = frozenset({"event_list.arguments.alias", "event_list.class"})
    label_keys = frozenset({"event_list"})

    one_record_per_line = True  # JSON Lines
    def read(self, path, split):
        yield from read_json_lines(path)

    def to_unified(self, raw):
        flags = []
        events = unified_events(raw["event_list"], offset_locator(raw["text"], flags))
        return unified_record(raw["text"], events=events, flags=flags)

    def read_schema(self, path):
        return read_event_schema(path)
