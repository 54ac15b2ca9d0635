"""``chinchilla push`` against a local fake of the Hub, and the dataset card it publishes.

The fake records every call and writes committed files into a folder named ``chinchilla``, so the
uploaded tree is loaded with stock ``load_dataset`` exactly as the Hub copy would be. No network.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import datasets
import huggingface_hub
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, DatasetCard

from chinchilla_datasets.card import BUILD_KEY, read_build, render_card, write_card
from chinchilla_datasets.schema import TASK_COLUMN
from chinchilla_datasets.cli import main
from chinchilla_datasets.collection import bundled_fixtures
from chinchilla_datasets.outputs import ConfigOutput, CorpusOutput, split_paths
from chinchilla_datasets.instruct import load_templates
from chinchilla_datasets.registry import builders, get_builder

REPO = "chinchilla-org/chinchilla"


class FakeHub:
    """Stands in for ``HfApi``: one repository, its files kept under ``root/chinchilla``."""

    def __init__(self, root: Path):
        self.repo = root / "chinchilla"
        self.calls: list = []
        self.tags: dict = {}
        self.branches = {"main"}

    def _record(self, name: str, **kwargs) -> None:
        self.calls.append((name, kwargs))

    def calls_named(self, name: str) -> list:
        return [kwargs for call, kwargs in self.calls if call == name]

    def files(self) -> dict:
        return {str(p.relative_to(self.repo)): p.read_bytes() for p in sorted(self.repo.rglob("*")) if p.is_file()}

    def create_repo(self, repo_id, *, repo_type=None, private=None, exist_ok=False, token=None):
        self._record("create_repo", repo_id=repo_id, repo_type=repo_type, private=private, exist_ok=exist_ok)
        if self.repo.exists() and not exist_ok:
            raise FileExistsError(repo_id)
        self.repo.mkdir(parents=True, exist_ok=True)
        (self.repo / ".gitattributes").write_text("*.parquet filter=lfs diff=lfs merge=lfs -text\n")
        return f"https://huggingface.co/datasets/{repo_id}"

    def list_repo_refs(self, repo_id, *, repo_type=None, token=None):
        self._record("list_repo_refs", repo_id=repo_id, repo_type=repo_type)
        return SimpleNamespace(tags=[SimpleNamespace(name=t) for t in self.tags], branches=[SimpleNamespace(name=b) for b in self.branches])

    def create_branch(self, repo_id, *, branch, revision=None, repo_type=None, exist_ok=False, token=None):
        self._record("create_branch", repo_id=repo_id, branch=branch, repo_type=repo_type, exist_ok=exist_ok)
        self.branches.add(branch)

    def list_repo_files(self, repo_id, *, revision=None, repo_type=None, token=None):
        self._record("list_repo_files", repo_id=repo_id, revision=revision, repo_type=repo_type)
        return list(self.files())

    def create_commit(self, repo_id, operations, *, commit_message, commit_description=None, repo_type=None, revision=None, **kwargs):
        operations = list(operations)
        self._record(
            "create_commit", repo_id=repo_id, operations=operations, commit_message=commit_message,
            commit_description=commit_description, repo_type=repo_type, revision=revision,
        )
        for op in operations:
            target = self.repo / op.path_in_repo
            if isinstance(op, CommitOperationAdd):
                content = op.path_or_fileobj
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content if isinstance(content, bytes) else Path(content).read_bytes())
            elif isinstance(op, CommitOperationDelete):
                target.unlink()
            else:
                raise TypeError(op)
        oid = hashlib.sha1(f"{len(self.calls)}:{commit_message}".encode()).hexdigest()
        return SimpleNamespace(oid=oid, commit_url=f"https://huggingface.co/datasets/{repo_id}/commit/{oid}")

    def create_tag(self, repo_id, *, tag, tag_message=None, revision=None, repo_type=None, exist_ok=False, token=None):
        self._record("create_tag", repo_id=repo_id, tag=tag, revision=revision, repo_type=repo_type)
        self.tags[tag] = revision


@pytest.fixture
def hub(tmp_path, monkeypatch) -> FakeHub:
    """The fake, returned by every ``HfApi(...)`` the push creates (the token it got is recorded)."""
    fake = FakeHub(tmp_path / "hub")

    def make_api(token=None, **kwargs):
        fake.token = token
        return fake

    monkeypatch.setattr(huggingface_hub, "HfApi", make_api)
    return fake


@pytest.fixture
def built(fixture_build) -> dict:
    """The fixture build's configs: ``{corpus: {config: {split: [path, ...]}}}``, from its card."""
    return {
        r.name: {c.name: {s: e["paths"] for s, e in c.splits.items()} for c in r.configs}
        for r in read_build(fixture_build).results
    }


