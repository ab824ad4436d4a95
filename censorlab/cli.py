"""The `censorlab` command: one entry point, one subcommand per job.

The CLI parses arguments, configures logging and calls library functions; it holds no logic of
its own, so notebooks and scripts get exactly what the command does. Library errors become a
one-line message and exit code 2; failed validation exits 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from censorlab import __version__
from censorlab.errors import CensorlabError, ValidationError

logger = logging.getLogger("censorlab")

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_ERROR = 2


def _cmd_build(args: argparse.Namespace) -> int:
    from censorlab.pipeline import build

    manifest = build(args.raw, args.out, as_of=args.as_of, force=args.force)
    rejected = sum(manifest["rejects_by_reason"].values())
    tables = ", ".join(f"{name} {info['rows']}"
                       for name, info in sorted(manifest["tables"].items()))
    print(f"built {tables} rows (as_of {manifest['as_of']}; {rejected} rejected rows, see "
          "rejects.parquet)")
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    from censorlab.pipeline import validate

    if args.dataset:
        from censorlab.sources.ooni import verify_dataset

        problems = verify_dataset(args.dataset)
        for problem in problems:
            print(f"INVALID: {problem}", file=sys.stderr)
        if problems:
            return EXIT_INVALID
        print("valid: the dataset's rows, partitions and content hashes match its manifest")
        return EXIT_OK
    try:
        validate(args.out)
    except ValidationError as exc:
        print(f"INVALID: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print("valid: every output matches its schema and the manifest")
    return EXIT_OK


def _cmd_sources(args: argparse.Namespace) -> int:
    from censorlab.ingest import ingest_modules
    from censorlab.sources import curated_modules

    rows = [
        {"kind": "curated", **m.PROVENANCE.to_dict(), "table": m.TABLE}
        for m in curated_modules()
    ] + [
        {"kind": "ingest", **m.PROVENANCE.to_dict(), "table": m.TABLE}
        for m in ingest_modules()
    ]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    for row in rows:
        print(f"{row['name']:<20} {row['kind']:<8} -> {row['table']:<20} {row['producer']}")
        print(f"{'':<20} {row['url']}  [{row['licence']}]")
    return EXIT_OK


def _cmd_checksums(args: argparse.Namespace) -> int:
    from censorlab.checksums import diff_registry, update_registry
    from censorlab.paths import RAW_DIR

    raw = Path(args.raw or RAW_DIR)
    changes = update_registry(raw) if args.update else diff_registry(raw)
    for change in changes:
        print(change.describe())
    if not changes:
        print(f"{raw}: every raw file matches the registry")
        return EXIT_OK
    if args.update:
        print(f"registry updated: {len(changes)} change(s) recorded")
        return EXIT_OK
    return EXIT_INVALID


def _cmd_ingest(args: argparse.Namespace) -> int:
    from censorlab.ingest import ingest

    manifest = ingest(args.kind, args.paths, args.out, engine=args.engine,
                      scheduler=args.scheduler, workers=args.workers, raw_dir=args.raw)
    summary = manifest.get("summary", {})
    print(f"ingested {args.kind}: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
    errors = manifest.get("errors") or []
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return EXIT_ERROR if errors else EXIT_OK


def _cmd_fetch(args: argparse.Namespace) -> int:
    from censorlab import fetch

    paths = fetch.fetch_ooni(probe_cc=args.cc, test_name=args.test, since=args.since,
                             until=args.until, out_dir=Path(args.out), base_url=args.base_url)
    print(f"fetched {len(paths)} file(s) into {args.out}")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from censorlab.paths import NOTEBOOKS_DIR, REPORTS_DIR
    from censorlab.report import run_report

    written = run_report(Path(args.notebooks or NOTEBOOKS_DIR), Path(args.out or REPORTS_DIR),
                         timeout=args.timeout)
    for path in written:
        print(path)
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from censorlab.export import export_table

    path = export_table(args.table, fmt=args.format, out=args.output, processed_dir=args.out)
    print(path)
    return EXIT_OK


def make_parser() -> argparse.ArgumentParser:
    """Build the argument parser (also used by the docs and tests)."""
    parser = argparse.ArgumentParser(prog="censorlab", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"censorlab {__version__}")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="rebuild data/processed from data/raw")
    p.add_argument("--raw", help="raw directory (default data/raw)")
    p.add_argument("--out", help="output directory (default data/processed)")
    p.add_argument("--as-of", help="date at which ongoing blocks are censored (YYYY-MM-DD)")
    p.add_argument("--force", action="store_true", help="rebuild even when up to date")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("validate", help="re-check outputs against schemas and the manifest")
    p.add_argument("--out", help="output directory (default data/processed)")
    p.add_argument("--dataset", help="instead, an ingested ooni_measurements directory: "
                   "recompute its content hashes and row counts")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("sources", help="list every source with its provenance")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_sources)

    p = sub.add_parser("checksums", help="compare raw files with the checksum registry")
    p.add_argument("--raw", help="raw directory (default data/raw)")
    p.add_argument("--update", action="store_true", help="record the current hashes")
    p.set_defaults(func=_cmd_checksums)

    p = sub.add_parser("ingest", help="clean downloaded data (OONI, STOP, GDELT, registry)")
    p.add_argument("kind", help="ooni | ooni-aggregate | stop | gdelt | rkn")
    p.add_argument("paths", nargs="+", help="files or directories")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--engine", default="pandas", choices=["pandas", "dask"])
    p.add_argument("--scheduler", help="Dask scheduler address (default: a LocalCluster)")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster workers")
    p.add_argument("--raw", help="raw directory for reference tables (default data/raw)")
    p.set_defaults(func=_cmd_ingest)

    p = sub.add_parser("fetch", help="download measurements (needs internet)")
    p.add_argument("source", choices=["ooni"])
    p.add_argument("--cc", required=True, help="probe country, alpha-2")
    p.add_argument("--test", required=True, help="OONI test name, e.g. telegram")
    p.add_argument("--since", required=True, help="YYYY-MM-DD")
    p.add_argument("--until", required=True, help="YYYY-MM-DD")
    p.add_argument("--out", required=True, help="download directory")
    p.add_argument("--base-url", default=None, help="API base URL (tests use a local server)")
    p.set_defaults(func=_cmd_fetch)

    p = sub.add_parser("report", help="execute the notebooks and write HTML to reports/")
    p.add_argument("--notebooks", help="notebook directory (default notebooks/)")
    p.add_argument("--out", help="report directory (default reports/)")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("export", help="export a table as CSV or XLSX (formula-safe)")
    p.add_argument("table")
    p.add_argument("--format", default="csv", choices=["csv", "xlsx"])
    p.add_argument("--output", help="output file (default reports/exports/<table>.<format>)")
    p.add_argument("--out", help="processed directory (default data/processed)")
    p.set_defaults(func=_cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (CensorlabError, OSError) as exc:  # OSError: full disk, unwritable output, ...
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
