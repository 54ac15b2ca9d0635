"""The ``chinchilla`` command line.

Every subcommand runs through :func:`run`: an expected failure (bad input, a refused folder, an
I/O error such as a full disk or a folder removed mid-run) is one line on stderr and an exit
status, Ctrl-C is one line and status 130; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import errno
import sys

from .archives import DEFAULT_MAX_ARCHIVE_BYTES
from .registry import builders


def _print_report(report: dict) -> None:
    from .outputs import PROBLEMS

    print(f"{'corpus':<18} {'split':<11} {'read':>7} {'raw':>7} {'rejected':>8} {'unified':>7} {'instruct':>8}")
    for corpus, splits in report.items():
        if corpus == PROBLEMS:
            continue
        for split, c in splits.items():
            print(
                f"{corpus:<18} {split:<11} {c['read']:>7} {c['written']:>7} {len(c['rejected']):>8} "
                f"{c.get('unified', '-'):>7} {c.get('instruct', '-'):>8}"
            )
            for reject in (c["rejected"] + c.get("unified_rejected", []))[:5]:
                print(f"    rejected {reject['file']}:{reject['line']}: {reject['reason']}")


def _qc_options(args):
    from .qc import QCOptions
    from .qc.crf import CRFOptions

    return QCOptions(crf=CRFOptions(folds=args.folds, seed=args.seed, max_iterations=args.qc_iterations), threshold=args.qc_threshold)


def cmd_build(args) -> int:
    from .collection import build_collection
    from .outdir import OutDirRefused
    from .outputs import PROBLEMS

    if args.drop_suspects and not args.qc:
        return _fail(args, ValueError("--drop-suspects needs --qc"))
    try:
        qc = qc_num_proc = None
        if args.qc:
            from .qc import qc_processes, require_qc_dependencies

            require_qc_dependencies()
            qc = _qc_options(args)
            qc_num_proc = args.num_proc or qc_processes()
        report = build_collection(
            args.data_dir, args.out, args.corpus, args.num_proc or 1, qc_num_proc=qc_num_proc,
            near_duplicates=args.near_duplicates, drop_leaks=args.drop_leaks,
            max_archive_bytes=args.max_archive_bytes,
            qc=qc, drop_suspects=args.drop_suspects,
        )
    except (FileNotFoundError, KeyError, OutDirRefused, ImportError) as err:
        return _fail(args, err)
    _print_report(report)
    print(f"wrote {args.out}")
    failed = {name: p["failed"] for name, p in report.get(PROBLEMS, {}).items() if "failed" in p}
    for name, reason in failed.items():
        print(f"chinchilla build: {name}: {reason}", file=sys.stderr)
    return 1 if failed else 0


def cmd_qc(args) -> int:
    from .qc import qc_build, qc_processes

    try:
        report = qc_build(args.data, args.corpus, _qc_options(args), drop=args.drop_suspects, num_proc=args.num_proc or qc_processes())
    except (FileNotFoundError, KeyError, ImportError) as err:
        return _fail(args, err)
    for corpus, splits in report.items():
        for split, entry in splits.items():
            print(f"{corpus:<18} {split:<11} {entry['flagged']:>6} of {entry['rows']:>7} rows flagged qc_suspect ({entry['seconds']:.0f} s)")
    print(f"wrote {args.data}/qc_report.json")
    return 0


def cmd_qc_review(args) -> int:
    from .qc.review import review_page

    try:
        print(review_page(args.out, args.corpus, args.top))
    except (FileNotFoundError, KeyError) as err:
        return _fail(args, err)
    return 0


def _add_qc_arguments(parser) -> None:
    from .qc import DEFAULT_THRESHOLD
    from .qc.crf import CRFOptions

    parser.add_argument("--drop-suspects", action="store_true", help="remove the rows flagged qc_suspect from the unified and instruct views")
    parser.add_argument("--qc-threshold", type=float, default=DEFAULT_THRESHOLD, help=f"score from which a suspect flags its row (default {DEFAULT_THRESHOLD})")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds of the NER model (default 5)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the folds (default 42)")
    parser.add_argument("--qc-iterations", type=int, default=CRFOptions().max_iterations, help="L-BFGS iterations of each fold's CRF")


def cmd_score(args) -> int:
    import json

    from .exports import instruct_rows
    from .score import align_llamafactory, format_table, is_llamafactory, read_predictions, score_rows

    try:
        rows = list(instruct_rows(args.data, args.config, args.split))
        if is_llamafactory(args.predictions):
            predictions = align_llamafactory(args.predictions, rows)
        else:
            predictions = read_predictions(args.predictions)
        result = score_rows(rows, predictions, match_mode=args.match_mode)
    except (KeyError, ValueError, FileNotFoundError) as err:
        return _fail(args, err)
    print(json.dumps(result, ensure_ascii=False) if args.json else format_table(result))
    return 0


def cmd_export(args) -> int:
    from .exports import instruct_rows, write_rows

    try:
        path, written, skipped = write_rows(instruct_rows(args.data, args.config, args.split), args.out, args.config, args.split, args.format)
    except (KeyError, ValueError, FileNotFoundError) as err:
        return _fail(args, err)
    note = f"; left out {skipped} EET/EEA training rows (no IEPile shape for them here)" if skipped else ""
    print(f"wrote {path} ({written} rows{note}) and its entry in {path.parent / 'dataset_info.json'}")
    return 0


def cmd_predict(args) -> int:
    from .exports import instruct_rows
    from .llm import LLMError
    from .predict import run_predict

    if args.concurrency < 1 or (args.limit is not None and args.limit < 0):
        return _fail(args, ValueError("--concurrency must be at least 1 and --limit at least 0"))
    try:
        rows = instruct_rows(args.data, args.config, args.split)
        report = run_predict(
            rows, args.out, args.endpoint, args.model, concurrency=args.concurrency, limit=args.limit,
            api_key_env=args.api_key_env, timeout=args.timeout, max_retries=args.max_retries,
        )
    except (KeyError, ValueError, FileNotFoundError, LLMError) as err:
        return _fail(args, err)
    print(f"{report.describe(args.out)}; wrote {args.out}")
    if report.asked or report.already:
        print(f"score it: chinchilla score --predictions {args.out} --data {args.data} --config {args.config} --split {args.split}")
    return 1 if report.failed else 0


def cmd_push(args) -> int:
    from .publish import NothingToPublish, plan_release, push_release

    try:
        release = plan_release(args.out, include_restricted=args.include_restricted, repo_id=args.repo_id)
    except (FileNotFoundError, NothingToPublish) as err:
        return _fail(args, err)
    where = f"datasets/{args.repo_id}" + (f"@{args.revision}" if args.revision else "")
    verb = "would upload" if args.dry_run else "uploading"
    print(f"{verb} {len(release.files)} files ({len(release.configs)} configs) to {where} in one commit:")
    print(release.describe())
    if release.restricted:
        print("including restricted corpora (make sure you hold the rights): " + ", ".join(release.restricted))
    if args.dry_run:
        print("dry run: the Hub was not contacted (data files of earlier releases are deleted by a real push)")
        return 0
    try:
        commit = push_release(
            release, args.repo_id, private=args.private, revision=args.revision, tag=args.tag, token=args.token
        )
    except Exception as err:  # network, authentication, permissions: one clear line, not a traceback
        return _fail(args, err, 1, f"{type(err).__name__}: ")
    print(f"committed {commit.oid}: {commit.commit_url}")
    if args.tag:
        print(f"tagged {args.tag}")
    return 0


def cmd_download(args) -> int:
    from pathlib import Path

    from .download import download_all

    # By default every corpus with a source to fetch (the translations <corpus>_zh are made by translate).
    names = args.corpus or [name for name, cls in builders().items() if not cls.corpus.translated_from]
    corpora = [builders()[name].corpus for name in names]
    summary = download_all(corpora, Path(args.data_dir), progress=not args.quiet)
    print(
        f"{len(summary['downloaded'])} corpora downloaded or verified in {args.data_dir}, "
        f"{len(summary['manual'])} need registration, {len(summary['failed'])} failed"
    )
    return 1 if summary["failed"] else 0


def cmd_audit(args) -> int:
    import json

    from .audit import audit, format_audit

    try:
        result = audit(args.out)
    except (FileNotFoundError, KeyError) as err:
        return _fail(args, err)
    print(json.dumps(result, ensure_ascii=False) if args.json else format_audit(result))
    return 0 if all(a["balanced"] for a in result["accounting"]) else 1


def cmd_translate(args) -> int:
    from .llm import LLMError
    from .translate import translate_corpus

    try:
        result = translate_corpus(
            args.data_dir, args.corpus, args.endpoint, args.model,
            splits=args.split, out=args.out, api_key_env=args.api_key_env, concurrency=args.concurrency,
            cache_path=args.cache, limit=args.limit, timeout=args.timeout, max_retries=args.max_retries,
            progress=not args.no_progress,
        )
    except (LLMError, FileNotFoundError, KeyError, ValueError) as err:
        return _fail(args, err)
    failed = sum(c["translation_failed"] for c in result["splits"].values())
    print(f"wrote {result['out']} ({result['requests_sent']} requests sent)")
    if failed:
        print(f"{failed} records flagged translation_failed: run the same command again to retry them")
    return 0


def _message(err: BaseException) -> str:
    """One line for an error: an ``OSError`` as its reason and the path(s) it names; a
    ``KeyError`` without the quotes ``str`` adds."""
    if isinstance(err, OSError) and err.strerror:
        paths = " -> ".join(str(p) for p in (err.filename, err.filename2) if p is not None)
        hint = "; free some space (or build elsewhere) and run again" if err.errno == errno.ENOSPC else ""
        return f"{err.strerror}{': ' + paths if paths else ''}{hint}"
    text = err.args[0] if isinstance(err, KeyError) and len(err.args) == 1 else err
    return " ".join(str(text).split()) or type(err).__name__


def _fail(args, err: BaseException, code: int = 2, label: str = "") -> int:
    """An expected failure of a subcommand: one line and ``code`` (the traceback with ``--debug``)."""
    if args.debug:
        raise err
    print(f"chinchilla {args.command}: {label}{_message(err)}", file=sys.stderr)
    return code


def run(func, args) -> int:
    """Run one subcommand: the one place errors become lines and exit statuses (module doc)."""
    name = f"chinchilla {args.command}"
    try:
        return func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except OSError as err:
        if args.debug:
            raise
        print(f"{name}: {_message(err)} (--debug shows the traceback)", file=sys.stderr)
        return 1
    except Exception as err:  # a bug: still one line, the traceback on request
        if args.debug:
            raise
        print(f"{name}: unexpected {type(err).__name__}: {_message(err)} (rerun with --debug for the traceback, and report it)", file=sys.stderr)
        return 1


class Help(argparse.ArgumentDefaultsHelpFormatter):
    """Help texts that show each option's default (not for flags, options without one, or help
    texts that already say it)."""

    def _get_help_string(self, action):
        if action.default in (None, False, argparse.SUPPRESS) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def add_endpoint_options(parser: argparse.ArgumentParser) -> None:
    """The options of a command that talks to an OpenAI-compatible endpoint through ``llm.py``
    (``predict``, ``translate``): one set, so both read the same flags the same way."""
    parser.add_argument("--endpoint", required=True, help="the API's base URL, e.g. http://localhost:8000/v1 (POST <endpoint>/chat/completions)")
    parser.add_argument("--model", required=True, help="the model name the endpoint serves")
    parser.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key (unset is fine for a local server)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request before it is retried")
    parser.add_argument("--max-retries", type=int, default=4, help="retries per request (429, 5xx, timeouts, broken bodies), with backoff")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="chinchilla", description=__doc__.split("\n")[0], formatter_class=Help)
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    # --debug is also accepted after the subcommand; SUPPRESS keeps the top-level value otherwise.
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[debug], formatter_class=Help, **kwargs)

    build = command("build", help="build the multi-config dataset folder")
    build.add_argument("--data-dir", help="folder with one sub-folder per corpus (default: the bundled fixtures)")
    build.add_argument("--out", default="chinchilla", help="output folder; name it 'chinchilla' to load it by that name")
    build.add_argument("--corpus", nargs="+", choices=list(builders()), help="corpora to build (default: all)")
    build.add_argument("--num-proc", type=int, help="worker processes: corpora built in parallel, large files cut into shards (default: 1); with --qc, also the folds trained in parallel (without --num-proc: one per core)")
    build.add_argument("--near-duplicates", action="store_true", help="also flag near-duplicate texts (MinHash-LSH)")
    build.add_argument("--drop-leaks", action="store_true", help="drop training rows whose text is in a validation/test split")
    build.add_argument(
        "--max-archive-bytes", type=int, default=DEFAULT_MAX_ARCHIVE_BYTES, metavar="N",
        help="limit on each file read from an archive and on an archive's total (default 4 GiB)",
    )
    build.add_argument("--qc", action="store_true", help="quality control: rank suspected annotation errors, flag rows qc_suspect (needs the qc extra)")
    _add_qc_arguments(build)
    build.set_defaults(func=cmd_build)
    qc = command("qc", help="quality control of an existing build (rewrites it atomically)")
    qc.add_argument("--data", required=True, help="a built folder")
    qc.add_argument("--corpus", nargs="+", help="corpora to check (default: all built)")
    qc.add_argument("--num-proc", type=int, help="cross-validation folds trained in parallel (default: one per core)")
    _add_qc_arguments(qc)
    qc.set_defaults(func=cmd_qc)
    review = command("qc-review", help="print the top QC suspects of a corpus in context")
    review.add_argument("out", help="a built folder with qc_report.json")
    review.add_argument("--corpus", required=True)
    review.add_argument("--top", type=int, default=50)
    review.set_defaults(func=cmd_qc_review)
    push = command("push", help="publish a built folder to the HuggingFace Hub in one commit")
    push.add_argument("out", help="the built folder (chinchilla build --out)")
    push.add_argument("--repo-id", required=True, help="dataset repository, ORG/NAME")
    push.add_argument("--private", action="store_true", help="create the repository private (if it does not exist)")
    push.add_argument("--revision", help="branch to commit to (created from main if missing; default: main)")
    push.add_argument("--tag", help="tag the release commit (must not exist yet)")
    push.add_argument("--dry-run", action="store_true", help="list what would be uploaded; do not contact the Hub")
    push.add_argument(
        "--include-restricted",
        action="store_true",
        help="also publish corpora whose license does not grant redistribution (only if you hold the rights)",
    )
    push.add_argument("--token", help="Hub token (default: the token of `hf auth login` or HF_TOKEN)")
    push.set_defaults(func=cmd_push)

    download = command(
        "download",
        help="fetch the corpora that have a public copy into DATA_DIR/<corpus>/ (checksummed, resumable)",
    )
    download.add_argument("--data-dir", required=True, help="folder to fill with one sub-folder per corpus (the input of build)")
    download.add_argument("--corpus", nargs="+", choices=list(builders()), help="corpora to fetch (default: all)")
    download.add_argument("--quiet", action="store_true", help="no progress bars")
    download.set_defaults(func=cmd_download)

    audit = command("audit", help="check a built folder: accounting, spans, duplicates and leakage")
    audit.add_argument("out", help="a built folder")
    audit.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    audit.set_defaults(func=cmd_audit)

    score = command("score", help="score predictions against an instruct split")
    score.add_argument(
        "--predictions", required=True,
        help='JSON Lines, either {"id": row id, "output": answer} (chinchilla predict) or LLaMA-Factory\'s '
        "generated_predictions.jsonl (prompt/predict/label, in the order of the exported eval file)",
    )
    score.add_argument("--data", required=True, help="a built folder (chinchilla build --out)")
    score.add_argument("--config", required=True, help="an instruct config, e.g. duee_instruct")
    score.add_argument("--split", default="validation", help="the split the predictions answer")
    score.add_argument(
        "--match-mode", choices=["set", "normal"], default="set",
        help="as IEPile's evaluator: set counts each distinct tuple of a record once; normal counts repeated tuples",
    )
    score.add_argument("--json", action="store_true", help="print one JSON object (overall, per task, corpus, type and corpus-type) instead of a table")
    score.set_defaults(func=cmd_score)

    export = command("export", help="write an instruct split for trainers (LLaMA-Factory, OpenAI, IEPile)")
    export.add_argument("--data", required=True, help="a built folder (chinchilla build --out)")
    export.add_argument("--config", required=True, help="an instruct config, e.g. duie_instruct or all_instruct")
    export.add_argument("--split", default="train", help="the split to write")
    export.add_argument(
        "--format", required=True, choices=["alpaca", "sharegpt", "openai", "iepile"],
        help="alpaca/sharegpt: LLaMA-Factory; openai: OpenAI chat fine-tuning (LLaMA-Factory reads it too); iepile: IEPile's instruction format",
    )
    export.add_argument("--out", default="export", help="folder for <config>.<split>.<format>.jsonl and dataset_info.json (entry <config>.<split>.<format>)")
    export.set_defaults(func=cmd_export)

    predict = command(
        "predict", help="ask an OpenAI-compatible endpoint (vLLM, SGLang, a hosted API) to answer an instruct split"
    )
    predict.add_argument("--data", required=True, help="a built folder (chinchilla build --out)")
    predict.add_argument("--config", required=True, help="an instruct config, e.g. duee_instruct")
    predict.add_argument("--split", default="validation", help="the split to answer")
    add_endpoint_options(predict)
    predict.add_argument("--limit", type=int, help="answer only the first N scored rows of the split (default: all)")
    predict.add_argument(
        "--out", default="predictions.jsonl",
        help='JSON Lines {"id", "output"}, appended as answers arrive; rows it already answers are not asked again',
    )
    predict.set_defaults(func=cmd_predict)

    translate = command(
        "translate", help="translate an English corpus into Chinese with an OpenAI-compatible endpoint"
    )
    translate.add_argument("--data-dir", required=True, help="folder with one sub-folder per corpus (RAW)")
    translate.add_argument("--corpus", required=True, help="the English corpus to translate, e.g. conll04")
    translate.add_argument("--split", nargs="+", help="splits to translate (default: every labelled split)")
    add_endpoint_options(translate)
    translate.add_argument("--cache", help="SQLite answer cache (default: TDIR/<corpus>_zh/translate_cache.sqlite)")
    translate.add_argument("--limit", type=int, help="translate at most this many records per split")
    translate.add_argument("--out", help="TDIR: writes TDIR/<corpus>_zh/<split>.jsonl (default: the data dir)")
    translate.add_argument("--no-progress", action="store_true", help="no progress bar")
    translate.set_defaults(func=cmd_translate)
    args = parser.parse_args(argv)
    return run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
