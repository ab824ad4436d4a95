"""nbval settings for the censorlab notebooks.

nbval compares each cell's stored outputs with fresh ones. Two kinds of output are not
results and change between otherwise identical runs, so they are excluded here rather than
by switching comparison off (``--nbval-lax``):

* ``stderr``: warnings from libraries (statsmodels convergence notes, pandas deprecations)
  and log messages, whose wording changes with library versions;
* ``text/html``: pandas' HTML rendering of DataFrames, which changes with pandas versions.
  Every headline number is also printed as plain text, and plain text is compared.

Figure reprs (``<Figure size ...>``) are normalised by ``tests/nbval_sanitize.cfg``; images
themselves are never compared by nbval.
"""

SKIPPED_OUTPUTS = ("stderr", "text/html", "application/javascript")


def pytest_collectstart(collector):
    """Add the volatile output types to the comparison skip list of each notebook."""
    path = getattr(collector, "path", None)
    if path is not None and path.suffix == ".ipynb" and hasattr(collector, "skip_compare"):
        collector.skip_compare = tuple(collector.skip_compare) + SKIPPED_OUTPUTS
