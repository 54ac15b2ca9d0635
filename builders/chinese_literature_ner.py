"""Chinese Literature NER (Xu et al. 2017), the sentence files: character-tagged entities in Chinese prose.

The ``ner/`` folder of lancopku/Chinese-Literature-NER-RE-Dataset: ``train.txt``, ``validation.txt``,
``test.txt``, one ``char<SPACE>tag`` per line, a blank line between sentences, BIO tags joined by an
UNDERSCORE (``B_Person``, ``I_Person``, ``O``) over Person, Location, Organization, Thing, Time,
Metric, Abstract, Physical and (test only) Term; digits appear as themselves. Read by the
tagged-NER builder (``tagged.py``; ``spans.split_tag`` reads the underscore).

The same essays, annotated at the document level with entity SUBTYPES, relations and coreference,
are the corpus ``chinese_literature`` (brat), and their sentence-level relations are ``sanwen``:
the three overlap in text. Put the files in ``RAW/chinese_literature_ner/`` (or its ``ner/``
folder), or the repository's archive (what ``chinchilla download`` fetches). ``train.txt`` (over
4 MiB) is absent from some copies; the build then says so.
"""

from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.tagged import BIO, TaggedNERBuilder, tag_names, tagged_features

from builders.chinese_literature import ARCHIVE_URLS, CORPUS as DOCUMENTS

_FILES = {"train": "train.txt", "validation": "validation.txt", "test": "test.txt"}

CORPUS = Corpus(
    name="chinese_literature_ner",
    task="NER",
    title="Chinese Literature NER (sentence files)",
    domain="literature (Chinese prose essays)",
    homepage=DOCUMENTS.homepage,
    license=DOCUMENTS.license,
    redistributable=False,
    citation=DOCUMENTS.citation,
    files={split: (name,) for split, name in _FILES.items()},
    urls=ARCHIVE_URLS,  # the repository's archive: ner/*.txt are found inside it
    labels={
        "Person": "人物",
        "Location": "地点",
        "Organization": "组织机构",
        "Thing": "事物",
        "Time": "时间",
        "Metric": "度量",
        "Abstract": "抽象概念",
        "Physical": "物理现象",
        "Term": "术语",
    },
    description="Character-level BIO entities of nine types in sentences of Chinese prose essays (validation 1,895, test 2,837 sentences).",
    quirks=(
        "Tags join prefix and type with an underscore (B_Person).",
        "The sentence-level NER view of the chinese_literature documents (which have subtypes, relations and coreference).",
    ),
)


class ChineseLiteratureNER(TaggedNERBuilder):
    corpus = CORPUS
    raw_features = tagged_features(tag_names(CORPUS.labels, BIO, joiner="_"))
    separator = " "
