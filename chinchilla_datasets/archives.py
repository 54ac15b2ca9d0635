"""Reading the official archives of a corpus (``.zip``, ``.tar``, ``.tar.gz``, ``.tgz``) without extracting them.

A downloaded archive is untrusted input. Extracting it (``datasets``' extractor, ``extractall``)
creates whatever it holds: a chain of symbolic links (``y20 -> y19/..``, ..., ``y1 -> .``, then
``duie_dev.json -> y20/<absolute path>``) makes a later read leave the archive; a FIFO member
blocks the first ``open`` forever; a character device reads without end; a member of zeros fills
the disk. So nothing is extracted: :func:`copy_members` opens the archive, takes only REGULAR-file
members whose base name is one of the corpus's file names (the shallowest, then the first by name,
when several have it) and copies their bytes into a folder the caller owns, under that base name.
No link is followed or created, no member name becomes a path, so path traversal (``../x``,
``/etc/x``) cannot happen; such names are skipped all the same, with a note. Links, devices and
FIFOs are skipped with a note; each copied member and the archive's copied total are capped
(``DEFAULT_MAX_ARCHIVE_BYTES``, raised by ``chinchilla build --max-archive-bytes``), counted on
the bytes actually read, not on the sizes the archive claims.

A corrupt or truncated archive raises :class:`~chinchilla_datasets.sources.SourceError` with one
line (``<archive>: not a valid zip (truncated?)``): its corpus fails and the others build.
"""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Collection, Iterator

from .sources import READ_CHUNK, SourceError

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
DEFAULT_MAX_ARCHIVE_BYTES = 4 << 30  # 4 GiB: DuIE's train file, the largest, is about 100 MB
MAX_NOTES = 20  # notes kept per archive (a count of the others follows)
# What a damaged archive raises while it is listed or read (gzip.BadGzipFile: a bad gzip stream).
_CORRUPT = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


@dataclass
class ArchiveContents:
    """What :func:`copy_members` took from an archive: ``files`` (file name -> path of the copy)
    and ``notes`` (one line per member skipped for what it is: a link, device, FIFO, unsafe name)."""

    files: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


@dataclass(frozen=True)
class Member:
    """An archive member as this module sees it: its name, kind and declared size, and how to open it."""

    name: str
    kind: str  # "file", "dir", or what it is when not a regular file ("a symbolic link", "a FIFO", ...)
    size: int
    open: Callable[[], BinaryIO]


def archive_kind(path: str) -> str:
    """``zip``, ``tar.gz`` or ``tar`` from the file name (the names the official downloads use)."""
    name = path.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    return "tar"


def copy_members(archive: str, names: Collection[str], folder: str, max_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES) -> ArchiveContents:
    """Copy the regular-file members of ``archive`` named (base name) as one of ``names`` into
    ``folder`` (created, mode 0700), each as ``folder/<name>``; see the module docstring. A name may
    also be a folder's (CASIE's ``annotation/``): the regular files directly inside the shallowest
    folder of that name are copied into ``folder/<name>/``, under the same caps and skips.
    Raises :class:`SourceError` for a damaged archive or a member past ``max_bytes``."""
    label = os.path.basename(archive)
    kind = archive_kind(archive)
    contents = ArchiveContents()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    try:
        with _open_archive(archive, kind) as members:
            chosen: dict = {}  # base name -> (depth, member)
            folders: dict = {}  # wanted folder name -> {its path in the archive: [member, ...]}
            wanted_notes, other_notes = [], []  # skipped members named as a corpus file come first
            for member in members:
                parts = member.name.replace("\\", "/").split("/")
                base = parts[-1]
                # A regular file directly inside a folder named as a corpus "file" (CASIE's annotation/).
                folder_name = parts[-2] if len(parts) > 1 and parts[-2] in names and base not in names else None
                wanted = base in names or folder_name is not None
                if member.kind == "dir" or (member.kind == "file" and not wanted):
                    continue
                notes = wanted_notes if wanted else other_notes
                if member.kind != "file":
                    notes.append(f"{label}: {member.name}: {member.kind}, skipped (only regular files are read)")
                elif member.name.startswith(("/", "\\")) or ".." in parts or (len(parts[0]) == 2 and parts[0][1] == ":"):
                    notes.append(f"{label}: {member.name}: a path outside the archive, skipped")
                elif folder_name is not None:
                    folders.setdefault(folder_name, {}).setdefault("/".join(parts[:-1]), []).append(member)
                else:
                    depth = (len(parts), member.name)
                    if base not in chosen or depth < chosen[base][0]:
                        chosen[base] = (depth, member)
            contents.notes = wanted_notes + other_notes
            total = 0
            for base, (_, member) in sorted(chosen.items()):
                if member.size > max_bytes or total + member.size > max_bytes:
                    raise SourceError(_too_big(label, member.name, max_bytes))
                target = os.path.join(folder, base)
                total += copy_member(member, target, label, max_bytes - total)
                contents.files[base] = target
            for name, found in sorted(folders.items()):
                if name in contents.files:  # a regular file of that name was taken already
                    continue
                # The shallowest folder of that name (then the first by path), as for files.
                _, inside = min(found.items(), key=lambda item: (item[0].count("/"), item[0]))
                target_folder = os.path.join(folder, name)
                os.makedirs(target_folder, mode=0o700, exist_ok=True)
                for member in sorted(inside, key=lambda m: m.name):
                    if total + member.size > max_bytes:
                        raise SourceError(_too_big(label, member.name, max_bytes))
                    base = member.name.replace("\\", "/").split("/")[-1]
                    total += copy_member(member, os.path.join(target_folder, base), label, max_bytes - total)
                contents.files[name] = target_folder
    except _CORRUPT as err:
        raise SourceError(f"{label}: not a valid {kind} (truncated?): {type(err).__name__}: {err}") from err
    except _ReadError as err:  # (an error writing the copy, e.g. a full disk, is not the archive's: it propagates)
        raise SourceError(f"{label}: cannot read: {err.__cause__.strerror or err.__cause__}") from err.__cause__
    if len(contents.notes) > MAX_NOTES:
        contents.notes[MAX_NOTES:] = [f"{label}: {len(contents.notes) - MAX_NOTES} more members skipped (links, devices, FIFOs or unsafe names)"]
    return contents


