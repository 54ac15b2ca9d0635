"""The dataset card (OUT/README.md): YAML listing every config and its data files, and a body
describing the corpora, sizes, licenses, quirks and provenance, generated from builder metadata."""

from __future__ import annotations

from pathlib import Path

import datasets
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from huggingface_hub import DatasetCard, DatasetCardData

from . import __version__
from .registry import get_builder

TASK_CATEGORIES = {"NER": "token-classification", "RE": "text-classification", "EE": "text-generation"}


def card_data(results: list) -> DatasetCardData:
    infos, configs = {}, {}
    for result in results:
        for config in result.configs:
            splits = datasets.SplitDict()
            for split, entry in config.splits.items():
                splits.add(datasets.SplitInfo(name=split, num_bytes=entry["num_bytes"], num_examples=entry["num_examples"]))
            infos[config.name] = datasets.DatasetInfo(
                features=config.features,
                splits=splits,
                download_size=sum(entry.get("bytes_on_disk", 0) for entry in config.splits.values()),
                dataset_size=sum(entry["num_bytes"] for entry in config.splits.values()),
            )
            configs[config.name] = {"data_files": [{"split": s, "path": e["path"]} for s, e in config.splits.items()]}
    corpora = [get_builder(r.name).corpus for r in results]
    data = DatasetCardData(
        language=["zh"],
        pretty_name="Chinchilla: Chinese information extraction",
        task_categories=sorted({TASK_CATEGORIES[c.task] for c in corpora}),
        tags=["information-extraction", "ner", "relation-extraction", "event-extraction", "instruction-tuning"],
        license="other",
    )
    DatasetInfosDict(infos).to_dataset_card_data(data)
    MetadataConfigs(configs).to_dataset_card_data(data)
    return data


def write_card(out: Path, results: list, skipped: dict) -> None:
    for result in results:  # sizes on disk, for dataset_info.download_size
        for config in result.configs:
            for entry in config.splits.values():
                entry["bytes_on_disk"] = (out / entry["path"]).stat().st_size
    data = card_data(results)
    body = _body(results, skipped)
    card = DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}")
    (out / "README.md").write_text(str(card), encoding="utf-8")


def _body(results: list, skipped: dict) -> str:
    lines = [
        "# Chinchilla: Chinese information extraction",
        "",
        "Chinese NER, relation and event extraction corpora, each as three configs: `<corpus>_raw` (the source "
        "records), `<corpus>_unified` (one shared schema with character offsets, `end` exclusive) and "
        "`<corpus>_instruct` (Alpaca-style `instruction`/`input`/`output` rows whose `output` is JSON).",
        "",
        "```python",
        "from datasets import load_dataset",
        f'ds = load_dataset("chinchilla", "{results[0].configs[-1].name}")',
        "```",
        "",
        "## Corpora",
        "",
        "| corpus | task | domain | split sizes (raw rows) | license (as stated) | homepage |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        corpus = get_builder(result.name).corpus
        raw = result.configs[0]
        sizes = ", ".join(f"{s} {e['num_examples']}" for s, e in raw.splits.items())
        lines.append(f"| {corpus.name} ({corpus.title}) | {corpus.task} | {corpus.domain} | {sizes} | {corpus.license} | {corpus.homepage} |")
    if skipped:
        lines += ["", "Not in this build (no source files given):", ""]
        lines += [f"- {reason}" for reason in skipped.values()]
    lines += ["", "## Configs", "", "| config | split | rows |", "|---|---|---|"]
    for result in results:
        for config in result.configs:
            for split, entry in config.splits.items():
                lines.append(f"| {config.name} | {split} | {entry['num_examples']} |")
    lines += ["", "## Build accounting", "", "Every source record is either written or rejected with its file, line and reason "
              "(`build_report.json`).", "", "| corpus | split | read | raw rows | rejected | unified | instruct |", "|---|---|---|---|---|---|---|"]
    for result in results:
        for split, counts in result.report.items():
            lines.append(
                f"| {result.name} | {split} | {counts['read']} | {counts['written']} | {len(counts['rejected'])} "
                f"| {counts.get('unified', '-')} | {counts.get('instruct', '-')} |"
            )
    lines += ["", "## Source quirks", ""]
    for result in results:
        corpus = get_builder(result.name).corpus
        for quirk in corpus.quirks:
            lines.append(f"- **{corpus.name}**: {quirk}")
    lines += ["", "## Provenance", "", f"Built with chinchilla-datasets {__version__}. SHA-256 of the source files read:", ""]
    for result in results:
        for file_name, digest in sorted(result.sources.items()):
            lines.append(f"- {result.name}/{file_name}: `{digest}`")
    lines += ["", "## Citations", ""]
    for result in results:
        corpus = get_builder(result.name).corpus
        lines += [f"{corpus.title}:", "", "```bibtex", corpus.citation, "```", ""]
    return "\n".join(lines) + "\n"
