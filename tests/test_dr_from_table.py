"""`repair --from-table` and `drill --from-table`: a table the operator already restored is the
reference. No restore is started, nothing is written to it, and it is never deleted. Against
moto in-process; the reference is restored from an on-demand backup, as the guide's console or
CLI procedure would leave it (moto restores PITR with current data).
"""

from typing import Any

import pytest

from formkiq_backup.dr import context as dr_context
from formkiq_backup.items import TableDigest
from formkiq_backup.offline.incident import Incident, break_site
from formkiq_backup.offline.seed import create_formkiq_table
from formkiq_backup.sites import belongs_to_site
from tests.dr_support import BUCKET, DOCUMENTS, SYNCS, World

RESTORED = "formkiq-core-prod-documents-restored-by-hand"
OTHER_REGION = "us-west-2"


class Calls:
    """Every DynamoDB call formkiq-dr's clients make: (region, operation, table named)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str | None]] = []

    def operations(self, prefixes: tuple[str, ...]) -> list[tuple[str, str, str | None]]:
        return [call for call in self.seen if call[1].startswith(prefixes)]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Calls:
    """Record, first on each client the CLI creates, every call it attempts."""
    recorded = Calls()
    original = dr_context.DrContext.client

    def watched(self: dr_context.DrContext, service: str, region: str | None = None) -> Any:
        created = original(self, service, region)
        if not getattr(created, "_recorded", False):
            where = created.meta.region_name

            def record(params: dict[str, Any], model: Any, **_: Any) -> None:
                recorded.seen.append((where, model.name, params.get("TableName")))

            created.meta.events.register_first("before-parameter-build", record)
            created._recorded = True
        return created

    monkeypatch.setattr(dr_context.DrContext, "client", watched)
    return recorded


def table_digest(world: World, table: str, region: str | None = None) -> TableDigest:
    dynamodb = world.session.client("dynamodb", region_name=region)
    pages = dynamodb.get_paginator("scan").paginate(TableName=table)
    return TableDigest().add_all(item for page in pages for item in page["Items"])


def site_digest(world: World, site: str) -> TableDigest:
    pages = world.client("dynamodb").get_paginator("scan").paginate(TableName=DOCUMENTS)
    return TableDigest().add_all(
        item for page in pages for item in page["Items"] if belongs_to_site(item, site)
    )


@pytest.fixture
def restored_by_hand(world: World) -> tuple[Incident, TableDigest]:
    """A backup restored by the operator into RESTORED, then the finance incident.

    Returns the incident and the finance site's digest before it.
    """
    backup = world.run("snapshot").report["summary"]["backups"][DOCUMENTS]
    world.client("dynamodb").restore_table_from_backup(TargetTableName=RESTORED, BackupArn=backup)
    before = site_digest(world, "finance")
    damage = break_site(world.session, DOCUMENTS, BUCKET, world.documents, "finance")
    return damage, before


def copy_table(world: World, source: str, target: str, region: str) -> None:
    """`target` in `region` with `source`'s items: a replica or a restore made elsewhere."""
    here = world.client("dynamodb")
    there = world.session.client("dynamodb", region_name=region)
    shape = next(t for t in world.sample.tables if t.name == source)
    create_formkiq_table(there, shape, name=target)
    for page in here.get_paginator("scan").paginate(TableName=source):
        for item in page["Items"]:
            there.put_item(TableName=target, Item=item)


def test_repair_from_a_restored_table_repairs_the_site_and_leaves_the_table_alone(
    world: World, restored_by_hand: tuple[Incident, TableDigest], calls: Calls
) -> None:
    damage, finance_before = restored_by_hand
    reference_before = table_digest(world, RESTORED)

    outcome = world.run(
        "repair",
        "--table",
        "documents",
        "--site",
        "finance",
        "--from-table",
        RESTORED,
        "--apply",
        "--delete-new",  # back exactly as restored, the incident's new items too
    )

    assert outcome.exit_code == 0, outcome.report
    summary = outcome.report["summary"]
    assert summary["source"] == f"existing table {RESTORED}"
    assert summary["plan"] == {
        "put": len(damage.deleted_items),
        "overwrite": len(damage.overwritten_items),
        "delete": len(damage.created_items),
        "keep": 0,
    }
    assert site_digest(world, "finance").hexdigest == finance_before.hexdigest
    assert outcome.statuses("reference") == {DOCUMENTS: "pass"}
    assert outcome.entries("restore") == []
    # No restore started, no table created or deleted; the reference only read, still there.
    assert not calls.operations(("Restore", "DeleteTable", "CreateTable", "TagResource"))
    on_reference = {operation for _, operation, table in calls.seen if table == RESTORED}
    assert on_reference == {"DescribeTable", "Scan"}
    assert RESTORED in world.tables()
    assert table_digest(world, RESTORED).hexdigest == reference_before.hexdigest


def test_drill_from_a_restored_table_checks_it_without_a_restore(
    world: World, calls: Calls
) -> None:
    backup = world.run("snapshot").report["summary"]["backups"][DOCUMENTS]
    world.client("dynamodb").restore_table_from_backup(TargetTableName=RESTORED, BackupArn=backup)

    # A bare name: DynamoDB's RestoreSummary says which table it is a restore of.
    outcome = world.run("drill", "--from-table", RESTORED, "--sample", "3", "--seed", "1")

    assert outcome.exit_code == 0, outcome.report
    assert outcome.statuses("integrity") == {DOCUMENTS: "pass"}
    assert outcome.statuses("reference") == {DOCUMENTS: "pass", SYNCS: "warn"}
    assert outcome.statuses("documents")
    assert set(outcome.statuses("documents").values()) == {"pass"}
    assert outcome.report["summary"]["temporaryTablesDeleted"] == 0
    assert not calls.operations(("Restore", "Delete", "CreateTable", "TagResource"))
    assert RESTORED in world.tables()


