"""FinRE — relation extraction in Chinese financial news (Sina Finance), from thunlp/Chinese_NRE.

One line per entity pair, ``head \\t tail \\t relation \\t sentence`` (read by
:mod:`chinchilla_datasets.nre`, which groups the lines of a sentence into one unified record).
Quirks: UTF-8 with LF line endings and a blank line after every record; numbers are replaced by
``<N>`` as in SanWen; no offsets (mentions are grounded at their first occurrence) and no entity
types (unified entities are untyped, ``type`` null); ``unknown`` marks a pair with no relation;
most relations come in both directions as separate lines (``收购`` / ``被收购``), and one pair of a
sentence may carry both ``unknown`` and a relation. Labels are Chinese and shown as they are.
``relation2id.txt`` is SPACE-separated ``label id`` with CRLF endings (43 labels besides ``unknown``).
"""

from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.nre import ChineseNREBuilder, pinned_urls

# In relation2id.txt order; the fallback label table when relation2id.txt is absent.
RELATIONS = (
    "注资", "拥有", "纠纷", "自己", "增持", "重组", "买资", "签约", "持股", "交易", "入股", "转让", "成立",
    "分析", "合作", "帮助", "发行", "商讨", "合并", "竞争", "订单", "减持", "合资", "收购", "借壳", "欠款",
    "被发行", "被转让", "被成立", "被注资", "被持股", "被拥有", "被收购", "被帮助", "被借壳", "被买资",
    "被欠款", "被增持", "拟收购", "被减持", "被分析", "被入股", "被拟收购",
)

CORPUS = Corpus(
    name="finre",
    task="RE",
    title="FinRE",
    domain="finance (news)",
    homepage="https://github.com/thunlp/Chinese_NRE",
    license="Not stated for the data (the thunlp/Chinese_NRE repository that distributes these files is MIT-licensed)",
    citation=(
        "@inproceedings{li2019chinese,\n  title={Chinese Relation Extraction with Multi-Grained Information and "
        "External Linguistic Knowledge},\n  author={Li, Ziran and Ding, Ning and Liu, Zhiyuan and Zheng, Hai-Tao "
        "and Shen, Ying},\n  booktitle={Proceedings of ACL 2019},\n  pages={4377--4386},\n  year={2019}\n}"
    ),
    files={"train": ("train.txt",), "validation": ("valid.txt",), "test": ("test.txt",)},
    schema_file="relation2id.txt",
    urls=pinned_urls("FinRE"),
    labels={relation: relation for relation in RELATIONS},
    # No data license is stated, so the built rows are not assumed to be redistributable.
    redistributable=False,
    description=(
        "Sentence-level relation extraction in financial news with 43 relation types plus 'unknown' "
        "(train 13,486, validation 1,489, test 3,727 entity-pair lines)."
    ),
    quirks=(
        "One line per entity pair, each followed by a blank line: the lines of a sentence become one "
        "unified record with all its relations.",
        "Relation 'unknown' means no relation: kept in the raw view, dropped from unified relations "
        "(its pair stays among the entities; a sentence with only 'unknown' pairs is a negative).",
        "Most relations appear in both directions as separate lines (收购 / 被收购).",
        "No offsets and no entity types: mentions are grounded at their first occurrence; entity type is null.",
    ),
)


class FinRE(ChineseNREBuilder):
    corpus = CORPUS
