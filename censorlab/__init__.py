"""censorlab: rebuildable, validated data and analyses on government blocks of apps."""

__version__ = "0.1.0"

from censorlab.queries import blocks, mau_at  # noqa: E402
from censorlab.run.driver import build, ingest  # noqa: E402
from censorlab.run.outputs import dataset_path, load, load_manifest, validate  # noqa: E402

__all__ = ["__version__", "blocks", "build", "dataset_path", "ingest", "load", "load_manifest",
           "mau_at", "validate"]