@pytest.fixture
def one_open_corpus(built, monkeypatch) -> str:
    """Make the first corpus of the build redistributable and every other restricted; return its name."""
    open_corpus = next(iter(built))
    for name, cls in builders().items():
        monkeypatch.setattr(cls, "corpus", replace(cls.corpus, redistributable=name == open_corpus))
    return open_corpus


def data_files(configs: dict) -> set:
    return {path for splits in configs.values() for paths in splits.values() for path in paths}


def push(out: Path, *options: str) -> int:
    return main(["push", str(out), "--repo-id", REPO, *options])


# ---------------------------------------------------------------- push


def test_push_is_one_commit_of_the_pushed_configs_and_loads_like_the_local_copy(fixture_build, built, one_open_corpus, hub, monkeypatch, tmp_path):
    assert push(fixture_build) == 0

    assert [call for call, _ in hub.calls] == ["create_repo", "list_repo_files", "create_commit"]
    assert hub.calls_named("create_repo") == [{"repo_id": REPO, "repo_type": "dataset", "private": None, "exist_ok": True}]
    (commit,) = hub.calls_named("create_commit")
    assert commit["repo_type"] == "dataset" and commit["revision"] is None
    assert all(isinstance(op, CommitOperationAdd) for op in commit["operations"])

    pushed = built[one_open_corpus]
    expected = {"README.md", "build_report.json"} | data_files(pushed)
    assert [op.path_in_repo for op in commit["operations"]][:2] == ["README.md", "build_report.json"]
    assert {op.path_in_repo for op in commit["operations"]} == expected
    uploaded = hub.files()
    assert set(uploaded) == expected | {".gitattributes"}
    for path in data_files(pushed):
        assert uploaded[path] == (fixture_build / path).read_bytes()
    report = json.loads(uploaded["build_report.json"])
    assert set(report) == {one_open_corpus}

    card = DatasetCard.load(hub.repo / "README.md")
    assert [c["config_name"] for c in card.data["configs"]] == sorted(pushed)
    assert sorted(i["config_name"] for i in card.data["dataset_info"]) == sorted(pushed)
    restricted = [name for name in built if name != one_open_corpus]
    assert set(card.data[BUILD_KEY]["excluded"]) == set(restricted)
    body = card.text.split("## Not in this release", 1)[1].split("\n## ", 1)[0]
    for name in restricted:
        line = next(line for line in body.splitlines() if line.startswith(f"- **{name}**"))
        if name in builders():  # the all_* mixture is left out for holding restricted rows
            assert "does not grant redistribution" in line and get_builder(name).corpus.license in line
        for config in built[name]:
            assert f"`{config}`" in line
            assert f"`{config}`" not in card.text.replace(line, "")  # no stats or examples of it
    assert f'load_dataset("{REPO}"' in card.text
    assert str(bundled_fixtures()) not in (hub.repo / "README.md").read_text(encoding="utf-8")  # no local paths

    monkeypatch.chdir(hub.repo.parent)
    assert sorted(datasets.get_dataset_config_names("chinchilla")) == sorted(pushed)
    for config, splits in pushed.items():
        dd = datasets.load_dataset("chinchilla", config, cache_dir=str(tmp_path / "cache"))
        assert set(dd) == set(splits)
        for split, paths in splits.items():
            assert dd[split].to_list() == [row for path in paths for row in pq.read_table(fixture_build / path).to_pylist()]


