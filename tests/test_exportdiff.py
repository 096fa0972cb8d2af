"""Diffs of DynamoDB exports: exports read and checked against their manifests in moto's S3
(written in DynamoDB's documented layout: moto writes no manifests), and the DuckDB diff held
equal to the in-process compare repair runs on scanned items (formkiq_backup.tablediff), on the
same items: sets, binary, nested values, attribute order, every site scope."""

import itertools
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
from moto import mock_aws

from formkiq_backup.exportdiff.diff import ExportMismatchError, check_pair, diff_exports
from formkiq_backup.exportdiff.duckdb_engine import DuckDbEngine
from formkiq_backup.exportdiff.manifest import (
    ExportCheckError,
    ExportLocation,
    manifest_entry,
    newest_export,
    read_export,
)
from formkiq_backup.exportdiff.sql import ATHENA, DUCKDB, Scope, side_query
from formkiq_backup.items import Item, canonical
from formkiq_backup.sites import belongs_to_site
from formkiq_backup.tablediff import Action, TableDiff
from tests.exports_support import full_lines, incremental_record, write_export

BUCKET = "formkiq-prod-exports-123456789012"
PREFIX = "dynamodb/formkiq-core-prod-documents/"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/formkiq-core-prod-documents"
KEYS = ("PK", "SK")
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=3)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def document(site: str, number: int, rng: random.Random) -> Item:
    """A FormKiQ-like item with every kind of value DynamoDB has."""
    prefix = "" if site == "default" else f"{site}/"
    return {
        "PK": {"S": f"{prefix}docs#{number:04d}"},
        "SK": {"S": "document"},
        "GSI1PK": {"S": f"{prefix}docts#2026-11-{number % 28 + 1:02d}"},
        "path": {"S": f"invoices/{number}.pdf"},
        "contentLength": {"N": str(rng.randint(1, 10**6))},
        "tags": {"SS": rng.sample(["a", "b", "c", "d", "é"], 3)},
        "sizes": {"NS": rng.sample(["1", "2.5", "-3", "10"], 3)},
        "thumb": {"B": bytes(rng.getrandbits(8) for _ in range(6))},
        "blobs": {"BS": [bytes([n, rng.getrandbits(8)]) for n in range(3)]},
        "meta": {
            "M": {
                "owner": {"S": "alice"},
                "nested": {"M": {"flags": {"SS": ["x", "y"]}, "n": {"N": "7"}}},
                "list": {"L": [{"S": "one"}, {"N": "2"}, {"BOOL": True}, {"NULL": True}]},
            }
        },
    }


def api_key(site: str) -> Item:
    """FormKiQ's API keys: a global PK, the site only in the index keys."""
    prefix = "" if site == "default" else f"{site}/"
    return {
        "PK": {"S": "apikeys#"},
        "SK": {"S": f"apikey#{site}"},
        "GSI1PK": {"S": f"{prefix}apikeys#"},
        "GSI2PK": {"S": f"{prefix}apikey#{site}"},
    }


def tables() -> tuple[list[Item], list[Item]]:
    """A reference and a live table: overwritten, deleted and created items in every site, a
    set reordered only (the same item), the site registry."""
    rng = random.Random(7)
    reference = [
        document(site, n, rng) for site in ("default", "finance", "legal") for n in range(12)
    ]
    reference += [api_key(site) for site in ("default", "finance", "legal")]
    reference.append({"PK": {"S": "sites"}, "SK": {"S": "finance"}, "name": {"S": "Finance"}})
    live = [dict(item) for item in reference]
    live[0]["path"] = {"S": "changed.pdf"}  # default site, overwritten
    live[13]["tags"] = {"SS": ["z"]}  # finance: a set changed
    live[14]["meta"] = {"M": {"owner": {"S": "mallory"}}}  # finance: nested value changed
    live[15]["thumb"] = {"B": b"\x00changed"}  # finance: binary changed
    live[16]["tags"] = {"SS": list(reversed(live[16]["tags"]["SS"]))}  # the same set
    live[30]["sizes"] = {"NS": ["1"]}  # legal
    del live[20], live[2]  # finance and default items deleted
    live = [item for item in live if item["SK"] != {"S": "apikey#finance"}]  # its API key too
    live.append(document("finance", 900, rng))  # created since
    live.append(document("default", 901, rng))
    live.append({"PK": {"S": "sites"}, "SK": {"S": "legal"}, "name": {"S": "Legal"}})
    return reference, live


def in_process(reference: list[Item], live: list[Item], site: str | None) -> dict[str, set[bytes]]:
    """What repair computes from scanned items: TableDiff, site_member on both sides."""

    def keep(item: Item) -> bool:
        return site is None or belongs_to_site(item, site)

    with TableDiff(KEYS) as diff:
        diff.collect([i for i in reference if keep(i)], [i for i in live if keep(i)])
        return _by_action(diff)


