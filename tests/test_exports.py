"""Closing the loop on the sample corpora (DuIE, DuEE, Weibo NER validation): every export format
carries unique ids and the same prompt, LLaMA-Factory's prediction files score, IEPile's evaluator
(``iepile_oracle``) agrees with ``chinchilla score``, and the command line explains its errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from chinchilla_datasets.cli import main
from chinchilla_datasets.parquet_io import iter_split
from chinchilla_datasets.exports import SYSTEM_PROMPT, FORMATS
from chinchilla_datasets.iepile import from_iepile_shapes
from chinchilla_datasets.score import align_llamafactory, score_rows

import iepile_oracle

CONFIGS = ("duie_instruct", "duee_instruct", "weibo_ner_instruct")
SPLIT = "validation"
TASK_OF = {"duie_instruct": "RE", "duee_instruct": "EE", "weibo_ner_instruct": "NER"}


def read_jsonl(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def export(data: Path, config: str, fmt: str, out: Path, split: str = SPLIT) -> list:
    assert main(["export", "--data", str(data), "--config", config, "--split", split, "--format", fmt, "--out", str(out)]) == 0
    return read_jsonl(out / f"{config}.{split}.{fmt}.jsonl")


def llamafactory_user_message(row: dict, fmt: str) -> tuple:
    """(system, user message) LLaMA-Factory forms from an exported row, following its converters:
    alpaca joins the non-empty ``instruction`` and ``input`` columns with "\\n"; sharegpt takes the
    human turn; the openai file is read as sharegpt with OpenAI tags, its first message the system."""
    if fmt == "alpaca":
        return row["system"], "\n".join(part for part in (row["instruction"], row["input"]) if part)
    if fmt == "sharegpt":
        assert [m["from"] for m in row["conversations"]] == ["human", "gpt"]
        return row["system"], row["conversations"][0]["value"]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    return row["messages"][0]["content"], row["messages"][1]["content"]


def qwen_prompt(system: str, user: str) -> str:
    """A chat template applied, as LLaMA-Factory's ``generated_predictions.jsonl`` shows it (Qwen's)."""
    return f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def write_generated_predictions(path: Path, exported: list, fmt: str, answer) -> None:
    lines = []
    for i, row in enumerate(exported):
        system, user = llamafactory_user_message(row, fmt)
        label = row["output"] if fmt == "alpaca" else None
        lines.append(json.dumps({"prompt": qwen_prompt(system, user), "predict": answer(i, row), "label": label}, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def score_json(capsys, data: Path, config: str, predictions: Path, *extra: str) -> dict:
    capsys.readouterr()
    assert main(["score", "--predictions", str(predictions), "--data", str(data), "--config", config, "--split", SPLIT, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("config", CONFIGS)
def test_every_format_has_unique_ids_the_same_prompt_and_its_own_dataset_info_entry(loop_build, tmp_path, config):
    rows = list(iter_split(str(loop_build), config, SPLIT))
    assert rows
    prompts = {}
    for fmt in ("alpaca", "sharegpt", "openai"):
        exported = export(loop_build, config, fmt, tmp_path)
        ids = [r["id"] for r in exported]
        assert ids == [r["id"] for r in rows] and len(set(ids)) == len(ids)
        prompts[fmt] = [llamafactory_user_message(r, fmt) for r in exported]
        assert {system for system, _ in prompts[fmt]} == {SYSTEM_PROMPT}
        # the prompt holds the whole instruction and the whole text, in that order
        for row, (_, user) in zip(rows, prompts[fmt]):
            assert user.startswith(row["instruction"]) and user.endswith(row["input"])
    assert prompts["alpaca"] == prompts["sharegpt"] == prompts["openai"]

    iepile = export(loop_build, config, "iepile", tmp_path)
    assert [r["id"] for r in iepile] == [r["id"] for r in rows]
    for row, item in zip(rows, iepile):
        instruction = json.loads(item["instruction"])
        assert instruction["input"] == row["input"] and set(instruction) == {"instruction", "schema", "input"}
        names = [s["event_type"] for s in instruction["schema"]] if row["task"] == "EE" else instruction["schema"]
        assert names == row["schema"] and item["source"] == row["corpus"]

    info = json.loads((tmp_path / "dataset_info.json").read_text(encoding="utf-8"))
    for fmt in FORMATS:
        entry = info[f"{config}.{SPLIT}.{fmt}"]
        file_rows = read_jsonl(tmp_path / entry["file_name"])
        columns = set(entry["columns"].values())
        assert columns <= set(file_rows[0]), f"{fmt}: the entry names columns the file does not have"
    assert len({entry["file_name"] for entry in info.values()}) == len(info)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("fmt", ["alpaca", "openai"])
def test_llamafactory_predictions_equal_to_the_labels_score_f1_one(loop_build, tmp_path, capsys, config, fmt):
    exported = export(loop_build, config, fmt, tmp_path)
    gold = {row["id"]: row["output"] for row in iter_split(str(loop_build), config, SPLIT)}
    predictions = tmp_path / "generated_predictions.jsonl"
    write_generated_predictions(predictions, exported, fmt, lambda i, row: gold[row["id"]])
    result = score_json(capsys, loop_build, config, predictions)
    assert result["overall"]["f1"] == 1.0 and result["overall"]["gold"] > 0
    assert result["missing"] == 0 and result["unparseable"] == 0


def independent_gold(rows: list, keep) -> tuple:
    """(items kept, all items): distinct gold tuples per record, counted from the rows' JSON answers
    directly (json.loads, no project code), over the rows ``keep(i)`` selects and over all rows."""
    kept, every = {}, {}
    for i, row in enumerate(rows):
        items = set()
        for type_, values in json.loads(row["output"]).items():
            for v in values:
                if row["task"] == "NER":
                    items.add(("NER", type_, v))
                elif row["task"] == "RE":
                    items.add(("RE", type_, v["head"], v["tail"]))
                else:
                    items.add(("T", type_, v["trigger"]))
                    items.update(("A", type_, a["role"], a["argument"]) for a in v["arguments"])
        every.setdefault(row["record_id"], set()).update(items)
        if keep(i):
            kept.setdefault(row["record_id"], set()).update(items)
    return sum(map(len, kept.values())), sum(map(len, every.values()))


@pytest.mark.parametrize("config", CONFIGS)
def test_half_the_answers_emptied_recall_is_the_share_of_gold_items_kept(loop_build, tmp_path, capsys, config):
    exported = export(loop_build, config, "sharegpt", tmp_path)
    rows = list(iter_split(str(loop_build), config, SPLIT))
    predictions = tmp_path / "generated_predictions.jsonl"
    write_generated_predictions(predictions, exported, "sharegpt", lambda i, row: rows[i]["output"] if i % 2 == 0 else "")
    kept, total = independent_gold(rows, lambda i: i % 2 == 0)
    assert 0 < kept < total
    result = score_json(capsys, loop_build, config, predictions)
    assert (result["overall"]["tp"], result["overall"]["gold"]) == (kept, total)
    assert result["overall"]["recall"] == pytest.approx(kept / total, abs=1e-6)
    assert result["overall"]["precision"] == 1.0
    # per corpus and type: the types of a corpus's family add up to its figures
    for corpus, families in result["by_corpus"].items():
        for family, m in families.items():
            types = result["by_corpus_type"][corpus][family]
            assert [sum(t[k] for t in types.values()) for k in ("tp", "pred", "gold")] == [m["tp"], m["pred"], m["gold"]]


def test_a_llamafactory_file_that_does_not_match_names_its_first_bad_line(loop_build, tmp_path, capsys):
    config = "weibo_ner_instruct"
    exported = export(loop_build, config, "alpaca", tmp_path)
    predictions = tmp_path / "generated_predictions.jsonl"
    write_generated_predictions(predictions, exported, "alpaca", lambda i, row: row["output"])
    lines = predictions.read_text(encoding="utf-8").splitlines()
    args = ["score", "--predictions", str(predictions), "--data", str(loop_build), "--config", config, "--split", SPLIT]

    predictions.write_text("\n".join(lines[:-3]) + "\n", encoding="utf-8")  # three answers short
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"generated_predictions.jsonl:{len(lines) - 2}:" in err and f"{len(lines) - 3} predictions" in err

    swapped = list(lines)
    i = next(k for k in range(len(lines) - 1) if json.loads(lines[k])["prompt"] != json.loads(lines[k + 1])["prompt"])
    swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    predictions.write_text("\n".join(swapped) + "\n", encoding="utf-8")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"generated_predictions.jsonl:{i + 1}:" in err and exported[i]["id"] in err and "Traceback" not in err

    predictions.write_text("\n".join(lines + lines[:1]) + "\n", encoding="utf-8")  # one answer too many
    assert main(args) == 2
    assert f"generated_predictions.jsonl:{len(lines) + 1}: more predictions than rows" in capsys.readouterr().err


def test_prompts_are_found_through_a_tokenizer_round_trip(tmp_path):
    rows = [
        {"id": "r1", "instruction": "找出人名。", "input": "Cafe\u0301 的 老板 张三", "output": "{}"},
        {"id": "r2", "instruction": "找出人名。", "input": "李四", "output": "{}"},
    ]
    path = tmp_path / "generated_predictions.jsonl"
    decoded = ["找出人名。\nCafé 的老板 张三", "找出人名。\n李四"]  # NFC, a space dropped, as decoding may give
    path.write_text("".join(json.dumps({"prompt": qwen_prompt("s", p), "predict": str(i), "label": ""}) + "\n" for i, p in enumerate(decoded)), encoding="utf-8")
    assert align_llamafactory(str(path), rows) == {"r1": "0", "r2": "1"}
    rows[1]["input"] = "王五"
    with pytest.raises(ValueError, match=r"generated_predictions.jsonl:2: .*'r2'"):
        align_llamafactory(str(path), rows)


def test_score_against_the_wrong_config_counts_the_unknown_ids_and_fails(loop_build, tmp_path, capsys):
    rows = list(iter_split(str(loop_build), "duee_instruct", SPLIT))
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("\n".join(json.dumps({"id": r["id"], "output": r["output"]}, ensure_ascii=False) for r in rows), encoding="utf-8")
    capsys.readouterr()
    assert main(["score", "--predictions", str(predictions), "--data", str(loop_build), "--config", "duie_instruct"]) == 2
    err = capsys.readouterr().err
    assert f"{len(rows)} of {len(rows)} prediction ids are not rows of this split" in err


@pytest.mark.parametrize("command", ["score", "export"])
def test_a_config_that_is_not_instruct_is_named_with_the_configs_that_fit(loop_build, tmp_path, capsys, command):
    predictions = tmp_path / "p.jsonl"
    predictions.write_text('{"id": "x", "output": "{}"}\n', encoding="utf-8")
    extra = ["--predictions", str(predictions)] if command == "score" else ["--format", "alpaca", "--out", str(tmp_path / "e")]
    capsys.readouterr()
    assert main([command, "--data", str(loop_build), "--config", "duie_unified", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert "'duie_unified' is not an instruct config" in err and "duee_instruct, duie_instruct" in err
    assert err not in ("chinchilla score: 'schema'", "chinchilla export: 'instruction'") and "Traceback" not in err


def perturbed(i: int, answer: str, task: str) -> str:
    """A model's answer in IEPile's shapes made wrong in the ways models are: items dropped, invented,
    repeated, or no JSON at all (decided by the line number)."""
    if i % 11 == 5:
        return "I could not find anything."
    value = json.loads(answer)
    keys = list(value)
    filled = [k for k in keys if value[k]]
    if i % 3 == 0 and filled:
        value[filled[0]] = value[filled[0]][1:]
    if i % 5 == 1:
        invented = {"NER": "并不存在", "RE": {"subject": "甲", "object": "乙"}, "EE": {"trigger": "虚构", "arguments": {}}}[task]
        value[keys[0]] = value[keys[0]] + [invented]
    if i % 7 == 2 and filled:
        value[filled[-1]] = value[filled[-1]] + value[filled[-1]][:1]
    return json.dumps(value, ensure_ascii=False)


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("match_mode", ["set", "normal"])
def test_iepile_evaluator_on_the_iepile_export_agrees_with_chinchilla_score(loop_build, tmp_path, capsys, config, match_mode):
    task = TASK_OF[config]
    iepile = export(loop_build, config, "iepile", tmp_path)
    answers = {item["id"]: perturbed(i, item["output"], task) for i, item in enumerate(iepile)}
    oracle = iepile_oracle.evaluate([{**item, "output": answers[item["id"]]} for item in iepile], task, match_mode)

    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("\n".join(json.dumps({"id": i, "output": a}, ensure_ascii=False) for i, a in answers.items()), encoding="utf-8")
    ours = score_json(capsys, loop_build, config, predictions, "--match-mode", match_mode)

    def counts(m):
        return (m["tp"], m["pred"], m["gold"])

    if task == "EE":
        assert counts(ours["by_task"]["EE-trigger"]) == counts(oracle["event"])
        assert counts(ours["by_task"]["EE-argument"]) == counts(oracle["argument"])
    else:
        assert counts(ours["overall"]) == counts(oracle["total"])
    assert oracle["errors"] == ours["unparseable"] > 0
    totals = oracle["event"] if task == "EE" else oracle["total"]
    assert 0 < totals["tp"] < totals["gold"]  # the perturbations bite: the agreement is not all-correct
    if task == "EE":
        m = ours["by_task"]["EE-trigger"]
        assert round(m["f1"] * 100, 1) == pytest.approx(totals["F1"], abs=0.1)


@pytest.mark.parametrize("config", CONFIGS)
def test_answers_in_iepile_key_names_score_as_answers_in_ours(loop_build, tmp_path, config):
    rows = list(iter_split(str(loop_build), config, SPLIT))
    iepile = {item["id"]: item["output"] for item in export(loop_build, config, "iepile", tmp_path)}
    # our answers with one item dropped here and there, and the same answers in IEPile's shapes
    ours, theirs = {}, {}
    for i, row in enumerate(rows):
        value, their_value = json.loads(row["output"]), json.loads(iepile[row["id"]])
        filled = [k for k in value if value[k]]
        if i % 3 == 0 and filled:
            value[filled[0]], their_value[filled[0]] = value[filled[0]][1:], their_value[filled[0]][1:]
        ours[row["id"]], theirs[row["id"]] = json.dumps(value, ensure_ascii=False), json.dumps(their_value, ensure_ascii=False)
    a, b = score_rows(rows, ours), score_rows(rows, theirs)
    assert a == b and 0 < a["overall"]["recall"] < 1


def test_iepile_shapes_are_read_back_into_ours():
    re_answer = {"作者": [{"subject": "步步惊心", "object": "桐华"}], "父亲": []}
    item = from_iepile_shapes(re_answer, "RE")["作者"][0]
    assert (item["head"], item["tail"]) == ("步步惊心", "桐华")
    ee_answer = {"组织关系-裁员": [{"trigger": "裁员", "arguments": {"时间": "5月份", "裁员方": "NAN", "裁员人数": ["900余人", "九百"]}}]}
    args = from_iepile_shapes(ee_answer, "EE")["组织关系-裁员"][0]["arguments"]
    assert Counter((a["role"], a["argument"]) for a in args) == Counter({("时间", "5月份"): 1, ("裁员人数", "900余人"): 1, ("裁员人数", "九百"): 1})
    ours = {"组织关系-裁员": [{"trigger": "裁员", "arguments": [{"role": "时间", "argument": "5月份"}]}]}
    assert from_iepile_shapes(ours, "EE") == ours


def test_help_texts_show_the_defaults(capsys):
    for command, defaults in (("build", ["--out", "(default: chinchilla)", "(default: 1)"]), ("export", ["(default: train)", "(default: export)"]), ("score", ["(default: validation)", "(default: set)"])):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        for expected in defaults:
            assert expected in text, (command, expected)
        assert "(default: None)" not in text
