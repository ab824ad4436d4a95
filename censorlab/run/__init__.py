"""Running censorlab: the one driver, the commit point, the engines, the reference context.

* ``driver``: ``build()`` and ``ingest()`` -- every run, curated or downloaded, files in and a
  published generation out, with one manifest and one error policy;
* ``publish``: generation directories, the atomic publish step, the output directory's lock;
* ``manifest``: the one manifest schema and the checks behind ``validate`` for every output;
* ``outputs``: the readers (``load``, ``load_manifest``, ``validate``, ``dataset_path``);
* ``context``: the run's reference context, built once;
* ``engines``: the in-process and Dask engines; ``files``: finding an ingest's input files.
"""