def _by_action(diff: TableDiff) -> dict[str, set[bytes]]:
    found: dict[str, set[bytes]] = {action.value: set() for action in Action}
    for change in diff.changes():
        found[change.action.value].add(canonical(change.key) + canonical(change.wanted or {}))
    return found


def export_pair(s3: Any, reference: list[Item], live: list[Item]) -> tuple[Any, Any]:
    first = write_export(s3, BUCKET, PREFIX, TABLE_ARN, full_lines(reference, 1), export_time=T0)
    second = write_export(
        s3, BUCKET, PREFIX, TABLE_ARN, full_lines(live, 2), export_time=T1, files=3
    )
    return (
        read_export(s3, ExportLocation.parse(first)),
        read_export(s3, ExportLocation.parse(second)),
    )


@pytest.mark.parametrize("site", [None, "finance", "default", "legal"])
def test_the_duckdb_diff_of_two_exports_is_the_in_process_compare_of_their_items(
    s3: Any, site: str | None, tmp_path: Path
) -> None:
    reference, live = tables()
    first, second = export_pair(s3, reference, live)
    expected = in_process(reference, live, site)

    with DuckDbEngine(s3, directory=tmp_path) as engine:
        diff, details = diff_exports(engine, first, second, KEYS, site=site, directory=tmp_path)
        with diff:
            assert _by_action(diff) == expected
            scoped = [i for i in reference if site is None or belongs_to_site(i, site)]
            assert diff.reference_count == len(scoped)
    assert details["engine"] == "duckdb"
    assert any(expected.values())  # every scope has something to repair
    assert list(tmp_path.iterdir()) == []  # downloads and spill removed


def test_only_the_reordered_set_is_left_to_the_canonical_compare(s3: Any, tmp_path: Path) -> None:
    """Attribute and set order differ between the exports (each shuffles differently): the
    engine hands those lines on as candidates, and the canonical compare drops them."""
    reference, _ = tables()
    first, second = export_pair(s3, reference, reference)
    with DuckDbEngine(s3, directory=tmp_path) as engine:
        diff, _ = diff_exports(engine, first, second, KEYS, site=None, directory=tmp_path)
        with diff:
            assert diff.counts() == {Action.PUT: 0, Action.OVERWRITE: 0, Action.DELETE: 0}
            assert diff.live_count == diff.reference_count == len(reference)


def test_an_incremental_export_laid_over_the_reference_diffs_like_the_full_export(
    s3: Any, tmp_path: Path
) -> None:
    reference, live = tables()
    by_key = {canonical({k: i[k] for k in KEYS}): i for i in reference}
    live_by_key = {canonical({k: i[k] for k in KEYS}): i for i in live}
    records = []
    for key in by_key.keys() | live_by_key.keys():
        old, new = by_key.get(key), live_by_key.get(key)
        if old is None or new is None or canonical(old) != canonical(new) or key == min(by_key):
            item = new or old
            assert item is not None
            records.append(incremental_record({k: item[k] for k in KEYS}, old, new))
    location = write_export(s3, BUCKET, PREFIX, TABLE_ARN, full_lines(reference), export_time=T0)
    changes = write_export(
        s3, BUCKET, PREFIX, TABLE_ARN, records, export_time=T1, incremental_from=T0
    )
    first = read_export(s3, ExportLocation.parse(location))
    second = read_export(s3, ExportLocation.parse(changes))
    assert second.incremental and second.export_from_time == T0

    for site in (None, "finance", "default"):
        with DuckDbEngine(s3, directory=tmp_path) as engine:
            diff, _ = diff_exports(engine, first, second, KEYS, site=site, directory=tmp_path)
            with diff:
                assert _by_action(diff) == in_process(reference, live, site), site
                assert diff.live_count == len(
                    [i for i in live if site is None or belongs_to_site(i, site)]
                )


# --- site membership in SQL ------------------------------------------------------------------

SITE_VALUES: list[dict[str, str] | None] = [
    None,
    {"S": "finance/docs#1"},
    {"S": "finance/"},
    {"S": "finance"},
    {"S": "financex/docs#1"},
    {"S": "legal/docs#1"},
    {"S": "sites"},
    {"S": "sitegroups"},
    {"S": "docs#1"},
    {"S": "a b/docs"},
    {"N": "7"},
    {"B": "AAE="},
]


