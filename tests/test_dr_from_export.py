"""`formkiq-dr export-now`, `diff-exports`, `repair --from-export` and `drill --from-export`
against a FormKiQ in moto, in-process. moto's ExportTableToPointInTime writes the table's items
(one data file, S3Prefix mandatory, an incremental window ignored: it exports the whole table)
and no manifests, so each export here gets the manifests DynamoDB writes
(tests/exports_support.add_manifests) before it is read."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from formkiq_backup.items import TableDigest
from formkiq_backup.offline.incident import break_site
from formkiq_backup.sites import belongs_to_site
from tests.dr_support import (
    BUCKET,
    DOCUMENTS,
    ITEM_WRITES,
    SYNCS,
    World,
    hook_clients,
    no_aws_session,
    pitr_window,
    run_cli,
)
from tests.exports_support import add_manifests, create_exports_bucket

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def site_digest(world: World, site: str) -> TableDigest:
    pages = world.client("dynamodb").get_paginator("scan").paginate(TableName=DOCUMENTS)
    return TableDigest().add_all(
        item for page in pages for item in page["Items"] if belongs_to_site(item, site)
    )


def export_now(world: World, table: str, when: datetime) -> str:
    """`formkiq-dr export-now TABLE`, then the manifests DynamoDB would have written."""
    outcome = world.run("export-now", table)
    assert outcome.exit_code == 0, outcome.report
    arn = outcome.report["summary"]["exportArn"]
    described = world.client("dynamodb").describe_export(ExportArn=arn)["ExportDescription"]
    return add_manifests(world.client("s3"), described, when)


@pytest.fixture
def exported(world: World) -> World:
    create_exports_bucket(world.session, world.sample.account_id)
    return world


def test_export_now_exports_into_the_exports_bucket_and_follows_it(
    exported: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[dict[str, Any]] = []
    hook_clients(
        monkeypatch,
        "before-parameter-build.dynamodb.ExportTableToPointInTime",
        lambda params, **_: sent.append(params),
    )
    outcome = exported.run("export-now", "documents")

    assert outcome.exit_code == 0, outcome.report
    assert outcome.statuses("export") == {DOCUMENTS: "pass"}
    assert sent[0]["S3Bucket"] == f"formkiq-prod-exports-{exported.sample.account_id}"
    assert sent[0]["S3Prefix"] == f"dynamodb/{DOCUMENTS}/"
    assert (sent[0]["ExportType"], sent[0]["ExportFormat"]) == ("FULL_EXPORT", "DYNAMODB_JSON")
    assert outcome.report["summary"]["itemCount"] > 0


def test_an_incremental_export_now_asks_for_the_window_since_the_time_given(
    exported: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto accepts the incremental request and exports the whole table (its window is
    ignored), so only the request is asserted here."""
    sent: list[dict[str, Any]] = []
    hook_clients(
        monkeypatch,
        "before-parameter-build.dynamodb.ExportTableToPointInTime",
        lambda params, **_: sent.append(params),
    )
    since = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    outcome = exported.run("export-now", "documents", "--incremental-since", since.isoformat())

    assert outcome.exit_code == 0, outcome.report
    assert sent[0]["ExportType"] == "INCREMENTAL_EXPORT"
    specification = sent[0]["IncrementalExportSpecification"]
    assert specification["ExportViewType"] == "NEW_AND_OLD_IMAGES"
    assert specification["ExportFromTime"] == since


@pytest.mark.parametrize("hours_ago", [0.1, 30])
def test_an_incremental_window_outside_15_minutes_to_24_hours_is_refused(
    exported: World, hours_ago: float
) -> None:
    since = datetime.now(UTC) - timedelta(hours=hours_ago)
    outcome = exported.run("export-now", "documents", "--incremental-since", since.isoformat())
    assert outcome.exit_code == 2
    assert "15 minutes to 24 hours" in outcome.report["summary"]["error"]


