"""Weibo NER — named and nominal mentions in Sina Weibo posts (Peng & Dredze 2015; 2nd release 2016).

``weiboNER_2nd_conll.{train,dev,test}``: ``char<TAB>tag`` per line, a blank line between sentences,
BIO tags over PER, ORG, LOC and GPE, each split into ``.NAM`` (a name: 张三) and ``.NOM`` (a nominal
mention: 老师). Every character carries its position in its word (Jieba segmentation) as a
trailing number, ``厕0 所1``, which reaches two digits in long words (URLs, Latin strings: ``t10``)
and follows a character that may itself be a digit (``310`` = ``3`` at position 10). It is stripped
by following the count: a position is either the previous one plus one or 0 (a new word). Emoji
were lost when the corpus was built and appear as two U+FFFD characters on one line; that pair is
kept as one token, so offsets are computed from token lengths.
"""

from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.sources import Reject
from chinchilla_datasets.tagged import BIO, TaggedNERBuilder, read_tagged_blocks, tag_names, tagged_features

_REPO = "https://raw.githubusercontent.com/hltcoe/golden-horse/7a73c08e45ed94312af4ef2d97cc35a47d029e99/data"
_FILES = {
    "train": "weiboNER_2nd_conll.train",
    "validation": "weiboNER_2nd_conll.dev",
    "test": "weiboNER_2nd_conll.test",
}

CORPUS = Corpus(
    name="weibo_ner",
    task="NER",
    title="Weibo NER (2nd release)",
    domain="social media",
    homepage="https://github.com/hltcoe/golden-horse",
    license="CC BY-SA 3.0 (as stated by the golden-horse repository)",
    license_name="cc-by-sa-3.0",
    license_link="https://creativecommons.org/licenses/by-sa/3.0/",
    # CC BY-SA 3.0 allows redistribution with attribution, under the same license.
    redistributable=True,
    citation=(
        "@inproceedings{peng2015named,\n  title={Named Entity Recognition for {C}hinese Social Media with Jointly "
        "Trained Embeddings},\n  author={Peng, Nanyun and Dredze, Mark},\n  booktitle={Proceedings of the 2015 "
        "Conference on Empirical Methods in Natural Language Processing (EMNLP)},\n  pages={548--554},\n  "
        "year={2015}\n}\n@inproceedings{peng2016improving,\n  title={Improving Named Entity Recognition for "
        "{C}hinese Social Media with Word Segmentation Representation Learning},\n  author={Peng, Nanyun and "
        "Dredze, Mark},\n  booktitle={Proceedings of the 54th Annual Meeting of the Association for Computational "
        "Linguistics (ACL)},\n  pages={149--155},\n  year={2016}\n}"
    ),
    files={split: (name,) for split, name in _FILES.items()},
    urls={name: f"{_REPO}/{name}" for name in _FILES.values()},
    labels={
        "PER.NAM": "人名",
        "PER.NOM": "人物泛指",
        "ORG.NAM": "机构名",
        "ORG.NOM": "机构泛指",
        "LOC.NAM": "地名",
        "LOC.NOM": "地点泛指",
        "GPE.NAM": "地缘政治实体",
        "GPE.NOM": "地缘政治实体泛指",
    },
    description="Named (.NAM) and nominal (.NOM) person, organisation, location and geo-political mentions in Weibo posts.",
    quirks=(
        "Each character carries a trailing word-position number (0, 1, ... 10, 11 ...), stripped here.",
        "Lost emoji appear as two U+FFFD characters kept as one token.",
    ),
)


def strip_positions(fields: list):
    """The characters of one sentence's ``char+position`` fields, or a Reject. A position is the
    previous one plus one, or 0 where a word starts; the character is what precedes it."""
    chars, previous = [], None
    for i, field in enumerate(fields):
        for position in ([] if previous is None else [previous + 1]) + [0]:
            suffix = str(position)
            if field.endswith(suffix) and len(field) > len(suffix):
                chars.append(field[: -len(suffix)])
                previous = position
                break
        else:
            return Reject(f"token {i} {field!r}: no word position after the character")
    return chars


class WeiboNER(TaggedNERBuilder):
    corpus = CORPUS
    raw_features = tagged_features(tag_names(CORPUS.labels, BIO))
    separator = "\t"

    def sentences(self, path, split):
        for line_no, item in read_tagged_blocks(path, self.separator):
            if not isinstance(item, Reject):
                fields, tags = item
                chars = strip_positions(fields)
                item = chars if isinstance(chars, Reject) else (chars, tags)
            yield line_no, item
