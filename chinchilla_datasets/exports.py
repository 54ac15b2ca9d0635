"""Writing an instruct split in the formats trainers take: Alpaca and ShareGPT (LLaMA-Factory,
with the matching ``dataset_info.json`` entry) and the OpenAI chat fine-tuning JSONL.

Files are written to a temporary file beside them and renamed into place when complete."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from .outdir import atomic_file

FORMATS = ("alpaca", "sharegpt", "openai")


def to_alpaca(row: dict) -> dict:
    return {"instruction": row["instruction"], "input": row["input"], "output": row["output"]}


def to_sharegpt(row: dict) -> dict:
    return {
        "conversations": [
            {"from": "human", "value": f"{row['instruction']}\n\n{row['input']}"},
            {"from": "gpt", "value": row["output"]},
        ]
    }


def to_openai(row: dict) -> dict:
    return {
        "messages": [
            {"role": "user", "content": f"{row['instruction']}\n\n{row['input']}"},
            {"role": "assistant", "content": row["output"]},
        ]
    }


def dataset_info_entry(file_name: str, fmt: str) -> dict:
    """The LLaMA-Factory ``dataset_info.json`` entry for a file written by :func:`write_rows`."""
    if fmt == "alpaca":
        return {"file_name": file_name, "columns": {"prompt": "instruction", "query": "input", "response": "output"}}
    if fmt == "sharegpt":
        return {
            "file_name": file_name,
            "formatting": "sharegpt",
            "columns": {"messages": "conversations"},
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
        }
    raise ValueError(f"no dataset_info entry for {fmt}")


def write_rows(rows: Iterable[dict], out_dir: str, name: str, fmt: str) -> Path:
    """Write rows as JSON Lines in ``fmt``; for LLaMA-Factory formats also merge the entry into
    ``out_dir/dataset_info.json``. Returns the written file."""
    convert = {"alpaca": to_alpaca, "sharegpt": to_sharegpt, "openai": to_openai}[fmt]
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.{fmt}.jsonl"
    # Both files are replaced only once complete: a failed export (an unknown config or split is
    # found when the rows are first read) leaves the previous ones as they were.
    with atomic_file(path) as f:
        for row in rows:
            f.write(json.dumps(convert(row), ensure_ascii=False) + "\n")
    if fmt != "openai":
        info_path = folder / "dataset_info.json"
        info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
        info[name] = dataset_info_entry(path.name, fmt)
        with atomic_file(info_path) as f:
            f.write(json.dumps(info, ensure_ascii=False, indent=2))
    return path
