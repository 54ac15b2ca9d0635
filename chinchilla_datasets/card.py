"""The dataset card (OUT/README.md): the YAML the Hub and ``datasets`` read, and a body describing
the collection, written from builder metadata and from the Parquet files themselves.

The YAML holds ``configs`` (data files per split), ``dataset_info`` (features and sizes),
``language``, task categories, the per-corpus license terms and, under ``chinchilla_build``, what
cannot be recomputed from the folder (package version, checksums of the source files read,
corpora skipped). The card is therefore also the manifest of a build: :func:`read_build` turns a
built folder back into the outputs :func:`write_card` was given, which is how ``chinchilla push``
re-renders the card for the configs it publishes (:class:`Exclusion` says which were left out).

Statistics, examples and the size check read the Parquet files: a card whose row counts differ
from its files is never written.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import datasets
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from huggingface_hub import DatasetCard, DatasetCardData

from . import __version__
from .corpus import Corpus
from .datasets_adapter import DatasetInfosDict, MetadataConfigs
from .outputs import REPORT_FILE, ConfigOutput, CorpusOutput, split_paths
from .parquet_io import parquet_batches
from .instruct import load_templates
from .qc.report import REPORT_FILE as QC_REPORT_FILE
from .registry import get_builder
from .schema import TASK_COLUMN, VIEWS

CARD_FILE = "README.md"
BUILD_KEY = "chinchilla_build"
TITLE = "Chinchilla: Chinese information extraction"
TASK_CATEGORIES = {"NER": "token-classification", "RE": "text-classification", "EE": "text-generation"}
TASK_IDS = {"NER": "named-entity-recognition"}
RAW_TEXT_COLUMNS = ("text", "sentence")  # the raw column holding the text, where the source has one
TOP_TYPES = 10
EXAMPLE_CHARS = 120
EXAMPLE_ITEMS = 3
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))


@dataclass(frozen=True)
class Exclusion:
    """A corpus whose configs are left out of a published card, and why."""

    corpus: str
    configs: tuple
    reason: str


@dataclass
class Build:
    """A built folder as :func:`read_build` reads it back."""

    out: Path
    results: list  # CorpusOutput, in build order
    skipped: dict  # corpus -> why it was not built
    version: str  # of the package that built it


@dataclass
class SplitStats:
    records: int
    text_lengths: Optional[tuple]  # (min, mean, max) characters, None when the view has no text column
    no_annotation: Optional[int]  # records without any label; None when the view cannot tell


@dataclass
class ConfigStats:
    splits: dict  # split -> SplitStats
    types: Counter  # label type -> count, over the labelled splits
    templates: Counter  # template id -> rows (instruct configs)
    example: Optional[dict]  # the first record, truncated for display


# ---------------------------------------------------------------- entry points


def write_card(out: Path, results: list, skipped: dict) -> None:
    """Write OUT/README.md for the corpora built into ``out`` (called by ``build_collection``)."""
    out = Path(out)
    (out / CARD_FILE).write_text(render_card(out, results, skipped), encoding="utf-8")


def render_card(
    out: Path,
    results: list,
    skipped: dict,
    *,
    excluded: Iterable[Exclusion] = (),
    repo_id: Optional[str] = None,
    version: str = __version__,
) -> str:
    """The card text for ``results`` (a list of ``CorpusOutput``) whose Parquet files are in ``out``.

    ``excluded`` corpora are named in the body with the reason. ``repo_id`` is the Hub repository
    the card is published to: the loading example uses it instead of the local folder name, and
    skipped corpora are named without the reasons (which hold paths of the machine that built it).
    """
    out = Path(out)
    if not results:
        raise ValueError("a dataset card needs at least one corpus")
    excluded = tuple(excluded)
    if repo_id is not None:
        skipped = {name: "no source files given" for name in skipped}
    stats = {config.name: config_stats(out, config) for result in results for config in result.configs}
    data = card_data(out, results, skipped, excluded, version)
    qc_path = out / QC_REPORT_FILE
    qc = json.loads(qc_path.read_text(encoding="utf-8")) if qc_path.exists() else None
    body = card_body(results, skipped, stats, excluded, repo_id, version, qc)
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}"))


def read_build(out: Path) -> Build:
    """The outputs a built folder was made from, rebuilt from its card and ``build_report.json``:
    what :func:`write_card` was called with (each ``CorpusOutput`` without its label schema)."""
    out = Path(out)
    card = DatasetCard.load(out / CARD_FILE)
    configs = MetadataConfigs.from_dataset_card_data(card.data)
    infos = DatasetInfosDict.from_dataset_card_data(card.data)
    report = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))
    meta = card.data.get(BUILD_KEY) or {}
    corpora = list(meta.get("corpora") or [])
    # Configs the build metadata does not name (an older card) still come back, grouped by prefix.
    known = {c["name"] for c in corpora}
    corpora += [{"name": prefix} for prefix in dict.fromkeys(n.rpartition("_")[0] for n in configs) if prefix not in known]
    views = {view: i for i, view in enumerate(VIEWS)}
    results = []
    for corpus in corpora:
        name = corpus["name"]
        config_names = sorted((n for n in configs if n.rpartition("_")[0] == name), key=lambda n: (views.get(n.rpartition("_")[2], len(views)), n))
        outputs = []
        for config_name in config_names:
            info = infos[config_name]
            config = ConfigOutput(name=config_name, corpus=name, view=config_name.rpartition("_")[2], features=info.features)
            for entry in configs[config_name]["data_files"]:
                split = entry["split"]
                config.splits[split] = {
                    "paths": split_paths(entry),
                    "num_examples": info.splits[split].num_examples,
                    "num_bytes": info.splits[split].num_bytes,
                }
            outputs.append(config)
        if outputs:
            sources = dict(corpus.get("sources") or {})
            results.append(CorpusOutput(name=name, configs=outputs, report=report.get(name, {}), sources=sources))
    return Build(out=out, results=results, skipped=dict(meta.get("skipped") or {}), version=meta.get("version", "unknown"))


# ---------------------------------------------------------------- YAML


def card_data(out: Path, results: list, skipped: dict, excluded: tuple = (), version: str = __version__) -> DatasetCardData:
    infos, configs = {}, {}
    for result in results:
        for config in result.configs:
            splits = datasets.SplitDict()
            for split, entry in config.splits.items():
                splits.add(datasets.SplitInfo(name=split, num_bytes=entry["num_bytes"], num_examples=entry["num_examples"]))
            infos[config.name] = datasets.DatasetInfo(
                features=config.features,
                splits=splits,
                download_size=sum((out / path).stat().st_size for entry in config.splits.values() for path in split_paths(entry)),
                dataset_size=sum(entry["num_bytes"] for entry in config.splits.values()),
            )
            configs[config.name] = {"data_files": [{"split": s, "path": _data_files_path(e)} for s, e in config.splits.items()]}
    corpora = [c for c in map(corpus_of, results) if c is not None]
    derived = [c.name for r in results if corpus_of(r) is None for c in r.configs]
    tasks = {c.task for c in corpora}
    largest = max(sum(e["num_examples"] for e in c.splits.values()) for r in results for c in r.configs)
    # Chinese first, then the languages of the translation stage's English sources, if built.
    languages = sorted({c.language for c in corpora} | {"zh"}, key=lambda language: (language != "zh", language))
    data = DatasetCardData(
        language=languages,
        multilinguality="monolingual" if len(languages) == 1 else "multilingual",
        pretty_name=TITLE,
        size_categories=[size_category(largest)],
        task_categories=sorted({TASK_CATEGORIES[t] for t in tasks} | {"text-generation"}),  # + the instruct views
        task_ids=sorted({TASK_IDS[t] for t in tasks if t in TASK_IDS}) or None,
        tags=["information-extraction", "ner", "relation-extraction", "event-extraction", "instruction-tuning"],
        license="other",
        license_name="per-corpus",
        license_link="README.md",  # this card: its corpora table and corpus_licenses give each corpus's terms
        license_details="Each config keeps the terms of its source corpus: "
        + "; ".join(f"{c.name}: {c.license}" for c in corpora)
        + (f"; {', '.join(derived)}: rows of these corpora, each under its corpus's terms" if derived else ""),
    )
    # The Hub's license_name/license_link hold one licence; a collection has one per corpus.
    data["corpus_licenses"] = [
        {"corpus": c.name, "license_name": c.license_name, "license_link": c.license_url, "license": c.license} for c in corpora
    ]
    DatasetInfosDict(infos).to_dataset_card_data(data)
    MetadataConfigs(configs).to_dataset_card_data(data)
    data[BUILD_KEY] = {
        "version": version,
        "corpora": [{"name": r.name, "sources": dict(sorted(r.sources.items()))} for r in results],
        "skipped": dict(skipped),
    }
    if excluded:
        data[BUILD_KEY]["excluded"] = {e.corpus: {"configs": list(e.configs), "reason": e.reason} for e in excluded}
    return data


def _data_files_path(entry: dict):
    """A split's ``data_files`` path: its file, or the list of its files in row order."""
    paths = split_paths(entry)
    return paths[0] if len(paths) == 1 else paths


