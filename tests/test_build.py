"""``chinchilla build``: the folder stock ``datasets`` loads, the report, bad input, determinism."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from collections import Counter
from pathlib import Path

import datasets
import pytest

from builders.duee import DuEE
from builders.duie import DuIE
from chinchilla_datasets.cli import main
from chinchilla_datasets.collection import build_collection
from chinchilla_datasets.mixtures import corpus_language
from chinchilla_datasets.outputs import REPORT_FILE, split_paths
from chinchilla_datasets.registry import builders


def tree_digest(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_config_loads_with_stock_datasets(fixture_build, monkeypatch, tmp_path):
    monkeypatch.chdir(fixture_build.parent)
    names = datasets.get_dataset_config_names("chinchilla")
    expected = {f"{c}_{v}" for c in builders() for v in ("raw", "unified", "instruct")}
    assert set(names) == expected | {"all_unified", "all_instruct"}
    report = json.loads((fixture_build / REPORT_FILE).read_text(encoding="utf-8"))
    for name in sorted(expected):
        dd = datasets.load_dataset("chinchilla", name, cache_dir=str(tmp_path / "cache"))
        corpus, _, view = name.rpartition("_")
        for split, ds in dd.items():
            key = {"raw": "written", "unified": "unified", "instruct": "instruct"}[view]
            assert len(ds) == report[corpus][split][key]
        if view == "instruct":
            assert {"instruction", "input", "output", "id", "corpus", "task", "split"} <= set(dd["train"].column_names)


def test_mixtures_hold_every_corpus_shuffled(fixture_build, monkeypatch, tmp_path):
    monkeypatch.chdir(fixture_build.parent)
    report = json.loads((fixture_build / REPORT_FILE).read_text(encoding="utf-8"))
    for view, key in (("unified", "unified"), ("instruct", "instruct")):
        train = datasets.load_dataset("chinchilla", f"all_{view}", split="train", cache_dir=str(tmp_path / "cache"))
        # The mixtures are the Chinese collection: the English sources of the translation stage stay out.
        per_corpus = {c: s["train"][key] for c, s in report.items() if key in s.get("train", {}) and corpus_language(c) == "zh"}
        assert len(per_corpus) < len([c for c, s in report.items() if key in s.get("train", {})])
        assert dict(sorted(Counter(train["corpus"]).items())) == dict(sorted(per_corpus.items()))
        assert train["corpus"] != sorted(train["corpus"]), "rows are shuffled, not concatenated in corpus order"


def test_card_lists_real_sizes(fixture_build):
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(fixture_build / "README.md")
    infos = {i["config_name"]: i for i in card.data["dataset_info"]}
    for config in card.data["configs"]:
        for entry in config["data_files"]:
            rows = datasets.Dataset.from_parquet([str(fixture_build / p) for p in split_paths(entry)]).num_rows
            split_info = next(s for s in infos[config["config_name"]]["splits"] if s["name"] == entry["split"])
            assert split_info["num_examples"] == rows


def test_report_balances(fixture_build):
    report = json.loads((fixture_build / REPORT_FILE).read_text(encoding="utf-8"))
    assert set(report) == set(builders())
    for corpus, splits in report.items():
        for split, counts in splits.items():
            assert counts["read"] == counts["written"] + len(counts["rejected"])


def test_same_input_gives_identical_bytes(tmp_path):
    a = tmp_path / "a" / "chinchilla"
    b = tmp_path / "b" / "chinchilla"
    build_collection(None, str(a), corpora=["duie", "duee_fin"], log=lambda _: None)
    build_collection(None, str(b), corpora=["duie", "duee_fin"], num_proc=2, log=lambda _: None)
    assert tree_digest(a) == tree_digest(b)


def write_lines(path: Path, lines: list, newline: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(newline.join(lines).encode("utf-8"))


def test_bad_lines_are_rejected_with_reasons_and_good_ones_kept(tmp_path, fixtures_dir, monkeypatch):
    raw = tmp_path / "raw"
    shutil.copytree(fixtures_dir / "duie", raw / "duie")
    good = (fixtures_dir / "duie" / "duie_train.json").read_text(encoding="utf-8").splitlines()
    lines = [
        good[0],
        '{"text": "没有闭合的 JSON", "spo_list": [',  # invalid JSON
        '{"spo_list": []}',  # missing text
        '{"text": "类型不对", "spo_list": [{"predicate": 5, "subject": "a", "subject_type": "b", "object": {"@value": "c"}, "object_type": {"@value": "d"}}]}',
        "[1, 2]",  # not an object
        "",  # blank lines are not records
        good[1],
        good[2][: len(good[2]) // 2],  # truncated last line
    ]
    write_lines(raw / "duie" / "duie_train.json", lines)
    out = tmp_path / "out" / "chinchilla"
    assert main(["build", "--data-dir", str(raw), "--out", str(out), "--corpus", "duie"]) == 0
    report = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))["duie"]["train"]
    assert report["read"] == 7 and report["written"] == 2 and report["unified"] == 2
    assert [r["line"] for r in report["rejected"]] == [2, 3, 4, 5, 8]
    reasons = " | ".join(r["reason"] for r in report["rejected"])
    for expected in ("invalid JSON", "missing key 'text'", "spo_list.predicate: expected string", "expected a JSON object"):
        assert expected in reasons
    assert all(r["file"] == "duie_train.json" for r in report["rejected"])
    monkeypatch.chdir(out.parent)
    ds = datasets.load_dataset("chinchilla", "duie_unified", split="train", cache_dir=str(tmp_path / "cache"))
    assert ds["text"] == [json.loads(good[0])["text"], json.loads(good[1])["text"]]


def test_missing_corpus_folder_is_one_clear_line_and_others_build(tmp_path, fixtures_dir, capsys):
    raw = tmp_path / "raw"
    shutil.copytree(fixtures_dir / "duee", raw / "duee")
    (raw / "duie").mkdir(parents=True)
    (raw / "duie" / "notes.txt").write_text("nothing here")
    out = tmp_path / "out" / "chinchilla"
    assert main(["build", "--data-dir", str(raw), "--out", str(out), "--corpus", "duie", "duee", "duee_fin"]) == 0
    printed = capsys.readouterr().out
    skip_lines = [line for line in printed.splitlines() if line.startswith("skip ")]
    assert len(skip_lines) == 2
    assert "duie_train.json" in next(line for line in skip_lines if line.startswith("skip duie:"))
    assert "duee_fin_train.json" in next(line for line in skip_lines if "duee_fin" in line)
    assert (out / "duee_unified").is_dir() and not (out / "duie_raw").exists()


def test_nothing_to_build_fails_cleanly_and_keeps_previous_out(tmp_path, capsys):
    out = tmp_path / "chinchilla"
    build_collection(None, str(out), corpora=["duie"], log=lambda _: None)
    before = tree_digest(out)
    assert main(["build", "--data-dir", str(tmp_path / "empty"), "--out", str(out)]) == 2
    assert "nothing to build" in capsys.readouterr().err
    assert tree_digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chinchilla"]  # no temporary folder left


def test_official_zip_archive_is_accepted(tmp_path, fixtures_dir):
    folder = tmp_path / "duee"
    folder.mkdir()
    with zipfile.ZipFile(folder / "DuEE1.0.zip", "w") as archive:
        for f in sorted((fixtures_dir / "duee").iterdir()):
            archive.write(f, f"DuEE1.0/{f.name}")
    builder = DuEE(config_name="duee_instruct", data_dir=str(folder), cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    dd = builder.as_dataset()
    assert set(dd) == {"train", "validation"}
    assert len(set(dd["train"]["record_id"])) == 3  # every record of duee_train.json


def test_luge_corpus_without_data_dir_explains_manual_download(tmp_path):
    builder = DuIE(config_name="duie_raw", cache_dir=str(tmp_path))
    with pytest.raises(datasets.exceptions.ManualDownloadError, match="luge.ai"):
        builder.download_and_prepare()


def test_source_offsets_are_kept_even_when_the_mention_repeats(tmp_path, fixtures_dir):
    """DuEE gives offsets: unified spans are the source's, not the first occurrence (no text.find)."""
    views = {}
    for view in ("raw", "unified"):
        builder = DuEE(config_name=f"duee_{view}", data_dir=str(fixtures_dir / "duee"), cache_dir=str(tmp_path / view))
        builder.download_and_prepare()
        views[view] = builder.as_dataset()["train"]
    not_first = 0
    for raw, record in zip(views["raw"], views["unified"]):
        for source, event in zip(raw["event_list"], record["events"]):
            assert event["trigger"]["start"] == source["trigger_start_index"]
            not_first += source["trigger_start_index"] != raw["text"].index(source["trigger"])
            for arg, unified_arg in zip(source["arguments"], event["arguments"]):
                assert unified_arg["start"] == arg["argument_start_index"]
        assert "ambiguous_span" not in record["flags"]
    assert not_first >= 1


