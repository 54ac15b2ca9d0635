"""BosonNLP NER — 2000 Chinese web documents (news, Weibo posts, forum and product pages) with six
entity types: time, location, person_name, org_name, company_name, product_name (BosonNLP).

Two forms are read into the same raw features:

* the original, one document per line with inline ``{{type:mention}}`` markup:
  ``BosonNLP_NER_6C.txt`` (a copy with a few markup errors fixed, e.g. ``}}}}``, and without the
  escapes below) or the unmodified ``origindata.txt`` (LF, a final empty line). The unmodified file
  holds LITERAL two-character ``\\n`` sequences (escaped paragraph breaks of the scraped pages);
  each becomes a real newline in the text. Some mentions have leading or trailing whitespace inside
  the braces (``{{person_name: 张三}}``, also a no-break space or a tab): the text keeps it, the
  entity span is trimmed so that ``text[start:end]`` is the trimmed mention, and the record is
  flagged ``trimmed_mention``. Offsets index the text with the markup removed. Malformed markup is
  repaired where the repair is unambiguous, and the record flagged ``repaired_markup``: a mark
  missing its ``{{`` (``联系org_name:银监会}}``: a known type, a colon and ``}}``, glued to the text
  before), a mark opened with one ``{`` (``{time:第28分钟}}``), and a doubled closing ``}}}}``. What
  stays unreadable (a ``{{`` or ``}}`` outside a mark, a mark left open before the next one, an
  unknown type, an empty mention) is kept in the text as it is, with no entity, and the record
  flagged ``unreadable_markup``: the document and every other mention in it are kept. Only a line
  that is a JSON object (a file of another format under this name: any other text is a valid
  document) or that cannot be decoded is rejected. There is NO official
  split: documents are assigned by their 0-based index in the file (= line number - 1),
  ``index % 10`` 0-7 -> train, 8 -> validation, 9 -> test (8:1:1, interleaved, independent of the
  file's length). Every split reads the same file; ``id`` is the document index.
* the derived ``boson.{train,dev,test}.bmes`` (HuHsinpang/BosonNER-Pretreatment: the author's own
  8:1:1 split of sentences, not documents; CRLF, ``char<SPACE>tag`` per line, a blank line between
  sentences, whitespace characters dropped). Its training file has typo tags ``B-ime``/``M-ime``/
  ``E-ime`` meaning ``time``: the raw view keeps them as in the source (they are in the tag set), the
  unified view reads them as ``time`` and flags the record ``normalised_tag`` (so the flag counts
  the affected sentences). A mark typed ``ime`` in the inline form is read the same way.

The inline form is preferred when both are present. Raw features, whatever the form: ``id``,
``tokens`` (characters; for the inline form, every character of the unmarked text, whitespace
included, so ``"".join(tokens)`` is the unified text) and ``ner_tags`` (BMES ``ClassLabel`` over the
six types plus the four ``-ime`` typo tags; derived from the markup for the inline form, with
whitespace trimmed from mentions tagged ``O``), plus ``markup``: the source line, verbatim, for the
inline form and null for the BMES form.

The official site (bosonnlp.com) is gone; the download is pinned to the unmodified copy in
InsaneLife/ChineseNLPCorpus (see :attr:`BosonNER.manual_download_instructions` for the others).
"""

import re

import datasets
import orjson

from chinchilla_datasets.base import unified_record
from chinchilla_datasets.corpus import Corpus
from chinchilla_datasets.sources import Reject, read_lines
from chinchilla_datasets.tagged import (
    BMES,
    ILL_FORMED_TAGS,
    TaggedNERBuilder,
    ill_formed,
    tag_names,
    tag_strings,
    tagged_entities,
    tagged_features,
)

TYPES = ("time", "location", "person_name", "org_name", "company_name", "product_name")
# Misspelt types in the sources -> the type meant.
TYPE_TYPOS = {"ime": "time"}
TAG_NAMES = tag_names(TYPES, BMES) + [f"{prefix}-{typo}" for typo in TYPE_TYPOS for prefix in BMES]

