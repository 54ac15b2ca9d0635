"""Writing an instruct split in the formats trainers take, and the one prompt every format carries.

Formats (``chinchilla export --format``), one JSON object per line, each with the row's ``id``:
- ``alpaca``: ``{id, system, instruction, input, output}`` (LLaMA-Factory ``alpaca`` formatting);
- ``sharegpt``: ``{id, system, conversations: [{from: human}, {from: gpt}]}`` (LLaMA-Factory);
- ``openai``: ``{id, messages: [system, user, assistant]}`` (OpenAI chat fine-tuning; LLaMA-Factory
  reads it as ``sharegpt`` formatting with OpenAI role tags);
- ``iepile``: IEPile's instruction format (``iepile.py``), for comparing with IEPile/OneKE models.

One prompt for every format: the user message is ``prompt_of(row)`` = instruction and input joined by
one ``"\\n"``, the join LLaMA-Factory's alpaca converter applies to the ``instruction`` and ``input``
columns itself (its ``"\\n".join`` of the non-empty ones). So ``alpaca`` keeps the two columns apart
and LLaMA-Factory forms the same string that ``sharegpt``/``openai`` carry and ``chinchilla predict``
sends. Every format also carries the same system message, ``SYSTEM_PROMPT``.

Each export adds its LLaMA-Factory entry to ``out_dir/dataset_info.json`` under
``<config>.<split>.<format>`` (distinct per format; other entries in the file are kept). Files are
written to a temporary file beside them and renamed into place when complete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from .outdir import atomic_file

FORMATS = ("alpaca", "sharegpt", "openai", "iepile")
PROMPT_JOINER = "\n"
SYSTEM_PROMPT = "You are an information extraction assistant. Answer with the JSON object the instruction asks for, and nothing else."


class NotInstructConfig(ValueError):
    """A config that is not an instruct config where one is needed."""


def instruct_rows(out: str, config: str, split: str) -> Iterator[dict]:
    """The rows of an instruct config's split of a built folder; a config that is not an instruct
    config (or not built) fails here with the instruct configs that are, before any row is read."""
    from .parquet_io import config_files, iter_split

    files = config_files(out)
    instruct = sorted(name for name in files if name.endswith("_instruct"))
    if not config.endswith("_instruct"):
        raise NotInstructConfig(
            f"{config!r} is not an instruct config (its rows have no instruction, schema or output to use); "
            f"instruct configs in {out}: {', '.join(instruct) or 'none'}"
        )
    if config not in files:
        raise NotInstructConfig(f"config {config!r} is not in {out}; instruct configs there: {', '.join(instruct) or 'none'}")
    if split not in files[config]:
        raise NotInstructConfig(f"split {split!r} is not in {config}; its splits: {', '.join(files[config])}")
    return iter_split(out, config, split)


def prompt_of(row: dict) -> str:
    """The user prompt of an instruct row: instruction and input joined as LLaMA-Factory joins the
    alpaca ``instruction`` and ``input`` columns (empty parts left out)."""
    return PROMPT_JOINER.join(part for part in (row["instruction"], row["input"]) if part)


def chat_messages(row: dict) -> list:
    """The system and user messages of a row, as the ``openai`` export writes them and
    ``chinchilla predict`` sends them."""
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt_of(row)}]


def to_alpaca(row: dict) -> dict:
    return {"id": row["id"], "system": SYSTEM_PROMPT, "instruction": row["instruction"], "input": row["input"], "output": row["output"]}


def to_sharegpt(row: dict) -> dict:
    return {
        "id": row["id"],
        "system": SYSTEM_PROMPT,
        "conversations": [{"from": "human", "value": prompt_of(row)}, {"from": "gpt", "value": row["output"]}],
    }


def to_openai(row: dict) -> dict:
    return {"id": row["id"], "messages": chat_messages(row) + [{"role": "assistant", "content": row["output"]}]}


def dataset_info_entry(file_name: str, fmt: str) -> dict:
    """The LLaMA-Factory ``dataset_info.json`` entry for a file written by :func:`write_rows`."""
    if fmt == "alpaca":
        return {"file_name": file_name, "columns": {"prompt": "instruction", "query": "input", "response": "output", "system": "system"}}
    if fmt == "sharegpt":
        return {
            "file_name": file_name,
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
        }
    if fmt == "openai":  # LLaMA-Factory reads OpenAI messages as sharegpt with these tags (system taken from the first message)
        return {
            "file_name": file_name,
            "formatting": "sharegpt",
            "columns": {"messages": "messages"},
            "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant", "system_tag": "system"},
        }
    if fmt == "iepile":  # IEPile trains on instruction (the JSON string) -> output, without a system message
        return {"file_name": file_name, "columns": {"prompt": "instruction", "response": "output"}}
    raise ValueError(f"no dataset_info entry for {fmt}")


def entry_name(config: str, split: str, fmt: str) -> str:
    """The ``dataset_info.json`` entry (and file stem) of an export: ``<config>.<split>.<format>``."""
    return f"{config}.{split}.{fmt}"


def converter(fmt: str) -> Callable[[dict], Optional[dict]]:
    """Row -> exported object (None: the row has no form in ``fmt``, counted by ``write_rows``)."""
    if fmt == "iepile":
        from .iepile import to_iepile

        return to_iepile
    try:
        return {"alpaca": to_alpaca, "sharegpt": to_sharegpt, "openai": to_openai}[fmt]
    except KeyError:
        raise ValueError(f"unknown export format {fmt!r}; formats: {', '.join(FORMATS)}") from None


def write_rows(rows: Iterable[dict], out_dir: str, config: str, split: str, fmt: str) -> tuple:
    """Write rows as JSON Lines in ``fmt`` to ``out_dir/<config>.<split>.<fmt>.jsonl`` and merge the
    entry into ``out_dir/dataset_info.json``. Returns ``(path, written, skipped)``; rows with no form
    in ``fmt`` (EET/EEA training rows in ``iepile``) are skipped and counted."""
    convert = converter(fmt)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = entry_name(config, split, fmt)
    path = folder / f"{name}.jsonl"
    written = skipped = 0
    # Both files are replaced only once complete: a failed export (an unknown config or split is
    # found when the rows are first read) leaves the previous ones as they were.
    with atomic_file(path) as f:
        for row in rows:
            item = convert(row)
            if item is None:
                skipped += 1
                continue
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
            written += 1
    info_path = folder / "dataset_info.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
    info[name] = dataset_info_entry(path.name, fmt)
    with atomic_file(info_path) as f:
        f.write(json.dumps(info, ensure_ascii=False, indent=2) + "\n")
    return path, written, skipped