def test_include_restricted_pushes_every_config_to_a_private_tagged_branch(fixture_build, built, one_open_corpus, hub, capsys):
    assert push(fixture_build, "--include-restricted", "--private", "--revision", "release", "--tag", "v0.1.0", "--token", "hf_secret") == 0

    assert hub.token == "hf_secret"
    assert [call for call, _ in hub.calls] == ["create_repo", "list_repo_refs", "create_branch", "list_repo_files", "create_commit", "create_tag"]
    assert hub.calls_named("create_repo")[0]["private"] is True
    (commit,) = hub.calls_named("create_commit")
    assert commit["revision"] == "release"
    assert hub.tags == {"v0.1.0": re.search(r"committed (\w+)", capsys.readouterr().out).group(1)}
    local = {str(p.relative_to(fixture_build)) for p in fixture_build.rglob("*") if p.is_file()}
    assert set(hub.files()) == local - {".chinchilla-build"} | {".gitattributes"}  # the manifest stays local
    card = DatasetCard.load(hub.repo / "README.md")
    assert {c["config_name"] for c in card.data["configs"]} == {c for configs in built.values() for c in configs}
    assert "## Not in this release" not in card.text and "excluded" not in card.data[BUILD_KEY]


def test_a_later_release_deletes_data_files_it_no_longer_lists_in_the_same_commit(fixture_build, built, one_open_corpus, hub):
    assert push(fixture_build, "--include-restricted") == 0
    assert push(fixture_build) == 0

    second = hub.calls_named("create_commit")[1]["operations"]
    deleted = {op.path_in_repo for op in second if isinstance(op, CommitOperationDelete)}
    restricted = {name: configs for name, configs in built.items() if name != one_open_corpus}
    assert deleted == data_files({c: s for configs in restricted.values() for c, s in configs.items()})
    assert set(hub.files()) == {".gitattributes", "README.md", "build_report.json"} | data_files(built[one_open_corpus])


def test_dry_run_lists_every_config_and_split_without_contacting_the_hub(fixture_build, built, one_open_corpus, monkeypatch, capsys):
    def no_hub(*args, **kwargs):
        raise AssertionError("the dry run contacted the Hub")

    monkeypatch.setattr(huggingface_hub, "HfApi", no_hub)
    assert push(fixture_build, "--dry-run", "--include-restricted") == 0
    listed = capsys.readouterr().out
    assert "README.md" in listed and "build_report.json" in listed
    for configs in built.values():
        for config, splits in configs.items():
            for split, paths in splits.items():
                for path in paths:
                    assert f"{path}  (config {config}, split {split}," in listed

    assert push(fixture_build, "--dry-run") == 0
    listed = capsys.readouterr().out
    for name, configs in built.items():
        for path in data_files(configs):
            assert (path in listed) == (name == one_open_corpus)
        if name != one_open_corpus:
            assert f"left out {name} (" in listed


def test_nothing_redistributable_fails_before_contacting_the_hub(fixture_build, built, hub, monkeypatch, capsys):
    for cls in builders().values():
        monkeypatch.setattr(cls, "corpus", replace(cls.corpus, redistributable=False))
    assert push(fixture_build) == 2
    assert "--include-restricted" in capsys.readouterr().err
    assert hub.calls == []


def test_a_taken_tag_leaves_the_repository_untouched(fixture_build, one_open_corpus, hub, capsys):
    assert push(fixture_build, "--tag", "v1") == 0
    files = hub.files()
    assert push(fixture_build, "--tag", "v1") == 1
    assert "already exists" in capsys.readouterr().err
    assert len(hub.calls_named("create_commit")) == 1 and hub.files() == files


def with_mixture(fixture_build: Path, tmp_path: Path) -> Path:
    """A copy of the build, which holds the all_* mixtures of every corpus."""
    out = tmp_path / "mixed" / "chinchilla"
    shutil.copytree(fixture_build, out)
    return out


def test_a_mixture_is_published_only_when_every_corpus_in_it_may_be(fixture_build, built, one_open_corpus, hub, tmp_path, capsys, monkeypatch):
    out = with_mixture(fixture_build, tmp_path)
    assert "all_unified" in {c["config_name"] for c in DatasetCard.load(out / "README.md").data["configs"]}
    assert push(out, "--dry-run") == 0
    listed = capsys.readouterr().out
    assert "all_unified/" not in listed and "left out all (all_unified, all_instruct): mixes rows of corpora" in listed
    for cls in builders().values():
        monkeypatch.setattr(cls, "corpus", replace(cls.corpus, redistributable=True))
    assert push(out) == 0
    mixture_files = {p for c in read_build(out).results if c.name == "all" for cfg in c.configs for e in cfg.splits.values() for p in e["paths"]}
    assert mixture_files and mixture_files <= set(hub.files())
    card = DatasetCard.load(hub.repo / "README.md")
    assert "all_unified" in {c["config_name"] for c in card.data["configs"]}


