"""E-commerce NER — product (HC) and brand (HP) mentions in e-commerce queries and titles (Ding et al. 2019).

Released with "A Neural Multi-digraph Model for Chinese NER with Gazetteers" (ACL 2019) as
``data/ecommerce/{train,dev,test}.txt.bieos``: one ``char<TAB>tag`` per line, a blank line between
sentences (each file ends with one), BIEOS tags (``B-``, ``I-``, ``E-``, ``S-``, ``O``; decoded by
:mod:`chinchilla_datasets.tagged` like BIO and BMES) over two types the files name only ``HC`` and
``HP``: in the data HC marks products (开关, 睡裙) and HP brands, so they are 商品 and 品牌 in the
instructions. Quirks: the texts are short queries/titles without punctuation; Latin letters and
digits are single-character tokens; a SPACE is a token too (`` <TAB>O``, also inside a brand name:
`` <TAB>I-HP``) and is kept, so offsets count it; no word-segmentation column. The repository's
gazetteers (``data/dics/*.dic``) are not part of the corpus read here. No license is stated.
"""

from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.tagged import BIEOS, TaggedNERBuilder, tag_names, tagged_features

_REPO = "https://raw.githubusercontent.com/PhantomGrapes/MultiDigraphNER/b29aec76dc6edc4dd757ebd6d8c166df2c4b0630/data/ecommerce"
_FILES = {"train": "train.txt.bieos", "validation": "dev.txt.bieos", "test": "test.txt.bieos"}

CORPUS = Corpus(
    name="ecommerce_ner",
    task="NER",
    title="E-commerce NER",
    domain="e-commerce",
    homepage="https://github.com/PhantomGrapes/MultiDigraphNER",
    license="not stated (the repository has no LICENSE file and its README is silent)",
    redistributable=False,
    citation=(
        "@inproceedings{ding2019neural,\n  title={A Neural Multi-digraph Model for {C}hinese {NER} with "
        "Gazetteers},\n  author={Ding, Ruixue and Xie, Pengjun and Zhang, Xiaoyan and Lu, Wei and Li, Linlin and "
        "Si, Luo},\n  booktitle={Proceedings of the 57th Annual Meeting of the Association for Computational "
        "Linguistics (ACL)},\n  pages={1462--1467},\n  year={2019}\n}"
    ),
    files={split: (name,) for split, name in _FILES.items()},
    urls={name: f"{_REPO}/{name}" for name in _FILES.values()},
    labels={"HC": "商品", "HP": "品牌"},
    description="Character-level BIEOS product (HC) and brand (HP) mentions in Chinese e-commerce queries and titles.",
    quirks=(
        "BIEOS tagging (B-/I-/E-/S-/O); the types are named only HC (product) and HP (brand) in the files.",
        "A space is a token (tagged O, or I- inside a brand name) and is kept in the text.",
    ),
)


class EcommerceNER(TaggedNERBuilder):
    corpus = CORPUS
    raw_features = tagged_features(tag_names(CORPUS.labels, BIEOS))
    separator = "\t"
