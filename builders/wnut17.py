"""WNUT-17 — emerging and rare entities in English social media (Derczynski et al., W-NUT 2017).

An English source of the translation stage (``chinchilla translate``): its own configs use the
English instruction templates and it is not part of the Chinese mixtures (``all_*``).

``wnut17train.conll`` (train), ``emerging.dev.conll`` (dev), ``emerging.test.annotated`` (test,
gold): ``token<TAB>tag`` per line, BIO tags over person, location, group, corporation, product and
creative-work (flat, no nesting). Sentences are separated by an empty line, except in the training
file where most separators are a line holding a single TAB: a line of whitespace only is a
separator too (``sources.read_blocks``). The unified text is the tokens joined by single spaces,
so every entity offset falls on token boundaries. ``emerging.test.conll`` in the same repository
is NOT gold (crowd multi-labels such as ``B-corporation,B-person``) and is not read: under that
name its comma-joined tags would be rejected as unknown tags anyway. Hashtags, @handles, URLs,
emoji and HTML entities are tokens as the source has them (split differently in train and
dev/test: ``#BB11`` vs ``# photos``).
"""

from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.tagged import BIO, TaggedNERBuilder, tag_names, tagged_features

_REPO = "https://raw.githubusercontent.com/leondz/emerging_entities_17/e52a2d2a71ac1a051ca2d532eef28653c5c02603"
_FILES = {
    "train": "wnut17train.conll",
    "validation": "emerging.dev.conll",
    "test": "emerging.test.annotated",
}
TYPES = ("person", "location", "group", "corporation", "product", "creative-work")

CORPUS = Corpus(
    name="wnut17",
    task="NER",
    title="WNUT-17 Emerging and Rare Entities",
    domain="social media (Twitter, Reddit, YouTube, StackExchange), English",
    homepage="https://noisy-text.github.io/2017/emerging-rare-entities.html",
    license="CC BY 4.0 (as stated by the organisers' repository README)",
    license_name="cc-by-4.0",
    license_link="https://creativecommons.org/licenses/by/4.0/",
    # CC BY 4.0 allows redistribution with attribution.
    redistributable=True,
    citation=(
        "@inproceedings{derczynski2017results,\n  title={Results of the {WNUT}2017 Shared Task on Novel and "
        "Emerging Entity Recognition},\n  author={Derczynski, Leon and Nichols, Eric and van Erp, Marieke and "
        "Limsopatham, Nut},\n  booktitle={Proceedings of the 3rd Workshop on Noisy User-generated Text},\n  "
        "pages={140--147},\n  year={2017}\n}"
    ),
    files={split: (name,) for split, name in _FILES.items()},
    urls={name: f"{_REPO}/{name}" for name in _FILES.values()},
    language="en",
    labels={
        "person": "person",
        "location": "location",
        "group": "group",
        "corporation": "corporation",
        "product": "product",
        "creative-work": "creative work",
    },
    labels_zh={
        "person": "人物",
        "location": "地点",
        "group": "团体",
        "corporation": "公司",
        "product": "产品",
        "creative-work": "创意作品",
    },
    description="Six types of emerging and rare entities in noisy English social media text (English source of the translation stage).",
    quirks=(
        "Most sentence separators in the training file are a line holding a single TAB (read as blank).",
        "Text = tokens joined by single spaces; # and @ are split off as tokens in dev/test but not in train.",
        "emerging.test.conll is not gold (crowd multi-labels): the gold test file is emerging.test.annotated.",
    ),
)


class WNUT17(TaggedNERBuilder):
    corpus = CORPUS
    raw_features = tagged_features(tag_names(TYPES, BIO))
    separator = "\t"
    joiner = " "