TRIMMED_MENTION = "trimmed_mention"
NORMALISED_TAG = "normalised_tag"
REPAIRED_MARKUP = "repaired_markup"
UNREADABLE_MARKUP = "unreadable_markup"
ESCAPED_NEWLINE = "\\n"
MARK = re.compile(r"\{\{([^{}:]*):(.*?)\}\}", re.S)
_TYPE = "|".join(sorted(map(re.escape, TYPES + tuple(TYPE_TYPOS)), key=len, reverse=True))
# Unambiguous repairs, made only in the text between well-formed marks (each a known type, a
# colon, a mention without braces and a closing ``}}``): the ``{{`` missing before a type glued to
# the text (not after a letter, ``_`` or ``{``), and one ``{`` where two belong.
_WELL_FORMED = re.compile(r"\{\{[^{}:]*:[^{}]*\}\}")
_MISSING_OPEN = re.compile(rf"(?<![A-Za-z_{{])(?=(?:{_TYPE}):[^{{}}]*\}}\}})")
_SINGLE_OPEN = re.compile(rf"(?<!\{{)\{{(?=(?:{_TYPE}):[^{{}}]*\}}\}})")

INLINE_FILES = ("BosonNLP_NER_6C.txt", "origindata.txt")
_BMES_FILES = {"train": "boson.train.bmes", "validation": "boson.dev.bmes", "test": "boson.test.bmes"}
_ORIGINAL = "https://raw.githubusercontent.com/InsaneLife/ChineseNLPCorpus/65fc49b20af96c9f1ae159bef7f04b9e56157fda/NER/boson"
_FIXED = "https://github.com/HuHsinpang/BosonNER-Pretreatment/tree/83cd5e19d5d170aa87f077c4c1da18ac7407cff8/boson/data"

CORPUS = Corpus(
    name="boson_ner",
    task="NER",
    title="BosonNLP NER (6 types)",
    domain="web text (news, social media, forums)",
    homepage="http://bosonnlp.com",
    license="BosonNLP data license: research use; commercial use needs an agreement with BosonNLP",
    license_name="bosonnlp-research-only",
    citation=(
        "@misc{bosonnlp_ner,\n  title={{BosonNLP} Named Entity Recognition Dataset},\n  author={{BosonNLP}},\n"
        "  howpublished={\\url{http://bosonnlp.com} (defunct); copy: "
        "\\url{https://github.com/InsaneLife/ChineseNLPCorpus/tree/65fc49b20af96c9f1ae159bef7f04b9e56157fda/NER/boson}}\n}"
    ),
    files={split: INLINE_FILES + (bmes,) for split, bmes in _BMES_FILES.items()},
    urls={"origindata.txt": f"{_ORIGINAL}/origindata.txt"},
    manual=True,
    labels={
        "time": "时间",
        "location": "地点",
        "person_name": "人名",
        "org_name": "组织机构名",
        "company_name": "公司名",
        "product_name": "产品名",
    },
    redistributable=False,
    description="Six entity types in 2000 Chinese web documents, inline-marked; split 8:1:1 by document here.",
    quirks=(
        "No official split: documents go to train/validation/test by index % 10 (0-7 / 8 / 9).",
        "The unmodified file has literal \\n escapes (read as newlines) and whitespace inside some "
        "marks (kept in the text, trimmed from the span, flag trimmed_mention).",
        "The derived BMES files (another, sentence-level split) have typo tags B-/M-/E-ime = time "
        "(flag normalised_tag).",
    ),
)


def document_split(index: int) -> str:
    """The split of the document at 0-based ``index`` in the inline file (8:1:1 by ``index % 10``)."""
    rest = index % 10
    return "train" if rest < 8 else "validation" if rest == 8 else "test"


def repair_markup(source: str) -> str:
    """``source`` with the unambiguous markup faults repaired (see the module docstring); the
    text of well-formed marks is never touched."""
    out, position, after_mark = [], 0, False
    for match in [*_WELL_FORMED.finditer(source), None]:
        gap = source[position : match.start() if match else len(source)]
        if after_mark and gap.startswith("}}"):  # a closing doubled right after a mark
            gap = gap[2:]
        out.append(_SINGLE_OPEN.sub("{{", _MISSING_OPEN.sub("{{", gap)))
        if match:
            out.append(match.group(0))
            position, after_mark = match.end(), True
    return "".join(out)


