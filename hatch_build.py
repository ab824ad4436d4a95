"""Ship the curated raw data in the wheel, and only in a real wheel.

``data/raw`` stays where the repository keeps it; a standard wheel carries it as
``censorlab/data/raw`` (read-only package data, see censorlab/paths.py). An editable install
reads ``data/raw`` from the checkout, so it gets no copy: a static ``force-include`` would also
copy it into the editable install's site-packages, where it would go stale.
"""

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    """Add ``data/raw`` to standard wheels (hatchling's ``force_include`` build data)."""

    def initialize(self, version: str, build_data: dict) -> None:
        """Called by hatchling before each wheel build; ``version`` is standard or editable."""
        if version == "standard":
            build_data["force_include"]["data/raw"] = "censorlab/data/raw"
