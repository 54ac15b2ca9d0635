"""Streaming and multi-node reading: every config as an ``IterableDataset`` gives the rows of the
map-style build, and ``split_dataset_by_node`` shards a stream across ranks with no row lost or repeated."""

from __future__ import annotations

import json
from collections import Counter

import datasets
import pytest
from datasets.distributed import split_dataset_by_node

from chinchilla_datasets.collection import bundled_fixtures
from chinchilla_datasets.parquet_io import config_files
from chinchilla_datasets.registry import builders
from chinchilla_datasets.schema import VIEWS

CONFIGS = [(name, view) for name in builders() for view in VIEWS]


def row_key(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True)


def rows_of(dataset) -> list:
    return [row_key(row) for row in dataset]


def parquet_rows(paths: list) -> list:
    """The rows of a split's Parquet files, in order."""
    import pyarrow.parquet as pq

    return [row_key(row) for path in paths for row in pq.read_table(path).to_pylist()]


@pytest.mark.parametrize("name,view", CONFIGS, ids=[f"{n}_{v}" for n, v in CONFIGS])
def test_builder_streams_the_rows_of_the_map_style_build(name, view, tmp_path):
    cls = builders()[name]
    config = f"{name}_{view}"
    streaming = cls(config_name=config, data_dir=str(bundled_fixtures() / name), cache_dir=str(tmp_path / "stream"))
    try:
        streamed = streaming.as_streaming_dataset()
    except FileNotFoundError:
        pytest.skip(f"{config} has no split in the fixtures")
    built = cls(config_name=config, data_dir=str(bundled_fixtures() / name), cache_dir=str(tmp_path / "built"))
    built.download_and_prepare()
    expected = built.as_dataset()
    assert set(streamed) == set(expected)
    for split, ds in expected.items():
        assert isinstance(streamed[split], datasets.IterableDataset)
        assert streamed[split].features == ds.features
        assert rows_of(streamed[split]) == rows_of(ds), f"{config}/{split}"


# One config of each view, and the mixtures: every load parses the card's YAML (~0.5 s with every
# config listed), so the whole list would be slow; the card lists all configs the same way.
FOLDER_CONFIGS = ["duie_raw", "duee_fin_unified", "duee_instruct"]


def test_built_folder_streams_its_configs(fixture_build, monkeypatch):
    """``load_dataset("chinchilla", cfg, streaming=True)`` from the folder's parent reads the Parquet rows."""
    monkeypatch.chdir(fixture_build.parent)
    files = config_files(str(fixture_build))
    assert set(datasets.get_dataset_config_names("chinchilla")) == set(files)
    corpus_configs = {f"{name}_{view}" for name, view in CONFIGS}
    mixtures = sorted(set(files) - corpus_configs)[:1]
    for config in FOLDER_CONFIGS + mixtures:
        streamed = datasets.load_dataset("chinchilla", config, streaming=True)
        assert set(streamed) == set(files[config])
        for split, paths in files[config].items():
            assert isinstance(streamed[split], datasets.IterableDataset)
            assert rows_of(streamed[split]) == parquet_rows(paths), f"{config}/{split}"


def assert_sharded_exactly(stream: datasets.IterableDataset, world_size: int) -> None:
    """Ranks 0..world_size-1 together read every row of ``stream`` once."""
    everything = rows_of(stream)
    parts = [rows_of(split_dataset_by_node(stream, rank=rank, world_size=world_size)) for rank in range(world_size)]
    assert all(parts), "every rank gets rows"
    assert sum(len(p) for p in parts) == len(everything)
    assert Counter(row for part in parts for row in part) == Counter(everything)


@pytest.mark.parametrize("config", ["duie_instruct", "duee_raw"])
def test_split_by_node_shards_a_built_config_without_loss_or_repeat(fixture_build, monkeypatch, config):
    monkeypatch.chdir(fixture_build.parent)
    stream = datasets.load_dataset("chinchilla", config, split="train", streaming=True)
    for world_size in (2, 3):
        assert_sharded_exactly(stream, world_size)


def test_split_by_node_shards_a_builder_stream(tmp_path):
    """The same from a builder's own stream (the instruct view, rendered on the fly)."""
    cls = builders()["duee"]
    builder = cls(config_name="duee_instruct", data_dir=str(bundled_fixtures() / "duee"), cache_dir=str(tmp_path))
    stream = builder.as_streaming_dataset(split="train")
    ids = [row["id"] for row in stream]
    assert len(ids) == len(set(ids)) > 3
    for world_size in (2, 3):
        assert_sharded_exactly(stream, world_size)


@pytest.mark.parametrize("name", list(builders()))
def test_builder_instruct_stream_matches_the_collections_instruct_config(name, fixture_build, tmp_path):
    """The builder renders the instruct view in ``_generate_examples``; the collection with
    ``Dataset.map`` over the unified rows. Both must give the same rows."""
    cls = builders()[name]
    builder = cls(config_name=f"{name}_instruct", data_dir=str(bundled_fixtures() / name), cache_dir=str(tmp_path))
    streamed = builder.as_streaming_dataset()
    files = config_files(str(fixture_build))[f"{name}_instruct"]
    assert set(streamed) == set(files)
    for split, paths in files.items():
        assert rows_of(streamed[split]) == parquet_rows(paths), split
