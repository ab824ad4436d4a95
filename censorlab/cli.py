"""The `censorlab` command: one entry point, one subcommand per job.

The CLI parses arguments, configures logging and calls library functions; it holds no logic of
its own, so notebooks and scripts get exactly what the command does. Library errors become a
one-line message and exit code 2 (a file that could not be read is named, after the other
files were published); failed validation, or a table whose every row was rejected, exits 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path

from censorlab import __version__
from censorlab.core import http
from censorlab.errors import CensorlabError, PartialRunError, ValidationError
from censorlab.paths import EXPORTS_DIR, NOTEBOOKS_DIR, PROCESSED_DIR, RAW_DIR, REPORTS_DIR
from censorlab.sources import ingest_sources

logger = logging.getLogger("censorlab")

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_ERROR = 2


def _cmd_build(args: argparse.Namespace) -> int:
    from censorlab.run.driver import run_build

    outcome = run_build(args.raw, args.out, as_of=args.as_of, force=args.force)
    manifest = outcome.manifest
    rejected = sum(manifest["rejects_by_reason"].values())
    tables = ", ".join(f"{name} {info['rows']}"
                       for name, info in sorted(manifest["tables"].items()))
    verb = "built" if outcome.published else "up to date (use --force to rebuild):"
    print(f"{verb} {tables} rows in {outcome.out_dir} (as_of {manifest['as_of']}; {rejected} "
          "rejected rows, see rejects.parquet)")
    return _warnings(manifest)


def _warnings(manifest: dict) -> int:
    """Print a run's warnings; exit 1 when there are some (every row of a table rejected)."""
    for warning in manifest["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_INVALID if manifest["warnings"] else EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    from censorlab.run.manifest import failed_inputs
    from censorlab.run.outputs import load_manifest, validate

    try:
        validate(args.out)
    except ValidationError as exc:
        print(f"INVALID: {exc}", file=sys.stderr)
        return EXIT_INVALID
    for problem in failed_inputs(load_manifest(args.out)):
        print(f"note: published without a file that failed: {problem}", file=sys.stderr)
    print("valid: every output matches its schema and the manifest")
    return EXIT_OK


def _cmd_sources(args: argparse.Namespace) -> int:
    from censorlab.sources import SOURCES

    rows = [{"kind": s.kind, "role": "curated" if s.curated else "ingest",
             **s.load().PROVENANCE.to_dict(), "table": s.load().TABLE} for s in SOURCES]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return EXIT_OK
    for row in rows:
        print(f"{row['kind']:<20} {row['role']:<8} -> {row['table']:<20} {row['producer']}")
        print(f"{'':<20} {row['url']}  [{row['licence']}]")
    return EXIT_OK


def _cmd_checksums(args: argparse.Namespace) -> int:
    from censorlab.core.checksums import diff_registry, update_registry

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
    from censorlab.run.driver import run_ingest

    outcome = run_ingest(args.kind, args.paths, args.out, engine=args.engine,
                         scheduler=args.scheduler, workers=args.workers, raw_dir=args.raw)
    summary = outcome.manifest["summary"]
    print(f"ingested {args.kind} into {outcome.out_dir}: "
          + ", ".join(f"{k} {v}" for k, v in summary.items()))
    return _warnings(outcome.manifest)


def _limits(args: argparse.Namespace) -> http.Limits:
    return http.Limits(connect_timeout=args.timeout, read_timeout=args.timeout,
                       deadline=args.deadline, retries=args.retries)


def _cmd_fetch_ooni(args: argparse.Namespace) -> int:
    from censorlab.sources.ooni import fetch

    paths = fetch.fetch_ooni(probe_cc=args.cc, test_name=args.test, since=args.since,
                             until=args.until, out_dir=Path(args.out), base_url=args.base_url,
                             max_pages=args.max_pages, limits=_limits(args))
    print(f"fetched {len(paths)} file(s) into {args.out}")
    return EXIT_OK


def _cmd_fetch_gdelt(args: argparse.Namespace) -> int:
    from censorlab.sources import gdelt_fetch

    outcome = gdelt_fetch.fetch_gdelt(args.since, args.until, Path(args.out),
                                      base_url=args.base_url, max_files=args.max_files,
                                      limits=_limits(args))
    print(f"fetched {outcome.downloaded} file(s), {outcome.present} already present, into "
          f"{args.out} ({len(outcome.paths)} export file(s) from {args.since} to {args.until})")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from censorlab.report import run_report

    written = run_report(Path(args.notebooks or NOTEBOOKS_DIR), Path(args.out or REPORTS_DIR),
                         timeout=args.timeout)
    for path in written:
        print(path)
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from censorlab.export import export_table

    path = export_table(args.table, fmt=args.format, out=args.out, processed_dir=args.source)
    print(path)
    return EXIT_OK


def _shown(path: Path) -> str:
    """A default path as the help shows it: relative to the current directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _day(text: str) -> str:
    """Check an argparse value is a real calendar date written YYYY-MM-DD; return it.

    Why so strict: ``now`` or ``today`` would make a build depend on the day it runs, and
    ``2017`` silently became 2017-01-01.
    """
    try:
        return http.parse_day(text, "date").isoformat()
    except CensorlabError:
        message = f"{text!r} is not a real date written YYYY-MM-DD"
        raise argparse.ArgumentTypeError(message) from None


def _at_least(minimum: int):
    """Make an argparse type for whole numbers >= ``minimum`` (``--workers -1`` was a traceback)."""
    def whole_number(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {number}")
        return number

    return whole_number


def _seconds(text: str) -> float:
    """Check an argparse value is a positive, finite number of seconds; return it."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (seconds > 0 and math.isfinite(seconds)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return seconds


def _add_fetch_parsers(sub: argparse._SubParsersAction) -> None:
    """``fetch ooni`` and ``fetch gdelt``: the same day range, output and download bounds."""
    from censorlab.sources import gdelt_fetch
    from censorlab.sources.ooni import fetch

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--since", required=True, type=_day, help="first day, YYYY-MM-DD")
    common.add_argument("--until", required=True, type=_day,
                        help="last day, YYYY-MM-DD (inclusive)")
    common.add_argument("--out", required=True, help="download directory")
    common.add_argument("--timeout", type=_seconds, default=http.READ_TIMEOUT_SECONDS,
                        help="seconds per connect and per socket read (default %(default)g)")
    common.add_argument("--deadline", type=_seconds, default=http.DEADLINE_SECONDS,
                        help="seconds for one whole response, however slowly it trickles in "
                        "(default %(default)g)")
    common.add_argument("--retries", type=_at_least(0), default=http.RETRIES,
                        help="retries per request on network errors, HTTP 429 and 5xx "
                        "(default %(default)s; backoff doubles from 1 s)")

    p = sub.add_parser("fetch", help="download measurements or events (needs internet)")
    fetchers = p.add_subparsers(dest="source", required=True, metavar="SOURCE")
    p = fetchers.add_parser("ooni", parents=[common], help="OONI measurements from the API")
    p.add_argument("--cc", required=True, help="probe country, alpha-2")
    p.add_argument("--test", required=True, help="OONI test name, e.g. telegram")
    p.add_argument("--base-url", default=None,
                   help=f"API base URL (default {fetch.DEFAULT_BASE_URL})")
    p.add_argument("--max-pages", type=_at_least(1), default=fetch.MAX_PAGES,
                   help=f"listing pages of {fetch.PAGE_SIZE} per day at most (default "
                   "%(default)s)")
    p.set_defaults(func=_cmd_fetch_ooni)
    p = fetchers.add_parser("gdelt", parents=[common], help="GDELT 2.0 event exports "
                            "(.export.CSV.zip, every 15 minutes) listed in masterfilelist.txt")
    p.add_argument("--base-url", default=None,
                   help=f"where masterfilelist.txt and the files are (default "
                   f"{gdelt_fetch.DEFAULT_BASE_URL})")
    p.add_argument("--max-files", type=_at_least(1), default=gdelt_fetch.MAX_FILES,
                   help="refuse a range listing more export files than this, before any "
                   "download (default %(default)s, about 21 days)")
    p.set_defaults(func=_cmd_fetch_gdelt)


def make_parser() -> argparse.ArgumentParser:
    """Build the argument parser (also used by the docs and tests)."""
    parser = argparse.ArgumentParser(prog="censorlab", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"censorlab {__version__}")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="rebuild the curated tables from the raw directory")
    p.add_argument("--raw", help=f"raw directory (default {_shown(RAW_DIR)})")
    p.add_argument("--out", help=f"output directory (default {_shown(PROCESSED_DIR)})")
    p.add_argument("--as-of", type=_day,
                   help="date at which ongoing blocks are censored (YYYY-MM-DD)")
    p.add_argument("--force", action="store_true", help="rebuild even when up to date")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("validate", help="re-check any output (build or ingest) against its "
                       "schemas and manifest")
    p.add_argument("--out", help=f"output directory (default {_shown(PROCESSED_DIR)})")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("sources", help="list every source with its provenance")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_sources)

    p = sub.add_parser("checksums", help="compare raw files with the checksum registry")
    p.add_argument("--raw", help=f"raw directory (default {_shown(RAW_DIR)})")
    p.add_argument("--update", action="store_true", help="record the current hashes")
    p.set_defaults(func=_cmd_checksums)

    kinds = ingest_sources()
    p = sub.add_parser("ingest", help="clean downloaded data: " + ", ".join(
        s.kind for s in kinds), formatter_class=argparse.RawDescriptionHelpFormatter,
        description="kinds:\n" + "\n".join(f"  {s.kind:<16} {s.summary}" for s in kinds))
    p.add_argument("kind", choices=[s.kind for s in kinds], metavar="KIND",
                   help=" | ".join(s.kind for s in kinds))
    p.add_argument("paths", nargs="+", help="files or directories")
    p.add_argument("--out", required=True, help="output directory (one kind per directory)")
    p.add_argument("--engine", default="pandas", choices=["pandas", "dask"])
    p.add_argument("--scheduler", help="Dask scheduler address (default: a LocalCluster)")
    p.add_argument("--workers", type=_at_least(1), default=None,
                   help="threads or LocalCluster workers (default: the CPUs available)")
    p.add_argument("--raw", help=f"raw directory of the reference tables (default "
                   f"{_shown(RAW_DIR)})")
    p.set_defaults(func=_cmd_ingest)

    _add_fetch_parsers(sub)

    p = sub.add_parser("report", help="execute the notebooks and write HTML reports")
    p.add_argument("--notebooks", help=f"notebook directory (default {_shown(NOTEBOOKS_DIR)})")
    p.add_argument("--out", help=f"report directory (default {_shown(REPORTS_DIR)})")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("export", help="export a table as CSV or XLSX (formula-safe)")
    p.add_argument("table")
    p.add_argument("--format", default="csv", choices=["csv", "xlsx"])
    p.add_argument("--from", dest="source", metavar="DIR", help="output directory holding the "
                   f"table: a build or an ingest (default {_shown(PROCESSED_DIR)})")
    p.add_argument("--out", help=f"file to write (default {_shown(EXPORTS_DIR)}/<table>.<format>)")
    p.set_defaults(func=_cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except PartialRunError as exc:
        print(f"published {exc.manifest['kind']} without {len(exc.file_errors)} file(s) that "
              "failed:", file=sys.stderr)
        for error in exc.file_errors:
            print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except (CensorlabError, OSError) as exc:  # OSError: full disk, unwritable output, ...
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
