"""The ``chinchilla`` command line."""

from __future__ import annotations

import argparse
import sys

from .registry import builders


def _print_report(report: dict) -> None:
    print(f"{'corpus':<18} {'split':<11} {'read':>7} {'raw':>7} {'rejected':>8} {'unified':>7} {'instruct':>8}")
    for corpus, splits in report.items():
        for split, c in splits.items():
            print(
                f"{corpus:<18} {split:<11} {c['read']:>7} {c['written']:>7} {len(c['rejected']):>8} "
                f"{c.get('unified', '-'):>7} {c.get('instruct', '-'):>8}"
            )
            for reject in (c["rejected"] + c.get("unified_rejected", []))[:5]:
                print(f"    rejected {reject['file']}:{reject['line']}: {reject['reason']}")


def cmd_build(args) -> int:
    from .export import build_collection

    try:
        report = build_collection(args.data_dir, args.out, args.corpus, args.num_proc)
    except (FileNotFoundError, KeyError) as err:
        print(f"chinchilla build: {err}", file=sys.stderr)
        return 2
    _print_report(report)
    print(f"wrote {args.out}")
    return 0


def cmd_score(args) -> int:
    import json

    from .export import iter_split
    from .score import format_table, read_predictions, score_rows

    try:
        predictions = read_predictions(args.predictions)
        result = score_rows(iter_split(args.data, args.config, args.split), predictions)
    except (KeyError, ValueError, FileNotFoundError) as err:
        print(f"chinchilla score: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False) if args.json else format_table(result))
    return 0


def cmd_export(args) -> int:
    from .export import iter_split
    from .formats import write_rows

    try:
        path = write_rows(iter_split(args.data, args.config, args.split), args.out, f"{args.config}.{args.split}", args.format)
    except (KeyError, FileNotFoundError) as err:
        print(f"chinchilla export: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="chinchilla", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the multi-config dataset folder")
    build.add_argument("--data-dir", help="folder with one sub-folder per corpus (default: the bundled fixtures)")
    build.add_argument("--out", default="chinchilla", help="output folder; name it 'chinchilla' to load it by that name")
    build.add_argument("--corpus", nargs="+", choices=list(builders()), help="corpora to build (default: all)")
    build.add_argument("--num-proc", type=int, default=1, help="corpora built in parallel")
    build.set_defaults(func=cmd_build)

    score = sub.add_parser("score", help="score predictions against an instruct split")
    score.add_argument("--predictions", required=True, help='JSON Lines {"id": row id, "output": answer}')
    score.add_argument("--data", required=True, help="a built folder (chinchilla build --out)")
    score.add_argument("--config", required=True, help="an instruct config, e.g. duee_instruct")
    score.add_argument("--split", default="validation")
    score.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    score.set_defaults(func=cmd_score)

    export = sub.add_parser("export", help="write an instruct split for trainers (LLaMA-Factory, OpenAI)")
    export.add_argument("--data", required=True, help="a built folder")
    export.add_argument("--config", required=True)
    export.add_argument("--split", default="train")
    export.add_argument("--format", required=True, choices=["alpaca", "sharegpt", "openai"])
    export.add_argument("--out", default="export", help="folder for the file (and dataset_info.json)")
    export.set_defaults(func=cmd_export)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
