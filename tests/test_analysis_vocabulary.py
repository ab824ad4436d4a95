"""The vocabularies of the new raw columns: the analysis's contract (SPEC) and the schema."""

import pytest

from censorlab import schema
from censorlab.analysis import vocabulary
from censorlab.analysis.contact_calendar import (
    ALL_CONTACT_LEVELS,
    LEADER_CONTACT_LEVELS,
    MAIN_CONTACT_LEVELS,
)
from censorlab.analysis.userbase import METRIC_KIND_PREFERENCE

NAMES = ["END_STATUSES", "END_MECHANISMS", "CONTACT_LEVELS", "COMPILED_BY_VALUES", "METRIC_KINDS"]


@pytest.mark.parametrize("name", NAMES)
def test_schema_vocabulary_equals_the_contract_the_analysis_was_written_against(name):
    if not hasattr(schema, name):
        pytest.skip(f"censorlab.schema does not declare {name} yet (lead wires it after #13)")
    assert tuple(getattr(schema, name)) == getattr(vocabulary, f"SPEC_{name}")
    assert getattr(vocabulary, name) == tuple(getattr(schema, name))


def test_declared_level_sets_and_preferences_use_only_known_values():
    assert set(MAIN_CONTACT_LEVELS) <= set(vocabulary.CONTACT_LEVELS)
    assert set(LEADER_CONTACT_LEVELS) <= set(vocabulary.CONTACT_LEVELS)
    assert tuple(ALL_CONTACT_LEVELS) == tuple(vocabulary.CONTACT_LEVELS)
    assert sorted(METRIC_KIND_PREFERENCE) == sorted(vocabulary.METRIC_KINDS)
    assert vocabulary.END_STATUSES == ("ended", "in_force", "unknown")