@pytest.mark.parametrize("dialect", [DUCKDB, ATHENA], ids=["duckdb", "athena"])
def test_sql_site_membership_is_belongs_to_site_on_every_key_combination(dialect: Any) -> None:
    """Athena's spelling runs on DuckDB with its two functions defined as DuckDB's."""
    rows = []
    for pk, gsi1, gsi2 in itertools.product(SITE_VALUES, repeat=3):
        item = {"SK": {"S": "x"}}
        for name, value in zip(("PK", "GSI1PK", "GSI2PK"), (pk, gsi1, gsi2), strict=True):
            if value is not None:
                item[name] = value
        rows.append(item)
    db = duckdb.connect()
    athena_functions(db)
    lines = [(f'{{"Item": {_json(item)}}}',) for item in rows]
    db.execute("CREATE TABLE lines (line VARCHAR)")
    db.executemany("INSERT INTO lines VALUES (?)", lines)
    for site in ("finance", "legal", "default"):
        found = db.execute(
            f"SELECT in_scope FROM ({side_query(dialect, 'lines', ('SK',), Scope(site))}) AS s"
        ).fetchall()
        wire = [_wire(item) for item in rows]
        assert [bool(v) for (v,) in found] == [belongs_to_site(i, site) for i in wire], site


def athena_functions(db: Any) -> None:
    """Trino's names for the two functions the dialects spell differently, as DuckDB macros."""
    db.execute("CREATE MACRO json_extract_scalar(j, p) AS json_extract_string(j, p)")
    db.execute("CREATE MACRO regexp_like(s, p) AS regexp_matches(s, p)")


def _json(item: Item) -> str:
    import json

    return json.dumps(item)


def _wire(item: Item) -> Item:
    return {k: ({"B": b"\x00\x01"} if "B" in v else v) for k, v in item.items()}


def test_a_site_that_is_not_a_site_id_never_reaches_sql() -> None:
    with pytest.raises(ValueError, match="not a FormKiQ site id"):
        Scope("finance' OR TRUE --")


# --- bad exports -----------------------------------------------------------------------------


def one_export(s3: Any, **options: Any) -> str:
    reference, _ = tables()
    return write_export(
        s3, BUCKET, PREFIX, TABLE_ARN, full_lines(reference), export_time=T0, **options
    )


def test_a_corrupt_summary_is_a_failed_check_naming_the_file(s3: Any) -> None:
    url = one_export(s3)
    location = ExportLocation.parse(url)
    s3.put_object(Bucket=BUCKET, Key=location.key("manifest-summary.json"), Body=b"{not json")
    with pytest.raises(ExportCheckError, match=r"manifest-summary\.json: not JSON"):
        read_export(s3, location)