def size_category(rows: int) -> str:
    for bound, name in SIZE_CATEGORIES:
        if rows < bound:
            return name
    return "n>10M"


# ---------------------------------------------------------------- statistics from Parquet


def config_stats(out: Path, config: ConfigOutput, batch_size: int = 10_000) -> ConfigStats:
    """Sizes, text lengths, unannotated records, label types and an example of one config, from its
    Parquet files; raises ``ValueError`` when a file's row count differs from the card's. Files are
    read batch by batch: memory stays at one row group whatever the size of the split."""
    builder = registered_builder(config.corpus)  # None for configs mixing corpora (all_*)
    unlabelled = builder.corpus.unlabelled_splits if builder else frozenset()
    stats = ConfigStats(splits={}, types=Counter(), templates=Counter(), example=None)
    for split, entry in config.splits.items():
        paths = [out / path for path in split_paths(entry)]
        rows = sum(pq.read_metadata(path).num_rows for path in paths)
        if rows != entry["num_examples"]:
            raise ValueError(f"{', '.join(split_paths(entry))}: {rows} rows but the card says {entry['num_examples']}")
        labelled = split not in unlabelled
        lengths, empty = _LengthStats(), 0
        for batch in parquet_batches(paths, batch_size):
            table = pa.Table.from_batches([batch])
            if config.view == "unified":
                text, batch_empty = table.column("text"), _unified_unannotated(table)
                if labelled:
                    stats.types.update(_label_types(table))
            elif config.view == "instruct":
                text, batch_empty = table.column("input"), 0
                for output in table.column("output").to_pylist():
                    answer = json.loads(output)
                    if not isinstance(answer, dict):
                        batch_empty += not answer
                        continue
                    batch_empty += not any(answer.values())
                    stats.types.update({key: len(items) if isinstance(items, list) else 1 for key, items in answer.items() if items})
                stats.templates.update(_value_counts(table.column("template_id")))
            else:
                text = _raw_text(table)
                batch_empty = table.num_rows if not labelled else _raw_unannotated(table, builder.label_keys if builder else frozenset())
            lengths.add(text)
            empty = None if batch_empty is None or empty is None else empty + batch_empty
            if stats.example is None and table.num_rows:
                stats.example = truncate(table.slice(0, 1).to_pylist()[0])
        if rows == 0 and config.view == "raw" and labelled:
            empty = _raw_unannotated(pq.read_schema(paths[0]).empty_table(), builder.label_keys if builder else frozenset())
        stats.splits[split] = SplitStats(rows, lengths.result(), empty)
    return stats


