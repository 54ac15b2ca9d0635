"""``chinchilla qc-review``: the top suspects of a corpus, each in its sentence, label beside the
suggestion and the evidence — the page a person reads to decide whether QC is right."""

from __future__ import annotations

from pathlib import Path

from .apply import read_report

CONTEXT = 30  # characters shown each side of a span


def highlight(text: str, start, end, context: int = CONTEXT) -> str:
    """``text`` around ``[start, end)`` with the span in 【】 (the whole text when there is no span)."""
    if start is None or end is None:
        return text if len(text) <= 2 * context else text[: 2 * context] + "…"
    left, right = max(0, start - context), min(len(text), end + context)
    return ("…" if left else "") + text[left:start] + "【" + text[start:end] + "】" + text[end:right] + ("…" if right < len(text) else "")


def _label(s: dict, text: str) -> str:
    if s["kind"] == "missing":
        return "(no entity)"
    if s["start"] is None:
        return str(s.get("type"))
    return f"{text[s['start']:s['end']]} [{s['type']}]"


def _suggestion(s: dict) -> str:
    sug = s.get("suggestion")
    if sug is None:
        return "(no entity)" if s["kind"] == "spurious" else "–"
    if "text" in sug:
        return f"{sug['text']} [{sug['type']}] at {sug['start']}-{sug['end']}"
    return ", ".join(f"{k}={v}" for k, v in sug.items())


def _evidence(s: dict) -> str:
    parts = [f"found by {s.get('check', '?')}"]
    if "model_odds" in s:
        parts.append(f"model log-odds {s['model_odds']:+.1f}, fold agreement {s['agreement']:.0%}, cleanlab {'yes' if s['cleanlab'] else 'no'}, consistency {s['consistency']:+.1f}")
    for key in ("labelled_elsewhere", "unlabelled_elsewhere", "elsewhere", "role", "trigger", "head", "tail", "types"):
        if key in s:
            parts.append(f"{key.replace('_', ' ')}: {s[key]}")
    return "; ".join(parts)


def review_page(out: str, corpus: str, top: int = 50) -> str:
    from ..parquet_io import config_files, parquet_batches

    report = read_report(Path(out))
    if corpus not in report:
        raise KeyError(f"corpus {corpus!r} has no QC report in {out}; reported: {', '.join(sorted(report)) or 'none'}")
    suspects = sorted((s for entry in report[corpus].values() for s in entry["suspects"]), key=lambda s: (-s["score"], s["id"]))[:top]
    wanted = {s["id"] for s in suspects}
    texts = {}
    for paths in config_files(out).get(f"{corpus}_unified", {}).values():
        for batch in parquet_batches(paths, 4096, columns=["id", "text"]):
            for row_id, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
                if row_id in wanted:
                    texts[row_id] = text or ""
    total = sum(len(entry["suspects"]) for entry in report[corpus].values())
    lines = [f"QC review of {corpus}: top {len(suspects)} of {total} suspects (score = how likely an annotation error)", ""]
    for rank, s in enumerate(suspects, 1):
        text = texts.get(s["id"], "")
        if s["kind"] == "missing" and s.get("suggestion"):
            start, end = s["suggestion"]["start"], s["suggestion"]["end"]
        else:
            start, end = s["start"], s["end"]
        lines += [
            f"#{rank} {s['score']:.3f} {s['kind']:<9} {s['id']}" + ("" if texts.get(s["id"]) is not None else " (row no longer in the unified view)"),
            f"   {highlight(text, start, end)}",
            f"   label: {_label(s, text)}   suggestion: {_suggestion(s)}",
            f"   {_evidence(s)}",
            "",
        ]
    return "\n".join(lines)
