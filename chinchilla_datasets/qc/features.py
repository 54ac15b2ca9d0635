"""Character features for the cross-validated NER tagger, and BIO tags from unified entities.

Each character gets its n-gram context (characters at -2..+2, bigrams at -1/0/+1), its class
(Han, digit, Latin, punctuation, space) and that of its neighbours, and two word-boundary
features: how strongly the corpus binds it to the previous and to the next character (a bucketed
pointwise mutual information of the character bigram, counted over the corpus's own texts, no
labels read). There is no word segmenter to depend on; bigram association is the classic
unsupervised stand-in for one, and it is computed once per corpus. Optionally, a ``Lexicon`` of
the labelled strings of a fold's training sentences marks where a known entity string covers a
character (its type and the character's place in it): a held-out entity the annotator left out,
or typed unlike everywhere else, then stands out against the labels.

Unified entities may nest or overlap (CLUENER, some People's Daily spans): a BIO sequence holds one
of them per character, so the longer of two overlapping spans is tagged and the other is left to
the model-free checks (``tag_entities`` returns which were tagged).
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from typing import Iterable, Optional

OUTSIDE = "O"
BOUNDARY_BUCKETS = (-1.0, 1.0, 3.0, 5.0)  # PMI cut points (natural log) of the word-boundary feature


def char_class(char: str) -> str:
    if char.isspace():
        return "s"
    if char.isdigit():
        return "d"
    if "a" <= char.lower() <= "z":
        return "l"
    if "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf":
        return "h"
    category = unicodedata.category(char)
    return "p" if category[0] in "PS" else "o"


class BigramAssociation:
    """Bucketed PMI of adjacent characters over a corpus: a cheap word-boundary signal."""

    def __init__(self, texts: Iterable[str]):
        unigrams, bigrams = Counter(), Counter()
        for text in texts:
            unigrams.update(text)
            bigrams.update(text[i : i + 2] for i in range(len(text) - 1))
        self.unigrams, self.bigrams = unigrams, bigrams
        self.total = max(1, sum(unigrams.values()))

    def bucket(self, pair: str) -> str:
        joint = self.bigrams.get(pair, 0)
        if joint < 2:
            return "r"  # rare: most likely a boundary, or an unseen name
        pmi = math.log(joint * self.total / (self.unigrams[pair[0]] * self.unigrams[pair[1]]))
        return str(sum(pmi > cut for cut in BOUNDARY_BUCKETS))

    def state(self) -> dict:
        """Only the bigrams that can be looked up with a non-rare answer (picklable, small)."""
        return {"unigrams": dict(self.unigrams), "bigrams": {k: v for k, v in self.bigrams.items() if v >= 2}, "total": self.total}

    @classmethod
    def from_state(cls, state: dict) -> "BigramAssociation":
        self = cls.__new__(cls)
        self.unigrams, self.bigrams, self.total = Counter(state["unigrams"]), state["bigrams"], state["total"]
        return self


class Lexicon:
    """The labelled strings of some sentences (2 to ``MAX_ENTRY`` characters) with their
    commonest type: a gazetteer learned from a fold's own training labels, never a held-out one."""

    MAX_ENTRY = 10

    def __init__(self, tagged: Iterable[tuple]):
        counts: dict = {}
        for text, tags in tagged:
            for start, end, kind in spans_from_tags(tags):
                if 2 <= end - start <= self.MAX_ENTRY:
                    counts.setdefault(text[start:end], Counter())[kind] += 1
        self.types = {surface: c.most_common(1)[0][0] for surface, c in counts.items()}
        self.lengths = sorted({len(s) for s in self.types}, reverse=True)

    def marks(self, text: str) -> list:
        """Per character, the set of ``place+type`` marks of the entries covering it."""
        out = [set() for _ in text]
        for length in self.lengths:
            for start in range(len(text) - length + 1):
                kind = self.types.get(text[start : start + length])
                if kind is not None:
                    out[start].add("B" + kind)
                    for k in range(start + 1, start + length - 1):
                        out[k].add("I" + kind)
                    out[start + length - 1].add("E" + kind)
        return out


def char_features(text: str, association: Optional[BigramAssociation] = None, lexicon: Optional[Lexicon] = None) -> list:
    """One list of string features per character of ``text``."""
    padded = "\x02\x02" + text + "\x03\x03"
    classes = ["B", "B"] + [char_class(c) for c in text] + ["E", "E"]
    marks = lexicon.marks(text) if lexicon is not None else None
    out = []
    for i in range(len(text)):
        j = i + 2
        c = padded[j - 2 : j + 3]
        features = [
            "b",
            "c0=" + c[2],
            "c-1=" + c[1],
            "c+1=" + c[3],
            "c-2=" + c[0],
            "c+2=" + c[4],
            "b-1=" + c[1:3],
            "b+1=" + c[2:4],
            "b-1+1=" + c[1] + c[3],
            "k=" + classes[j - 1] + classes[j] + classes[j + 1],
        ]
        if association is not None:
            left = association.bucket(text[i - 1 : i + 1]) if i > 0 else "S"
            right = association.bucket(text[i : i + 2]) if i + 1 < len(text) else "E"
            features += ["wl=" + left, "wr=" + right, "w=" + left + right + c[2]]
        if marks is not None:
            features += ["g=" + mark for mark in sorted(marks[i])] or ["g=-"]
        out.append(features)
    return out


def tag_entities(text: str, entities: list) -> tuple:
    """BIO tags of ``text`` from unified entities, and the indexes of the entities tagged.

    Entities without offsets or out of range are skipped; of overlapping ones, the longer
    (then earlier) one is tagged."""
    tags = [OUTSIDE] * len(text)
    order = sorted(
        (i for i, e in enumerate(entities) if e.get("start") is not None and e.get("end") is not None and 0 <= e["start"] < e["end"] <= len(text)),
        key=lambda i: (-(entities[i]["end"] - entities[i]["start"]), entities[i]["start"], i),
    )
    tagged = []
    for i in order:
        start, end, kind = entities[i]["start"], entities[i]["end"], entities[i]["type"]
        if any(t != OUTSIDE for t in tags[start:end]):
            continue
        tags[start] = "B-" + kind
        for k in range(start + 1, end):
            tags[k] = "I-" + kind
        tagged.append(i)
    return tags, sorted(tagged)


def spans_from_tags(tags: list) -> list:
    """``[(start, end, type)]`` of a BIO sequence; an ``I-`` after a different tag opens a span."""
    spans, start, kind = [], None, None
    for i, tag in enumerate(list(tags) + [OUTSIDE]):
        inside = tag.startswith("I-") and kind == tag[2:] and start is not None
        if inside:
            continue
        if start is not None:
            spans.append((start, i, kind))
            start, kind = None, None
        if tag != OUTSIDE and i < len(tags):
            start, kind = i, tag[2:]
    return spans