def test_repair_from_the_latest_export_puts_the_site_back_without_a_restore(
    exported: World,
) -> None:
    world = exported
    export_now(world, "documents", T0)
    before = site_digest(world, "finance")
    damage = break_site(world.session, DOCUMENTS, BUCKET, world.documents, "finance")

    plan = world.run(
        "repair", "--table", "documents", "--site", "finance", "--from-export", "latest:documents"
    )
    assert plan.exit_code == 0, plan.report
    assert plan.report["summary"]["plan"] == {
        "put": len(damage.deleted_items),
        "overwrite": len(damage.overwritten_items),
        "delete": 0,
        "keep": len(damage.created_items),
    }
    assert site_digest(world, "finance").hexdigest != before.hexdigest  # a dry run writes nothing

    applied = world.run(
        "repair",
        "--table",
        "documents",
        "--site",
        "finance",
        "--from-export",
        "latest:documents",
        "--apply",
        "--delete-new",
    )
    assert (applied.exit_code, applied.report["outcome"]) == (0, "done"), applied.report
    assert applied.report["summary"]["applied"]["conflicts"] == 0
    (writes,) = applied.report["resources"]
    assert (writes["kind"], writes["name"], writes["state"]) == ("item writes", DOCUMENTS, "done")
    assert writes["detail"].startswith(f"{applied.report['summary']['applied']['written']} written")
    assert site_digest(world, "finance").hexdigest == before.hexdigest
    assert not [t for t in world.tables() if "-repair-" in t]  # nothing restored


def test_repair_between_two_exports_reads_no_table_and_plans_like_the_scan(exported: World) -> None:
    world = exported
    reference = export_now(world, "documents", T0)
    damage = break_site(world.session, DOCUMENTS, BUCKET, world.documents, "finance")
    live = export_now(world, "documents", T0 + timedelta(hours=2))

    scanned = world.run(
        "repair", "--table", "documents", "--site", "finance", "--from-export", reference
    )
    exported_only = world.run(
        "repair",
        "--table",
        "documents",
        "--site",
        "finance",
        "--from-export",
        reference,
        "--live-export",
        live,
    )
    assert exported_only.exit_code == scanned.exit_code == 0, exported_only.report
    assert exported_only.report["summary"]["plan"] == scanned.report["summary"]["plan"]
    assert exported_only.report["summary"]["changes"] == scanned.report["summary"]["changes"]
    assert len(exported_only.report["summary"]["changes"]) == (
        len(damage.deleted_items) + len(damage.overwritten_items) + len(damage.created_items)
    )
    assert exported_only.report["summary"]["engine"]["engine"] == "duckdb"


def test_diff_exports_reports_the_repair_plan_per_site_in_repairs_shape(exported: World) -> None:
    world = exported
    reference = export_now(world, "documents", T0)
    damage = break_site(world.session, DOCUMENTS, BUCKET, world.documents, "finance")
    live = export_now(world, "documents", T0 + timedelta(hours=1))

    outcome = world.run("diff-exports", "--from", reference, "--to", live)

    assert outcome.exit_code == 0, outcome.report
    summary = outcome.report["summary"]
    assert set(summary["plan"]) == {"put", "overwrite", "delete", "keep"}
    assert summary["plan"]["put"] == len(damage.deleted_items)
    assert summary["plan"]["keep"] == len(damage.created_items)
    assert {change["action"] for change in summary["changes"]} <= {"put", "overwrite", "keep"}
    assert set(summary["sites"]) >= {"finance"}
    assert "default" not in summary["sites"]  # the incident touched finance only
    against_table = world.run("diff-exports", "--from", reference, "--to", "documents")
    assert against_table.report["summary"]["plan"] == summary["plan"]


def test_drill_from_an_export_compares_every_item_with_the_reference(exported: World) -> None:
    world = exported
    reference = export_now(world, "documents", T0)
    same = export_now(world, "documents", T0 + timedelta(minutes=5))
    passed = world.run("drill", "--from-export", same, "--reference-export", reference, "--strict")
    assert passed.exit_code == 0, passed.report
    assert passed.statuses("integrity") == {DOCUMENTS: "pass"}

    break_site(world.session, DOCUMENTS, BUCKET, world.documents, "finance")
    changed = export_now(world, "documents", T0 + timedelta(minutes=10))
    warned = world.run("drill", "--from-export", changed, "--reference-export", reference)
    failed = world.run(
        "drill", "--from-export", changed, "--reference-export", reference, "--strict"
    )
    assert (warned.exit_code, failed.exit_code) == (0, 1)
    assert warned.statuses("integrity") == {DOCUMENTS: "warn"}


# --- bad input -------------------------------------------------------------------------------


