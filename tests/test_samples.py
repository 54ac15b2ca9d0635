"""Builds on the real raw samples in ../shared/samples (skipped when the folder is absent).

Every record there must convert with valid spans, or be rejected for a source error named here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from chinchilla_datasets.collection import build_collection
from chinchilla_datasets.outputs import REPORT_FILE
from chinchilla_datasets.registry import builders

from conftest import TOOLS, needs_samples

# corpus -> {(file, line): reason fragment} of genuine errors in the sample files.
KNOWN_SOURCE_ERRORS: dict = {}


@pytest.fixture(scope="module")
def samples_build(samples_raw, tmp_path_factory):
    out = tmp_path_factory.mktemp("samples_build") / "chinchilla"
    present = [name for name in builders() if (samples_raw / name).is_dir()]
    report = build_collection(str(samples_raw), str(out), corpora=present, log=lambda _: None)
    return out, report, present


@needs_samples
def test_every_sample_corpus_built(samples_build, samples_raw):
    out, report, present = samples_build
    assert {"duie", "duee", "duee_fin"} <= set(present)
    assert set(report) == set(present)


@needs_samples
def test_every_sample_record_converts_or_has_a_named_source_error(samples_build):
    _, report, _ = samples_build
    for corpus, splits in report.items():
        expected = KNOWN_SOURCE_ERRORS.get(corpus, {})
        for split, counts in splits.items():
            assert counts["read"] > 0
            assert counts["read"] == counts["written"] + len(counts["rejected"])
            for reject in counts["rejected"] + counts.get("unified_rejected", []):
                key = (reject["file"], reject["line"])
                assert key in expected and expected[key] in reject["reason"], f"{corpus}/{split}: {reject}"
            if split not in builders()[corpus].corpus.unlabelled_splits and builders()[corpus].group_by is None:
                assert counts["unified"] == counts["written"]


@needs_samples
def test_sample_build_passes_the_shared_checker(samples_build):
    out, _, _ = samples_build
    result = subprocess.run([sys.executable, str(TOOLS / "check_build.py"), str(out)], capture_output=True, text=True)
    summary = [line for line in result.stdout.splitlines() if line.startswith("SUMMARY")]
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert summary and "violations=0" in summary[0]


@needs_samples
def test_duie_sample_counts(samples_build, samples_raw):
    """Raw rows equal the non-blank lines of each sample file (nothing silently lost)."""
    out, report, _ = samples_build
    for split, file_name in (("train", "duie_train.json"), ("validation", "duie_dev.json"), ("test1", "duie_test1.json")):
        lines = [l for l in (samples_raw / "duie" / file_name).read_text(encoding="utf-8").splitlines() if l.strip()]
        assert report["duie"][split]["written"] == len(lines)
    assert json.loads((out / REPORT_FILE).read_text(encoding="utf-8")) == report