def test_not_a_built_folder_is_one_clear_line(tmp_path, capsys):
    assert push(tmp_path) == 2
    assert "not a built folder" in capsys.readouterr().err


# ---------------------------------------------------------------- card


def test_card_parses_with_hub_card_data_and_sizes_match_parquet(fixture_build):
    card = DatasetCard.load(fixture_build / "README.md", ignore_metadata_errors=False)
    data = card.data
    languages = {get_builder(r.name).corpus.language for r in read_build(fixture_build).results if r.name in builders()}
    assert data.language == sorted(languages, key=lambda language: (language != "zh", language)) and data.language[0] == "zh"
    assert data.multilinguality == ("multilingual" if len(languages) > 1 else "monolingual")
    assert data.license == "other" and data.pretty_name
    assert data["license_name"] and data.task_categories and data.size_categories
    corpora = [r.name for r in read_build(fixture_build).results]
    for name in corpora:
        if name in builders():
            assert get_builder(name).corpus.license in data["license_details"]
    infos = {i["config_name"]: i for i in data["dataset_info"]}
    listed = set()
    for config in data["configs"]:
        info = infos[config["config_name"]]
        splits = {s["name"]: s for s in info["splits"]}
        assert [e["split"] for e in config["data_files"]] == list(splits)
        for entry in config["data_files"]:
            rows = sum(pq.ParquetFile(fixture_build / path).metadata.num_rows for path in split_paths(entry))
            assert splits[entry["split"]]["num_examples"] == rows
            assert f"| {config['config_name']} | {entry['split']} | {rows:,} |" in card.text
            listed.update(split_paths(entry))
        assert info["download_size"] == sum((fixture_build / p).stat().st_size for e in config["data_files"] for p in split_paths(e))
    assert listed == {str(p.relative_to(fixture_build)) for p in fixture_build.glob("*/*.parquet")}
    assert set(infos) == {c["config_name"] for c in data["configs"]}


