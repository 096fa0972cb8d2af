"""formkiq-dr's DynamoDB requests against dynalite, which refuses what DynamoDB refuses.

moto accepts requests DynamoDB would reject (a 26-item batch write, an unused expression name,
`Limit=0`); dynalite, an independent DynamoDB implementation, validates them as DynamoDB does.
Here DynamoDB is dynalite and everything else (SSM, S3) is moto_server, both on 127.0.0.1, so
the clients must honour `AWS_ENDPOINT_URL_DYNAMODB` beside `AWS_ENDPOINT_URL`, as boto3 does
(https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html). dynalite has no
backups, so repair and drill run `--from-table`, and the one backup call formkiq-dr makes on
the way (discovery's DescribeContinuousBackups, the PITR check) is answered in the API's own
shape, as FormKiQ's tables would answer it, without being sent. Tables are small: the point is
the requests. Skipped, with the reason, where node is not installed (README).
"""

import json
import random
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError
from click.testing import CliRunner

from formkiq_backup.dr import repair, tables
from formkiq_backup.dr.cli import cli
from formkiq_backup.dr.context import DrContext
from formkiq_backup.dr.drill import DocumentSample, digest_tables
from formkiq_backup.dr.repair import compare_tables
from formkiq_backup.dr.tables import lean_scans, scan
from formkiq_backup.dr.writes import unchanged_condition, write_change
from formkiq_backup.items import TableDigest
from formkiq_backup.offline.incident import break_site
from formkiq_backup.offline.samples import SampleFormKiQ, sample_formkiq
from formkiq_backup.offline.seed import (
    SeededDocument,
    create_formkiq_table,
    seed_documents,
    seed_formkiq,
    write_items,
)
from formkiq_backup.sites import belongs_to_site, site_filter_expression
from formkiq_backup.tablediff import Action, Change


class Split:
    """A FormKiQ whose DynamoDB is dynalite and whose SSM and S3 are moto_server."""

    def __init__(self, session: boto3.session.Session, sample: SampleFormKiQ) -> None:
        self.session = session
        self.sample = sample
        self.documents_table = next(t.name for t in sample.tables if "documents" in t.name)
        self.bucket = next(b for b in sample.buckets if "-documents-" in b)
        self.dynamodb: Any = session.client("dynamodb")
        self.seeded: list[SeededDocument] = []

    def run(self, *args: str) -> tuple[int, dict[str, Any]]:
        """`formkiq-dr <args> --app-env <env> --json`, in-process; exit code and report."""
        result = CliRunner().invoke(
            cli,
            [*args, "--app-env", self.sample.app_environment, "--json"],
            catch_exceptions=False,
        )
        return result.exit_code, json.loads(result.stdout)

    def copy(self, source: str, purpose: str) -> str:
        """A new table like `source` with its items, as a restore would leave it; its name."""
        target = f"{source}-{purpose}-{uuid.uuid4().hex[:6]}"
        shape = next(t for t in self.sample.tables if t.name == source)
        create_formkiq_table(self.dynamodb, shape, name=target)
        write_items(self.dynamodb, [(target, item) for item in scan(self.dynamodb, source)])
        return target

    def site_digest(self, table: str, site: str) -> TableDigest:
        return TableDigest().add_all(
            item for item in scan(self.dynamodb, table) if belongs_to_site(item, site)
        )


