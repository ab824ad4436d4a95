"""Finding an ingest's input files, and the name each is recorded under.

One rule for every kind: a file given directly is recorded by its name; a directory is searched
recursively for the kind's file names, and each file is recorded by its path relative to the
directory's parent (``raw/20221207/10/IT/telegram/x.jsonl.gz`` keeps OONI's layout; two dumps
named ``dump.csv`` in two dated folders stay apart). Recorded names are never absolute, so
content hashes do not depend on the machine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from censorlab.core.checksums import refuse_irregular
from censorlab.errors import CensorlabError


def discover_files(paths: Iterable[str | Path], suffixes: Sequence[str]) -> list[tuple[Path, str]]:
    """Expand files and directories into (path, source_file) pairs, sorted by source_file.

    Raises:
        CensorlabError: A path does not exist, an input is not a regular file (a FIFO), no
            file matches, or two files would get the same source_file (their rows could not
            be told apart).
    """
    paths = [Path(p) for p in paths]
    found: dict[str, Path] = {}
    for given in paths:
        if given.is_dir():
            pairs = [(p, p.relative_to(given.parent).as_posix()) for p in sorted(given.rglob("*"))
                     if not p.is_dir() and p.name.endswith(tuple(suffixes))]
        elif given.exists():
            pairs = [(given, given.name)]
        else:
            raise CensorlabError(f"{given}: no such file or directory")
        for path, _ in pairs:  # a FIFO would hang the run: refused by name, never skipped
            refuse_irregular(path, path.stat().st_mode)
        for path, name in pairs:
            if name in found and found[name].resolve() != path.resolve():
                raise CensorlabError(f"two inputs would both be recorded as {name!r}: "
                                     f"{found[name]} and {path}; pass their parent directory")
            found[name] = path
    if not found:
        raise CensorlabError(f"no input files ({', '.join(suffixes)}) found in "
                             f"{', '.join(map(str, paths))}")
    return sorted(((p, n) for n, p in found.items()), key=lambda pair: pair[1])