class _ReadError(Exception):
    """An OSError while reading the archive (its cause), told apart from one while writing a copy."""


def _read(source: BinaryIO) -> bytes:
    try:
        return source.read(READ_CHUNK)
    except _CORRUPT:
        raise
    except OSError as err:
        raise _ReadError() from err


def _too_big(label: str, member: str, max_bytes: int) -> str:
    return (
        f"{label}: {member}: more than {max_bytes} bytes decompressed (the limit); "
        "raise it with `chinchilla build --max-archive-bytes N` if the archive is trusted"
    )


def copy_member(member: Member, target: str, label: str, budget: int) -> int:
    """Copy ``member``'s bytes to ``target`` (a new file, never through a link), stopping past ``budget``."""
    written = 0
    if os.path.lexists(target):
        os.unlink(target)
    # O_EXCL | O_NOFOLLOW: the copy is a new regular file, whatever was at its name.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as out, member.open() as source:
        while chunk := _read(source):
            written += len(chunk)
            if written > budget:
                raise SourceError(_too_big(label, member.name, budget))
            out.write(chunk)
    return written


@contextmanager
def _open_archive(path: str, kind: str) -> Iterator[list]:
    """The archive's members as :class:`Member` s, while it is open."""
    try:
        if kind == "zip":
            handle = zipfile.ZipFile(path)
            members = [_zip_member(handle, info) for info in handle.infolist()]
        else:
            handle = tarfile.open(path, "r:*")  # (a .tar that is gzipped, a .tgz that is not: both read)
            members = [_tar_member(handle, info) for info in handle.getmembers()]
            # tarfile ends its listing quietly where the file is cut between two members: a
            # complete tar ends with a block of zeros after its last member.
            handle.fileobj.seek(handle.offset)
            if handle.fileobj.read(tarfile.BLOCKSIZE) != bytes(tarfile.BLOCKSIZE):
                raise tarfile.ReadError(f"no end-of-archive block after {len(members)} members")
    except _CORRUPT:
        raise
    except OSError as err:
        raise _ReadError() from err
    try:
        yield members
    finally:
        handle.close()


_TAR_KINDS = {
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO",
}


def _tar_member(tar: tarfile.TarFile, info: tarfile.TarInfo) -> Member:
    if info.isfile():
        kind = "file"
    elif info.isdir():
        kind = "dir"
    else:
        kind = _TAR_KINDS.get(info.type, f"a member of tar type {info.type!r}")
    # extractfile of a regular member reads its own data, never a link target.
    return Member(info.name, kind, info.size, lambda: tar.extractfile(info))


def _zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Member:
    mode = info.external_attr >> 16
    if info.is_dir():
        kind = "dir"
    elif info.create_system == 3 and stat.S_IFMT(mode) and not stat.S_ISREG(mode):  # a Unix mode saying "not a file"
        kind = {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}.get(
            stat.S_IFMT(mode), "a special file"
        )
    elif info.flag_bits & 0x1:
        kind = "an encrypted file"
    else:
        kind = "file"
    return Member(info.filename, kind, info.file_size, lambda: archive.open(info))


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)

