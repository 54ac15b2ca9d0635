"""CMeEE — Chinese medical entity recognition (CBLUE; CHIP 2020 task 1), nine entity types.

Sentences from clinical-medicine textbooks and guidelines. Each file is ONE JSON array,
pretty-printed (2-space indent, no final newline), of ``{"text", "entities": [{"start_idx",
"end_idx", "type", "entity"}]}``; read with ``sources.read_json_array_lines``, a record's line is the
line of its opening brace.

Quirks:
- ``end_idx`` is INCLUSIVE (``text[start_idx:end_idx + 1] == entity``; a one-character entity has
  ``start_idx == end_idx``): the unified view makes it exclusive. A span that does not slice to its
  entity is re-grounded only when the entity occurs once in the text (``offset_corrected``), else
  null (``ungrounded_span``, ``ambiguous_span``).
- Entities NEST (a 身体 ``肺`` inside a 临床表现 ``肺内病变``): every span is kept, in source order.
- The public copy holds ``CMeEE_dev.json`` and the unlabelled ``CMeEE_test.json`` (``text`` only: raw
  view only); ``CMeEE_train.json`` comes with the CBLUE download after registration on Tianchi. It is
  read when it is in the folder; without it the build says so and builds the other splits.
- Types are three-letter codes (bod, dis, sym, pro, dru, ite, mic, equ, dep); the instructions use
  the Chinese names of the CBLUE task definition.
"""

import datasets

from chinchilla_datasets import cblue
from chinchilla_datasets.base import ChinchillaBuilder, unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.sources import read_json_array_lines
from chinchilla_datasets.spans import span_at


CORPUS = Corpus(
    name="cmeee",
    task="NER",
    title="CMeEE (CBLUE)",
    domain="medical",
    homepage=cblue.HOMEPAGE,
    license=cblue.LICENSE,
    citation=cblue.CITATION,
    files={"train": ("CMeEE_train.json",), "validation": ("CMeEE_dev.json",), "test": ("CMeEE_test.json",)},
    manual=True,
    unlabelled_splits=frozenset({"test"}),
    labels={
        "dis": "疾病",
        "sym": "临床表现",
        "pro": "医疗程序",
        "equ": "医疗设备",
        "dru": "药物",
        "ite": "医学检验项目",
        "bod": "身体",
        "dep": "科室",
        "mic": "微生物类",
    },
    redistributable=False,
    description="Medical named entities of nine types, nested, from clinical textbook sentences.",
    quirks=(
        "end_idx is inclusive; the unified view makes it exclusive.",
        "Entities nest (a body part inside a symptom); all are kept.",
        "One pretty-printed JSON array per file; CMeEE_train.json only with the registered CBLUE download.",
        "CMeEE_test.json is unlabelled (raw view only).",
    ),
)


class CMeEE(ChinchillaBuilder):
    corpus = CORPUS
    raw_features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "entities": datasets.List(
                {
                    "start_idx": datasets.Value("int32"),
                    "end_idx": datasets.Value("int32"),  # inclusive
                    "type": datasets.Value("string"),
                    "entity": datasets.Value("string"),
                }
            ),
        }
    )
    label_keys = frozenset({"entities"})

    def read(self, path, split):
        yield from read_json_array_lines(path)

    def to_unified(self, raw):
        text, flags, entities = raw["text"], [], []
        for item in raw["entities"]:
            start, end = span_at(text, item["entity"], item["start_idx"], item["end_idx"] + 1, flags)
            entities.append({"type": item["type"], "text": item["entity"], "start": start, "end": end})
        return unified_record(text, entities=entities, flags=flags)