def test_a_files_manifest_that_disagrees_with_the_summary_is_a_failed_check(s3: Any) -> None:
    location = ExportLocation.parse(one_export(s3))
    body = s3.get_object(Bucket=BUCKET, Key=location.key("manifest-files.json"))["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=location.key("manifest-files.json"), Body=body.splitlines()[0])
    with pytest.raises(ExportCheckError, match=r"lists .* items, manifest-summary.json says"):
        read_export(s3, location)


def test_a_missing_data_file_is_a_failed_check(s3: Any, tmp_path: Path) -> None:
    location = ExportLocation.parse(one_export(s3))
    export = read_export(s3, location)
    s3.delete_object(Bucket=BUCKET, Key=export.files[1].key)
    with (
        DuckDbEngine(s3, directory=tmp_path) as engine,
        pytest.raises(ExportCheckError, match=r"is missing, yet manifest-files\.json lists it"),
    ):
        diff_exports(engine, export, export, KEYS, site=None)


def test_a_changed_data_file_fails_its_checksum(s3: Any, tmp_path: Path) -> None:
    import gzip

    export = read_export(s3, ExportLocation.parse(one_export(s3)))
    s3.put_object(Bucket=BUCKET, Key=export.files[0].key, Body=gzip.compress(b'{"Item": {}}\n'))
    with (
        DuckDbEngine(s3, directory=tmp_path) as engine,
        pytest.raises(ExportCheckError, match=r"MD5 .* is not the manifest's"),
    ):
        diff_exports(engine, export, export, KEYS, site=None)


def test_a_data_file_with_fewer_lines_than_its_manifest_says_is_a_failed_check(
    s3: Any, tmp_path: Path
) -> None:
    import gzip

    location = ExportLocation.parse(one_export(s3, files=1))
    export = read_export(s3, location)
    body = gzip.compress(b'{"Item": {"PK": {"S": "a"}, "SK": {"S": "b"}}}\n')
    s3.put_object(Bucket=BUCKET, Key=export.files[0].key, Body=body)
    entry = manifest_entry(export.files[0].key, body, export.item_count)
    s3.put_object(Bucket=BUCKET, Key=location.key("manifest-files.json"), Body=_json(entry))
    with (
        DuckDbEngine(s3, directory=tmp_path) as engine,
        pytest.raises(
            ExportCheckError, match=f"holds 1 items, manifest-files.json says {export.item_count}"
        ),
    ):
        diff_exports(engine, read_export(s3, location), export, KEYS, site=None)


def test_exports_of_another_table_or_in_the_wrong_order_cannot_be_compared(s3: Any) -> None:
    reference, _ = tables()
    first = read_export(s3, ExportLocation.parse(one_export(s3)))
    other = write_export(
        s3,
        BUCKET,
        "dynamodb/other/",
        TABLE_ARN.replace("documents", "other"),
        full_lines(reference),
        export_time=T1,
    )
    later = write_export(s3, BUCKET, PREFIX, TABLE_ARN, full_lines(reference), export_time=T1)
    with pytest.raises(ExportMismatchError, match="give exports of one table"):
        check_pair(first, read_export(s3, ExportLocation.parse(other)))
    with pytest.raises(ExportMismatchError, match="older than the reference"):
        check_pair(read_export(s3, ExportLocation.parse(later)), first)
    gap = write_export(
        s3,
        BUCKET,
        PREFIX,
        TABLE_ARN,
        [],
        export_time=T1 + timedelta(hours=1),
        incremental_from=T0 + timedelta(minutes=30),
    )
    with pytest.raises(ExportMismatchError, match="the changes in between are in no export"):
        check_pair(first, read_export(s3, ExportLocation.parse(gap)))


@pytest.mark.parametrize(
    "text",
    [
        "s3://bucket/prefix/",
        "https://bucket.s3.amazonaws.com/x/AWSDynamoDB/1/",
        "s3://bucket/x/AWSDynamoDB/a b/",
    ],
)
def test_an_export_url_must_name_an_export_folder(text: str) -> None:
    with pytest.raises(ValueError, match=r"AWSDynamoDB|not an export id"):
        ExportLocation.parse(text)


def test_the_newest_finished_export_is_found_in_the_bucket_not_from_list_exports(s3: Any) -> None:
    reference, _ = tables()
    write_export(s3, BUCKET, PREFIX, TABLE_ARN, full_lines(reference), export_time=T0)
    newest = write_export(s3, BUCKET, PREFIX, TABLE_ARN, full_lines(reference), export_time=T1)
    unfinished = f"{PREFIX}AWSDynamoDB/99999999999999-unfinished/data/x.json.gz"
    s3.put_object(Bucket=BUCKET, Key=unfinished, Body=b"")
    found = newest_export(s3, BUCKET, PREFIX)
    assert found is not None and found.url == newest
    assert newest_export(s3, BUCKET, "dynamodb/nothing/") is None


def test_an_empty_partitions_file_and_an_empty_table_export_diff_cleanly(
    s3: Any, tmp_path: Path
) -> None:
    """DynamoDB writes an empty file for an empty partition ("DynamoDB table export output
    format"); an empty table's export is only such files."""
    reference, _ = tables()
    url = one_export(s3)
    location = ExportLocation.parse(url)
    entries = s3.get_object(Bucket=BUCKET, Key=location.key("manifest-files.json"))["Body"].read()
    empty_key = location.key("data/empty-partition.json.gz")
    s3.put_object(Bucket=BUCKET, Key=empty_key, Body=b"")
    extra = _json(manifest_entry(empty_key, b"", 0))
    s3.put_object(
        Bucket=BUCKET, Key=location.key("manifest-files.json"), Body=entries + extra.encode()
    )
    export = read_export(s3, location)
    empty_url = write_export(s3, BUCKET, PREFIX, TABLE_ARN, [], export_time=T1, files=1)
    nothing = read_export(s3, ExportLocation.parse(empty_url))

    with DuckDbEngine(s3, directory=tmp_path) as engine:
        diff, _ = diff_exports(engine, export, nothing, KEYS, site=None, directory=tmp_path)
        with diff:
            assert diff.counts()[Action.DELETE] == 0
            assert diff.counts()[Action.PUT] == len(reference)
            assert (diff.reference_count, diff.live_count) == (len(reference), 0)


def test_a_data_file_that_is_not_json_lines_is_a_failed_check(s3: Any, tmp_path: Path) -> None:
    import gzip

    location = ExportLocation.parse(one_export(s3, files=1))
    export = read_export(s3, location)
    body = gzip.compress(b"not json\n" * export.item_count)
    s3.put_object(Bucket=BUCKET, Key=export.files[0].key, Body=body)
    entry = manifest_entry(export.files[0].key, body, export.item_count)
    s3.put_object(Bucket=BUCKET, Key=location.key("manifest-files.json"), Body=_json(entry))
    with (
        DuckDbEngine(s3, directory=tmp_path) as engine,
        pytest.raises(ExportCheckError, match="not gzipped DynamoDB JSON lines"),
    ):
        diff_exports(engine, read_export(s3, location), export, KEYS, site=None)