def test_a_split_whose_every_line_is_rejected_is_reported_and_the_rest_builds(tmp_path, fixtures_dir, capsys):
    raw = tmp_path / "raw"
    shutil.copytree(fixtures_dir / "duie", raw / "duie")
    write_lines(raw / "duie" / "duie_dev.json", ["not json", '{"spo_list": []}'])
    out = tmp_path / "out" / "chinchilla"
    assert main(["build", "--data-dir", str(raw), "--out", str(out), "--corpus", "duie"]) == 0
    report = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))["duie"]
    assert report["validation"]["read"] == 2 and len(report["validation"]["rejected"]) == 2
    assert report["validation"]["written"] == 0
    assert not list((out / "duie_unified").glob("validation-*")) and list((out / "duie_unified").glob("train-*"))
    for view in ("raw", "unified", "instruct"):
        assert datasets.get_dataset_split_names(str(out), f"duie_{view}") == (["train", "test1"] if view == "raw" else ["train"])


def duie_with_bad_lines(fixtures_dir: Path, raw: Path, copies: int = 5) -> list:
    """DuIE fixtures whose train file is longer and has rejects and blank lines spread through it;
    returns the line numbers of the rejects."""
    shutil.copytree(fixtures_dir / "duie", raw / "duie")
    good = (fixtures_dir / "duie" / "duie_train.json").read_text(encoding="utf-8").splitlines()
    lines = []
    for i in range(copies):
        lines += good + ['{"text": "坏行", "spo_list": [', "", '{"spo_list": []}']
    write_lines(raw / "duie" / "duie_train.json", lines, newline="\r\n")
    block = len(good) + 3
    return [block * i + len(good) + d for i in range(copies) for d in (1, 3)]