def answer_pitr(model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
    """DescribeContinuousBackups as DynamoDB answers it for a FormKiQ table (PITR on, 35 days).

    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DescribeContinuousBackups.html
    """
    assert model.name == "DescribeContinuousBackups"
    answer = {
        "ContinuousBackupsDescription": {
            "ContinuousBackupsStatus": "ENABLED",
            "PointInTimeRecoveryDescription": {
                "PointInTimeRecoveryStatus": "ENABLED",
                "RecoveryPeriodInDays": 35,
            },
        }
    }
    return AWSResponse("http://127.0.0.1/", 200, HTTPHeaders(), None), answer


class PitrAnsweringSession(boto3.session.Session):
    """A boto3 session whose clients get DescribeContinuousBackups answered, not sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        answer: Any = answer_pitr  # before-call handlers may return a response (botocore)
        self.events.register("before-call.dynamodb.DescribeContinuousBackups", answer)


def split_environment(dynalite: str, moto: str) -> dict[str, str]:
    """Fake credentials, no profile or config file, DynamoDB on dynalite, the rest on moto."""
    from bench.server import offline_environment

    environment = offline_environment({})
    environment.update(AWS_ENDPOINT_URL=moto, AWS_ENDPOINT_URL_DYNAMODB=dynalite)
    return environment


@pytest.fixture(scope="module")
def seeded(dynalite_endpoint: str, moto_server_endpoint: str) -> Iterator[Split]:
    """One FormKiQ 1.19 per module and worker, in its own app environment.

    Tests that change it change it the way an incident and its repair would; each compares
    against copies it makes itself.
    """
    with pytest.MonkeyPatch.context() as patch:
        for name, value in split_environment(dynalite_endpoint, moto_server_endpoint).items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.setattr(boto3.session, "Session", PitrAnsweringSession)
        sample = sample_formkiq(app_environment=f"t{uuid.uuid4().hex[:10]}")
        # dynalite has no backups: no UpdateContinuousBackups, so PITR stays off here.
        tables = tuple(replace(t, pitr_enabled=False) for t in sample.tables)
        sample = replace(sample, tables=tables)
        session = boto3.session.Session(region_name="us-east-1")
        seed_formkiq(session, sample)
        world = Split(session, sample)
        world.seeded = seed_documents(session, sample, {"default": 2, "finance": 4})
        yield world


@pytest.fixture
def split(
    seeded: Split,
    dynalite_endpoint: str,
    moto_server_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Split:
    """The module's FormKiQ, with this test's environment pointing at the two servers."""
    for name, value in split_environment(dynalite_endpoint, moto_server_endpoint).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(boto3.session, "Session", PitrAnsweringSession)
    return seeded


def test_clients_take_dynamodb_from_its_own_endpoint_variable(
    split: Split, dynalite_endpoint: str, moto_server_endpoint: str
) -> None:
    ctx = DrContext.create(split.sample.app_environment)

    assert ctx.client("dynamodb").meta.endpoint_url == dynalite_endpoint
    assert ctx.client("s3").meta.endpoint_url == moto_server_endpoint
    assert ctx.client("ssm").meta.endpoint_url == moto_server_endpoint
    # Discovery reads SSM (moto_server); the table it names lives only in dynalite.
    assert ctx.environment.documents_table.name == split.documents_table


def test_dynalite_refuses_what_dynamodb_refuses(split: Split) -> None:
    """The engine these tests rely on: requests moto lets through fail here."""
    too_many = [
        {"PutRequest": {"Item": {"PK": {"S": f"p{n}"}, "SK": {"S": "s"}}}} for n in range(26)
    ]
    with pytest.raises(ClientError, match="Member must have length less than or equal to 25"):
        split.dynamodb.batch_write_item(RequestItems={split.documents_table: too_many})
    with pytest.raises(ClientError, match="unused in expressions"):
        split.dynamodb.scan(
            TableName=split.documents_table,
            FilterExpression="attribute_exists(#a)",
            ExpressionAttributeNames={"#a": "PK", "#b": "SK"},
        )


def test_repair_of_a_site_from_a_restored_table_plans_and_writes_with_conditions(
    split: Split,
) -> None:
    """Filtered scans, then conditional puts and deletes, each expression as DynamoDB takes it."""
    reference = split.copy(split.documents_table, "restored")
    before = split.site_digest(split.documents_table, "finance")
    damage = break_site(split.session, split.documents_table, split.bucket, split.seeded, "finance")

    dry_code, plan = split.run(
        "repair", "--table", "documents", "--site", "finance", "--from-table", reference
    )
    code, applied = split.run(
        "repair", "--table", "documents", "--site", "finance", "--from-table", reference, "--apply"
    )

    assert dry_code == 0, plan
    assert plan["summary"]["plan"]["put"] == len(damage.deleted_items)
    assert plan["summary"]["plan"]["overwrite"] == len(damage.overwritten_items)
    assert code == 0, applied
    assert applied["summary"]["applied"]["conflicts"] == 0
    assert applied["summary"]["applied"]["written"] >= len(damage.deleted_items) + len(
        damage.overwritten_items
    )
    created = set(damage.created_items)
    restored = TableDigest().add_all(
        item
        for item in scan(split.dynamodb, split.documents_table)
        if belongs_to_site(item, "finance") and (item["PK"]["S"], item["SK"]["S"]) not in created
    )
    assert restored == before
    assert split.site_digest(reference, "finance") == before  # the reference untouched


def test_a_stale_condition_is_a_conditional_check_failure(split: Split) -> None:
    """repair's guard expression for an item of every scalar and set type.

    Maps and lists are left out: DynamoDB compares them with `=` ("EQ is supported for all data
    types, including lists and maps",
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Condition.html), dynalite
    4.0.0 never finds them equal, so here they would fail a correct request.
    """
    item = {
        "PK": {"S": "finance/docs#condition"},
        "SK": {"S": "document"},
        "contentLength": {"N": "42"},
        "flag": {"BOOL": True},
        "nothing": {"NULL": True},
        "tags": {"SS": ["a", "b"]},
        "sizes": {"NS": ["1", "2"]},
        "blob": {"B": b"\x00\x01"},
    }
    split.dynamodb.put_item(TableName=split.documents_table, Item=item)
    changed = {**item, "contentLength": {"N": "43"}}

    split.dynamodb.put_item(
        TableName=split.documents_table, Item=changed, **unchanged_condition(item)
    )
    with pytest.raises(ClientError) as stale:
        split.dynamodb.put_item(
            TableName=split.documents_table, Item=item, **unchanged_condition(item)
        )
    assert stale.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


def test_an_attribute_added_after_the_plan_is_never_lost_by_a_write(split: Split) -> None:
    """No condition expression can refuse an item for an attribute it does not name, so the
    writes are built to keep one: an overwrite is an UpdateItem (a PutItem would replace the
    item and drop it), a delete that finds one puts the item back. Each is reported."""
    table = split.documents_table
    found = {
        "PK": {"S": "finance/docs#added"},
        "SK": {"S": "document"},
        "contentLength": {"N": "42"},
        "tags": {"SS": ["a", "b"]},
        "stale": {"S": "only in the live item"},
    }
    wanted = {
        "PK": found["PK"],
        "SK": found["SK"],
        "contentLength": {"N": "41"},
        "tags": {"SS": ["a"]},
        "path": {"S": "restored.txt"},
    }
    key = {"PK": found["PK"], "SK": found["SK"]}
    note = {"note": {"S": "added by a user after the plan"}}
    split.dynamodb.put_item(TableName=table, Item=found | note)

    overwrite = write_change(
        split.dynamodb, table, Change(Action.OVERWRITE, key, wanted=wanted, found=found)
    )

    assert overwrite is not None and "note added" in overwrite.detail
    assert split.dynamodb.get_item(TableName=table, Key=key)["Item"] == wanted | note

    deleted = write_change(
        split.dynamodb, table, Change(Action.DELETE, key, wanted=None, found=wanted)
    )

    assert deleted is not None and deleted.detail.endswith("put back, not deleted")
    assert split.dynamodb.get_item(TableName=table, Key=key)["Item"] == wanted | note
    split.dynamodb.delete_item(TableName=table, Key=key)


def test_an_overwrite_of_an_unchanged_item_writes_exactly_the_reference(split: Split) -> None:
    table = split.documents_table
    key = {"PK": {"S": "finance/docs#plain"}, "SK": {"S": "document"}}
    found = key | {"contentLength": {"N": "42"}, "stale": {"S": "x"}}
    wanted = key | {"contentLength": {"N": "41"}}
    split.dynamodb.put_item(TableName=table, Item=found)

    assert write_change(split.dynamodb, table, Change(Action.OVERWRITE, key, wanted, found)) is None
    assert split.dynamodb.get_item(TableName=table, Key=key)["Item"] == wanted
    with pytest.raises(ClientError) as stale:  # the plan saw `found`, which is gone now
        write_change(split.dynamodb, table, Change(Action.OVERWRITE, key, wanted, found))
    assert stale.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    split.dynamodb.delete_item(TableName=table, Key=key)


def test_the_site_filter_is_a_valid_expression(split: Split) -> None:
    expression = site_filter_expression("finance")
    assert expression is not None

    found = list(scan(split.dynamodb, split.documents_table, filter_expression=expression))

    assert found
    assert all(belongs_to_site(item, "finance") for item in found)


def test_pages_and_segments_cover_the_table_exactly(split: Split) -> None:
    """Small pages (Limit) and parallel-scan segments, each request as DynamoDB takes it."""
    dynamodb = split.dynamodb
    whole = TableDigest().add_all(scan(dynamodb, split.documents_table))
    pages: list[int] = []
    paged = dynamodb.get_paginator("scan").paginate(
        TableName=split.documents_table, PaginationConfig={"PageSize": 7}
    )
    assert TableDigest().add_all(i for page in paged for i in page["Items"]) == whole
    segments = TableDigest()
    for segment in range(3):
        segments.add_all(
            scan(dynamodb, split.documents_table, segment=(segment, 3), on_page=pages.append)
        )
    assert segments == whole
    assert sum(pages) == whole.count


def sent_scans(client: Any) -> list[dict[str, Any]]:
    """The Scan parameters `client` sends from now on, as the API receives them."""
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.dynamodb.Scan", lambda params, **_: sent.append(dict(params))
    )
    return sent


def test_segments_read_at_once_cover_the_table_exactly(split: Split) -> None:
    """Reader threads, one per segment, with small pages: every item once, each page reported."""
    table = split.documents_table
    whole = TableDigest().add_all(scan(split.dynamodb, table))
    client = split.session.client("dynamodb")
    sent = sent_scans(client)
    pages: list[int] = []

    found = list(
        scan(client, table, filter_expression={"Limit": 7}, on_page=pages.append, segments=3)
    )

    assert TableDigest().add_all(found) == whole
    assert len(found) == whole.count == sum(pages)
    assert len(sent) == len(pages) > 3
    assert {(r["Segment"], r["TotalSegments"]) for r in sent} == {(0, 3), (1, 3), (2, 3)}


def test_repair_and_drill_read_each_table_in_segments_at_once(split: Split) -> None:
    reference = split.copy(split.documents_table, "reference")
    client = split.session.client("dynamodb")
    sent = sent_scans(client)
    segments = tables.READ_SEGMENTS

    with compare_tables(client, reference, split.documents_table, ("PK", "SK"), site="finance"):
        repair_scans = list(sent)
    sent.clear()
    digest_tables(client, split.documents_table, reference)
    drill_scans = list(sent)

    assert segments > 1
    tables_read = (reference, split.documents_table)
    expected = {(table, part) for table in tables_read for part in range(segments)}
    for scans in (repair_scans, drill_scans):
        assert {(r["TableName"], r["Segment"]) for r in scans} == expected
        assert {r["TotalSegments"] for r in scans} == {segments}
    assert all("FilterExpression" in r for r in repair_scans)


def test_the_lean_path_returns_what_botocore_would(split: Split) -> None:
    """Every attribute type but binary is taken as sent; a page with binary goes to botocore."""
    table = split.documents_table
    plain = split.session.client("dynamodb")
    lean = lean_scans(split.session.client("dynamodb"))
    expected = plain.scan(TableName=table)["Items"]

    assert lean.scan(TableName=table)["Items"] == expected
    # scan() reads ahead in a thread that holds pages as bytes and parses them as they are
    # read: small pages (Limit), so every page after the first comes that way.
    assert list(scan(lean, table, filter_expression={"Limit": 7})) == expected
    # That thread's raw pages stay its own: the same client elsewhere gets botocore's shape.
    assert lean.scan(TableName=table, Limit=7)["LastEvaluatedKey"]
    split.dynamodb.put_item(
        TableName=table,
        Item={"PK": {"S": "bin"}, "SK": {"S": "bin"}, "blob": {"B": b"\xff\x00"}},
    )
    with_binary = lean.scan(TableName=table)["Items"]
    assert with_binary == plain.scan(TableName=table)["Items"]
    assert {"B": b"\xff\x00"} in [item.get("blob") for item in with_binary]
    assert list(scan(lean, table)) == with_binary
    with pytest.raises(ClientError) as missing:
        lean.scan(TableName="no-such-table")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_parallel_digest_equals_the_sequential_one(split: Split) -> None:
    table = split.documents_table
    copy = split.copy(table, "copy")
    sequential = digest_tables(split.dynamodb, table, copy)
    sample = DocumentSample(4, random.Random(3))
    seen: dict[str, int] = {}

    def progress(name: str, items: int) -> None:
        seen[name] = seen.get(name, 0) + items

    parallel = digest_tables(
        split.dynamodb, table, copy, segments=2, sample=sample, on_scan=progress
    )

    assert parallel == sequential
    assert seen == {table: sequential[0].count, copy: sequential[1].count}
    documents = [
        item
        for item in scan(split.dynamodb, copy)
        if item["SK"] == {"S": "document"} and "documentId" in item
    ]
    assert len(sample.items) == 4
    assert sample.seen == len(documents) >= len(split.seeded)
    assert all(item in documents for item in sample.items)


def test_drill_from_a_restored_table_passes_its_integrity_check(split: Split) -> None:
    reference = split.copy(split.documents_table, "restored")

    # No document sample: S3 is moto_server's here, and this module's repair test damages
    # document content it does not restore; the sample is proven in test_dr_snapshot_drill.
    code, report = split.run(
        "drill", "--from-table", f"documents={reference}", "--sample", "0", "--strict"
    )

    integrity = [entry for entry in report["entries"] if entry["section"] == "integrity"]
    assert [entry["status"] for entry in integrity] == ["pass"], report
    assert code == 0


def test_compare_tables_of_the_whole_table_finds_nothing_in_a_copy(split: Split) -> None:
    reference = split.copy(split.documents_table, "same")

    with compare_tables(
        split.dynamodb, reference, split.documents_table, ("PK", "SK"), site=None
    ) as diff:
        assert not any(diff.counts().values())
        assert diff.reference_count == diff.live_count > 0


def test_compare_in_two_worker_processes_finds_what_one_process_finds(split: Split) -> None:
    """Each table read in a worker of its own, which writes its side of the diff."""
    reference = split.copy(split.documents_table, "reference")
    live = split.copy(split.documents_table, "live")
    finance = [item for item in scan(split.dynamodb, live) if belongs_to_site(item, "finance")]
    other = next(item for item in scan(split.dynamodb, live) if belongs_to_site(item, "default"))
    split.dynamodb.put_item(TableName=live, Item={**finance[0], "changed": {"S": "yes"}})
    split.dynamodb.delete_item(TableName=live, Key={k: finance[1][k] for k in ("PK", "SK")})
    split.dynamodb.put_item(
        TableName=live, Item={"PK": {"S": "finance/docs#new"}, "SK": {"S": "document"}}
    )
    split.dynamodb.put_item(TableName=live, Item={**other, "changed": {"S": "yes"}})

    for site, expected in (("finance", (1, 1, 1)), (None, (1, 2, 1))):
        seen: dict[str, int] = {}

        def progress(table: str, scanned: int, seen: dict[str, int] = seen) -> None:
            seen[table] = seen.get(table, 0) + scanned

        with compare_tables(split.dynamodb, reference, live, ("PK", "SK"), site=site) as one:
            wanted = (one.counts(), list(one.changes()), one.reference_count, one.live_count)
        with compare_tables(
            split.dynamodb,
            reference,
            live,
            ("PK", "SK"),
            site=site,
            in_workers=True,
            on_scan=progress,
        ) as two:
            found = (two.counts(), list(two.changes()), two.reference_count, two.live_count)

        assert found == wanted
        counts = found[0]
        assert (counts[Action.PUT], counts[Action.OVERWRITE], counts[Action.DELETE]) == expected
        # Every item each table holds was scanned, and reported page by page to the parent.
        whole = {
            table: TableDigest().add_all(scan(split.dynamodb, table)).count
            for table in (reference, live)
        }
        assert seen == whole


def test_repair_of_a_large_table_reads_it_in_worker_processes(
    split: Split, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past PARALLEL_MIN_ITEMS, repair's plan comes from the workers, and is the same plan."""
    reference = split.copy(split.documents_table, "restored")
    args = ("repair", "--table", "documents", "--site", "finance", "--from-table", reference)
    spawned: list[int] = []
    real = tables.map_segments

    def counting(*call: Any, **options: Any) -> Any:
        spawned.append(options["processes"])
        return real(*call, **options)

    monkeypatch.setattr(repair, "map_segments", counting)
    code, one_process = split.run(*args)
    # dynalite's ItemCount stays 0 (DynamoDB's is refreshed about every six hours): with no
    # minimum, every table counts as large.
    monkeypatch.setattr(tables, "PARALLEL_MIN_ITEMS", 0)
    workers_code, in_workers = split.run(*args)

    assert (code, workers_code) == (0, 0)
    assert spawned == [2]
    assert in_workers["summary"]["plan"] == one_process["summary"]["plan"]
    assert in_workers["summary"]["changes"] == one_process["summary"]["changes"]
