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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="chinchilla", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the multi-config dataset folder")
    build.add_argument("--data-dir", help="folder with one sub-folder per corpus (default: the bundled fixtures)")
    build.add_argument("--out", default="chinchilla", help="output folder; name it 'chinchilla' to load it by that name")
    build.add_argument("--corpus", nargs="+", choices=list(builders()), help="corpora to build (default: all)")
    build.add_argument("--num-proc", type=int, default=1, help="corpora built in parallel")
    build.set_defaults(func=cmd_build)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