@pytest.mark.parametrize("view", ["raw", "unified", "instruct"])
def test_line_shards_give_the_rows_and_report_of_one_process(tmp_path, fixtures_dir, monkeypatch, view):
    import chinchilla_datasets.base as base

    monkeypatch.setattr(base, "SHARD_MIN_BYTES", 0)  # shard even the small fixture files
    bad_lines = duie_with_bad_lines(fixtures_dir, tmp_path / "raw")
    built = {}
    for num_proc in (1, 3):
        builder = DuIE(config_name=f"duie_{view}", data_dir=str(tmp_path / "raw" / "duie"), cache_dir=str(tmp_path / f"c{num_proc}"))
        builder.download_and_prepare(num_proc=num_proc)
        built[num_proc] = builder
    if view != "instruct":  # (the instruct builder reports nothing of its own)
        assert built[3].report == built[1].report
        rejected = built[3].report["train"]["rejected"]
        assert [r["line"] for r in rejected] == bad_lines
        assert {r["file"] for r in rejected} == {"duie_train.json"}
    one, three = built[1].as_dataset(), built[3].as_dataset()
    assert len(built[3].info.splits["train"].shard_lengths or []) > 1  # really generated as shards
    for split in one:
        assert three[split].to_list() == one[split].to_list()


def test_num_proc_output_is_identical_with_line_shards(tmp_path, fixtures_dir, monkeypatch):
    import chinchilla_datasets.base as base

    monkeypatch.setattr(base, "SHARD_MIN_BYTES", 0)
    duie_with_bad_lines(fixtures_dir, tmp_path / "raw")
    shutil.copytree(fixtures_dir / "sanwen", tmp_path / "raw" / "sanwen")
    shutil.copytree(fixtures_dir / "duee", tmp_path / "raw" / "duee")
    a, b = tmp_path / "a" / "chinchilla", tmp_path / "b" / "chinchilla"
    build_collection(str(tmp_path / "raw"), str(a), corpora=["duie", "sanwen", "duee"], log=lambda _: None)
    build_collection(str(tmp_path / "raw"), str(b), corpora=["duie", "sanwen", "duee"], num_proc=2, log=lambda _: None)
    assert tree_digest(a) == tree_digest(b)


def test_package_data_ships_every_fixture_file():
    """`chinchilla build` with no --data-dir reads the fixtures from the INSTALLED package: every
    fixture file, however deep, must match a package-data pattern of pyproject.toml (setuptools
    expands them with recursive glob). A fresh install once left out the four-level-deep Chinese
    Literature documents and skipped the corpus."""
    import glob

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    root = Path(__file__).resolve().parents[1]
    patterns = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-data"]["chinchilla_datasets"]
    package = root / "chinchilla_datasets"
    shipped = {p for pattern in patterns for p in glob.glob(pattern, root_dir=package, recursive=True) if (package / p).is_file()}
    fixtures = {str(p.relative_to(package)) for p in (package / "fixtures").rglob("*") if p.is_file()}
    assert fixtures and fixtures <= shipped, sorted(fixtures - shipped)[:5]
