"""MSRA NER — Microsoft Research Asia's named entity track of the SIGHAN 2006 bakeoff (news text).

Two forms circulate and both are read into the same raw features (characters + BIO tags over
PER, ORG, LOC):

* the SIGHAN files ``train1.txt`` / ``testright1.txt``: one sentence per line, space-separated
  ``word/tag`` tokens with tag ``o`` (outside), ``nr`` (person -> PER), ``ns`` (location -> LOC) or
  ``nt`` (organisation -> ORG), a trailing space at the end of the line. A word may itself contain
  '/', so the tag is after the LAST '/'. Each word is spread over its characters (B- then I-), so
  two adjacent entities of one type stay two entities. The originals are GB-encoded; copies in
  UTF-8 circulate (the encoding is sniffed).
* the char-level BIO files ``msra_train_bio.txt`` / ``msra_test_bio.txt`` (``char<TAB>tag``, a
  blank line after every sentence), whose test set splits the same SIGHAN test text into 3442
  sentences instead of 4365 lines.

The SIGHAN form is preferred when both are present. ``test1.txt`` is the unsegmented, unlabelled
test text (the same sentences as ``testright1.txt``): it is kept as the ``test1`` split of the raw
view only, its characters as ``tokens`` and ``ner_tags`` null. There is no validation split.
"""

import re

from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.sources import Reject, read_lines
from chinchilla_datasets.tagged import BIO, TaggedNERBuilder, read_tagged_blocks, tag_names, tagged_features

_SIGHAN = "https://raw.githubusercontent.com/InsaneLife/ChineseNLPCorpus/65fc49b20af96c9f1ae159bef7f04b9e56157fda/NER/MSRA"
# Word tags of the SIGHAN form -> entity type (None: outside).
WORD_TAGS = {"o": None, "nr": "PER", "ns": "LOC", "nt": "ORG"}
_WORD_SEPARATOR = re.compile(r"[ \t]+")

CORPUS = Corpus(
    name="msra_ner",
    task="NER",
    title="MSRA NER (SIGHAN 2006)",
    domain="news",
    homepage="http://sighan.cs.uchicago.edu/bakeoff2006/",
    license="SIGHAN 2006 bakeoff data, research use (no explicit license)",
    license_name="sighan-2006-bakeoff-terms",
    citation=(
        "@inproceedings{levow2006third,\n  title={The Third International {C}hinese Language Processing Bakeoff: "
        "Word Segmentation and Named Entity Recognition},\n  author={Levow, Gina-Anne},\n  booktitle={Proceedings "
        "of the Fifth {SIGHAN} Workshop on {C}hinese Language Processing},\n  pages={108--117},\n  year={2006}\n}"
    ),
    files={
        "train": ("train1.txt", "msra_train_bio.txt"),
        "test": ("testright1.txt", "msra_test_bio.txt"),
        "test1": ("test1.txt",),
    },
    # The SIGHAN form only: the base downloads every URL listed.
    urls={name: f"{_SIGHAN}/{name}" for name in ("train1.txt", "testright1.txt", "test1.txt")},
    unlabelled_splits=frozenset({"test1"}),
    labels={"PER": "人名", "ORG": "机构名", "LOC": "地名"},
    description="Named entities (person, organisation, location) in MSRA news text, character-level BIO.",
    quirks=(
        "SIGHAN form: word/tag tokens (o, nr, ns, nt) with a trailing space; a word may contain '/'.",
        "Char-level BIO form (msra_*_bio.txt) splits the test text into 3442 sentences instead of 4365.",
        "test1.txt is the unlabelled test text (raw view only).",
    ),
)


def word_tags(word: str, type_) -> list:
    """BIO tags of one word's characters."""
    if type_ is None:
        return ["O"] * len(word)
    return [f"B-{type_}"] + [f"I-{type_}"] * (len(word) - 1)


def parse_word_line(line: str):
    """``(chars, tags)`` of one SIGHAN ``word/tag word/tag ...`` line, or a Reject."""
    chars, tags = [], []
    for token in _WORD_SEPARATOR.split(line.strip()):
        word, slash, tag = token.rpartition("/")
        if not slash or not word:
            return Reject(f"expected 'word/tag', got {token!r}")
        if tag not in WORD_TAGS:
            return Reject(f"unknown word tag {tag!r} in {token!r}")
        chars.extend(word)
        tags.extend(word_tags(word, WORD_TAGS[tag]))
    return chars, tags


class MSRANER(TaggedNERBuilder):
    corpus = CORPUS
    raw_features = tagged_features(tag_names(CORPUS.labels, BIO))
    separator = "\t"

    def sentences(self, path, split):
        if path.endswith("_bio.txt"):
            yield from read_tagged_blocks(path, self.separator)
            return
        for line_no, line in read_lines(path):
            if isinstance(line, Reject):
                yield line_no, line
            elif line.strip():
                if split in self.corpus.unlabelled_splits:
                    yield line_no, (list(line.strip()), None)
                else:
                    yield line_no, parse_word_line(line)
