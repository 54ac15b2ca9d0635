"""DuIE 2.0 — Baidu's Chinese relation extraction corpus (LIC 2020/2021), from LUGE.

JSON Lines ``{"text", "spo_list": [{"predicate", "subject", "subject_type", "object": {"@value", ...},
"object_type": {"@value", ...}}]}``. Quirks: no offsets (mentions are strings, grounded at their
first occurrence); "complex" predicates carry extra object slots (``inWork``, ``onDate``,
``inArea``, ``period``) which become qualifiers; key order inside an spo is not fixed; the
unlabelled ``duie_test1.json`` holds only ``text`` (raw view only).
"""

import datasets

from chinchilla_datasets.base import ChinchillaBuilder, unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.sources import read_json_lines
from chinchilla_datasets.spo import read_predicate_schema, unified_spo

SLOTS = ("@value", "inWork", "onDate", "inArea", "period")
_slots = {slot: datasets.Value("string") for slot in SLOTS}

CORPUS = Corpus(
    name="duie",
    task="RE",
    title="DuIE 2.0",
    domain="general (Baidu Baike, news)",
    homepage="https://www.luge.ai/#/luge/dataDetail?id=5",
    license="LUGE data terms (research use after registration; redistribution not granted)",
    license_name="luge-data-terms",
    citation=(
        "@inproceedings{li2019duie,\n  title={DuIE: A Large-scale Chinese Dataset for Information Extraction},\n"
        "  author={Li, Shuangjie and He, Wei and Shi, Yabing and Jiang, Wenbin and Liang, Haijin and Jiang, Ye "
        "and Zhang, Yang and Lyu, Yajuan and Zhu, Yong},\n  booktitle={NLPCC},\n  year={2019}\n}"
    ),
    files={"train": ("duie_train.json",), "validation": ("duie_dev.json",), "test1": ("duie_test1.json",)},
    schema_file="duie_schema.json",
    manual=True,
    unlabelled_splits=frozenset({"test1"}),
    redistributable=False,
    description="Sentence-level relation extraction with 48 predicates, some n-ary (object slots).",
    quirks=(
        "No offsets: subjects and objects are grounded at their first occurrence in the text.",
        "Complex predicates carry object slots (inWork, onDate, inArea, period), kept as qualifiers.",
    ),
)


class DuIE(ChinchillaBuilder):
    corpus = CORPUS
    raw_features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "spo_list": datasets.List(
                {
                    "predicate": datasets.Value("string"),
                    "subject": datasets.Value("string"),
                    "subject_type": datasets.Value("string"),
                    "object": _slots,
                    "object_type": _slots,
                }
            ),
        }
    )
    optional_keys = frozenset(
        [f"spo_list.{part}.{slot}" for part in ("object", "object_type") for slot in SLOTS[1:]]
    )
    label_keys = frozenset({"spo_list"})

    one_record_per_line = True  # JSON Lines
    def read(self, path, split):
        yield from read_json_lines(path)

    def to_unified(self, raw):
        flags = []
        entities, relations = unified_spo(raw["text"], raw["spo_list"], flags, qualifier_slots=SLOTS[1:])
        return unified_record(raw["text"], entities=entities, relations=relations, flags=flags)

    def read_schema(self, path):
        return read_predicate_schema(path)