class _LengthStats:
    """min / mean / max of text lengths accumulated over batches (None without a text column)."""

    def __init__(self):
        self.count, self.total, self.low, self.high = 0, 0, None, None

    def add(self, column: Optional[pa.ChunkedArray]) -> None:
        if column is None or len(column) == 0:
            return
        lengths = pc.utf8_length(column)
        bounds = pc.min_max(lengths).as_py()
        self.count += len(lengths)
        self.total += pc.sum(lengths).as_py()
        self.low = bounds["min"] if self.low is None else min(self.low, bounds["min"])
        self.high = bounds["max"] if self.high is None else max(self.high, bounds["max"])

    def result(self) -> Optional[tuple]:
        return None if not self.count else (self.low, self.total / self.count, self.high)


def _raw_text(table: pa.Table) -> Optional[pa.ChunkedArray]:
    for name in RAW_TEXT_COLUMNS:
        if name in table.column_names and pa.types.is_string(table.schema.field(name).type):
            return table.column(name)
    return None


def _label_types(table: pa.Table) -> Counter:
    """Types of each row's task structures: entities of NER rows, relations of RE rows, events of EE rows."""
    counts = Counter()
    for task, column in TASK_COLUMN.items():
        rows = table.filter(pc.equal(table.column("task"), task))
        if rows.num_rows:
            counts.update(_value_counts(_flat_types(rows.column(column))))
    return counts


