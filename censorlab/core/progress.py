"""Progress bars for long work, quiet in CI logs and in notebooks.

tqdm with `disable=None` hides the bar when output is not a terminal (CI logs stay clean).
`tqdm.contrib.logging` imports `tqdm.auto`, which warns on stderr in a Jupyter kernel without
ipywidgets; that warning is about a widget we never draw, so it is silenced here, once, instead
of leaking into every notebook's stored output.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from tqdm import TqdmWarning
from tqdm.std import tqdm


def progress_bar(iterable: Iterable | None = None, **kwargs) -> tqdm:
    """Return a plain-terminal tqdm bar that disables itself when not on a terminal."""
    kwargs.setdefault("disable", None)
    return tqdm(iterable, **kwargs)


@contextmanager
def logging_to_progress() -> Iterator[None]:
    """Route log records through tqdm.write so they do not break a running bar."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.contrib.logging import logging_redirect_tqdm
    with logging_redirect_tqdm(tqdm_class=tqdm):
        yield
