"""Resume NER — résumés of senior executives of listed companies, from Sina Finance (Zhang & Yang 2018).

Released with Lattice LSTM as ``{train,dev,test}.char.bmes``: one ``char<SPACE>tag`` per line, a
blank line between sentences, BMES tags (B-/M-/E-/S-) over eight types: CONT (country / nationality),
EDU (educational background), LOC, NAME, ORG, PRO (profession / major), RACE (ethnicity) and TITLE
(job title). Single-character entities are S- tagged (``S-NAME``, ``S-RACE``).
"""

from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.tagged import BMES, TaggedNERBuilder, tag_names, tagged_features

_REPO = "https://raw.githubusercontent.com/jiesutd/LatticeLSTM/24d17f4270f11d2f75046789d8b67eaa2b907dce/ResumeNER"
_FILES = {"train": "train.char.bmes", "validation": "dev.char.bmes", "test": "test.char.bmes"}

CORPUS = Corpus(
    name="resume_ner",
    task="NER",
    title="Resume NER",
    domain="resumes",
    homepage="https://github.com/jiesutd/LatticeLSTM",
    license="Apache-2.0 (as stated by the LatticeLSTM repository)",
    license_name="apache-2.0",
    license_link="https://www.apache.org/licenses/LICENSE-2.0",
    # Apache-2.0, as the repository distributing the data states, allows redistribution.
    redistributable=True,
    citation=(
        "@inproceedings{zhang2018chinese,\n  title={Chinese NER Using Lattice LSTM},\n  author={Zhang, Yue and "
        "Yang, Jie},\n  booktitle={Proceedings of the 56th Annual Meeting of the Association for Computational "
        "Linguistics (ACL)},\n  pages={1554--1564},\n  year={2018}\n}"
    ),
    files={split: (name,) for split, name in _FILES.items()},
    urls={name: f"{_REPO}/{name}" for name in _FILES.values()},
    labels={
        "CONT": "国籍",
        "EDU": "学历",
        "LOC": "籍贯",
        "NAME": "人名",
        "ORG": "组织机构",
        "PRO": "专业",
        "RACE": "民族",
        "TITLE": "职位",
    },
    description="Character-level BMES named entities of eight types in Chinese résumés.",
    quirks=("BMES tagging: single-character entities use S- (e.g. a one-character surname or 汉).",),
)


class ResumeNER(TaggedNERBuilder):
    corpus = CORPUS
    raw_features = tagged_features(tag_names(CORPUS.labels, BMES))
    separator = " "
