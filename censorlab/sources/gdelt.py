"""GDELT event exports: machine-coded news events, kept when they are diplomatic and bilateral.

Published by the GDELT Project (data.gdeltproject.org): GDELT 2.0 writes a `….export.CSV.zip`
every 15 minutes (since 2015-02), GDELT 1.0 daily `YYYYMMDD.export.CSV.zip` files (since
2013-04) and, for 1979 to 2013-03, historical backfiles (`YYYY.zip` yearly to 2005,
`YYYYMM.zip` monthly from 2006). Layout (docs FORMATS.md s. 4, and real lines of all three):
tab-separated, no header, no quoting (`QUOTE_NONE`: a `"` is an ordinary character), one
event per line, in one of three column lists, told apart by the line's width:

* `COLUMNS_V2`, **61** columns (GDELT 2.0): the 58 below plus `Actor1Geo_ADM2Code`,
  `Actor2Geo_ADM2Code` and `ActionGeo_ADM2Code` after each geo block's `ADM1Code`;
  `DATEADDED` is `YYYYMMDDHHMMSS`.
* `COLUMNS_V1`, **58** columns (GDELT 1.0 daily files): `GLOBALEVENTID`, the four date
  columns, 2 x 10 actor columns, 10 event columns, 3 x 7 geo columns (`Type`, `FullName`,
  `CountryCode`, `ADM1Code`, `Lat`, `Long`, `FeatureID`), `DATEADDED` (`YYYYMMDD`), `SOURCEURL`.
* `COLUMNS_V1_BACKFILE`, **57** columns (GDELT 1.0 historical backfiles): the 58 without
  `SOURCEURL` -- `DATEADDED` (the day of the backfile load, e.g. `20130203`) is the last. A
  backfile cites no article, so its events rest on GDELT's file list
  (`BACKFILE_SOURCE_URL`, the page the backfiles are downloaded from) and say so in `notes`.

The width is checked per line, so mixed inputs work; each file's manifest entry records how
many lines were read with a 1.0 layout; a line of any other width is a reject.
`.CSV`, `.CSV.gz` and single-member `.zip` files are read.

Codes: `Actor*CountryCode` are CAMEO country codes (ISO alpha-3 for states; regional codes such
as `EUR` or `AFR` are not countries); `*Geo_CountryCode` are FIPS 10-4 codes (China `CH`, Russia
`RS`). Both are mapped to alpha-2 through `censorlab.crosswalk`, never read as ISO.

Scope (not errors): an event is kept only when its CAMEO EventCode is in `DIPLOMATIC_CAMEO`
and both actors have a country code that maps to a country, and the two differ. Everything else
is counted as `rows_filtered` in the manifest (a daily file has ~100,000 events and a handful
that matter here). Malformed lines - wrong column count, an SQLDATE that is not a real
YYYYMMDD date, a non-numeric GLOBALEVENTID, GoldsteinScale or NumMentions - are rejects, checked
before scope because a broken line cannot be classified; a kept event whose SOURCEURL is not an
http(s) URL is rejected too (every row must name its page).

Output: table `gdelt_events`, the `diplomatic_events` columns (event_id `GDELT-<GLOBALEVENTID>`,
day precision, country_a = Actor1's country, country_b = Actor2's, confidence `low`: one machine-
coded article) plus `cameo_code`, `goldstein_scale`, `num_mentions` and `action_country`.
The same GLOBALEVENTID in two files is kept once and counted as a duplicate.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

from censorlab.cleaning import (
    SourceResult,
    finish,
    mark_rejects,
    split_rejects,
    start_marking,
    strip_cells,
)
from censorlab.core.provenance import Provenance
from censorlab.errors import RawFileError
from censorlab.reading.delimited import RawFile, file_digest, read_delimited
from censorlab.reading.lineblocks import check_unzipped_size
from censorlab.reference import Context
from censorlab.schema import URL_PATTERN

PROVENANCE = Provenance(
    name="gdelt",
    producer="The GDELT Project",
    url="http://data.gdeltproject.org/gdeltv2/masterfilelist.txt",
    licence="Free and open for any use, with citation of the GDELT Project",
    description="Machine-coded events from world news (CAMEO codes, actors, places), every "
    "15 minutes; censorlab keeps bilateral diplomatic events.",
    citation="Leetaru, K. and Schrodt, P. (2013). GDELT: Global Data on Events, Location and "
    "Tone.",
)
TABLE = "gdelt_events"
FILE_SUFFIXES = (".CSV", ".csv", ".zip", ".CSV.gz", ".csv.gz")

_ACTOR = ["Code", "Name", "CountryCode", "KnownGroupCode", "EthnicCode", "Religion1Code",
          "Religion2Code", "Type1Code", "Type2Code", "Type3Code"]
_GEO = ["Type", "FullName", "CountryCode", "ADM1Code", "ADM2Code", "Lat", "Long", "FeatureID"]
COLUMNS_V2 = (
    "GLOBALEVENTID", "SQLDATE", "MonthYear", "Year", "FractionDate",
    *[f"Actor1{c}" for c in _ACTOR], *[f"Actor2{c}" for c in _ACTOR],
    "IsRootEvent", "EventCode", "EventBaseCode", "EventRootCode", "QuadClass",
    "GoldsteinScale", "NumMentions", "NumSources", "NumArticles", "AvgTone",
    *[f"{who}Geo_{c}" for who in ("Actor1", "Actor2", "Action") for c in _GEO],
    "DATEADDED", "SOURCEURL",
)
COLUMNS_V1 = tuple(c for c in COLUMNS_V2 if not c.endswith("Geo_ADM2Code"))
COLUMNS_V1_BACKFILE = COLUMNS_V1[:-1]  # no SOURCEURL
assert (len(COLUMNS_V2), len(COLUMNS_V1), len(COLUMNS_V1_BACKFILE)) == (61, 58, 57)
#: Lines of another width than 61 read with a GDELT 1.0 layout: width -> (columns, repair).
V1_LAYOUTS = {
    len(COLUMNS_V1): (COLUMNS_V1, "GDELT 1.0 lines (58 columns) read with the 1.0 layout"),
    len(COLUMNS_V1_BACKFILE): (COLUMNS_V1_BACKFILE, "GDELT 1.0 backfile lines (57 columns, no "
                                                    "SOURCEURL) read with the backfile layout"),
}
BACKFILE_SOURCE_URL = "http://data.gdeltproject.org/events/index.html"
BACKFILE_NOTE = ("GDELT 1.0 historical backfile event: the backfile cites no article; "
                 "source_urls is GDELT's file list")

#: CAMEO event codes kept, with their CAMEO label and the diplomatic_events kind they map to.
#: 04x consultations are negotiations except 041 (a call), 042/043 (visits) and 044 (a meeting
#: at a third location, usually a summit's sidelines); 0811 (easing restrictions on political
#: freedoms) is the nearest to an agreement in the kind vocabulary and is marked as such in
#: `notes`; 1721 (imposing restrictions on political freedoms) is recorded as a dispute.
DIPLOMATIC_CAMEO: dict[str, tuple[str, str]] = {
    "036": ("Express intent to meet or negotiate", "negotiation"),
    "040": ("Consult", "negotiation"),
    "041": ("Discuss by telephone", "call"),
    "042": ("Make a visit", "state_visit"),
    "043": ("Host a visit", "state_visit"),
    "044": ("Meet at a third location", "summit"),
    "045": ("Mediate", "negotiation"),
    "046": ("Engage in negotiation", "negotiation"),
    "057": ("Sign formal agreement", "agreement"),
    "0811": ("Ease restrictions on political freedoms", "agreement"),
    "163": ("Impose embargo, boycott, or sanctions", "sanction"),
    "1721": ("Impose restrictions on political freedoms", "dispute"),
}
APPROXIMATE_KINDS = {"0811": "kind approximate: CAMEO 0811 is an easing, not a signed "
                     "agreement"}
CONFIDENCE_NOTE = "machine-coded by GDELT from one news article; not checked by a curator"
#: The same GLOBALEVENTID in two files is one event, kept once and counted as merged.
DEDUP_KEY = ("event_id",)


def _read_text_file(path: Path, name: str) -> RawFile:
    return read_delimited(path, dataset=TABLE, column_names=COLUMNS_V2, delimiter="\t",
                          quoting=csv.QUOTE_NONE, name=name)


def _read_zip(path: Path, name: str) -> RawFile:
    try:
        stored = path.read_bytes()
        with zipfile.ZipFile(io.BytesIO(stored)) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise RawFileError(path, None, members, "a GDELT zip holds exactly one CSV")
            check_unzipped_size(path, archive, len(stored), members)
            data = archive.read(members[0])
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise RawFileError(path, None, path.name, f"zip archive is corrupt: {exc}") from exc
    with tempfile.TemporaryDirectory() as tmp:
        inner = Path(tmp) / Path(members[0]).name
        inner.write_bytes(data)
        try:
            return dataclasses.replace(_read_text_file(inner, name), path=path,
                                       sha256=file_digest(stored))
        except RawFileError as exc:
            raise RawFileError(f"{path}!{members[0]}", exc.line, exc.value, exc.reason) from exc


def _accept_v1_lines(raw: RawFile) -> RawFile:
    """Turn 58- and 57-cell lines (GDELT 1.0 layouts) back from `missing-cell` rejects into rows.

    Every row gets ``_width``, its layout's column count (61, 58 or 57), for the cleaning.
    """
    rows, rejects, repairs = [raw.rows.assign(_width=len(COLUMNS_V2))], raw.rejects, []
    for width, (columns, repair) in V1_LAYOUTS.items():
        cells = rejects["raw_text"].fillna("").str.split("\t")
        hit = (rejects["reason_code"] == "missing-cell") & (cells.map(len) == width)
        if not hit.any():
            continue
        found = pd.DataFrame([dict(zip(columns, c, strict=True)) for c in cells[hit]],
                             columns=list(COLUMNS_V2), dtype=object)
        rows.append(found.assign(
            source_file=raw.name, _width=width,
            source_line=rejects.loc[hit, "source_line"].astype("int64").to_numpy(),
            raw_text=rejects.loc[hit, "raw_text"].to_numpy()))
        rejects = rejects[~hit].reset_index(drop=True)
        repairs.append(f"{int(hit.sum())} {repair}")
    joined = pd.concat(rows, ignore_index=True).sort_values("source_line")
    return dataclasses.replace(raw, rows=joined.reset_index(drop=True), rejects=rejects,
                               repairs=[*raw.repairs, *repairs])


def read(path: Path, context: Context | None = None, name: str | None = None) -> RawFile:
    """Parse a GDELT export (`.CSV`, `.CSV.gz` or single-member `.zip`) into string rows.

    Raises:
        RawFileError: Undecodable bytes, a corrupt archive or gzip stream.
    """
    path = Path(path)
    name = name or path.name
    raw = _read_zip(path, name) if path.suffix.lower() == ".zip" else _read_text_file(path, name)
    return _accept_v1_lines(raw)


def _reject_bad_numbers(df: pd.DataFrame) -> pd.DataFrame:
    ids = df["GLOBALEVENTID"].fillna("")
    out = mark_rejects(df, ~ids.str.fullmatch(r"[0-9]+"), "type-error",
                       "GLOBALEVENTID is not a number: " + ids)
    goldstein = pd.to_numeric(df["GoldsteinScale"], errors="coerce")
    out = mark_rejects(out, goldstein.isna() | ~goldstein.between(-10, 10), "type-error",
                       "GoldsteinScale is not a number in -10..10: "
                       + df["GoldsteinScale"].fillna(""))
    mentions = df["NumMentions"].fillna("")
    out = mark_rejects(out, ~mentions.str.fullmatch(r"[0-9]+"), "type-error",
                       "NumMentions is not a count: " + mentions)
    return out.assign(goldstein_scale=goldstein,
                      num_mentions=pd.to_numeric(mentions.where(mentions.str.fullmatch(r"[0-9]+")),
                                                 errors="coerce").astype("Int64"))


def _parse_sqldates(df: pd.DataFrame) -> pd.DataFrame:
    text = df["SQLDATE"].fillna("")
    parsed = pd.to_datetime(text.where(text.str.fullmatch(r"[0-9]{8}")), format="%Y%m%d",
                            errors="coerce")
    out = df.assign(date=parsed, earliest_date=parsed, latest_date=parsed, date_precision="day")
    return mark_rejects(out, parsed.isna(), "type-error",
                        "SQLDATE is not a real YYYYMMDD date: " + text)


def _resolve_dyads(df: pd.DataFrame, context: Context) -> pd.DataFrame:
    crosswalk = context.crosswalk
    return df.assign(country_a=df["Actor1CountryCode"].map(crosswalk.cameo_to_alpha2),
                     country_b=df["Actor2CountryCode"].map(crosswalk.cameo_to_alpha2),
                     action_country=df["ActionGeo_CountryCode"].map(crosswalk.fips_to_alpha2))


def _in_scope(df: pd.DataFrame) -> pd.Series:
    """Diplomatic CAMEO code and two different countries (the rest is out of scope)."""
    return (df["EventCode"].isin(DIPLOMATIC_CAMEO) & df["country_a"].notna()
            & df["country_b"].notna() & (df["country_a"] != df["country_b"]))


def _shape_events(df: pd.DataFrame) -> pd.DataFrame:
    labels = df["EventCode"].map(lambda c: DIPLOMATIC_CAMEO[c][0])
    names = (df["Actor1Name"].fillna(df["Actor1CountryCode"]) + " -> "
             + df["Actor2Name"].fillna(df["Actor2CountryCode"]))
    backfile = df["_width"] == len(COLUMNS_V1_BACKFILE)
    url = df["SOURCEURL"].fillna("").where(~backfile, BACKFILE_SOURCE_URL)
    notes = df["EventCode"].map(APPROXIMATE_KINDS)
    notes = notes.where(~backfile, notes.map(lambda n: f"{n}; {BACKFILE_NOTE}"
                                             if isinstance(n, str) else BACKFILE_NOTE))
    return df.assign(
        event_id="GDELT-" + df["GLOBALEVENTID"],
        cameo_code=df["EventCode"],
        kind=df["EventCode"].map(lambda c: DIPLOMATIC_CAMEO[c][1]),
        title=labels + ": " + names,
        notes=notes,
        related_block_event_ids=None,
        confidence="low",
        confidence_note=CONFIDENCE_NOTE,
        source_urls=url.map(lambda u: [u] if u else []),
        _url_ok=url.str.match(URL_PATTERN),
    )


def _reject_missing_urls(df: pd.DataFrame) -> pd.DataFrame:
    return mark_rejects(df, ~df["_url_ok"], "constraint-error",
                        "SOURCEURL is not an http(s) URL: " + df["SOURCEURL"].fillna(""))


def clean(raw: RawFile, context: Context) -> SourceResult:
    """Reject malformed lines, keep bilateral diplomatic events, shape them as events."""
    used = ["GLOBALEVENTID", "SQLDATE", "Actor1Name", "Actor2Name", "Actor1CountryCode",
            "Actor2CountryCode", "EventCode", "GoldsteinScale", "NumMentions",
            "ActionGeo_CountryCode", "SOURCEURL"]
    checked = (
        raw.rows.pipe(start_marking)
        .pipe(strip_cells, used)
        .pipe(_reject_bad_numbers)
        .pipe(_parse_sqldates)
        .pipe(_resolve_dyads, context)
    )
    accepted, rejects = split_rejects(checked, TABLE)
    scope = _in_scope(accepted)
    shaped = (
        accepted[scope].pipe(start_marking)
        .pipe(_shape_events)
        .pipe(_reject_missing_urls)
    )
    kept, late_rejects = split_rejects(shaped, TABLE)
    return finish(raw, TABLE, clean=kept, rejects=[rejects, late_rejects],
                  filtered=int((~scope).sum()))
