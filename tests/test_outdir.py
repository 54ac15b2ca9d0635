"""What the build and export write and delete: OUT is written only when it is new, empty or a
previous build; the swap is atomic; stale temporary folders are cleaned; a failed export leaves
the previous files; the command line turns I/O errors and Ctrl-C into one line."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from chinchilla_datasets import outdir
from chinchilla_datasets.cli import main
from chinchilla_datasets.collection import build_collection, bundled_fixtures
from chinchilla_datasets.outdir import MARKER, OutDirRefused

from test_build import tree_digest

QUIET = dict(log=lambda _: None)


def snapshot(folder: Path) -> dict:
    """Every entry under ``folder``: files by bytes and mode, links by target, folders by mode."""
    entries = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            info = os.lstat(path)
            key = str(path.relative_to(folder))
            if stat.S_ISLNK(info.st_mode):
                entries[key] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                entries[key] = ("dir", stat.S_IMODE(info.st_mode))
            else:
                entries[key] = ("file", path.read_bytes(), stat.S_IMODE(info.st_mode))
    return entries


def user_folder(path: Path) -> Path:
    """A folder of someone's work: files at two levels."""
    (path / "chapters").mkdir(parents=True)
    (path / "thesis.tex").write_text("\\section{Results}\n", encoding="utf-8")
    (path / "chapters" / "one.tex").write_bytes(b"\x00\x01 binary draft")
    return path