def test_card_label_distribution_examples_and_templates_come_from_the_data(fixture_build):
    text = (fixture_build / "README.md").read_text(encoding="utf-8")
    for result in read_build(fixture_build).results:
        if result.name not in builders():
            continue  # the all_* mixtures have no corpus of their own
        task = get_builder(result.name).corpus.task
        (unified,) = [c for c in result.configs if c.view == "unified"]
        types = Counter()
        for entry in unified.splits.values():
            for items in (i for path in entry["paths"] for i in pd.read_parquet(fixture_build / path)[TASK_COLUMN[task]]):
                types.update(item["type"] for item in items)
        top_type, count = sorted(types.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        line = next(line for line in text.splitlines() if line.startswith("Top ") and f"`{unified.name}`" in line)
        assert line.split(": ", 1)[1].startswith(f"{top_type} {count:,}")
        for config in result.configs:
            assert f"<summary><code>{config.name}</code></summary>" in text
    for templates in load_templates().values():
        for template in templates:
            assert f"| `{template['id']}` |" in text


def test_card_is_rebuilt_exactly_from_the_folder(fixture_build):
    """``read_build`` recovers what ``write_card`` was given, so a push re-renders the same card."""
    build = read_build(fixture_build)
    rendered = render_card(fixture_build, build.results, build.skipped, version=build.version)
    assert rendered == (fixture_build / "README.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------- push uploads only what the build wrote


SECRET = "SECRET-ROW-outside-the-build"


def copy_of_build(fixture_build: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy" / "chinchilla"
    shutil.copytree(fixture_build, out, symlinks=True)
    return out


def edit_card_yaml(out: Path, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in the card's YAML header (as someone editing the card would)."""
    card = out / "README.md"
    head, sep, body = card.read_text(encoding="utf-8").partition("\n---\n")
    assert old in head
    card.write_text(head.replace(old, new) + sep + body, encoding="utf-8")


@pytest.mark.parametrize("kind", ["absolute path", "parent folder", "dot-dot inside", "not in the manifest", "link", "changed after the build", "not a data file"])
def test_push_leaves_out_a_data_file_the_build_did_not_write(fixture_build, built, one_open_corpus, hub, tmp_path, capsys, kind):
    out = copy_of_build(fixture_build, tmp_path)
    config, splits = next(iter(built[one_open_corpus].items()))
    listed = next(iter(splits.values()))[0]
    secret = tmp_path / "copy" / "secret.parquet"
    pq.write_table(pa.table({"text": [SECRET]}), secret)
    path = {
        "absolute path": str(secret),
        "parent folder": "../secret.parquet",
        "dot-dot inside": f"{config}/../../secret.parquet",
        "not in the manifest": f"{config}/train-00000000deadbeef.parquet",
        "link": listed,
        "changed after the build": listed,
        "not a data file": "build_report.json",
    }[kind]
    if kind == "not in the manifest":
        shutil.copy(secret, out / path)
    elif kind == "link":
        (out / listed).unlink()
        (out / listed).symlink_to(secret)
    elif kind == "changed after the build":
        (out / listed).write_bytes(secret.read_bytes())
    if path != listed:
        edit_card_yaml(out, f"path: {listed}", f"path: {path}")

    assert push(out, "--dry-run", "--include-restricted") == 0
    printed = capsys.readouterr().out
    uploads = [line.split()[0] for line in printed.splitlines() if line.startswith("  ")]
    assert uploads[:2] == ["README.md", "build_report.json"]  # generated for the release, then the data files
    assert path not in uploads[2:] and not any(u.startswith(f"{config}/") for u in uploads)
    (left_out,) = [line for line in printed.splitlines() if line.startswith(f"left out {one_open_corpus} (")]
    assert f"data file {path!r}" in left_out
    assert len(uploads) > 2  # the other corpora are still published

    assert push(out, "--include-restricted") == 0
    uploaded = hub.files()
    assert not any(SECRET.encode() in content for content in uploaded.values())
    assert not any(p.startswith(f"{config}/") for p in uploaded) and "secret.parquet" not in str(list(uploaded))


def test_the_licence_gate_follows_the_corpus_not_the_config_name(fixture_build, built, one_open_corpus, hub, tmp_path, capsys, monkeypatch):
    """A restricted corpus's raw config renamed as a config of the open corpus is still gated."""
    out = copy_of_build(fixture_build, tmp_path)
    restricted, also_open = [name for name in built if name != one_open_corpus and f"{name}_raw" in built[name]][:2]
    cls = get_builder(also_open)
    monkeypatch.setattr(cls, "corpus", replace(cls.corpus, redistributable=True))  # so something is published
    card = (out / "README.md").read_text(encoding="utf-8")
    assert card.count(f"config_name: {restricted}_raw\n") == 2  # configs and dataset_info
    (out / "README.md").write_text(card.replace(f"config_name: {restricted}_raw\n", f"config_name: {one_open_corpus}_rawcopy\n"), encoding="utf-8")
    assert f"{one_open_corpus}_rawcopy" in {c.name for r in read_build(out).results if r.name == one_open_corpus for c in r.configs}

    assert push(out, "--dry-run") == 0
    printed = capsys.readouterr().out
    for path in data_files({f"{restricted}_raw": built[restricted][f"{restricted}_raw"]}):
        assert path not in printed
    (left_out,) = [line for line in printed.splitlines() if line.startswith(f"left out {one_open_corpus} (")]
    assert f"{restricted}: its license does not grant redistribution" in left_out
    assert all(path in printed for path in data_files(built[also_open]))


def test_a_build_report_changed_after_the_build_is_not_pushed(fixture_build, tmp_path, hub, capsys):
    out = copy_of_build(fixture_build, tmp_path)
    report = json.loads((out / "build_report.json").read_text(encoding="utf-8"))
    next(iter(report.values()))["injected"] = SECRET
    (out / "build_report.json").write_text(json.dumps(report), encoding="utf-8")
    assert push(out, "--include-restricted") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "build_report.json was changed after the build" in err
    assert hub.calls == []


def test_a_folder_without_the_build_manifest_is_not_pushed(fixture_build, tmp_path, hub, capsys):
    out = copy_of_build(fixture_build, tmp_path)
    (out / ".chinchilla-build").unlink()
    assert push(out, "--dry-run") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no build manifest (.chinchilla-build)" in err
    assert hub.calls == []
