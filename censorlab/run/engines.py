"""Run one function over many work items on the in-process engine or on Dask.

Every downloaded source (OONI, STOP, GDELT, registry dumps) has the same shape of work: a
function that handles one raw file (parse, clean, spool) and, for key-wide steps, a function that
handles one key partition (dedup, write). This module runs such a function over a list of items
and returns the results in input order, so that a source's code never depends on the engine:

* ``engine="pandas"``: in this process, on a small thread pool (the heavy parts -- gzip, the
  pyarrow JSON/CSV readers, Parquet writes -- release the GIL).
* ``engine="dask"``: as Dask tasks. ``scheduler="synchronous"`` (unit tests) or ``"threads"``
  run locally without a cluster; ``scheduler=None`` starts a
  ``distributed.LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0")``
  for the duration of the call; any other value is a scheduler address (``tcp://host:8786``)
  of an existing cluster, whose workers must see the same file system paths.

Functions and items must be picklable (module-level functions, plain data) for the distributed
case; results come back to the caller, so keep them small (counts, paths), never tables.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

ENGINES = ("pandas", "dask")
LOCAL_SCHEDULERS = ("synchronous", "threads", "sync", "single-threaded", "processes")


def default_workers() -> int:
    """Return the worker count used when none is given: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_per_item(
    func: Callable[..., Any],
    items: Sequence[tuple],
    *,
    engine: str = "pandas",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[Any], None] | None = None,
) -> list[Any]:
    """Call ``func(*item)`` for every item and return the results in item order.

    Args:
        func: A module-level function (picklable).
        items: Argument tuples, one per task.
        engine: ``"pandas"`` (in-process thread pool) or ``"dask"``.
        scheduler: For Dask: ``"synchronous"``/``"threads"``, a scheduler address, or None for a
            temporary LocalCluster. Ignored by the pandas engine.
        workers: Threads (pandas) or LocalCluster workers (dask); default: CPUs available.
        progress: Called with each result as it completes (in completion order), e.g. to advance
            a progress bar.

    Returns:
        ``[func(*item) for item in items]``, computed on the chosen engine.

    Raises:
        ValueError: Unknown engine.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use one of {ENGINES}")
    workers = workers or default_workers()
    if not items:
        return []
    if engine == "pandas":
        return _run_threads(func, items, workers, progress)
    return _run_dask(func, items, scheduler, workers, progress)


def _run_threads(func, items, workers, progress):
    if workers == 1 or len(items) == 1:
        results = []
        for item in items:
            results.append(func(*item))
            if progress:
                progress(results[-1])
        return results
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="censorlab") as pool:
        futures = [pool.submit(func, *item) for item in items]
        if progress:
            for future in as_completed(futures):
                progress(future.result())
        return [future.result() for future in futures]


def _run_dask(func, items, scheduler, workers, progress):
    import dask

    if scheduler in LOCAL_SCHEDULERS:
        tasks = [dask.delayed(func, pure=False)(*item) for item in items]
        results = list(dask.compute(*tasks, scheduler=scheduler))
        if progress:
            for result in results:
                progress(result)
        return results
    with dask_client(scheduler, workers) as client:
        from distributed import as_completed as completed  # distributed is imported on use

        futures = [client.submit(func, *item, pure=False) for item in items]
        if progress:
            for future in completed(futures):
                progress(future.result())
        return client.gather(futures)


@dataclass(frozen=True)
class Runner:
    """One run's way of mapping a function over work items, handed to sources that need it.

    A source module never imports the engines (they sit above it); a source whose table is
    written in stages (OONI) receives this runner from the driver instead.

    Attributes:
        engine: ``"pandas"`` or ``"dask"``.
        scheduler: As for :func:`run_per_item` (inside :func:`engine_session`: the session's).
        workers: Threads or Dask workers.
    """

    engine: str
    scheduler: str | None
    workers: int

    @property
    def in_process(self) -> bool:
        """Whether tasks run in this process (so callbacks such as progress counters work)."""
        return self.engine == "pandas"

    def map(self, func: Callable[..., Any], items: Sequence[tuple],
            progress: Callable[[Any], None] | None = None) -> list[Any]:
        """``[func(*item) for item in items]`` on this run's engine (see run_per_item)."""
        return run_per_item(func, items, engine=self.engine, scheduler=self.scheduler,
                            workers=self.workers, progress=progress)


@contextmanager
def engine_session(engine: str, scheduler: str | None = None, workers: int | None = None):
    """Yield the ``scheduler`` to pass to several :func:`run_per_item` calls of one job.

    For ``engine="dask"`` without a scheduler, one LocalCluster is started for the whole job
    and its address yielded, so a two-stage job (the OONI ingest) pays the cluster's start-up
    (2-3 s here) once, not per stage. Otherwise ``scheduler`` is yielded unchanged.
    """
    if engine != "dask" or scheduler:
        yield scheduler
        return

    with _local_cluster(workers) as cluster:
        yield cluster.scheduler_address


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None):
    """Yield a ``distributed.Client``: on ``scheduler`` if given, else on a temporary LocalCluster.

    The LocalCluster has ``workers`` single-threaded worker processes and a dashboard on a random
    port, and is closed on exit; a client to an external scheduler leaves the cluster running.
    """
    from distributed import Client

    if scheduler:
        client = Client(scheduler)
        logger.info("dask: connected to %s", scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    with _local_cluster(workers) as cluster:
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()


def _local_cluster(workers: int | None):
    """Return the LocalCluster both helpers start: single-threaded worker processes."""
    from distributed import LocalCluster

    workers = workers or default_workers()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0",
                           processes=True)
    logger.info("dask: LocalCluster with %d workers (dashboard %s)", workers,
                cluster.dashboard_link)
    return cluster
