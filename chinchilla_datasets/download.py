"""``chinchilla download``: fetch the corpora that have a public copy into ``RAW/<corpus>/``.

Each corpus's ``Corpus.urls`` maps its official file names to URLs pinned to a commit. A file is
streamed to ``<name>.part`` beside its final place, hashed while it arrives, and renamed to its
official name only once complete and verified, so an interrupted or failed download never leaves a
file the builders would read. A ``.part`` left by an interrupted run is resumed with an HTTP
``Range`` request (a server that ignores the range sends the whole file again, and it is restarted).

Verification: against ``Corpus.sha256`` where the project pins a digest, else against the digest
recorded in ``RAW/<corpus>/SHA256SUMS`` by the first download (trust on first use: a later
re-download, e.g. after the file was deleted, must match it). A mismatch is one clear error; the
downloaded bytes are deleted. ``SHA256SUMS`` uses ``sha256sum``'s format, so
``sha256sum -c SHA256SUMS`` checks a folder by hand.

Corpora behind a registration (LUGE, CBLUE/Tianchi) have no URL: for them the command prints where
to register and which files to put where. Only ``RAW/<corpus>/`` folders are written.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import httpx
from tqdm.auto import tqdm

from .corpus import Corpus

CHECKSUMS = "SHA256SUMS"
CHUNK = 1 << 20
TIMEOUT = httpx.Timeout(60.0, connect=20.0)


class DownloadError(Exception):
    """A file could not be fetched or verified; the message is one line naming the file."""


@dataclass
class Fetched:
    name: str
    sha256: str
    status: str  # "downloaded", "resumed", "verified" (already present)


def read_checksums(folder: Path) -> dict:
    """``{file name: sha256}`` from ``folder/SHA256SUMS`` (missing file: empty)."""
    path = folder / CHECKSUMS
    sums = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            digest, _, name = line.partition("  ")
            if len(digest) == 64 and name:
                sums[name.lstrip("*")] = digest
    return sums


def write_checksums(folder: Path, sums: dict) -> None:
    tmp = folder / f".{CHECKSUMS}.tmp"
    tmp.write_text("".join(f"{sums[name]}  {name}\n" for name in sorted(sums)), encoding="utf-8")
    os.replace(tmp, folder / CHECKSUMS)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_file(client: httpx.Client, url: str, dest: Path, expected: Optional[str], progress: bool = True) -> Fetched:
    """Download ``url`` to ``dest`` through ``dest.part`` (resumed when present); verify against
    ``expected`` (when given) before the rename. Raises :class:`DownloadError`."""
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    digest = hashlib.sha256()
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code == 416 and offset:  # the part is already whole (or longer)
                response.close()
                part.unlink()
                return fetch_file(client, url, dest, expected, progress)
            if response.status_code not in (200, 206):
                raise DownloadError(f"{dest.name}: HTTP {response.status_code} from {url}")
            resumed = response.status_code == 206 and offset > 0
            if resumed:
                with open(part, "rb") as f:  # the bytes already here count towards the digest
                    for chunk in iter(lambda: f.read(CHUNK), b""):
                        digest.update(chunk)
            else:
                offset = 0
            length = response.headers.get("content-length")
            total = offset + int(length) if length and length.isdigit() else None
            with open(part, "ab" if resumed else "wb") as out, tqdm(
                total=total, initial=offset, unit="B", unit_scale=True, desc=dest.name, disable=not progress, leave=False
            ) as bar:
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except httpx.HTTPError as err:
        # The part is kept: the next run resumes it.
        raise DownloadError(f"{dest.name}: {type(err).__name__} fetching {url}: {err}") from err
    actual = digest.hexdigest()
    if expected and actual != expected:
        part.unlink()
        raise DownloadError(f"{dest.name}: checksum mismatch (sha256 {actual[:12]}…, expected {expected[:12]}…); the download was deleted")
    os.replace(part, dest)
    return Fetched(dest.name, actual, "resumed" if resumed else "downloaded")


def download_corpus(
    corpus: Corpus,
    raw: Path,
    client: Optional[httpx.Client] = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> list:
    """Fetch every file of ``corpus.urls`` into ``raw/<corpus.name>/``; return the files fetched or
    verified. Raises :class:`DownloadError` on the first file that fails (files done so far stay)."""
    folder = Path(raw) / corpus.name
    folder.mkdir(parents=True, exist_ok=True)
    recorded = read_checksums(folder)
    own_client = client is None
    client = client or httpx.Client(follow_redirects=True, timeout=TIMEOUT)
    done = []
    try:
        for name, url in corpus.urls.items():
            dest = folder / name
            expected = corpus.sha256.get(name) or recorded.get(name)
            if dest.is_file() and expected:
                actual = sha256_of(dest)
                if actual == expected:
                    done.append(Fetched(name, actual, "verified"))
                    continue
                raise DownloadError(
                    f"{dest}: present but its sha256 {actual[:12]}… is not the expected {expected[:12]}…; "
                    "move it away to download it again"
                )
            fetched = fetch_file(client, url, dest, expected, progress)
            recorded[name] = fetched.sha256
            write_checksums(folder, recorded)
            log(f"{corpus.name}: {fetched.status} {name} (sha256 {fetched.sha256[:12]}…)")
            done.append(fetched)
    finally:
        if own_client:
            client.close()
    return done


def registration_message(corpus: Corpus, raw: Path) -> str:
    """Where to register for a corpus without a public copy, and where its files go."""
    return (
        f"{corpus.name}: needs registration at {corpus.homepage} ; download it there and put "
        + ", ".join(corpus.expected_files())
        + f" (or the official archive) in {Path(raw) / corpus.name}/"
    )


def download_all(corpora: list, raw: Path, progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """Fetch each corpus with URLs, print registration notes for the others. Returns
    ``{"downloaded": [...], "manual": [...], "failed": {name: message}}``."""
    summary: dict = {"downloaded": [], "manual": [], "failed": {}}
    with httpx.Client(follow_redirects=True, timeout=TIMEOUT) as client:
        for corpus in corpora:
            if not corpus.urls:
                log(registration_message(corpus, raw))
                summary["manual"].append(corpus.name)
                continue
            try:
                download_corpus(corpus, raw, client=client, progress=progress, log=log)
            except DownloadError as err:
                log(f"{corpus.name}: {err}")
                summary["failed"][corpus.name] = str(err)
                continue
            summary["downloaded"].append(corpus.name)
    return summary
