"""Tagged NER corpora: sentences as ``tokens`` + ``ner_tags``, the Hub token-classification convention.

MSRA, Weibo, Resume, People's Daily and the BMES files derived from BosonNLP all tag one
character per line (``char<sep>tag``, a blank line between sentences) with BIO or BMES tags.
Their raw view is ``{"id", "tokens", "ner_tags"}`` with ``ner_tags`` a ``ClassLabel`` over the
corpus's own tag set (see :func:`tag_names`); the unified view joins the tokens into ``text``
and decodes the tags (:func:`spans.decode_tags`) into entities with character offsets. A token
may be longer than one character (Weibo keeps a lost emoji as two U+FFFD), so offsets are
computed from token lengths, never assumed.

A builder derives from :class:`TaggedNERBuilder`, sets ``raw_features = tagged_features(...)``
and a ``separator``, and overrides :meth:`TaggedNERBuilder.sentences` only when its file is not
plain ``token<sep>tag`` lines. A tag outside the tag set rejects its sentence with the reason.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Optional, Sequence

import datasets

from .base import ChinchillaBuilder, unified_record
from .sources import Reject, read_blocks
from .spans import decode_tags

OUTSIDE = "O"
# Flag of a record whose tags continue a span that is not open (``O I-PER``, ``B-PER I-LOC``);
# it is decoded leniently (the continuation opens a span), see :func:`spans.decode_tags`.
ILL_FORMED_TAGS = "ill_formed_tags"
BIO = ("B", "I")
BMES = ("B", "M", "E", "S")
BIOES = ("B", "I", "E", "S")


def tag_names(types: Iterable[str], prefixes: Sequence[str] = BIO) -> list:
    """The ClassLabel names of a tag set, in a documented order: ``O``, then for each entity type
    (in the given order) its prefixed tags, e.g. ``O, B-PER, I-PER, B-LOC, I-LOC``."""
    return [OUTSIDE] + [f"{prefix}-{type_}" for type_ in types for prefix in prefixes]


def tagged_features(names: Sequence[str]) -> datasets.Features:
    """Raw features of a tagged corpus: ``id``, ``tokens`` and ``ner_tags`` over ``names``."""
    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "tokens": datasets.List(datasets.Value("string")),
            "ner_tags": datasets.List(datasets.ClassLabel(names=list(names))),
        }
    )


def split_token_tag(line: str, sep: Optional[str] = None) -> Optional[tuple]:
    """``(token, tag)`` of a ``token<sep>tag`` line, split on the LAST separator (a token may be a
    separator-like character); trailing whitespace is ignored. None when the line has no tag or no token."""
    parts = line.rstrip().rsplit(sep, 1)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def read_tagged_blocks(path: str, sep: Optional[str] = None) -> Iterator[tuple]:
    """Yield ``(first_line_no, (tokens, tags))`` per blank-line separated sentence of
    ``token<sep>tag`` lines, or ``(line_no, Reject)``. ``sep`` None splits on whitespace.
    A malformed line rejects its whole sentence, since tags cannot be realigned."""
    for start, block in read_blocks(path):
        if isinstance(block, Reject):
            yield start, block
            continue
        tokens, tags = [], []
        for offset, line in enumerate(block):
            pair = split_token_tag(line, sep)
            if pair is None:
                yield start, Reject(f"line {start + offset}: expected 'token{_show(sep)}tag', got {line!r}")
                break
            tokens.append(pair[0])
            tags.append(pair[1])
        else:
            yield start, (tokens, tags)


def _show(sep: Optional[str]) -> str:
    return {None: " ", "\t": "<TAB>"}.get(sep, sep)


def tagged_record(record_id: str, tokens: list, tags: Optional[list], names: Sequence[str]):
    """The raw record of one sentence, or a :class:`Reject` naming the first tag outside ``names``.
    ``tags`` None is an unlabelled sentence (kept only in unlabelled splits)."""
    if not tokens:
        return Reject("empty sentence")
    if tags is not None:
        if len(tags) != len(tokens):
            return Reject(f"{len(tokens)} tokens but {len(tags)} tags")
        known = set(names)
        for i, (token, tag) in enumerate(zip(tokens, tags)):
            if tag not in known:
                return Reject(f"unknown tag {tag!r} on token {i} {token!r}")
    return {"id": record_id, "tokens": list(tokens), "ner_tags": None if tags is None else list(tags)}


def tag_strings(tags: Sequence, names: Optional[Sequence[str]] = None) -> list:
    """Tags as strings: ClassLabel ids (a raw row loaded from Arrow) are looked up in ``names``."""
    return [names[t] if isinstance(t, int) else t for t in tags]


def tagged_entities(tokens: Sequence[str], tags: Sequence, names: Optional[Sequence[str]] = None, joiner: str = "") -> tuple:
    """``(text, entities)``: the tokens joined by ``joiner`` (``""`` for character-tagged Chinese,
    ``" "`` for word-tagged English) and the decoded spans as unified entities
    ``{"type", "text", "start", "end"}`` (character offsets, end exclusive; type without the
    B-/I- prefix). ``tags`` may be ClassLabel ids when ``names`` is given."""
    tags = tag_strings(tags, names)
    starts, ends, position = [], [], 0
    for token in tokens:
        starts.append(position)
        position += len(token)
        ends.append(position)
        position += len(joiner)
    text = joiner.join(tokens)
    entities = []
    for type_, first, last in decode_tags(tags):
        start, end = starts[first], ends[last - 1]
        entities.append({"type": type_, "text": text[start:end], "start": start, "end": end})
    return text, entities


def ill_formed(tags: Sequence[str]) -> bool:
    """Whether an ``I-``/``M-``/``E-`` tag follows anything but ``B-``/``I-``/``M-`` of its type."""
    previous = OUTSIDE
    for tag in tags:
        prefix, _, type_ = tag.partition("-")
        if prefix.upper() in ("I", "M", "E"):
            open_prefix, _, open_type = previous.partition("-")
            if open_type != type_ or open_prefix.upper() not in ("B", "I", "M"):
                return True
        previous = tag
    return False


def tagged_to_unified(raw: dict, names: Optional[Sequence[str]] = None, joiner: str = "") -> dict:
    """A unified record from a raw ``{"tokens", "ner_tags"}`` record (flagged ``ill_formed_tags``
    when the tag sequence had to be repaired); tokens joined by ``joiner``."""
    tags = tag_strings(raw["ner_tags"], names)
    text, entities = tagged_entities(raw["tokens"], tags, joiner=joiner)
    return unified_record(text, entities=entities, flags=[ILL_FORMED_TAGS] if ill_formed(tags) else [])


class TaggedNERBuilder(ChinchillaBuilder):
    """Base of the tagged NER builders. A subclass sets ``corpus``, ``raw_features`` (from
    :func:`tagged_features`) and ``separator``; it overrides :meth:`sentences` for other layouts.
    Record ids are the 0-based sentence number in the file (rejected sentences keep their number)."""

    separator: Optional[str] = None  # between token and tag; None = any whitespace
    joiner: str = ""  # between tokens in the unified text: "" for characters, " " for words
    label_keys = frozenset({"ner_tags"})

    @property
    def tag_names(self) -> list:
        return self.raw_features["ner_tags"].feature.names

    def sentences(self, path: str, split: str) -> Iterator[tuple]:
        """Yield ``(line_no, (tokens, tags))`` (tags None when unlabelled) or ``(line_no, Reject)``."""
        yield from read_tagged_blocks(path, self.separator)

    def read(self, path, split):
        names = self.tag_names
        for index, (line_no, item) in enumerate(self.sentences(path, split)):
            if isinstance(item, Reject):
                yield line_no, item
                continue
            tokens, tags = item
            yield line_no, tagged_record(str(index), tokens, tags, names)

    def to_unified(self, raw):
        return tagged_to_unified(raw, self.tag_names, self.joiner)
