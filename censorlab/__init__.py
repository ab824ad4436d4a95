"""censorlab: rebuildable, validated data and analyses on government blocks of apps."""

__version__ = "0.1.0"

from censorlab.pipeline import build, load, load_manifest, validate  # noqa: E402

__all__ = ["__version__", "build", "load", "load_manifest", "validate"]