def parse_markup(line: str):
    """``(text, entities, flags)`` of one inline-marked document. Literal ``\\n`` escapes become
    newlines; whitespace inside a mark stays in the text and is trimmed from the entity span;
    malformed markup is repaired or, when it cannot be read, kept as text (see the module docstring)."""
    source = line.replace(ESCAPED_NEWLINE, "\n")
    repaired = repair_markup(source)
    flags = [REPAIRED_MARKUP] if repaired != source else []
    source = repaired
    parts, entities = [], []
    length = position = 0

    def literal(end: int) -> None:
        nonlocal length, position
        piece = source[position:end]
        if "{{" in piece or "}}" in piece:
            _flag(flags, UNREADABLE_MARKUP)
        parts.append(piece)
        length += len(piece)
        position = end

    while (match := MARK.search(source, position)) is not None:
        inner = source.find("{{", match.start() + 2, match.end())
        if inner >= 0:  # a mark left open: text up to the next mark, which is read on its own
            literal(inner)
            continue
        literal(match.start())
        type_, mention = TYPE_TYPOS.get(match.group(1), match.group(1)), match.group(2)
        trimmed = mention.strip()
        if type_ not in TYPES or not trimmed:
            literal(match.end())  # an unknown type or an empty mention: kept as text, no entity
            _flag(flags, UNREADABLE_MARKUP)
            continue
        if type_ != match.group(1):
            _flag(flags, NORMALISED_TAG)
        if trimmed != mention:
            _flag(flags, TRIMMED_MENTION)
        start = length + len(mention) - len(mention.lstrip())
        entities.append({"type": type_, "text": trimmed, "start": start, "end": start + len(trimmed)})
        parts.append(mention)
        length += len(mention)
        position = match.end()
    literal(len(source))
    return "".join(parts), entities, flags


def foreign_record(line: str):
    """A Reject when the line is a JSON object (another corpus's JSON Lines under an inline file
    name): plain text is a valid document, so this is the one format that would pass unnoticed."""
    stripped = line.strip()
    if not stripped.startswith("{") or stripped.startswith("{{"):
        return None
    try:
        record = orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return None
    if isinstance(record, dict):
        return Reject(f"a JSON object, not an inline-marked document: keys found {sorted(record)}")
    return None


def _flag(flags: list, flag: str) -> None:
    if flag not in flags:
        flags.append(flag)


def bmes_tags(length: int, entities: list) -> list:
    """BMES tags of ``length`` characters carrying ``entities`` (flat spans)."""
    tags = ["O"] * length
    for e in entities:
        start, end, type_ = e["start"], e["end"], e["type"]
        if end - start == 1:
            tags[start] = f"S-{type_}"
        else:
            tags[start : end] = [f"B-{type_}"] + [f"M-{type_}"] * (end - start - 2) + [f"E-{type_}"]
    return tags


def normalise_tag(tag: str) -> str:
    prefix, dash, type_ = tag.partition("-")
    return f"{prefix}-{TYPE_TYPOS[type_]}" if dash and type_ in TYPE_TYPOS else tag


class BosonNER(TaggedNERBuilder):
    corpus = CORPUS
    raw_features = datasets.Features({**tagged_features(TAG_NAMES), "markup": datasets.Value("string")})
    optional_keys = frozenset({"markup"})
    separator = " "

    @property
    def manual_download_instructions(self) -> str:
        return (
            "BosonNLP's site (bosonnlp.com) is gone; copies of its NER corpus live on GitHub: the unmodified "
            f"origindata.txt at {_ORIGINAL}/origindata.txt "
            f"(downloaded by default), BosonNLP_NER_6C.txt (a few markup errors fixed) and the derived "
            f"boson.{{train,dev,test}}.bmes in {_FIXED}. Put any of them in a folder and pass it as data_dir "
            "(or as RAW/boson_ner/ to `chinchilla build --data-dir RAW`). Research use only; commercial use "
            "needs an agreement with BosonNLP."
        )

    def read(self, path, split):
        if path.endswith(".bmes"):
            yield from super().read(path, split)
            return
        for line_no, line in read_lines(path):
            if isinstance(line, Reject):
                if document_split(line_no - 1) == split:
                    yield line_no, line
                continue
            if not line.strip() or document_split(line_no - 1) != split:
                continue
            parsed = foreign_record(line) or parse_markup(line)
            if isinstance(parsed, Reject):
                yield line_no, parsed
                continue
            text, entities, _ = parsed
            yield line_no, {
                "id": str(line_no - 1),
                "tokens": list(text),
                "ner_tags": bmes_tags(len(text), entities),
                "markup": line,
            }

    def to_unified(self, raw):
        if raw["markup"] is not None:
            text, entities, flags = parse_markup(raw["markup"])
            return unified_record(text, entities=entities, flags=flags)
        source_tags = tag_strings(raw["ner_tags"], self.tag_names)
        tags = [normalise_tag(tag) for tag in source_tags]
        text, entities = tagged_entities(raw["tokens"], tags)
        flags = [NORMALISED_TAG] if tags != source_tags else []
        if ill_formed(tags):
            flags.append(ILL_FORMED_TAGS)
        return unified_record(text, entities=entities, flags=flags)