def test_drill_from_a_table_in_another_region_reads_it_there(world: World, calls: Calls) -> None:
    """A copy in the DR region (no RestoreSummary): named as documents=NAME."""
    copy_table(world, DOCUMENTS, "documents-in-dr", OTHER_REGION)
    calls.seen.clear()

    outcome = world.run(
        "drill",
        "--from-table",
        "documents=documents-in-dr",
        "--from-region",
        OTHER_REGION,
        "--sample",
        "0",
        "--strict",
    )

    assert outcome.statuses("integrity") == {DOCUMENTS: "pass"}, outcome.report
    assert outcome.statuses("reference")[DOCUMENTS] == "pass"
    assert {
        (region, operation) for region, operation, table in calls.seen if table == "documents-in-dr"
    } == {
        (OTHER_REGION, "DescribeTable"),
        (OTHER_REGION, "Scan"),
    }
    there = world.session.client("dynamodb", region_name=OTHER_REGION)
    assert "documents-in-dr" in there.list_tables()["TableNames"]


def test_a_changed_reference_is_reported_by_a_strict_drill(world: World) -> None:
    copy_table(world, DOCUMENTS, "documents-copy", "us-east-1")
    world.client("dynamodb").delete_item(
        TableName="documents-copy",
        Key={"PK": {"S": "apikeys#"}, "SK": {"S": next(iter(api_keys(world)))}},
    )

    outcome = world.run("drill", "--from-table", "documents=documents-copy", "--strict")

    assert outcome.exit_code == 1
    assert outcome.statuses("integrity") == {DOCUMENTS: "fail"}


def api_keys(world: World) -> list[str]:
    pages = world.client("dynamodb").get_paginator("scan").paginate(TableName=DOCUMENTS)
    return [
        item["SK"]["S"] for page in pages for item in page["Items"] if item["PK"]["S"] == "apikeys#"
    ]


@pytest.mark.parametrize(
    ("command", "arguments", "message"),
    [
        (
            "repair",
            ["--table", "documents", "--from-table", RESTORED, "--at", "2026-11-30T00:00:00Z"],
            "--from-table and --at: give either an existing table",
        ),
        (
            "repair",
            ["--table", "documents", "--from-table", RESTORED, "--from-backup", "arn:x"],
            "--from-table and --from-backup",
        ),
        (
            "drill",
            ["--from-table", RESTORED, "--at", "2026-11-30T00:00:00Z", "--from-backup", "arn:x"],
            "--from-table and --at and --from-backup",
        ),
        (
            "repair",
            ["--table", "documents", "--at", "2026-11-30T00:00:00Z", "--from-region", "eu-west-1"],
            "--from-region eu-west-1: only with --from-table",
        ),
        (
            "drill",
            ["--from-region", "eu-west-1"],
            "--from-region eu-west-1: only with --from-table",
        ),
    ],
)
def test_from_table_with_a_restore_option_exits_2_before_any_aws_call(
    world: World, calls: Calls, command: str, arguments: list[str], message: str
) -> None:
    outcome = world.run(command, *arguments)

    assert outcome.exit_code == 2
    assert message in outcome.report["summary"]["error"]
    assert calls.seen == []


@pytest.mark.parametrize(
    ("command", "arguments", "message"),
    [
        (
            "repair",
            ["--table", "documents", "--whole-table", "--from-table", "no-such-table"],
            "--from-table no-such-table: DescribeTable: ResourceNotFoundException",
        ),
        (
            "repair",
            ["--table", "documents", "--whole-table", "--from-table", DOCUMENTS],
            f"--from-table {DOCUMENTS}: that is the table being repaired",
        ),
        (
            "drill",
            ["--from-table", "no-such-table"],
            "--from-table no-such-table: DescribeTable: ResourceNotFoundException",
        ),
        (
            "drill",
            ["--from-table", DOCUMENTS],
            "DynamoDB records no restore for it",
        ),
        (
            "drill",
            ["--from-table", f"documents={DOCUMENTS}"],
            "that is FormKiQ's own table, not a restore",
        ),
        (
            "drill",
            ["--from-table", "cache=documents-copy"],
            "cache is not a table this FormKiQ protects",
        ),
    ],
)
def test_a_reference_that_cannot_stand_in_is_a_usage_error(
    world: World, command: str, arguments: list[str], message: str
) -> None:
    outcome = world.run(command, *arguments)

    assert outcome.exit_code == 2, outcome.report
    assert message in outcome.report["summary"]["error"]


def test_a_reference_with_another_key_is_refused(world: World) -> None:
    world.client("dynamodb").create_table(
        TableName="keyed-otherwise",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    outcome = world.run(
        "repair", "--table", "documents", "--whole-table", "--from-table", "keyed-otherwise"
    )

    assert outcome.exit_code == 2
    assert (
        "its key is id, the table it stands in for has PK, SK"
        in (outcome.report["summary"]["error"])
    )
