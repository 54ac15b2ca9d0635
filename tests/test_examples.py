"""examples/llamafactory: the YAML files parse, say what a LoRA SFT run and a prediction run need,
and point at entries and files that the README's ``chinchilla export`` commands write."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import yaml

from chinchilla_datasets.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "llamafactory"


def load(name: str) -> dict:
    return yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))


def readme_commands(program: str) -> list:
    """The ``program …`` lines of the bash block of the example's README, as argument lists."""
    text = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    return [shlex.split(line)[1:] for line in block.splitlines() if line.startswith(program + " ")]


def test_the_yaml_files_describe_a_lora_sft_run_and_its_prediction_run():
    train, predict = load("train_lora_sft.yaml"), load("predict.yaml")
    assert train["stage"] == predict["stage"] == "sft"
    assert train["do_train"] is True and train["finetuning_type"] == "lora" and train["lora_target"]
    assert "qwen" in train["model_name_or_path"].lower() and train["template"] == predict["template"] == "qwen"
    assert predict["model_name_or_path"] == train["model_name_or_path"]
    assert predict["adapter_name_or_path"] == train["output_dir"]
    assert predict["do_predict"] is True and predict["predict_with_generate"] is True and predict["do_sample"] is False
    assert "max_samples" not in predict  # the scorer pairs generated_predictions.jsonl with the whole split
    assert train["dataset"].startswith("all_instruct.train.") and predict["eval_dataset"].startswith("all_instruct.validation.")
    assert train["dataset_dir"] == predict["dataset_dir"]


def test_the_readme_commands_write_the_entries_the_yaml_files_use(loop_build, tmp_path, monkeypatch, capsys):
    train, predict = load("train_lora_sft.yaml"), load("predict.yaml")
    monkeypatch.chdir(tmp_path)
    exports = readme_commands("chinchilla")
    assert [args[0] for args in exports] == ["export", "export", "score"]
    for args in exports[:2]:
        args = [str(loop_build) if prev == "--data" else a for prev, a in zip([""] + args, args)]
        assert main(args) == 0
    folder = tmp_path / train["dataset_dir"]
    info = json.loads((folder / "dataset_info.json").read_text(encoding="utf-8"))
    for entry_name in (train["dataset"], predict["eval_dataset"]):
        entry = info[entry_name]
        first = json.loads((folder / entry["file_name"]).read_text(encoding="utf-8").splitlines()[0])
        assert set(entry["columns"].values()) <= set(first)
    # step 3 scores the file predict.yaml makes LLaMA-Factory write
    score = exports[2]
    assert score[score.index("--predictions") + 1] == f"{predict['output_dir']}/generated_predictions.jsonl"
    assert [f"llamafactory-cli {' '.join(a)}" for a in readme_commands("llamafactory-cli")] == [
        "llamafactory-cli train examples/llamafactory/train_lora_sft.yaml",
        "llamafactory-cli train examples/llamafactory/predict.yaml",
    ]
