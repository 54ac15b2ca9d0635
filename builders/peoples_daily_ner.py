"""People's Daily NER — the 1998 人民日报 corpus as character-level BIO ("china-people-daily-ner-corpus").

There is no official release: the corpus is derived from the PKU-annotated 1998 People's Daily
corpus and circulates as ``example.{train,dev,test}`` of zjy-ucas/ChineseNER (also repackaged by
several toolkits). One ``char<SPACE>tag`` per line, a blank line after every sentence (including
the last); tags O and B-/I- over PER, ORG, LOC. Digits and Latin letters are half-width, punctuation
full-width; some "sentences" are whole paragraphs (several hundred characters).
"""

from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.tagged import BIO, TaggedNERBuilder, tag_names, tagged_features

_REPO = "https://raw.githubusercontent.com/zjy-ucas/ChineseNER/48e1007e60194c13377f8ce612c505d484b18c7d/data"

CORPUS = Corpus(
    name="peoples_daily_ner",
    task="NER",
    title="People's Daily NER (1998)",
    domain="news",
    homepage="https://github.com/zjy-ucas/ChineseNER",
    license="No license stated (derived from the PKU-annotated 1998 People's Daily corpus)",
    citation=(
        "@misc{zjy2017chinesener,\n  title={ChineseNER: recurrent neural networks for Chinese named entity "
        "recognition in TensorFlow},\n  author={Zhang, Jingyuan},\n  howpublished={\\url{https://github.com/"
        "zjy-ucas/ChineseNER}},\n  year={2017},\n  note={Data derived from the 1998 People's Daily corpus "
        "annotated by Peking University}\n}"
    ),
    files={"train": ("example.train",), "validation": ("example.dev",), "test": ("example.test",)},
    urls={name: f"{_REPO}/{name}" for name in ("example.train", "example.dev", "example.test")},
    labels={"PER": "人名", "ORG": "机构名", "LOC": "地名"},
    description="Character-level BIO named entities (person, organisation, location) in 1998 People's Daily news.",
    quirks=(
        "Not an official release: the zjy-ucas/ChineseNER files are the de-facto distribution.",
        "Some sentences are whole paragraphs (up to several hundred characters).",
    ),
)


class PeoplesDailyNER(TaggedNERBuilder):
    corpus = CORPUS
    raw_features = tagged_features(tag_names(CORPUS.labels, BIO))
    separator = " "
