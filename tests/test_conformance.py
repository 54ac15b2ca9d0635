"""One conformance suite over every registered builder and view, on the bundled fixtures."""

from __future__ import annotations

import json

import pytest

from chinchilla_datasets import INSTRUCT_FEATURES, UNIFIED_FEATURES
from chinchilla_datasets.collection import bundled_fixtures, render_instruct
from chinchilla_datasets.instruct import InstructOptions, canonical, load_templates, parse_output, structures_of
from chinchilla_datasets.registry import builders
from chinchilla_datasets.schema import spans_of

from conftest import build_views

OFFICIAL_SPLITS = {"train", "validation", "test"}
NAMES = list(builders())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            cls = builders()[name]
            cache[name] = build_views(cls, bundled_fixtures() / name, tmp_path_factory.mktemp(name))
        return cache[name]

    return get


def test_every_seed_corpus_is_registered():
    seed = {"duie", "duee", "duee_fin"}
    assert seed <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_configs_named_per_view(name):
    cls = builders()[name]
    assert [c.name for c in cls.BUILDER_CONFIGS] == [f"{name}_raw", f"{name}_unified", f"{name}_instruct"]
    assert cls.corpus.task in ("NER", "RE", "EE")


@pytest.mark.parametrize("name", NAMES)
def test_raw_view_accounts_for_every_record(name, built):
    views = built(name)
    builder, dd = views["raw"]
    assert builder.info.features == builders()[name].raw_features
    for split, ds in dd.items():
        counts = builder.report[split]
        assert counts["read"] == counts["written"] + len(counts["rejected"])
        assert counts["rejected"] == [], f"fixtures must build clean: {counts['rejected'][:3]}"
        assert counts["written"] == len(ds) > 0
    expected = set(builders()[name].corpus.files)
    assert set(dd) <= expected


@pytest.mark.parametrize("name", NAMES)
def test_unified_view_conforms(name, built):
    cls = builders()[name]
    builder, dd = built(name)["unified"]
    assert builder.info.features == UNIFIED_FEATURES
    assert set(dd) <= OFFICIAL_SPLITS and set(dd).isdisjoint(cls.corpus.unlabelled_splits)
    ids = [i for ds in dd.values() for i in ds["id"]]
    assert len(ids) == len(set(ids)), "ids must be unique across splits"
    annotated = 0
    for split, ds in dd.items():
        for record in ds:
            assert record["corpus"] == name and record["task"] == cls.corpus.task
            assert record["id"].startswith(f"{name}-{split}-")
            text = record["text"]
            for span in spans_of(record):
                if span["start"] is None:
                    assert span["end"] is None
                    assert "ungrounded_span" in record["flags"], f"{record['id']} {span} null without flag"
                    continue
                assert 0 <= span["start"] <= span["end"] <= len(text)
                assert text[span["start"] : span["end"]] == span["text"], f"{record['id']} {span}"
            annotated += bool(record["entities"] or record["relations"] or record["events"])
    assert annotated > 0


@pytest.mark.parametrize("name", NAMES)
def test_instruct_view_parses_back_to_unified(name, built):
    """Merging the batches of a record gives back exactly its unified annotations."""
    views = built(name)
    builder, dd = views["instruct"]
    unified_builder, unified = views["unified"]
    assert builder.info.features == INSTRUCT_FEATURES
    schema = unified_builder.label_schema()
    back = {display: label for label, display in schema["types"]}
    # Templates in the corpus's language: English corpora get the English phrasings.
    language = builders()[name].corpus.language
    template_ids = {t["id"] for templates in load_templates().values() for t in templates if t["language"] == language}
    for split, ds in dd.items():
        records = {r["id"]: r for r in unified[split]}
        merged = {}
        for row in ds:
            record = records[row["record_id"]]
            assert row["input"] == record["text"] and row["split"] == split and row["corpus"] == name
            assert row["template_id"] in template_ids
            assert row["params"]["seed"] == InstructOptions().seed
            assert row["params"]["language"] == language
            if row["task"] != record["task"]:
                assert split == "train" and row["task"] in ("EET", "EEA")
                continue
            assert 0 < len(row["schema"]) <= InstructOptions().batch_size(row["task"])
            answer = json.loads(row["output"])
            assert list(answer) == row["schema"], "every asked type is a key, in order"
            parsed = parse_output(row["output"], row["task"], back)
            merged.setdefault(row["record_id"], set()).update(canonical(parsed))
        for record_id, record in records.items():
            gold = canonical(structures_of(record))
            if gold or split != "train":
                assert merged.get(record_id, set()) == gold, record_id


@pytest.mark.parametrize("name", NAMES)
def test_builder_instruct_equals_dataset_map(name, built):
    """The instruct config generated by the builder and the one ``Dataset.map`` makes in the collection agree."""
    views = built(name)
    unified_builder, unified = views["unified"]
    _, instruct = views["instruct"]
    options = InstructOptions().in_language(builders()[name].corpus.language)  # as the build does
    mapped, _ = render_instruct(unified, unified_builder.label_schema(), options)
    for split in unified:
        assert mapped[split].to_list() == instruct[split].to_list()
