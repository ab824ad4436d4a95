"""Reproducibility: same inputs, same hashes and bytes; a manifest that records everything;
`censorlab validate` catches any tampering with outputs or manifest (a forgery that rewrites
values, metadata and manifest consistently and stays schema-valid is only caught by a rebuild)."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import censorlab
from censorlab.cli import EXIT_INVALID, EXIT_OK, main
from censorlab.core.checksums import file_sha256
from censorlab.core.storage import METADATA_KEY, content_hash, read_provenance
from censorlab.errors import ValidationError
from censorlab.schema import SCHEMA_VERSION
from censorlab.sources import REFERENCE_FILES, curated_sources

CURATED_TABLES = (*(s.load().TABLE for s in curated_sources()), "rejects")


def raw_file_names() -> set[str]:
    return {*REFERENCE_FILES, *(f for s in curated_sources() for f in s.load().RAW_FILES)}


def test_two_builds_give_identical_hashes_and_bytes(built_dir, tmp_path):
    raw, first = built_dir
    second = tmp_path / "second"
    censorlab.build(raw, second)
    assert censorlab.load_manifest(first) == censorlab.load_manifest(second)
    for table in CURATED_TABLES:
        a, b = first / f"{table}.parquet", second / f"{table}.parquet"
        assert a.read_bytes() == b.read_bytes(), table
        assert read_provenance(a)["content_hash"] == read_provenance(b)["content_hash"]
    assert (first / "manifest.json").read_bytes() == (second / "manifest.json").read_bytes()


def test_manifest_records_inputs_versions_as_of_and_accounting(built_dir):
    raw, out = built_dir
    manifest = censorlab.load_manifest(out)
    assert manifest["package_version"] == censorlab.__version__
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["as_of"] and manifest["code_fingerprint"].startswith("sha256:")
    assert set(manifest["inputs"]) == set(raw_file_names())
    for name, info in manifest["inputs"].items():
        assert info["sha256"] == file_sha256(raw / name)
        if "rows_read" in info:
            assert info["rows_read"] == info["rows_clean"] + info["rows_rejected"]
            assert info["rows_clean"] + info["rows_split"] == info["rows_out"] + info[
                "rows_merged"]
    for table in CURATED_TABLES:
        info = manifest["tables"][table]
        arrow_table = pq.read_table(out / info["path"])
        assert arrow_table.num_rows == info["rows"]
        assert content_hash(arrow_table.replace_schema_metadata(None)) == info["content_hash"]
        meta = json.loads(arrow_table.schema.metadata[METADATA_KEY])
        assert (meta["content_hash"], meta["as_of"], meta["package_version"]) == (
            info["content_hash"], manifest["as_of"], censorlab.__version__)


def test_explicit_as_of_is_recorded_and_does_not_change_the_data(built_dir, tmp_path):
    raw, out = built_dir
    other = tmp_path / "as_of"
    manifest = censorlab.build(raw, other, as_of="2030-01-01")
    assert manifest["as_of"] == "2030-01-01"
    for table in CURATED_TABLES:
        assert manifest["tables"][table]["content_hash"] == censorlab.load_manifest(out)[
            "tables"][table]["content_hash"]


@pytest.fixture()
def tamper_dir(raw_dir, tmp_path):
    out = tmp_path / "out"
    censorlab.build(raw_dir, out)
    assert main(["validate", "--out", str(out)]) == EXIT_OK
    return out


def _edit_manifest(out, change):
    manifest = json.loads((out / "manifest.json").read_text())
    change(manifest)
    (out / "manifest.json").write_text(json.dumps(manifest))


def _rewrite_parquet(out, table, change, keep_metadata_hash=True):
    """Rewrite a table with changed values; keep (or update) the hash in the metadata."""
    path = (out / f"{table}.parquet").resolve()  # the published file, not its stable link
    arrow_table = pq.read_table(path)
    new = change(arrow_table)
    meta = dict(arrow_table.schema.metadata)
    if not keep_metadata_hash:
        info = json.loads(meta[METADATA_KEY])
        info["content_hash"] = content_hash(new.replace_schema_metadata(None))
        meta[METADATA_KEY] = json.dumps(info).encode()
    pq.write_table(new.replace_schema_metadata(meta), path)
    return new


def _set_column(arrow_table, name, values):
    index = arrow_table.schema.get_field_index(name)
    field = arrow_table.schema.field(index)
    return arrow_table.set_column(index, field, pa.array(values, type=field.type))


TAMPERS = {
    "manifest content hash": lambda out: _edit_manifest(
        out, lambda m: m["tables"]["mau"].update(content_hash="sha256:" + "0" * 64)),
    "manifest row count": lambda out: _edit_manifest(
        out, lambda m: m["tables"]["block_events"].update(rows=2)),
    "manifest accounting": lambda out: _edit_manifest(
        out, lambda m: m["inputs"]["mau.csv"].update(rows_out=5)),
    "value changed, metadata kept": lambda out: _rewrite_parquet(
        out, "block_events", lambda t: _set_column(t, "authority", ["someone else"])),
    "value changed, metadata hash updated": lambda out: _rewrite_parquet(
        out, "mau", lambda t: _set_column(t, "mau", [1]), keep_metadata_hash=False),
    "schema-violating value with matching hashes": lambda out: (
        _rewrite_parquet(out, "block_events",
                         lambda t: _set_column(t, "blocking_country", ["Russia"]),
                         keep_metadata_hash=False),
        _edit_manifest(out, lambda m: m["tables"]["block_events"].update(
            content_hash=read_provenance(out / "block_events.parquet")["content_hash"]))),
    "row dropped": lambda out: _rewrite_parquet(out, "diplomatic_events",
                                                lambda t: t.slice(0, 0)),
    "file deleted": lambda out: (out / "services.parquet").resolve().unlink(),
    "garbage bytes": lambda out: (out / "rejects.parquet").write_bytes(b"not parquet"),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_validate_exits_non_zero_on_any_tampering(tamper_dir, tamper, capsys):
    TAMPERS[tamper](tamper_dir)
    capsys.readouterr()
    assert main(["validate", "--out", str(tamper_dir)]) == EXIT_INVALID
    assert "INVALID" in capsys.readouterr().err
    with pytest.raises(ValidationError):
        censorlab.validate(tamper_dir)
