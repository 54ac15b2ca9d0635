"""Large splits are written as several Parquet files (shards of at most ``parquet_io.SHARD_ROWS`` rows),
so that ``split_dataset_by_node`` gives each rank whole files. The shard size is made tiny here so
that the fixture corpora are split into several files; the rows must be those of a build with one
file per split, in the same order."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets.distributed import split_dataset_by_node

from chinchilla_datasets import parquet_io
from chinchilla_datasets.card import read_build
from chinchilla_datasets.dedup import rewrite
from chinchilla_datasets.collection import build_collection
from chinchilla_datasets.parquet_io import config_files
from chinchilla_datasets.publish import plan_release

CORPORA = ["duee", "finre"]
SHARD_ROWS = 2
ROW_GROUP_ROWS = 3  # more than SHARD_ROWS: row groups are cut at file boundaries


def row_key(row: dict) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True)


def file_rows(path) -> list:
    return [row_key(row) for row in pq.read_table(path).to_pylist()]


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """The same corpora built with one file per split (``plain``) and with tiny shards (``sharded``)."""
    base = tmp_path_factory.mktemp("shards")
    plain, sharded = base / "plain" / "chinchilla", base / "sharded" / "chinchilla"
    build_collection(None, str(plain), corpora=CORPORA, log=lambda _: None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parquet_io, "SHARD_ROWS", SHARD_ROWS)
        patch.setattr(parquet_io, "ROW_GROUP_ROWS", ROW_GROUP_ROWS)
        build_collection(None, str(sharded), corpora=CORPORA, log=lambda _: None)
    return plain, sharded


def test_large_splits_are_several_files_whose_concatenation_is_the_split(builds):
    plain, sharded = builds
    plain_files, sharded_files = config_files(str(plain)), config_files(str(sharded))
    assert set(plain_files) == set(sharded_files)
    several = 0
    for config, splits in plain_files.items():
        assert list(sharded_files[config]) == list(splits), config
        for split, (single,) in splits.items():
            expected = file_rows(single)
            paths = sharded_files[config][split]
            assert len(paths) == math.ceil(len(expected) / SHARD_ROWS), f"{config}/{split}"
            assert [row for path in paths for row in file_rows(path)] == expected, f"{config}/{split}"
            names = [path.name for path in paths]
            for i, path in enumerate(paths):
                shard = "" if len(paths) == 1 else rf"-{i:05d}-of-{len(paths):05d}"
                assert re.fullmatch(rf"{re.escape(split)}{shard}-[0-9a-f]{{16}}\.parquet", path.name), path.name
                assert path.name.endswith(f"-{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}.parquet")
                metadata = pq.ParquetFile(path).metadata
                assert metadata.num_rows <= SHARD_ROWS
                assert all(metadata.row_group(g).num_rows <= ROW_GROUP_ROWS for g in range(metadata.num_row_groups))
            assert names == sorted(names), "file names sort in row order"
            several += len(paths) > 1
    assert several >= 5, "the tiny shard size splits the larger splits"
    on_disk = {p.relative_to(sharded) for p in sharded.glob("*/*")}
    listed = {p.relative_to(sharded) for splits in sharded_files.values() for paths in splits.values() for p in paths}
    assert on_disk == listed, "no temporary or unlisted file is left"


def test_card_sizes_count_every_file(builds):
    _, sharded = builds
    build = read_build(sharded)
    from huggingface_hub import DatasetCard

    infos = {i["config_name"]: i for i in DatasetCard.load(sharded / "README.md").data["dataset_info"]}
    for result in build.results:
        for config in result.configs:
            paths = [sharded / p for entry in config.splits.values() for p in entry["paths"]]
            assert infos[config.name]["download_size"] == sum(p.stat().st_size for p in paths)
            for split, entry in config.splits.items():
                assert entry["num_examples"] == sum(pq.ParquetFile(sharded / p).metadata.num_rows for p in entry["paths"])


@pytest.mark.parametrize("config", ["finre_instruct", "all_unified"])
def test_a_sharded_config_loads_with_stock_load_dataset_in_row_order(builds, tmp_path, config):
    plain, sharded = builds
    expected = config_files(str(plain))[config]
    dd = datasets.load_dataset(str(sharded), config, cache_dir=str(tmp_path / "cache"))
    assert set(dd) == set(expected)
    for split, (single,) in expected.items():
        assert [row_key(row) for row in dd[split]] == file_rows(single), split


def test_split_by_node_gives_each_rank_whole_files_and_every_row_once(builds):
    _, sharded = builds
    files = config_files(str(sharded))["all_instruct"]["train"]
    where = {row: i for i, path in enumerate(files) for row in file_rows(path)}
    assert len(files) >= 6 and len(where) == sum(pq.ParquetFile(p).metadata.num_rows for p in files), "rows are distinct"
    stream = datasets.load_dataset(str(sharded), "all_instruct", split="train", streaming=True)
    assert stream.num_shards == len(files)
    everything = [row_key(row) for row in stream]
    assert everything == [row for path in files for row in file_rows(path)]
    disjoint = 0
    for world_size in (2, 3):
        parts = [[row_key(row) for row in split_dataset_by_node(stream, rank=rank, world_size=world_size)] for rank in range(world_size)]
        assert all(parts), "every rank gets rows"
        assert Counter(row for part in parts for row in part) == Counter(everything), f"world size {world_size}"
        if len(files) % world_size == 0:
            # Ranks read disjoint files, each file whole.
            read = [{where[row] for row in part} for part in parts]
            assert sum(len(r) for r in read) == len(files) and set().union(*read) == set(range(len(files)))
            for part, indices in zip(parts, read):
                assert Counter(part) == Counter(row for i in indices for row in file_rows(files[i]))
            disjoint += 1
    assert disjoint, f"{len(files)} files: no world size divides it, the file-per-rank split was not checked"


def test_rewriting_a_sharded_split_keeps_offsets_and_shards(builds, tmp_path, monkeypatch):
    """dedup's rewrite (flags, dropped leaks) streams every file of a split with split-wide offsets."""
    import shutil

    _, sharded = builds
    out = tmp_path / "chinchilla"
    shutil.copytree(sharded, out)
    monkeypatch.setattr(parquet_io, "SHARD_ROWS", SHARD_ROWS)
    (config,) = [c for r in read_build(out).results for c in r.configs if c.name == "all_unified"]
    entry = config.splits["train"]
    before = [row for p in entry["paths"] for row in file_rows(out / p)]
    assert len(entry["paths"]) > 2

    def drop_even(offset, batch):
        return batch.filter(pa.array([(offset + j) % 2 == 1 for j in range(batch.num_rows)]))

    written = rewrite(out, entry, config.name, "train", drop_even)
    after = [row for p in written["paths"] for row in file_rows(out / p)]
    assert after == before[1::2] and written["num_examples"] == len(after)
    assert len(written["paths"]) == math.ceil(len(after) / SHARD_ROWS)
    assert not any((out / p).exists() for p in entry["paths"] if p not in written["paths"])