def test_an_export_of_another_table_is_refused(exported: World) -> None:
    syncs = export_now(exported, "documentsyncs", T0)
    outcome = exported.run(
        "repair", "--table", "documents", "--whole-table", "--from-export", syncs
    )
    assert outcome.exit_code == 2
    assert f"is an export of another table than {DOCUMENTS}" in outcome.report["summary"]["error"]
    assert SYNCS in outcome.report["summary"]["error"]


def test_an_export_older_than_the_reference_is_refused(exported: World) -> None:
    earlier = export_now(exported, "documents", T0)
    later = export_now(exported, "documents", T0 + timedelta(hours=1))
    outcome = exported.run("diff-exports", "--from", later, "--to", earlier)
    assert outcome.exit_code == 2
    assert "older than the reference" in outcome.report["summary"]["error"]


def test_a_site_that_does_not_exist_is_refused_before_any_export_is_read(
    exported: World,
) -> None:
    reference = export_now(exported, "documents", T0)
    outcome = exported.run(
        "repair", "--table", "documents", "--site", "financ", "--from-export", reference
    )
    assert outcome.exit_code == 2
    assert "has no such site" in outcome.report["summary"]["error"]


def _data_key(world: World, export: str) -> tuple[str, str]:
    bucket, root = export.removeprefix("s3://").split("/", 1)
    listed = world.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"{root}data/")
    return bucket, listed["Contents"][0]["Key"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("manifest", "manifest-files.json line 1"),
        ("missing file", "is missing, yet manifest-files.json lists it"),
        ("changed file", "is not the manifest's"),
    ],
)
def test_a_damaged_export_fails_the_check_with_exit_1_naming_the_file(
    exported: World, damage: str, message: str
) -> None:
    reference = export_now(exported, "documents", T0)
    bucket, root = reference.removeprefix("s3://").split("/", 1)
    s3 = exported.client("s3")
    if damage == "manifest":
        s3.put_object(Bucket=bucket, Key=f"{root}manifest-files.json", Body=b"{")
    elif damage == "missing file":
        s3.delete_object(Bucket=bucket, Key=_data_key(exported, reference)[1])
    else:
        s3.put_object(Bucket=bucket, Key=_data_key(exported, reference)[1], Body=b"\x1f\x8b")

    outcome = exported.run("diff-exports", "--from", reference, "--to", "documents")

    assert outcome.exit_code == 1
    assert (outcome.report["ok"], outcome.report["exitCode"]) == (False, 1)
    assert message in outcome.report["summary"]["error"]
    assert outcome.statuses("export") == {"check": "fail"}


def test_no_finished_export_of_the_table_is_a_usage_error_saying_how_to_make_one(
    exported: World,
) -> None:
    outcome = exported.run("diff-exports", "--from", "latest:documents", "--to", "documents")
    assert outcome.exit_code == 2
    assert "formkiq-dr export-now" in outcome.report["summary"]["error"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["diff-exports", "--from", "s3://bucket/x/", "--to", "documents"], "AWSDynamoDB/<id>/"),
        (
            [
                "diff-exports",
                "--from",
                "latest:documents",
                "--to",
                "latest:documents",
                "--engine",
                "athena",
            ],
            "needs --workgroup",
        ),
        (
            [
                "diff-exports",
                "--from",
                "latest:documents",
                "--to",
                "latest:documents",
                "--memory-limit",
                "lots",
            ],
            "a size such as 512MB",
        ),
        (
            [
                "diff-exports",
                "--from",
                "latest:documents",
                "--to",
                "latest:documents",
                "--engine",
                "athena",
                "--workgroup",
                "w",
                "--threads",
                "2",
            ],
            "DuckDB settings",
        ),
        (
            [
                "repair",
                "--table",
                "documents",
                "--site",
                "finance",
                "--from-export",
                "latest:documents",
                "--at",
                "2026-11-30T09:00:00Z",
            ],
            "give one state to go back to",
        ),
        (
            [
                "repair",
                "--table",
                "documents",
                "--site",
                "finance",
                "--live-export",
                "latest:documents",
            ],
            "only with --from-export",
        ),
        (
            [
                "repair",
                "--table",
                "documents",
                "--site",
                "finance",
                "--at",
                "2026-11-30T09:00:00Z",
                "--memory-limit",
                "2GB",
            ],
            "only with two exports to diff",
        ),
        (["drill", "--from-export", "latest:documents"], "go together"),
        (
            [
                "repair",
                "--table",
                "documents",
                "--site",
                "finance",
                "--from-export",
                "latest:documents",
                "--engine",
                "athena",
                "--workgroup",
                "w",
            ],
            "with a table as the live side",
        ),
    ],
)
def test_export_options_that_do_not_fit_are_refused_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    opened = no_aws_session(monkeypatch)
    outcome = run_cli(*args, "--app-env", "prod", "--json")
    assert outcome.exit_code == 2, outcome.stdout
    assert message in outcome.report["summary"]["error"]
    assert opened == []


