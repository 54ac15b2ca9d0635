"""CMeIE — Chinese medical entity-relation extraction (CBLUE; CHIP 2020 task 2), 44 predicates.

Passages from medical textbooks and clinical practice, JSON Lines (CRLF line ends):
``{"text", "spo_list": [{"Combined": bool, "predicate", "subject", "subject_type",
"object": {"@value"}, "object_type": {"@value"}}]}``; ``CMeIE_test.json`` holds ``text`` only.
The schema file ``53_schemas.json`` (JSON Lines ``{"subject_type", "predicate", "object_type"}``)
has 53 lines over 44 predicate names (同义词 links ten type pairs).

Quirks:
- No offsets: subjects and objects are strings, grounded at their first occurrence in the text
  (``ambiguous_span`` when they occur several times, null with ``ungrounded_span`` when absent).
- A text often opens with a topic prefix ``<disease>@`` and may hold several ``@``-joined segments
  (``痔@…。痔@…``); the subject is often written only in that prefix. ``Combined`` is true for a
  triple whose subject is that topic rather than a mention in the sentence. The text is kept whole,
  prefix included, so such subjects ground in the prefix; ``Combined`` stays in the raw view.
- ``object``/``object_type`` are DuIE-style slot dicts with only ``@value``. The same pair can carry
  several predicates. Heads and tails are also listed once each as entities.
- The public copy holds dev and the unlabelled test (raw view only); ``CMeIE_train.json`` comes
  with the registered CBLUE download. The official README calls the schema ``53_schema.json``; the
  file (and the name read) is ``53_schemas.json``.
"""

import datasets

from chinchilla_datasets import cblue
from chinchilla_datasets.base import ChinchillaBuilder, unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.sources import read_json_lines
from chinchilla_datasets.spo import read_predicate_schema, unified_spo

SCHEMA_FILE = "53_schemas.json"  # README.txt calls it 53_schema.json

CORPUS = Corpus(
    name="cmeie",
    task="RE",
    title="CMeIE (CBLUE)",
    domain="medical",
    homepage=cblue.HOMEPAGE,
    license=cblue.LICENSE,
    citation=cblue.CITATION,
    files={"train": ("CMeIE_train.json",), "validation": ("CMeIE_dev.json",), "test": ("CMeIE_test.json",)},
    schema_file=SCHEMA_FILE,
    manual=True,
    unlabelled_splits=frozenset({"test"}),
    redistributable=False,
    description="Medical relation extraction (subject, predicate, object strings) over 44 predicates.",
    quirks=(
        "No offsets: subjects and objects are grounded at their first occurrence.",
        "Texts often open with a topic prefix '<disease>@'; Combined marks subjects given only there.",
        "CMeIE_train.json only with the registered CBLUE download; CMeIE_test.json is unlabelled.",
    ),
)


class CMeIE(ChinchillaBuilder):
    corpus = CORPUS
    raw_features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "spo_list": datasets.List(
                {
                    "Combined": datasets.Value("bool"),
                    "predicate": datasets.Value("string"),
                    "subject": datasets.Value("string"),
                    "subject_type": datasets.Value("string"),
                    "object": {"@value": datasets.Value("string")},
                    "object_type": {"@value": datasets.Value("string")},
                }
            ),
        }
    )
    optional_keys = frozenset({"spo_list.Combined"})
    label_keys = frozenset({"spo_list"})

    one_record_per_line = True  # JSON Lines

    def read(self, path, split):
        yield from read_json_lines(path)

    def to_unified(self, raw):
        flags = []
        entities, relations = unified_spo(raw["text"], raw["spo_list"], flags)
        return unified_record(raw["text"], entities=entities, relations=relations, flags=flags)

    def read_schema(self, path):
        return read_predicate_schema(path)