def _flat_types(column: pa.ChunkedArray) -> pa.Array:
    values = column.combine_chunks().flatten()
    return values.field("type") if len(values) else pa.array([], pa.string())


def _value_counts(array) -> dict:
    return {row["values"]: row["counts"] for row in pc.value_counts(array).to_pylist()}


def _unified_unannotated(table: pa.Table) -> int:
    sizes = [pc.fill_null(pc.list_value_length(table.column(c)), 0) for c in TASK_COLUMN.values()]
    total = sizes[0]
    for size in sizes[1:]:
        total = pc.add(total, size)
    return int(pc.sum(pc.equal(total, 0)).as_py() or 0)


def _raw_unannotated(table: pa.Table, label_keys: frozenset) -> Optional[int]:
    """Raw records whose label fields are all absent or empty (None when the builder names none)."""
    keys = [k for k in sorted(label_keys) if k in table.column_names]
    if not keys:
        return None
    empty = None
    for key in keys:
        column = table.column(key)
        if pa.types.is_list(column.type):
            this = pc.equal(pc.fill_null(pc.list_value_length(column), 0), 0)
        else:
            this = pc.is_null(column)
        empty = this if empty is None else pc.and_(empty, this)
    return int(pc.sum(empty).as_py() or 0)


def truncate(value, chars: int = EXAMPLE_CHARS, items: int = EXAMPLE_ITEMS):
    """A display copy of a record: long strings cut, long lists shortened (with a count of the rest)."""
    if isinstance(value, str):
        return value if len(value) <= chars else value[:chars] + f"…(+{len(value) - chars} chars)"
    if isinstance(value, dict):
        return {k: truncate(v, chars, items) for k, v in value.items()}
    if isinstance(value, list):
        kept = [truncate(v, chars, items) for v in value[:items]]
        return kept + ([f"…(+{len(value) - items} more)"] if len(value) > items else [])
    return value


# ---------------------------------------------------------------- body


def registered_builder(name: str):
    try:
        return get_builder(name)
    except KeyError:
        return None


def corpus_of(result: CorpusOutput) -> Optional[Corpus]:
    """The corpus a result is, or None for derived configs (the ``all_*`` mixtures)."""
    builder = registered_builder(result.name)
    return builder.corpus if builder else None