def git_checkout(path: Path) -> Path:
    """A git checkout named like the default OUT."""
    (path / ".git" / "refs").mkdir(parents=True)
    (path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (path / "README.md").write_text("# chinchilla (my fork)\n")
    (path / "setup.py").write_text("print('hi')\n")
    return path


def raw_folder(tmp_path: Path, corpus: str = "duie") -> Path:
    raw = tmp_path / "raw"
    shutil.copytree(bundled_fixtures() / corpus, raw / corpus)
    return raw


def refused(capsys, argv: list) -> str:
    """Run the command line, expect a refusal; return its one line."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


# ---------------------------------------------------------------- which OUT is refused


@pytest.mark.parametrize("kind", ["user files", "git checkout", "existing file", "foreign marker", "previous build plus a user file"])
def test_out_that_is_not_ours_is_refused_and_nothing_is_lost(tmp_path, capsys, kind):
    raw = raw_folder(tmp_path)
    out = tmp_path / "work" / "chinchilla"
    if kind == "user files":
        user_folder(out)
    elif kind == "git checkout":
        git_checkout(out)
    elif kind == "existing file":
        out.parent.mkdir()
        out.write_text("a file, not a folder")
    elif kind == "foreign marker":
        user_folder(out)
        (out / MARKER).write_text("not json")
    else:
        build_collection(str(raw), str(out), corpora=["duie"], **QUIET)
        (out / "duie_raw" / "my_notes.txt").write_text("mine")
    before = snapshot(tmp_path)
    line = refused(capsys, ["build", "--data-dir", str(raw), "--out", str(out), "--corpus", "duie"])
    assert line.startswith(f"chinchilla build: refusing to write {out}:")
    assert "--out a new or empty folder, or a previous Chinchilla build" in line
    if kind == "previous build plus a user file":
        assert "duie_raw/my_notes.txt" in line
    assert snapshot(tmp_path) == before  # no file moved, renamed, deleted or added (no temp folder)


def test_current_folder_is_refused(tmp_path, capsys, monkeypatch):
    raw = raw_folder(tmp_path)
    work = user_folder(tmp_path / "work")
    empty = tmp_path / "empty"
    empty.mkdir()
    before = snapshot(tmp_path)
    monkeypatch.chdir(work)
    line = refused(capsys, ["build", "--data-dir", str(raw), "--out", ".", "--corpus", "duie"])
    assert str(work) in line
    monkeypatch.chdir(empty)  # even an empty current folder: replacing it would pull it from under the shell
    assert "current folder" in refused(capsys, ["build", "--data-dir", str(raw), "--out", ".", "--corpus", "duie"])
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("where", ["data dir", "inside data dir", "parent of data dir", "linked corpus folder", "link to data dir"])
def test_out_overlapping_the_data_dir_is_refused(tmp_path, capsys, where):
    raw = raw_folder(tmp_path)
    elsewhere = tmp_path / "downloads"
    elsewhere.mkdir()
    shutil.move(raw / "duie", elsewhere / "duie")
    (raw / "duie").symlink_to(elsewhere / "duie", target_is_directory=True)
    out = {
        "data dir": raw,
        "inside data dir": raw / "chinchilla",
        "parent of data dir": tmp_path,
        "linked corpus folder": elsewhere,  # holds a corpus folder the data dir links to
        "link to data dir": tmp_path / "link",
    }[where]
    if where == "link to data dir":
        out.symlink_to(raw, target_is_directory=True)
    before = snapshot(tmp_path)
    line = refused(capsys, ["build", "--data-dir", str(raw), "--out", str(out), "--corpus", "duie"])
    assert "data folder" in line
    assert snapshot(tmp_path) == before


def test_bundled_fixtures_are_the_data_dir_when_none_is_given(capsys):
    fixtures = bundled_fixtures()
    before = snapshot(fixtures)
    for out in (fixtures, fixtures / "duie" / "chinchilla", fixtures.parent):
        assert "data folder" in refused(capsys, ["build", "--out", str(out), "--corpus", "duie"])
    assert snapshot(fixtures) == before


# ---------------------------------------------------------------- what is written


def test_new_and_empty_folders_and_previous_builds_are_written(tmp_path):
    raw = raw_folder(tmp_path)
    shutil.copytree(bundled_fixtures() / "duee", raw / "duee")
    out = tmp_path / "out"
    out.mkdir()  # empty
    build_collection(str(raw), str(out), corpora=["duie"], **QUIET)
    first = tree_digest(out)
    assert any(name.startswith("duie_") for name in first)
    build_collection(str(raw), str(out), corpora=["duee"], **QUIET)  # over the previous build
    second = tree_digest(out)
    assert not any(name.startswith("duie_") for name in second) and any(name.startswith("duee_") for name in second)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "raw"]  # no temporary folder left


def test_manifest_lists_every_file_with_its_hash_and_corpora(tmp_path):
    raw = raw_folder(tmp_path)
    shutil.copytree(bundled_fixtures() / "duee", raw / "duee")
    out = tmp_path / "chinchilla"
    build_collection(str(raw), str(out), corpora=["duie", "duee"], **QUIET)
    marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    assert marker["format"] == outdir.FORMAT and marker["complete"] is True
    digests = tree_digest(out)
    del digests[MARKER]
    assert {path: entry["sha256"] for path, entry in marker["files"].items()} == digests
    for path, entry in marker["files"].items():
        assert entry["bytes"] == (out / path).stat().st_size
        config = path.split("/")[0]
        if path in ("README.md", "build_report.json"):
            assert entry["corpora"] == [], path
        elif config.startswith("all_"):
            assert entry["corpora"] == ["duee", "duie"], path
        else:
            assert entry["corpora"] == [config.rpartition("_")[0]], path


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_out_and_export_permissions_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        out = tmp_path / "chinchilla"
        build_collection(None, str(out), corpora=["duie"], **QUIET)
        assert main(["export", "--data", str(out), "--config", "duie_instruct", "--format", "alpaca", "--out", str(tmp_path / "export")]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((out / "README.md").stat().st_mode) == 0o666 & ~umask
    for path in (tmp_path / "export").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


# ---------------------------------------------------------------- the swap


def exchange_works(folder: Path) -> bool:
    a, b = folder / "probe-a", folder / "probe-b"
    a.mkdir()
    b.mkdir()
    try:
        return outdir._renameat2(a, b, outdir.RENAME_EXCHANGE)
    finally:
        a.rmdir()
        b.rmdir()


def during_swap(monkeypatch, name: str, replacement) -> None:
    """Replace ``os.<name>`` while the build swaps OUT (only then: ``datasets`` renames too)."""
    real_swap = outdir.swap_into_place

    def swap(*args, **kwargs):
        with monkeypatch.context() as patch:
            patch.setattr(os, name, replacement)
            return real_swap(*args, **kwargs)

    monkeypatch.setattr(outdir, "swap_into_place", swap)


def test_rebuild_swaps_with_one_exchange_so_out_never_goes_missing(tmp_path, monkeypatch):
    if not sys.platform.startswith("linux") or not exchange_works(tmp_path):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here; the two-rename fallback is tested below")
    out = tmp_path / "chinchilla"
    build_collection(None, str(out), corpora=["duie"], **QUIET)
    calls = []
    real = outdir._renameat2

    def spy(src, dst, flags):
        calls.append((flags, dst, os.path.isdir(dst)))
        return real(src, dst, flags)

    def no_rename(*args):
        raise AssertionError("OUT was renamed away: there would be a moment without it")

    monkeypatch.setattr(outdir, "_renameat2", spy)
    during_swap(monkeypatch, "rename", no_rename)
    build_collection(None, str(out), corpora=["duee"], **QUIET)
    assert calls == [(outdir.RENAME_EXCHANGE, out, True)]
    assert (out / "duee_raw").is_dir() and not (out / "duie_raw").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chinchilla"]


def test_fallback_swap_killed_between_its_renames_is_undone_at_the_next_run(tmp_path, monkeypatch):
    out = tmp_path / "chinchilla"
    build_collection(None, str(out), corpora=["duie"], **QUIET)
    before = tree_digest(out)
    monkeypatch.setattr(outdir, "_renameat2", lambda *args: False)  # a system without renameat2
    real_rename = os.rename
    calls = []

    def killed_at_second(src, dst):
        calls.append(dst)
        if len(calls) >= 2:  # killed: nothing more runs (not even the attempt to undo)
            raise KeyboardInterrupt
        real_rename(src, dst)

    real_swap = outdir.swap_into_place
    during_swap(monkeypatch, "rename", killed_at_second)
    with pytest.raises(KeyboardInterrupt):
        build_collection(None, str(out), corpora=["duee"], **QUIET)
    monkeypatch.setattr(outdir, "swap_into_place", real_swap)
    assert calls[0].name.startswith(".chinchilla.old-") and calls[1] == out.resolve() and not out.exists()
    assert calls[2] == out.resolve()  # the undo was attempted
    assert [p.name[:15] for p in tmp_path.iterdir()] == [".chinchilla.old"]
    lines = []
    outdir.clean_stale_siblings(out.resolve(), lines.append)
    assert tree_digest(out) == before and lines and lines[0].startswith(f"restored {out.resolve()}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chinchilla"]

    build_collection(None, str(out), corpora=["duee"], **QUIET)  # the fallback swap, completed
    assert (out / "duee_raw").is_dir() and not (out / "duie_raw").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chinchilla"]


def test_fallback_swap_whose_second_rename_fails_puts_the_previous_build_back(tmp_path, monkeypatch, capsys):
    out = tmp_path / "chinchilla"
    build_collection(None, str(out), corpora=["duie"], **QUIET)
    before = tree_digest(out)
    monkeypatch.setattr(outdir, "_renameat2", lambda *args: False)
    real_rename = os.rename
    calls = []

    def second_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(src), None, str(dst))
        real_rename(src, dst)

    during_swap(monkeypatch, "rename", second_fails)
    assert main(["build", "--out", str(out), "--corpus", "duee"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Invalid cross-device link" in err and "Traceback" not in err
    assert tree_digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chinchilla"]


def test_out_changed_during_the_build_is_checked_again_before_the_swap(tmp_path, monkeypatch, capsys):
    out = tmp_path / "chinchilla"
    from chinchilla_datasets import collection

    real = collection.write_card

    def user_drops_a_file(folder, *args):
        user_folder(out)
        real(folder, *args)

    monkeypatch.setattr(collection, "write_card", user_drops_a_file)
    line = refused(capsys, ["build", "--out", str(out), "--corpus", "duie"])
    assert "not empty and not a Chinchilla build" in line
    assert snapshot(out) == snapshot(user_folder(tmp_path / "again"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "chinchilla"]


# ---------------------------------------------------------------- stale siblings


def test_stale_siblings_are_cleaned_only_when_ours_and_not_in_use(tmp_path):
    out = tmp_path / "chinchilla"
    build_collection(None, str(out), corpora=["duee"], **QUIET)
    partial = tmp_path / ".chinchilla.partial-0a1b2c3d4e5f"  # a killed build's folder
    (partial / "duie_raw").mkdir(parents=True)
    (partial / MARKER).write_text(json.dumps({"format": outdir.FORMAT, "complete": False}))
    (partial / "duie_raw" / ".train-00000.parquet.tmp").write_bytes(b"half")
    old = tmp_path / ".chinchilla.old-0a1b2c3d4e5f"  # a previous build, plus a file someone put there
    (old / "duie_raw").mkdir(parents=True)
    (old / "duie_raw" / "train-0123456789abcdef.parquet").write_bytes(b"rows")
    (old / "README.md").write_text("card")
    outdir.write_manifest(old, {"duie_raw/train-0123456789abcdef.parquet": ["duie"]})
    (old / "duie_raw" / "mine.txt").write_text("not written by the build")
    unmarked = user_folder(tmp_path / ".chinchilla.partial-ffffffffffff")  # named like ours, no marker
    other = tmp_path / ".other.partial-0a1b2c3d4e5f"  # another OUT's
    other.mkdir()
    (other / MARKER).write_text(json.dumps({"format": outdir.FORMAT, "complete": False}))
    running = tmp_path / ".chinchilla.partial-aaaaaaaaaaaa"  # a build running now
    running.mkdir()
    (running / MARKER).write_text(json.dumps({"format": outdir.FORMAT, "complete": False}))
    untouched = {p: snapshot(p) for p in (unmarked, other, running)}

    lines = []
    with outdir._locked(running, wait=True):
        build_collection(None, str(out), corpora=["duie"], log=lines.append)
    assert not partial.exists()
    assert set(snapshot(old)) == {"duie_raw", "duie_raw/mine.txt"}  # what the build wrote is gone
    assert (old / "duie_raw" / "mine.txt").read_text() == "not written by the build"
    assert any(line.startswith(f"kept {old}") for line in lines)
    assert {p: snapshot(p) for p in untouched} == untouched
    assert (out / "duie_raw").is_dir()


def test_a_failed_build_removes_its_temporary_folder_and_keeps_out(tmp_path, monkeypatch, capsys):
    out = tmp_path / "chinchilla"
    build_collection(None, str(out), corpora=["duie"], **QUIET)
    before = tree_digest(out)
    from chinchilla_datasets import collection

    def vanish(folder, *args):  # the temporary folder disappears mid-build
        shutil.rmtree(folder)
        Path(folder, "README.md").write_text("card")

    monkeypatch.setattr(collection, "write_card", vanish)
    code = main(["build", "--out", str(out), "--corpus", "duee"])
    err = capsys.readouterr().err
    assert code in (1, 2) and err.count("\n") == 1 and "Traceback" not in err and "No such file or directory" in err
    assert tree_digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chinchilla"]


# ---------------------------------------------------------------- export


def export(data: Path, out: Path, config: str = "duie_instruct", split: str = "train", fmt: str = "alpaca") -> int:
    return main(["export", "--data", str(data), "--config", config, "--split", split, "--format", fmt, "--out", str(out)])


def test_a_failed_export_leaves_the_previous_files_unchanged(fixture_build, tmp_path, capsys, monkeypatch):
    out = tmp_path / "export"
    assert export(fixture_build, out) == 0 and export(fixture_build, out, fmt="sharegpt") == 0
    capsys.readouterr()
    before = snapshot(out)
    assert {"duie_instruct.train.alpaca.jsonl", "dataset_info.json"} <= set(before)
    assert export(fixture_build, out, config="nope_instruct") == 2
    assert export(fixture_build, out, split="nope") == 2
    assert snapshot(out) == before

    from chinchilla_datasets import parquet_io

    real = parquet_io.iter_split

    def disk_full_midway(*args, **kwargs):
        rows = real(*args, **kwargs)
        yield next(rows)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out / "duie_instruct.train.alpaca.jsonl"))

    monkeypatch.setattr(parquet_io, "iter_split", disk_full_midway)
    capsys.readouterr()
    assert export(fixture_build, out) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "Traceback" not in err
    assert snapshot(out) == before  # yesterday's file, not a truncated one; no temporary file left


# ---------------------------------------------------------------- the command line's errors


COMMANDS = {
    "build": (["build", "--corpus", "duie"], "chinchilla_datasets.collection", "build_collection"),
    "push": (["push", "OUT", "--repo-id", "o/n", "--dry-run"], "chinchilla_datasets.publish", "plan_release"),
    "audit": (["audit", "OUT"], "chinchilla_datasets.audit", "audit"),
    # score, export and predict read the built folder's card first (exports.instruct_rows)
    "score": (["score", "--predictions", "p.jsonl", "--data", "OUT", "--config", "duie_instruct"], "chinchilla_datasets.parquet_io", "config_files"),
    "export": (["export", "--data", "OUT", "--config", "duie_instruct", "--format", "alpaca"], "chinchilla_datasets.parquet_io", "config_files"),
    "predict": (["predict", "--data", "OUT", "--config", "duie_instruct", "--endpoint", "http://127.0.0.1:9/v1", "--model", "m"], "chinchilla_datasets.parquet_io", "config_files"),
    "download": (["download", "--data-dir", "raw", "--quiet"], "chinchilla_datasets.download", "download_all"),
}


def failing(error: BaseException):
    def fail(*args, **kwargs):
        raise error

    return fail


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "error, code, words",
    [
        (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/chinchilla/duie_raw/x.parquet"), 1, "No space left on device: /data/chinchilla/duie_raw/x.parquet; free some space"),
        (PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/data/chinchilla"), 1, "Permission denied: /data/chinchilla"),
        (KeyboardInterrupt(), 130, "interrupted"),
        (RuntimeError("a bug"), 1, "unexpected RuntimeError: a bug (rerun with --debug"),
    ],
)
def test_errors_are_one_line_and_debug_shows_the_traceback(command, error, code, words, monkeypatch, capsys, tmp_path):
    import importlib

    argv, module, name = COMMANDS[command]
    argv = [str(tmp_path / "chinchilla") if a == "OUT" else a for a in argv]
    (tmp_path / "chinchilla").mkdir()
    (tmp_path / "chinchilla" / "README.md").write_text("---\n---\n")
    monkeypatch.setattr(importlib.import_module(module), name, failing(error))
    monkeypatch.chdir(tmp_path)
    assert main(argv) == code
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and words in err and "Traceback" not in out + err, err
    assert err.startswith(f"chinchilla {command}: ")
    for debug in (["--debug", *argv], [argv[0], "--debug", *argv[1:]]):
        with pytest.raises(type(error)):
            main(debug)


def test_refusal_is_raised_to_library_callers(tmp_path):
    out = user_folder(tmp_path / "thesis")
    with pytest.raises(OutDirRefused, match="refusing to write"):
        build_collection(None, str(out), corpora=["duie"], **QUIET)


def test_a_refusal_shows_its_traceback_with_debug(tmp_path, capsys):
    out = user_folder(tmp_path / "thesis")
    before = snapshot(tmp_path)
    assert "refusing to write" in refused(capsys, ["build", "--out", str(out), "--corpus", "duie"])
    with pytest.raises(OutDirRefused):
        main(["--debug", "build", "--out", str(out), "--corpus", "duie"])
    assert snapshot(tmp_path) == before


def test_build_pool_workers_ignore_ctrl_c_so_only_the_main_process_reports_it():
    """Ctrl-C reaches every process of the terminal's group: the workers must not each print a
    traceback; the main process stops them and prints one line."""
    import signal

    from chinchilla_datasets.collection import _spawn_pool

    before = signal.getsignal(signal.SIGINT)
    with _spawn_pool(1) as pool:
        assert pool.apply(signal.getsignal, (signal.SIGINT,)) == signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is before
