"""Corpus metadata: one frozen object per source corpus, read by the builder base, the CLI and the card."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Optional

# Characters that make a name in ``Corpus.files`` a glob pattern (a split of one file per document).
_GLOB = frozenset("*?[")


def is_pattern(name: str) -> bool:
    """Whether a name of ``Corpus.files`` is a glob pattern of document files (``train_V2_*.json``)."""
    return not _GLOB.isdisjoint(name)


def name_matches(name: str, path: str) -> bool:
    """Whether the file at ``path`` (relative, ``/``-separated) is the wanted file ``name``: a plain
    name or a pattern matched against the path's last components (``Training/*.ann`` matches
    ``relation_extraction/Training/12.ann``)."""
    wanted, parts = name.split("/"), path.replace("\\", "/").split("/")
    if len(parts) < len(wanted):
        return False
    return all(fnmatch.fnmatchcase(part, want) for part, want in zip(parts[-len(wanted):], wanted))


def natural_key(path: str) -> list:
    """Sort key reading runs of digits as numbers: ``train_V2_2.json`` before ``train_V2_10.json``."""
    return [int(piece) if piece.isdigit() else piece for piece in re.split(r"(\d+)", path)]


@dataclass(frozen=True)
class Corpus:
    """What a source corpus is and where its files come from.

    ``files`` maps a split name to the file names that can hold it, in order of preference
    (several names where the corpus circulates in several formats); for a split in
    ``joined_splits`` they are instead the parts of the split, every one present read in that
    order (FewFC: train = ``train_base.json`` then ``train_trans.json``). A name may be a glob
    pattern, optionally with folders (``train_V2_*.json``, ``Training/*.ann``): the split is then
    every matching file (one document each, in the dataset's folders or archives), read as the
    parts of a joined split in natural order (numbers numerically, see :func:`natural_key`). ``urls`` maps the same
    file names to public download URLs pinned to a commit; corpora behind a registration
    (LUGE) have none and set ``manual`` instead.
    """

    name: str
    task: str  # NER, RE or EE
    title: str
    domain: str
    homepage: str
    license: str  # the terms as the source states them, in words
    citation: str
    files: dict  # split -> tuple of candidate file names
    description: str = ""
    schema_file: Optional[str] = None
    urls: dict = field(default_factory=dict)  # file name -> pinned URL
    # file name -> sha256 of the file at its pinned URL, where the project knows it (``chinchilla
    # download`` verifies against it; without one it records the first download's digest).
    sha256: dict = field(default_factory=dict)
    manual: bool = False
    unlabelled_splits: frozenset = frozenset()  # raw view only
    # Splits made of several files read one after the other (see above).
    joined_splits: frozenset = frozenset()
    # Language of the text and of the instruction templates (``zh``, ``en``): English corpora are the
    # sources of the translation stage and are left out of the Chinese mixtures (``all_*``).
    language: str = "zh"
    # Source label -> readable name in the corpus's language for the instructions (identity for Chinese labels).
    labels: dict = field(default_factory=dict)
    # English corpora: source label -> readable Chinese name, for the instructions of their translations.
    labels_zh: dict = field(default_factory=dict)
    # English event corpora: argument role -> Chinese name, which their translations use in place of
    # the role (unified and instruct views; the raw view keeps the translation output's English role).
    roles_zh: dict = field(default_factory=dict)
    # Event type -> its argument roles, for the instructions of an event corpus without a schema file.
    roles: dict = field(default_factory=dict)
    # Whether the source's stated license lets us republish the built rows; False unless it says so.
    redistributable: bool = False
    quirks: tuple = ()
    # The card's ``license_name`` (a short id: an SPDX-style one where the source names a standard licence)
    # and ``license_link`` (the licence text, or the page stating the terms; default: the homepage).
    license_name: str = "not-stated"
    license_link: str = ""
    # A machine translation (``chinchilla translate``): the name of the source corpus it was translated from.
    translated_from: Optional[str] = None

    @property
    def license_url(self) -> str:
        return self.license_link or self.homepage

    def expected_files(self) -> list:
        names = [n for split_names in self.files.values() for n in split_names]
        if self.schema_file:
            names.append(self.schema_file)
        return list(dict.fromkeys(names))

    def missing_message(self, where: str) -> str:
        return (
            f"{self.name}: no split file found in {where}; expected "
            + ", ".join(self.expected_files())
            + " (or an archive containing them)"
        )

    def absent_splits_note(self, present: set) -> str:
        """A line naming the splits none of whose files is in ``present`` (file names, or paths
        relative to the corpus folder: a pattern with folders needs them), and for a
        corpus behind a registration where to get them; "" when every split is there."""
        absent = [
            f"{split} ({' or '.join(names)})"
            for split, names in self.files.items()
            if not any(name_matches(name, path) for name in names for path in present)
        ]
        if not absent:
            return ""
        one = len(absent) == 1
        where = f"; {'it is' if one else 'they are'} distributed after registration at {self.homepage}" if self.manual else ""
        return f"note {self.name}: no {', '.join(absent)}: built without {'it' if one else 'them'}{where}"