def card_body(results: list, skipped: dict, stats: dict, excluded: tuple, repo_id: Optional[str], version: str, qc: Optional[dict] = None) -> str:
    sections = [
        _intro(results, repo_id),
        _excluded(excluded),
        _corpora(results, skipped, published=repo_id is not None),
        _translations(results),
        _statistics(results, stats),
        _examples(results, stats),
        _templates(stats),
        _accounting(results),
        _quality_control(results, qc),
        _quirks(results),
        _provenance(results, version),
        _citations(results),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _intro(results: list, repo_id: Optional[str]) -> str:
    example = next((c.name for r in results for c in r.configs if c.view == "instruct"), results[0].configs[0].name)
    where = (
        f'load_dataset("{repo_id}", "{example}")'
        if repo_id
        else f'load_dataset("chinchilla", "{example}")   # from the parent of this folder (named chinchilla)'
    )
    return "\n".join(
        [
            f"# {TITLE}",
            "",
            "Chinchilla gathers Chinese information-extraction corpora — named entities (NER), relations (RE) and "
            "events (EE) — and publishes each as three configs of one dataset:",
            "",
            "- `<corpus>_raw`: the source records, as close to the original as `datasets` features allow;",
            "- `<corpus>_unified`: one schema for every corpus (`text`, `entities`, `relations`, `events` with character "
            "offsets, `end` exclusive, null when the mention does not occur in the text; `flags` marking guessed or "
            "ungrounded spans);",
            "- `<corpus>_instruct`: Alpaca-style rows (`instruction`, `input`, `output`, plus `id`, `record_id`, `corpus`, "
            "`task`, `split`, `template_id`, `schema`, `params`) whose `output` is a JSON object keyed by the types "
            "the instruction asks for.",
            "",
            "Unlabelled test splits (e.g. `test1`) are in the raw configs only.",
            "",
            "```python",
            "from datasets import load_dataset",
            f"ds = {where}",
            "```",
        ]
    )


def _excluded(excluded: tuple) -> str:
    if not excluded:
        return ""
    lines = [
        "## Not in this release",
        "",
        "These configs are not published here because the license of their source does not grant "
        "redistribution. Download the source yourself and build them locally with "
        "`chinchilla build --data-dir RAW --corpus NAME`.",
        "",
    ]
    for exclusion in excluded:
        configs = ", ".join(f"`{c}`" for c in exclusion.configs)
        lines.append(f"- **{exclusion.corpus}** ({configs}): {exclusion.reason}")
    return "\n".join(lines)


def _corpora(results: list, skipped: dict, published: bool) -> str:
    lines = [
        "## Corpora",
        "",
        "| corpus | task | domain | split sizes (raw rows) | license (as stated) | redistributable | homepage | citation |",
        "|---|---|---|---|---|---|---|---|",
    ]
    derived = []
    for result in results:
        corpus = corpus_of(result)
        if corpus is None:
            derived += [c.name for c in result.configs]
            continue
        raw = result.configs[0]
        sizes = ", ".join(f"{s} {e['num_examples']:,}" for s, e in raw.splits.items())
        translated = f"; **translated** from `{corpus.translated_from}` by {_models(result)}" if corpus.translated_from else ""
        lines.append(
            f"| `{corpus.name}` ({_cell(corpus.title)}{translated}) | {corpus.task} | {_cell(corpus.domain)} | {sizes} "
            f"| {_cell(corpus.license)} ([`{corpus.license_name}`]({corpus.license_url})) | {'yes' if corpus.redistributable else 'no'} | {corpus.homepage} "
            f"| [{_citation_key(corpus.citation)}](#citations) |"
        )
    english = [f"`{c.name}`" for c in map(corpus_of, results) if c is not None and c.language != "zh"]
    if derived:
        names = ", ".join(f"`{name}`" for name in derived)
        which = "the Chinese corpora above" if english else "the corpora above"
        lines += ["", f"Derived configs ({names}) mix rows of {which}; each row keeps the license of its corpus."]
    if english:
        lines += ["", f"English corpora ({', '.join(english)}) are the sources of the translation stage "
                  "(`chinchilla translate`): their instruct configs use English templates and they are not in the mixtures."]
    if skipped and published:
        lines += ["", "Not in this build (no source files given, or not readable): " + ", ".join(f"`{name}`" for name in skipped) + "."]
    elif skipped:
        lines += ["", "Not in this build (no source files given, or not readable):", ""]
        lines += [f"- {reason}" for reason in skipped.values()]
    return "\n".join(lines)


def _models(result: CorpusOutput) -> str:
    """The translation models named in a translated corpus's files (``translated_by`` in its report)."""
    models = sorted({m for counts in result.report.values() for m in counts.get("translated_by", [])})
    return ", ".join(f"`{m}`" for m in models) or "an unnamed model"


def _translations(results: list) -> str:
    """Which configs are machine translations, of what, by which model, and how their spans fared."""
    translated = [(r, c) for r in results for c in [corpus_of(r)] if c is not None and c.translated_from]
    if not translated:
        return ""
    lines = [
        "## Translated corpora",
        "",
        "These configs are machine translations of English corpora (`chinchilla translate`): every span was "
        "wrapped in a numbered tag, translated with the sentence and projected onto the Chinese text. "
        "`projected_by_search`: a span placed by finding its mention's translation once in the text; "
        "`projection_failed`: a span left with null offsets (in `_unified`, left out of `_instruct`); "
        "`translation_failed`: no translation (raw view only). Each keeps the license of its English source.",
        "",
        "| config | source (license) | model | split | records | translation_failed | projection_failed | projected_by_search |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result, corpus in translated:
        source = registered_builder(corpus.translated_from)
        license_ = source.corpus.license if source else corpus.license
        for split in _report_splits(result):
            counts = result.report[split]
            lines.append(
                f"| `{corpus.name}` | `{corpus.translated_from}` ({_cell(license_)}) | {_models(result)} | {split} "
                f"| {counts['read']} | {counts.get('translation_failed', 0)} | {counts.get('projection_failed', 0)} "
                f"| {counts.get('projected_by_search', 0)} |"
            )
    return "\n".join(lines)


def _statistics(results: list, stats: dict) -> str:
    lines = [
        "## Statistics",
        "",
        "Computed from the Parquet files. Text length is in characters (the record's text; `input` for instruct "
        "rows; – when the raw source has no text column); "
        "*no annotation* counts records without any entity, relation or event (instruct rows: an answer with "
        "only empty lists). Label types are those of each record's task: entities (NER), relations (RE), events (EE).",
    ]
    for result in results:
        heading = result.name if corpus_of(result) else f"{result.name} (derived)"
        lines += ["", f"### {heading}", "", "| config | split | records | text length min / mean / max | no annotation |", "|---|---|---|---|---|"]
        for config in result.configs:
            for split, s in stats[config.name].splits.items():
                lines.append(f"| {config.name} | {split} | {s.records:,} | {_length_cell(s.text_lengths)} | {_share_cell(s.no_annotation, s.records)} |")
        for config in result.configs:
            config_stats_ = stats[config.name]
            if config.view == "unified":
                lines += ["", f"Top label types in `{config.name}`: {_top(config_stats_.types)}"]
            elif config.view == "instruct":
                lines += [
                    "",
                    f"Answer items per key in `{config.name}`: {_top(config_stats_.types)}",
                    "",
                    f"Templates used in `{config.name}`: {_top(config_stats_.templates, limit=None)}",
                ]
    return "\n".join(lines)


def _top(counts: Counter, limit: Optional[int] = TOP_TYPES) -> str:
    if not counts:
        return "none"
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{name} {count:,}" for name, count in ranked[:limit])
    rest = len(ranked) - len(ranked[:limit])
    return shown + (f" (and {rest} more types)" if rest else "")


def _length_cell(lengths: Optional[tuple]) -> str:
    if lengths is None:
        return "–"
    low, mean, high = lengths
    return f"{low:,} / {mean:,.1f} / {high:,}"


def _share_cell(count: Optional[int], total: int) -> str:
    if count is None:
        return "–"
    return f"{count:,} ({count / total:.1%})" if total else "0"


def _examples(results: list, stats: dict) -> str:
    lines = ["## Examples", "", f"The first record of each config; strings cut at {EXAMPLE_CHARS} characters, lists at {EXAMPLE_ITEMS} items."]
    for result in results:
        for config in result.configs:
            example = stats[config.name].example
            if example is None:
                continue
            lines += [
                "",
                f"<details><summary><code>{config.name}</code></summary>",
                "",
                "```json",
                _example_json(example),
                "```",
                "",
                "</details>",
            ]
    return "\n".join(lines)


def _example_json(example: dict) -> str:
    """JSON with one line per field: readable, and still valid JSON."""
    fields = [f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}" for k, v in example.items()]
    return "{\n" + ",\n".join(fields) + "\n}"


def _templates(stats: dict) -> str:
    used = Counter()
    for config_stats_ in stats.values():
        used.update(config_stats_.templates)
    lines = [
        "## Instruction templates",
        "",
        "Templates are data (`instructions/*.yaml`); a row's template is a function of its id and a seed only. "
        "`rows` counts the instruct rows of this release rendered with each.",
        "",
        "| id | task | language | rows | instruction (start) |",
        "|---|---|---|---|---|",
    ]
    for task, templates in load_templates().items():
        for template in templates:
            text = " ".join(template["text"].split())
            start = text if len(text) <= 60 else text[:60] + "…"
            lines.append(f"| `{template['id']}` | {template.get('task', task)} | {template['language']} | {used.get(template['id'], 0):,} | {_cell(start)} |")
    return "\n".join(lines)


def _accounting(results: list) -> str:
    lines = [
        "## Build accounting",
        "",
        "Every source record is either written or rejected with its file, line and reason (`build_report.json`).",
        "",
        "| corpus | split | read | raw rows | rejected | unified | instruct |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for split in _report_splits(result):
            counts = result.report[split]
            lines.append(
                f"| {result.name} | {split} | {counts['read']} | {counts['written']} | {len(counts['rejected'])} "
                f"| {counts.get('unified', '-')} | {counts.get('instruct', '-')} |"
            )
    return "\n".join(lines)


def _report_splits(result) -> list:
    """The splits of a corpus's report in build order: the raw config's, as built (the report file
    is sorted); splits it does not have (wholly rejected) after them, by name."""
    order = list(result.configs[0].splits)
    return sorted(result.report, key=lambda s: (order.index(s) if s in order else len(order), s))


def _quality_control(results: list, qc: Optional[dict]) -> str:
    """What QC ran (``chinchilla build --qc`` / ``chinchilla qc``) and what it flagged, per split."""
    names = {r.name for r in results}
    qc = {corpus: splits for corpus, splits in (qc or {}).items() if corpus in names}
    if not qc:
        return ""
    lines = [
        "## Quality control",
        "",
        "Suspected annotation errors were ranked per corpus (`qc_report.json`) and their rows flagged `qc_suspect` "
        "in the unified configs. NER: K-fold cross-validation of a character CRF over the corpus's labelled splits "
        "(python-crfsuite, with a gazetteer of each fold's training labels; small corpora bagged over repeated folds), confident learning on the out-of-fold token "
        "probabilities (cleanlab) and consistency of each string's labels across the corpus, combined into one "
        "score per span (`missing`, `spurious`, `boundary`, `type`). RE and EE: model-free checks (head/tail types "
        "against the schema, head equal to tail, roles outside the event schema, triggers not in the text, "
        "duplicate events). A row is flagged when a suspect scores at least the threshold; flagged rows are kept "
        "unless the build dropped them (`dropped_suspects` below).",
        "",
        "| corpus | split | rows checked | flagged `qc_suspect` | dropped | threshold | model F1 (mean over folds) | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    reports = {r.name: r.report for r in results}
    for corpus, splits in qc.items():
        for split, entry in splits.items():
            dropped = reports.get(corpus, {}).get(split, {}).get("dropped_suspects", 0)
            f1 = (entry.get("model") or {}).get("mean_f1")
            lines.append(
                f"| {corpus} | {split} | {entry.get('rows', '-')} | {entry.get('flagged', len(entry['suspects']))} | {dropped} "
                f"| {entry.get('threshold', '-')} | {'-' if f1 is None else f'{f1:.3f}'} | {entry.get('seconds', '-')} |"
            )
    return "\n".join(lines)


def _quirks(results: list) -> str:
    lines = ["## Source quirks", ""]
    for corpus in filter(None, map(corpus_of, results)):
        lines += [f"- **{corpus.name}**: {quirk}" for quirk in corpus.quirks]
    return "\n".join(lines)


def _provenance(results: list, version: str) -> str:
    lines = ["## Provenance", "", f"Built with chinchilla-datasets {version}. SHA-256 of the source files read:", ""]
    for result in results:
        for file_name, digest in sorted(result.sources.items()):
            lines.append(f"- {result.name}/{file_name}: `{digest}`")
    return "\n".join(lines)


def _citations(results: list) -> str:
    lines = ["## Citations", ""]
    for corpus in filter(None, map(corpus_of, results)):
        lines += [f"{corpus.title}:", "", "```bibtex", corpus.citation, "```", ""]
    return "\n".join(lines).rstrip("\n")


def _citation_key(citation: str) -> str:
    match = re.search(r"@\w+\s*\{\s*([^,\s]+)\s*,", citation)
    return match.group(1) if match else "citation"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")
