"""SanWen — relation extraction in Chinese literature (prose essays), as distributed by thunlp/Chinese_NRE.

The sentence-level release of the discourse-level corpus of lancopku/Chinese-Literature-NER-RE-Dataset:
one line per entity pair, ``head \\t tail \\t relation \\t sentence`` (read by
:mod:`chinchilla_datasets.nre`, which groups the lines of a sentence into one unified record).
Quirks: UTF-8 with CRLF line endings; every number is replaced by the placeholder ``<N>``, in the
sentences and inside entity strings alike (``母亲<N>岁时``), and is kept as given; no offsets
(mentions are grounded at their first occurrence) and no entity types (unified entities are
untyped, ``type`` null); ``unknown`` marks a pair with no relation; the nine relation labels are
English (``Located``, ``Part-Whole``, …) and are named in Chinese in the instructions.
``relation2id.txt`` is TAB-separated ``label id``.
"""

from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.nre import ChineseNREBuilder, pinned_urls

CORPUS = Corpus(
    name="sanwen",
    task="RE",
    title="SanWen",
    domain="literature (Chinese prose essays)",
    homepage="https://github.com/lancopku/Chinese-Literature-NER-RE-Dataset",
    license="Not stated for the data (the thunlp/Chinese_NRE repository that distributes these files is MIT-licensed)",
    citation=(
        "@article{xu2017discourse,\n  title={A Discourse-Level Named Entity Recognition and Relation Extraction "
        "Dataset for Chinese Literature Text},\n  author={Xu, Jingjing and Wen, Ji and Sun, Xu and Su, Qi},\n"
        "  journal={arXiv preprint arXiv:1711.07010},\n  year={2017}\n}"
    ),
    files={"train": ("train.txt",), "validation": ("valid.txt",), "test": ("test.txt",)},
    schema_file="relation2id.txt",
    urls=pinned_urls("SanWen"),
    labels={
        "Create": "创作",
        "Use": "使用",
        "Near": "邻近",
        "Social": "社交",
        "Located": "位于",
        "Ownership": "拥有",
        "General-Special": "上下位",
        "Family": "亲属",
        "Part-Whole": "部分整体",
    },
    # No data license is stated, so the built rows are not assumed to be redistributable.
    redistributable=False,
    description=(
        "Sentence-level relation extraction in Chinese literature text with nine relation types "
        "(train 17,227, validation 1,793, test 2,220 entity-pair lines)."
    ),
    quirks=(
        "One line per entity pair: the lines of a sentence become one unified record with all its relations.",
        "Relation 'unknown' means no relation: kept in the raw view, dropped from unified relations "
        "(its pair stays among the entities; a sentence with only 'unknown' pairs is a negative).",
        "Numbers are replaced by the placeholder <N>, in sentences and inside entity strings; kept as given.",
        "No offsets and no entity types: mentions are grounded at their first occurrence; entity type is null.",
        "Relation labels are English; the instructions name them in Chinese (Located -> 位于, …).",
    ),
)


class SanWen(ChineseNREBuilder):
    corpus = CORPUS
