"""Where Chinchilla writes: the build folder OUT, its marker and manifest, and atomic replacement.

What is promised (docs/security.md, "What Chinchilla writes, deletes and uploads"):

- ``build --out OUT`` writes only into a folder it creates, an empty folder, or a previous build:
  a folder holding the marker ``.chinchilla-build`` and no file its manifest does not list.
  Anything else is refused with one line (:class:`OutDirRefused`) before any work, and again
  just before the swap. OUT may not be, hold or sit inside the data folder (or a corpus folder
  it links to), nor be or hold the current folder.
- The build is written into a sibling ``.<name>.partial-<random>`` folder created with the
  umask's permissions (``tempfile.mkdtemp`` would make it 0700) and locked (``flock``) while the
  build runs. When complete, the marker becomes the manifest (format version, package version,
  relative path, size, sha256 and source corpora of every file written) and the folder is put in
  place. On Linux that is one ``renameat2(RENAME_EXCHANGE)``: OUT is never missing, not even
  for an instant. Where that call is not available (another OS, a filesystem without it) it is
  two renames, old OUT to ``.<name>.old-<random>`` and the new folder to OUT; a run killed
  between the two is undone at the next run (the old build is renamed back).
- The previous build is deleted only after the swap and only file by file from its own manifest;
  a file it does not list is kept, with its folder, and named in one line.
- Stale ``.<name>.partial-*`` / ``.<name>.old-*`` siblings of a killed run are removed at the next
  run, only when they carry the marker and no running build holds their lock.

:func:`atomic_file` is the same promise for one file (``chinchilla export``): a temporary file in
the target folder, renamed over the target only when complete.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import posixpath
import re
import secrets
import shutil
import stat
import sys
from contextlib import contextmanager
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Callable, Iterator, Optional

from . import __version__

MARKER = ".chinchilla-build"
FORMAT = 1  # of the marker; a reader refuses a format it does not know
WHAT_TO_DO = "--out a new or empty folder, or a previous Chinchilla build"


class OutDirRefused(ValueError):
    """OUT may not be written; the message is one line naming the path and what to do."""


def current_umask() -> int:
    """The process umask, read without changing it where the system allows (``/proc``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------- marker and manifest


def read_marker(folder: Path) -> Optional[dict]:
    """The marker of ``folder`` as a dict, or None when it has none (or one that is not ours:
    a link, not JSON, or another format)."""
    path = Path(folder) / MARKER
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        marker = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("format") != FORMAT:
        return None
    return marker


def write_marker(folder: Path, marker: dict) -> None:
    (Path(folder) / MARKER).write_text(json.dumps(marker, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def manifest_files(marker: Optional[dict]) -> Optional[dict]:
    """``{relative path: {"sha256", "bytes", "corpora"}}`` of a complete build's marker, else None."""
    if not marker or marker.get("complete") is not True or not isinstance(marker.get("files"), dict):
        return None
    return marker["files"]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(folder: Path, file_corpora: dict) -> None:
    """Turn the marker of a finished build into its manifest: every file under ``folder`` (all
    written by this build, which created the folder), with its size, sha256 and the corpora whose
    rows it holds (``file_corpora``: relative path -> corpus names; other files, e.g. the card,
    hold none). No timestamp: the same input gives the same bytes."""
    folder = Path(folder)
    files = {}
    for path in sorted(_files_under(folder)):
        rel = path.relative_to(folder).as_posix()
        if rel == MARKER:
            continue
        files[rel] = {"bytes": path.stat().st_size, "sha256": sha256_of(path), "corpora": sorted(file_corpora.get(rel, ()))}
    write_marker(folder, {"format": FORMAT, "complete": True, "chinchilla_version": __version__, "files": files})


def file_corpora(corpus_outputs: list, mixture_configs: list) -> dict:
    """Relative path -> the corpora whose rows the file holds, from what the build wrote: a
    corpus's configs hold that corpus; a mixture config's split holds every corpus that has a
    config of the same view with that split (the mixture takes rows of each)."""
    corpora = {}
    for output in corpus_outputs:
        for config in output.configs:
            for entry in config.splits.values():
                for path in entry["paths"]:
                    corpora[path] = [output.name]
    for mixture in mixture_configs:
        for split, entry in mixture.splits.items():
            names = sorted({o.name for o in corpus_outputs for c in o.configs if c.view == mixture.view and split in c.splits})
            for path in entry["paths"]:
                corpora[path] = names
    return corpora


def _files_under(folder: Path) -> Iterator[Path]:
    """Every non-directory entry under ``folder`` (links included, never followed)."""
    for root, dirs, files in os.walk(folder):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            yield Path(root) / name


def unwritten_file(out: Path, path, files: dict, data_file: bool = True) -> Optional[str]:
    """Why ``path`` (a data file a card lists) is not one the build of ``out`` wrote as a data
    file, or None when it is: a relative path inside ``out``, listed in the manifest ``files``
    (``data_file``: with the corpora it holds), a regular file (not a link) of the recorded size
    and sha256."""
    if not isinstance(path, str) or not path:
        return "is not a path"
    if PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute() or PureWindowsPath(path).drive:
        return "is an absolute path, not a file of the build folder"
    if ".." in PurePosixPath(path).parts or "\\" in path:
        return "leaves the build folder"
    if not _safe_relative(path) or path not in files:
        return f"is not a file this build wrote (not in its {MARKER} manifest)"
    entry = files[path]
    if not isinstance(entry, dict) or (data_file and not entry.get("corpora")):
        return "is not a data file of this build"
    root = os.path.realpath(out)
    target = Path(out) / path
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return "is missing from the build folder"
    if not stat.S_ISREG(info.st_mode) or os.path.commonpath([root, os.path.realpath(target)]) != root:
        return "is a link or not a regular file inside the build folder"
    if info.st_size != entry.get("bytes") or sha256_of(target) != entry.get("sha256"):
        return "was changed after the build (its size or sha256 differs from the manifest)"
    return None


# ---------------------------------------------------------------- may OUT be written?


def claim_out(out: str, data_root: Path, log: Callable[[str], None] = print) -> Path:
    """The resolved OUT when it may be written (else :class:`OutDirRefused`); also cleans the
    stale siblings of a killed run."""
    out_path = Path(out).resolve()
    check_out(out_path, data_root)
    clean_stale_siblings(out_path, log)
    check_out(out_path, data_root)  # again: the cleaning may have restored OUT from a killed swap
    return out_path


def check_out(out_path: Path, data_root: Optional[Path]) -> None:
    """Raise :class:`OutDirRefused` unless the build may replace ``out_path`` (resolved)."""

    def refuse(why: str) -> None:
        raise OutDirRefused(f"refusing to write {out_path}: {why}; {WHAT_TO_DO}")

    if data_root is not None:
        roots = [Path(data_root).resolve()]
        if roots[0].is_dir():  # corpus folders may be links to elsewhere
            roots += [child.resolve() for child in sorted(Path(data_root).iterdir()) if child.is_dir()]
        for root in roots:
            if out_path == root:
                refuse(f"it is the data folder {root}")
            if root in out_path.parents:
                refuse(f"it is inside the data folder {root}")
            if out_path in root.parents:
                refuse(f"it holds the data folder {root}")
    cwd = Path.cwd().resolve()
    if out_path == cwd or out_path in cwd.parents:
        refuse("it is (or holds) the current folder, which the build would replace")
    try:
        mode = os.lstat(out_path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):
        refuse("it exists and is not a folder")
    entries = os.listdir(out_path)
    if not entries:
        return
    files = manifest_files(read_marker(out_path))
    if files is None:
        if MARKER in entries:
            refuse(f"its {MARKER} marker is not that of a complete build of this Chinchilla version")
        older = " (a build of an older Chinchilla? remove it yourself)" if {"README.md", "build_report.json"} <= set(entries) else ""
        refuse(f"it is a folder that is not empty and not a Chinchilla build (no {MARKER}){older}")
    for path in sorted(_files_under(out_path)):
        rel = path.relative_to(out_path).as_posix()
        if rel != MARKER and (rel not in files or not stat.S_ISREG(os.lstat(path).st_mode)):
            refuse(f"it holds {rel}, which no Chinchilla build wrote (move it elsewhere first)")


# ---------------------------------------------------------------- siblings and removal

SIBLING = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-[0-9a-z_]+$")


def sibling(out_path: Path, kind: str) -> Path:
    return out_path.with_name(f".{out_path.name}.{kind}-{secrets.token_hex(6)}")


def make_sibling(out_path: Path, kind: str) -> Path:
    """A new empty sibling folder of OUT, with the umask's permissions (``mkdir`` applies it)."""
    while True:
        path = sibling(out_path, kind)
        try:
            os.mkdir(path, 0o777)
            return path
        except FileExistsError:
            continue


def clean_stale_siblings(out_path: Path, log: Callable[[str], None] = print) -> None:
    """Remove the ``.<name>.partial-*`` / ``.<name>.old-*`` folders a killed run left beside OUT:
    only real folders (not links) carrying our marker and not locked by a running build. When
    OUT itself is missing (a run killed between the two renames of the fallback swap), the
    newest complete old build is renamed back to OUT first."""
    parent = out_path.parent
    if not parent.is_dir():
        return
    stale = []
    for entry in os.scandir(parent):
        match = SIBLING.match(entry.name)
        if match and match["name"] == out_path.name and entry.is_dir(follow_symlinks=False) and read_marker(Path(entry.path)) is not None:
            stale.append(Path(entry.path))
    if not os.path.lexists(out_path):
        olds = [p for p in stale if ".old-" in p.name and manifest_files(read_marker(p)) is not None]
        if olds:
            newest = max(olds, key=lambda p: p.stat().st_mtime)
            os.rename(newest, out_path)
            log(f"restored {out_path} from {newest.name} (a previous run was stopped while replacing it)")
            stale.remove(newest)
    for path in stale:
        with _locked(path, wait=False) as held:
            if held:
                discard(path, log)


@contextmanager
def _locked(folder: Path, wait: bool) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``folder``; yields whether it is held. Without ``fcntl``
    (Windows) nothing is locked and the lock counts as held."""
    try:
        import fcntl
    except ImportError:
        yield True
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def discard(folder: Path, log: Callable[[str], None] = print) -> None:
    """Delete a folder the build wrote: a complete build file by file from its manifest (then its
    empty folders), an unfinished one (marker without manifest, only ever a hidden sibling this
    package created) whole. An empty folder without marker (a user's empty OUT, swapped out) is
    removed with ``rmdir``. Whatever else is there is kept and named in one line."""
    marker = read_marker(folder)
    files = manifest_files(marker)
    if marker is not None and files is None:
        shutil.rmtree(folder, ignore_errors=True)
        return
    if files is not None:
        real = os.path.realpath(folder)
        for rel in files:
            target = folder / rel
            # Only a file whose folder is really inside the build: a sub-folder replaced by a
            # link to elsewhere must not make us delete a file there.
            if _safe_relative(rel) and os.path.realpath(target.parent) == os.path.join(real, *PurePosixPath(rel).parts[:-1]):
                if not os.path.isdir(target) or os.path.islink(target):
                    _unlink_quietly(target)
        _unlink_quietly(folder / MARKER)
        for root, dirs, _ in os.walk(folder, topdown=False):
            for name in dirs:
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    try:
                        os.rmdir(path)
                    except OSError:
                        pass
    try:
        os.rmdir(folder)
    except FileNotFoundError:
        pass
    except OSError:
        log(f"kept {folder}: it holds files no Chinchilla build wrote")


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _safe_relative(rel: str) -> bool:
    """Whether ``rel`` is a plain relative path that stays inside its folder."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\x00" in rel:
        return False
    if PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).drive:
        return False
    return ".." not in PurePosixPath(rel).parts and posixpath.normpath(rel) == rel


# ---------------------------------------------------------------- staging and the swap


@contextmanager
def staging(out_path: Path) -> Iterator[Path]:
    """A new ``.<name>.partial-*`` sibling of OUT, marked and locked while the block runs;
    removed if the block fails (or is interrupted)."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_sibling(out_path, "partial")
    write_marker(tmp, {"format": FORMAT, "complete": False, "chinchilla_version": __version__})
    with _locked(tmp, wait=True):
        try:
            yield tmp
        except BaseException:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            raise


def swap_into_place(new: Path, out_path: Path, data_root: Optional[Path], log: Callable[[str], None] = print) -> None:
    """Put the finished build ``new`` at ``out_path``; then delete the previous one (see module doc)."""
    check_out(out_path, data_root)  # OUT may have changed during the build
    if not os.path.lexists(out_path):
        if not _renameat2(new, out_path, RENAME_NOREPLACE):
            os.rename(new, out_path)
        return
    if _renameat2(new, out_path, RENAME_EXCHANGE):
        previous = new  # the exchange left the previous OUT at the sibling's name
    else:
        previous = sibling(out_path, "old")
        os.rename(out_path, previous)
        try:
            os.rename(new, out_path)
        except BaseException:
            os.rename(previous, out_path)  # put the previous build back (a kill here: the next run does)
            raise
    discard(previous, log)


AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """``renameat2(src, dst, flags)``; False when this system or filesystem does not offer it
    (not Linux, glibc < 2.28, kernel < 3.15, a filesystem without the flag), so the caller falls
    back to ``rename``. Any other failure is raised as the ``OSError`` it is."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        call = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    call.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    call.restype = ctypes.c_int
    if call(AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(error, os.strerror(error), str(src), None, str(dst))


# ---------------------------------------------------------------- one file


@contextmanager
def atomic_file(path: Path, mode: str = "w", encoding: Optional[str] = "utf-8") -> Iterator:
    """Write ``path`` through a temporary file in its folder, renamed over ``path`` only when the
    block completes; if it fails the temporary file is removed and ``path`` is left as it was.
    The new file gets the umask's permissions (not the 0600 of ``mkstemp``)."""
    path = Path(path)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
            break
        except FileExistsError:
            continue
    try:
        with open(fd, mode, encoding=encoding if "b" not in mode else None) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
