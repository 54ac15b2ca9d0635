"""Publishing a built folder to the HuggingFace Hub: every config and split as one multi-config
dataset, in one commit per release.

The Hub copy has the local layout (``<config>/<split>-<fingerprint>.parquet``, or
``<config>/<split>-00000-of-00003-<fingerprint>.parquet``, ... for a split written as several files,
``README.md``, ``build_report.json``), so ``load_dataset("ORG/NAME", config)`` reads it as ``load_dataset("chinchilla",
config)`` reads the local folder. Corpora whose license does not grant redistribution
(``Corpus.redistributable`` false: LUGE, BosonNLP, corpora without a stated data license) are left
out unless ``include_restricted``; the card is then re-rendered for the configs published, its YAML
listing only those and its body naming the ones left out and why.

Data files of an earlier release that this one does not list (``<config>/<split>[-<shard>-of-<n>]-<fingerprint>.parquet``)
are deleted in the same commit: a config no longer published must not stay downloadable.
Only files the build wrote are uploaded: every data file the card lists is checked against the
build's manifest (``outdir``; relative path inside the folder, a regular file, same size and
sha256); a config with any other file (an absolute path, ``../``, a link, a changed file, one the
build did not write) is left out with a line saying why. The licence gate reads which corpora a
file holds from the manifest (recorded when the build wrote it) and from the rows' ``corpus``
column, never from config names, so every view of a restricted corpus, and every mixture holding
its rows, is gated.
The Hub is reached only through the ``api`` object (``huggingface_hub.HfApi`` by default, with the
token of ``hf auth login`` or ``HF_TOKEN`` unless one is given), which tests replace with a fake.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import pyarrow.parquet as pq

from .card import CARD_FILE, Exclusion, read_build, render_card
from .outdir import MARKER, manifest_files, read_marker, unwritten_file
from .outputs import REPORT_FILE, split_paths
from .registry import get_builder

REPO_TYPE = "dataset"
# The data files Chinchilla writes; only these are ever deleted from the Hub repository.
DATA_FILE = re.compile(r"^[^/]+/[^/]+-[0-9a-f]{16}\.parquet$")


class NothingToPublish(ValueError):
    """Every config of the build is restricted and ``include_restricted`` was not given."""


@dataclass(frozen=True)
class ReleaseFile:
    path_in_repo: str
    source: Union[Path, bytes]  # a local file, or generated content (card, report)
    config: Optional[str] = None
    split: Optional[str] = None
    rows: Optional[int] = None

    @property
    def size(self) -> int:
        return len(self.source) if isinstance(self.source, bytes) else self.source.stat().st_size


@dataclass(frozen=True)
class Release:
    """What one push uploads, and what it leaves out."""

    out: Path
    files: tuple  # ReleaseFile: the card, the report, then every data file
    configs: tuple  # config names published
    excluded: tuple  # Exclusion
    restricted: tuple  # corpora published although restricted (include_restricted)
    version: str  # of the package that built OUT
    refused: tuple = ()  # Exclusion: corpora left out for a data file the build did not write

    @property
    def paths(self) -> list:
        return [f.path_in_repo for f in self.files]

    def commit_message(self) -> str:
        return f"Chinchilla {self.version}: {len(self.configs)} configs"

    def commit_description(self) -> str:
        lines = ["Configs: " + ", ".join(self.configs)]
        for exclusion in self.excluded:
            lines.append(f"Not published: {', '.join(exclusion.configs)} ({exclusion.reason})")
        return "\n".join(lines)

    def describe(self) -> str:
        """The files, one a line, and the configs left out (the dry run's output)."""
        lines = []
        for f in self.files:
            what = f"config {f.config}, split {f.split}, {f.rows:,} rows" if f.config else "generated"
            lines.append(f"  {f.path_in_repo}  ({what}; {_human_size(f.size)})")
        for exclusion in self.refused + self.excluded:
            lines.append(f"left out {exclusion.corpus} ({', '.join(exclusion.configs)}): {exclusion.reason}")
        return "\n".join(lines)


def plan_release(out: Union[str, Path], *, include_restricted: bool = False, repo_id: Optional[str] = None) -> Release:
    """The files a push of ``out`` uploads: the card re-rendered for the configs published, the build
    report of their corpora, and their Parquet files under the same paths as in ``out``."""
    out = Path(out)
    if not (out / CARD_FILE).is_file():
        raise FileNotFoundError(f"{out} is not a built folder (no {CARD_FILE}); run `chinchilla build --out {out}` first")
    files_written = manifest_files(read_marker(out))
    if files_written is None:
        raise FileNotFoundError(
            f"{out} has no build manifest ({MARKER}), so which files the build wrote cannot be checked; "
            f"rebuild it with `chinchilla build --out {out}`"
        )
    changed = unwritten_file(out, REPORT_FILE, files_written, data_file=False)
    if changed:  # its counts and rejected lines are uploaded
        raise NothingToPublish(f"{out / REPORT_FILE} {changed}; rebuild with `chinchilla build --out {out}`")
    build = read_build(out)
    kept, excluded, restricted, refused = [], [], [], []
    for result in build.results:
        problems = [(path, why) for config in result.configs for entry in config.splits.values()
                    for path in split_paths(entry) for why in [unwritten_file(out, path, files_written)] if why]
        if problems:
            path, why = problems[0]
            refused.append(Exclusion(corpus=result.name, configs=tuple(c.name for c in result.configs), reason=f"data file {path!r} {why}"))
            continue
        reason = restriction(out, result, files_written)
        if reason is None or include_restricted:
            kept.append(result)
            if reason is not None:
                restricted.append(result.name)
        else:
            excluded.append(Exclusion(corpus=result.name, configs=tuple(c.name for c in result.configs), reason=reason))
    if not kept and not excluded:
        raise NothingToPublish(f"nothing to publish: no config of {out} has only files the build wrote ({refused[0].reason})")
    if not kept:
        names = ", ".join(e.corpus for e in excluded)
        raise NothingToPublish(
            f"nothing to publish: every corpus in {out} ({names}) has a license that does not grant "
            "redistribution; pass --include-restricted only if you hold the rights to publish them"
        )
    card = render_card(out, kept, build.skipped, excluded=excluded, repo_id=repo_id, version=build.version)
    report = {r.name: r.report for r in kept}
    files = [
        ReleaseFile(CARD_FILE, card.encode("utf-8")),
        ReleaseFile(REPORT_FILE, json.dumps(report, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")),
    ]
    configs = []
    for result in kept:
        for config in result.configs:
            configs.append(config.name)
            for split, entry in config.splits.items():
                for path in split_paths(entry):
                    rows = pq.ParquetFile(out / path).metadata.num_rows
                    files.append(ReleaseFile(path, out / path, config.name, split, rows))
    return Release(
        out=out,
        files=tuple(files),
        configs=tuple(configs),
        excluded=tuple(excluded),
        restricted=tuple(restricted),
        version=build.version,
        refused=tuple(refused),
    )


def restriction(out: Path, result, files_written: Optional[dict] = None) -> Optional[str]:
    """Why the configs of ``result`` (a ``CorpusOutput``) may not be redistributed, or None when they may.

    The corpora are those the build's manifest records for the configs' files (``files_written``)
    plus those of the rows' ``corpus`` column: a raw view is gated by the corpus it was built
    from whatever the config is called, and a config mixing corpora (``all_*``) is restricted as
    soon as one of them is. (Without a manifest, a file without ``corpus`` column counts as the
    config's corpus.)"""
    names = sorted(set().union(*(corpora_in(out, config, files_written) for config in result.configs)))
    reasons = {}
    for name in names:
        try:
            corpus = get_builder(name).corpus
        except KeyError:
            reasons[name] = "not a corpus this version of Chinchilla knows, so its license cannot be checked"
            continue
        if not corpus.redistributable:
            reasons[name] = f"its license does not grant redistribution (as stated: {corpus.license})"
    if not reasons:
        return None
    if names == [result.name]:
        return reasons[result.name]
    return "mixes rows of corpora that may not be redistributed: " + "; ".join(f"{n}: {r}" for n, r in reasons.items())


def corpora_in(out: Path, config, files_written: Optional[dict] = None) -> set:
    """The corpora whose rows a config holds: per file, those the manifest records and those of
    its ``corpus`` column."""
    names = set()
    for entry in config.splits.values():
        for path in split_paths(entry):
            if files_written is not None:
                names.update(files_written[path]["corpora"])
            if "corpus" in pq.ParquetFile(out / path).schema_arrow.names:
                names.update(pq.read_table(out / path, columns=["corpus"]).column("corpus").unique().to_pylist())
            elif files_written is None:
                names.add(config.corpus)
    return names


def push_release(
    release: Release,
    repo_id: str,
    *,
    api=None,
    private: bool = False,
    revision: Optional[str] = None,
    tag: Optional[str] = None,
    token: Optional[str] = None,
):
    """Upload ``release`` to the dataset repository ``repo_id`` in one commit; returns its ``CommitInfo``.

    The repository is created if needed (``private`` applies only then); a ``revision`` branch is
    created from main if missing; ``tag`` marks the commit and must not exist yet (checked first,
    so a taken tag leaves the repository untouched).
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    if api is None:
        api = HfApi(token=token)
    api.create_repo(repo_id, repo_type=REPO_TYPE, private=True if private else None, exist_ok=True)
    if tag and tag in {ref.name for ref in api.list_repo_refs(repo_id, repo_type=REPO_TYPE).tags}:
        raise ValueError(f"tag {tag!r} already exists in {repo_id}; releases are tagged once")
    if revision:
        api.create_branch(repo_id, branch=revision, repo_type=REPO_TYPE, exist_ok=True)
    stale = stale_data_files(api.list_repo_files(repo_id, repo_type=REPO_TYPE, revision=revision), release)
    operations = [
        CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=f.source if isinstance(f.source, bytes) else str(f.source))
        for f in release.files
    ] + [CommitOperationDelete(path_in_repo=path) for path in stale]
    commit = api.create_commit(
        repo_id,
        operations,
        commit_message=release.commit_message(),
        commit_description=release.commit_description(),
        repo_type=REPO_TYPE,
        revision=revision,
    )
    if tag:
        api.create_tag(repo_id, tag=tag, tag_message=release.commit_message(), revision=commit.oid, repo_type=REPO_TYPE)
    return commit


def stale_data_files(repo_files: list, release: Release) -> list:
    """Chinchilla data files in the repository that ``release`` does not upload."""
    current = set(release.paths)
    return sorted(path for path in repo_files if DATA_FILE.match(path) and path not in current)


def _human_size(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