def test_a_release_uploads_every_shard(builds):
    _, sharded = builds
    release = plan_release(sharded, include_restricted=True)
    listed = {f.path_in_repo: f.rows for f in release.files if f.config}
    on_disk = {str(p.relative_to(sharded)): pq.ParquetFile(p).metadata.num_rows for p in sharded.glob("*/*.parquet")}
    assert listed == on_disk


def test_parquet_bytes_do_not_depend_on_how_the_rows_arrive(tmp_path):
    """The same rows given as one table or as many small record batches (as the Arrow caches of a
    build with num_proc > 1 give them, one file per shard) make byte-identical Parquet files."""
    features = datasets.Features({"id": datasets.Value("string"), "text": datasets.Value("string")})
    rows = {"id": [f"r{i}" for i in range(30_000)], "text": [f"第{i}行，" * (i % 17 + 1) for i in range(30_000)]}
    table = pa.Table.from_pydict(rows, schema=features.arrow_schema)
    written = {}
    for name, pieces in (("whole", [table]), ("pieces", table.to_batches(max_chunksize=997))):
        writer = parquet_io.ParquetSplitWriter(tmp_path / name, "cfg", "train", features)
        for piece in pieces:
            writer.write(piece)
        entry = writer.close()
        written[name] = [(tmp_path / name / path).read_bytes() for path in entry["paths"]]
    assert written["whole"] == written["pieces"]
