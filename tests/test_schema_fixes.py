"""Small schema fixes of issue 17: "no type" is null (FinRE, SanWen), and the card names each
corpus's licence with ``license_name``/``license_link``."""

from __future__ import annotations

import re

import pyarrow.parquet as pq
from huggingface_hub import DatasetCard

from chinchilla_datasets.card import read_build
from chinchilla_datasets.parquet_io import config_files, iter_split
from chinchilla_datasets.registry import builders, get_builder


def test_untyped_entities_are_null_and_the_instruct_view_still_renders(fixture_build):
    files = config_files(str(fixture_build))
    for corpus in ("finre", "sanwen"):
        for split, paths in files[f"{corpus}_unified"].items():
            entities = [e for path in paths for row in pq.read_table(path).column("entities").to_pylist() for e in row]
            assert entities and all(e["type"] is None for e in entities), (corpus, split)
        rows = list(iter_split(str(fixture_build), f"{corpus}_instruct", "validation"))
        assert rows and all(row["task"] == "RE" for row in rows)


def test_instruct_params_are_a_struct_of_the_options(fixture_build):
    from dataclasses import asdict

    import pyarrow as pa

    from chinchilla_datasets.instruct import InstructOptions

    files = config_files(str(fixture_build))
    for config in ("duee_instruct", "all_instruct"):
        for split, paths in files[config].items():
            params_type = pq.read_schema(paths[0]).field("params").type
            assert pa.types.is_struct(params_type)
            values = pq.read_table(paths, columns=["params"]).column("params").to_pylist()
            # the language is resolved per corpus (None in the options: the corpus's own, zh here)
            expected = {**asdict(InstructOptions()), "language": "zh", "split_mode": "train" if split == "train" else "eval"}
            assert values and all(v == expected for v in values), (config, split)


def test_the_card_gives_each_corpus_a_license_name_and_link(fixture_build):
    card = DatasetCard.load(fixture_build / "README.md", ignore_metadata_errors=False)
    listed = {entry["corpus"]: entry for entry in card.data["corpus_licenses"]}
    built = [r.name for r in read_build(fixture_build).results if r.name in builders()]
    assert set(listed) == set(built)
    for name in built:
        corpus = get_builder(name).corpus
        entry = listed[name]
        assert entry["license_name"] == corpus.license_name and re.fullmatch(r"[a-z0-9][a-z0-9.\-]*", entry["license_name"])
        assert entry["license_link"].startswith(("http://", "https://")) and entry["license"] == corpus.license
        # the body's corpora table links the same terms
        assert f"([`{corpus.license_name}`]({entry['license_link']}))" in card.text
    assert listed["weibo_ner"]["license_name"] == "cc-by-sa-3.0" and "by-sa/3.0" in listed["weibo_ner"]["license_link"]
    assert card.data["license"] == "other" and card.data["license_link"] == "README.md"
