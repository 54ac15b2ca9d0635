"""The benchmark (scripts/bench.py -> benchmarks/) at a tiny scale: it runs, prints one JSON object with the documented keys, and its
synthetic files are read by the builders without a single rejected record. (No timing asserts.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.synthetic import SIZES, generate_corpus
from chinchilla_datasets.registry import builders

BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"


def test_bench_prints_one_json_object_with_the_documented_keys():
    corpora = ["duie", "sanwen", "msra_ner"]
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--scale", "0.002", "--json", "--corpus", *corpora],
        capture_output=True, text=True, check=True, timeout=120,
    )
    result = json.loads(proc.stdout)
    for key in ("raw_vs_json_loader", "instruct_rows_per_s", "collection_s", "peak_rss_mb", "peak_rss_anon_mb", "targets"):
        assert key in result, key
    assert result["raw_vs_json_loader"] > 0 and result["collection_s"] > 0 and result["peak_rss_mb"] > 0
    assert set(result["corpora"]) == set(corpora)
    for name, info in result["corpora"].items():
        assert set(info["views"]) == {"raw", "unified", "instruct", "instruct_map"}, name
        for view, measured in info["views"].items():
            assert {"rows", "seconds", "rows_per_s"} <= set(measured), (name, view)
            assert measured["rows"] > 0, (name, view)
        assert not any(info["rejected"].values()), name


GENERATED = [name for name in builders() if name in SIZES]


@pytest.mark.parametrize("name", GENERATED)
def test_synthetic_files_are_read_without_rejects(name, tmp_path):
    """The generators write each corpus's real format: a builder change that stops reading them shows here."""
    cls = builders()[name]
    files = generate_corpus(name, cls, tmp_path / name, scale=0.0005)
    assert files
    builder = cls(config_name=f"{name}_raw", data_dir=str(tmp_path / name), cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    assert sum(s.num_examples for s in builder.info.splits.values()) > 0
    assert {split: c["rejected"] for split, c in builder.report.items() if c["rejected"]} == {}