def test_an_item_changed_after_the_live_export_is_a_conflict_not_overwritten(
    exported: World,
) -> None:
    """With --live-export the table is not read: the writes' conditions are what catch a
    change made since that export."""
    world = exported
    reference = export_now(world, "documents", T0)
    damage = break_site(world.session, DOCUMENTS, BUCKET, world.documents, "finance")
    live = export_now(world, "documents", T0 + timedelta(hours=1))
    pk, sk = damage.overwritten_items[0]
    changed = world.item(DOCUMENTS, pk, sk)
    assert changed is not None
    changed["tagValue"] = {"S": "a user's edit after the export"}
    world.client("dynamodb").put_item(TableName=DOCUMENTS, Item=changed)

    outcome = world.run(
        "repair",
        "--table",
        "documents",
        "--site",
        "finance",
        "--from-export",
        reference,
        "--live-export",
        live,
        "--apply",
    )

    assert outcome.exit_code == 1
    assert outcome.report["summary"]["applied"]["conflicts"] == 1
    assert outcome.statuses("conflict") == {f"{pk} / {sk}": "fail"}
    assert world.item(DOCUMENTS, pk, sk) == changed  # the user's edit stands


def test_repair_from_an_export_stopped_mid_write_names_the_writes_in_flight(
    exported: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `repair --apply` does: the writes are one ledger record, and a write sent without an
    answer (here: interrupted as its answer arrives, in one of the writer threads) is named."""
    world = exported
    reference = export_now(world, "documents", T0)
    break_site(world.session, DOCUMENTS, BUCKET, world.documents, "finance")
    answered: list[dict[str, Any]] = []

    def remember(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if model.name in ITEM_WRITES:
            context["written"] = params.get("Key") or params["Item"]

    def interrupt_third(model: Any, context: dict[str, Any], **_: Any) -> None:
        if model.name in ITEM_WRITES:
            answered.append(context["written"])
            if len(answered) == 3:
                raise KeyboardInterrupt

    hook_clients(monkeypatch, "before-parameter-build.dynamodb", remember)
    hook_clients(monkeypatch, "after-call.dynamodb", interrupt_third)
    outcome = world.run(
        *("repair", "--table", "documents", "--site", "finance", "--from-export", reference),
        "--apply",
    )

    assert (outcome.exit_code, outcome.report["outcome"]) == (1, "failed")
    applied = outcome.report["summary"]["applied"]
    assert applied["stoppedPartWay"] is True
    third = answered[2]
    assert applied["inFlight"] == [f"{third['PK']['S']} / {third['SK']['S']}"]
    (writes,) = [r for r in outcome.report["resources"] if r["kind"] == "item writes"]
    assert writes["state"] == "requested"
    assert "was sent without an answer: it may have been made" in writes["detail"]


def test_export_now_records_the_export_before_asking_for_it(
    exported: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted as the request goes out: DynamoDB may have started the export, so it is
    listed as asked for, with how to find it."""

    def interrupted(**_: Any) -> None:
        raise KeyboardInterrupt

    hook_clients(monkeypatch, "before-send.dynamodb.ExportTableToPointInTime", interrupted)
    outcome = exported.run("export-now", "documents")

    assert (outcome.exit_code, outcome.report["outcome"]) == (1, "failed")
    (export,) = outcome.report["resources"]
    assert (export["kind"], export["name"], export["state"]) == ("export", DOCUMENTS, "requested")
    assert "aws dynamodb list-exports --table-arn" in export["detail"]


def test_export_now_lists_the_export_it_started(exported: World) -> None:
    outcome = exported.run("export-now", "documents", "--no-wait")

    assert (outcome.exit_code, outcome.report["outcome"]) == (0, "done")
    (export,) = outcome.report["resources"]
    assert (export["kind"], export["state"]) == ("export", "done")
    assert export["arn"] == outcome.report["summary"]["exportArn"]


def test_export_now_at_a_time_exports_the_table_as_it_was_then(
    exported: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[dict[str, Any]] = []
    hook_clients(
        monkeypatch,
        "before-parameter-build.dynamodb.ExportTableToPointInTime",
        lambda params, **_: sent.append(params),
    )
    now = datetime.now(UTC).replace(microsecond=0)
    pitr_window(monkeypatch, now - timedelta(days=35), now - timedelta(minutes=5))
    at = now - timedelta(days=2)

    outcome = exported.run("export-now", "documents", "--at", at.isoformat())
    too_old = exported.run(
        "export-now", "documents", "--at", (now - timedelta(days=40)).isoformat()
    )

    assert outcome.exit_code == 0, outcome.report
    assert sent[0]["ExportTime"] == at and sent[0]["ExportType"] == "FULL_EXPORT"
    assert too_old.exit_code == 2
    assert "outside the restorable window" in too_old.report["summary"]["error"]
    assert len(sent) == 1  # refused before the request


def test_latest_as_a_reference_is_the_newest_full_export_not_an_incremental_one(
    exported: World,
) -> None:
    """An incremental export (written as DynamoDB writes one) newer than the full export does
    not become the reference: it holds only changed items."""
    from tests.exports_support import incremental_record, write_export

    world = exported
    full = export_now(world, "documents", T0)
    bucket = full.removeprefix("s3://").split("/", 1)[0]
    arn = world.sample.table_arn(DOCUMENTS)
    item = {"PK": {"S": "finance/docs#x"}, "SK": {"S": "document"}}
    write_export(
        world.client("s3"),
        bucket,
        f"dynamodb/{DOCUMENTS}/",
        arn,
        [incremental_record(item, None, item)],
        export_time=T0 + timedelta(hours=1),
        incremental_from=T0,
    )
    outcome = world.run("diff-exports", "--from", "latest:documents", "--to", "latest:documents")
    assert outcome.exit_code == 0, outcome.report
    assert outcome.report["summary"]["referenceExport"] == full
    assert outcome.report["summary"]["live"].startswith("incremental export")
    assert outcome.report["summary"]["plan"]["keep"] == 1  # the item the incremental created


def test_export_now_of_a_table_without_pitr_is_refused_before_any_export(
    exported: World,
) -> None:
    exported.client("dynamodb").update_continuous_backups(
        TableName=DOCUMENTS,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
    )
    outcome = exported.run("export-now", "documents")
    assert outcome.exit_code == 2
    assert "DynamoDB exports read PITR data" in outcome.report["summary"]["error"]


# --- the exit-code contract (tests/test_dr_cli_contract.py) ------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "exit_code"),
    [("AccessDenied", 403, 2), ("InternalError", 500, 1)],
    ids=["access-denied", "server-error"],
)
@pytest.mark.parametrize(
    ("command", "failing"),
    [
        (
            ("diff-exports", "--from", "latest:documents", "--to", "latest:documents"),
            ("s3", "GetObject"),
        ),
        (("export-now", "documents"), ("dynamodb", "ExportTableToPointInTime")),
    ],
    ids=["diff-exports", "export-now"],
)
def test_an_error_mid_command_is_the_same_failure_in_report_json_and_exit_code(  # noqa: PLR0917
    exported: World,
    monkeypatch: pytest.MonkeyPatch,
    command: tuple[str, ...],
    failing: tuple[str, str],
    code: str,
    status: int,
    exit_code: int,
) -> None:
    from tests.dr_support import aws_error

    if command[0] == "diff-exports":
        export_now(exported, "documents", T0)
    answered = aws_error(monkeypatch, *failing, code=code, status=status)

    outcome = exported.run(*command)

    assert answered, f"{failing[1]} was never called"
    assert (outcome.exit_code, outcome.report["ok"], outcome.report["exitCode"]) == (
        exit_code,
        False,
        exit_code,
    )
    assert f"{failing[1]}: {code}" in outcome.report["summary"]["error"]
