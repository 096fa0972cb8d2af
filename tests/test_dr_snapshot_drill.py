"""`formkiq-dr snapshot` and `drill` against moto (AWS Backup jobs through Stubber).

moto 5.2.5 restores PITR with current data, so drills are also tested from on-demand
backups, whose restores return the data as it was at backup time. moto also finishes every
restore at once, so cleanup while a restore is still writing is tested through Stubber.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from formkiq_backup.dr import context as dr_context
from formkiq_backup.dr import drill as dr_drill
from formkiq_backup.dr import tables as dr_tables
from formkiq_backup.dr.report import Report
from formkiq_backup.dr.tables import SourceGuard, SourceWriteRefusedError
from tests.dr_support import BUCKET, DOCUMENTS, MOTO_ACCOUNT, SYNCS, World, watch_source_writes

# An AWS Backup snapshot: into this vault, as this role.
INTO_VAULT = (
    "--vault",
    "formkiq-prod-backup-vault",
    "--role-arn",
    f"arn:aws:iam::{MOTO_ACCOUNT}:role/backup",
)


def snapshot(world: World) -> dict[str, str]:
    outcome = world.run("snapshot", "--label", "pre-upgrade")
    assert outcome.exit_code == 0, outcome.report
    return dict(outcome.report["summary"]["backups"])


def test_snapshot_backs_up_every_protected_table_and_waits(world: World) -> None:
    outcome = world.run("snapshot", "--label", "pre-upgrade")

    assert outcome.exit_code == 0
    backups = outcome.report["summary"]["backups"]
    assert set(backups) == {DOCUMENTS, SYNCS}
    dynamodb = world.client("dynamodb")
    for table, arn in backups.items():
        details = dynamodb.describe_backup(BackupArn=arn)["BackupDescription"]
        assert details["SourceTableDetails"]["TableName"] == table
        assert details["BackupDetails"]["BackupStatus"] == "AVAILABLE"
        assert details["BackupDetails"]["BackupName"].startswith(f"formkiq-dr-pre-upgrade-{table}-")
    assert {e["subject"]: e["status"] for e in outcome.entries("snapshot")} == {
        DOCUMENTS: "pass",
        SYNCS: "pass",
    }


@pytest.fixture
def stubbed_backup(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.session.Session(region_name="us-east-1").client("backup")
    original = dr_context.DrContext.client
    monkeypatch.setattr(
        dr_context.DrContext,
        "client",
        lambda self, service, region=None: (
            client if service == "backup" else original(self, service, region)
        ),
    )
    monkeypatch.setattr("formkiq_backup.dr.polling.POLL_SECONDS", 0.0)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def expect_vault(stubber: Stubber, **lock: int) -> None:
    """DescribeBackupVault's answer: the vault, with a Vault Lock's bounds when given."""
    stubber.add_response(
        "describe_backup_vault",
        {
            "BackupVaultName": "formkiq-prod-backup-vault",
            "BackupVaultArn": (
                f"arn:aws:backup:us-east-1:{MOTO_ACCOUNT}:backup-vault:formkiq-prod-backup-vault"
            ),
            **({"Locked": True, **lock} if lock else {}),
        },
        {"BackupVaultName": "formkiq-prod-backup-vault"},
    )


def expect_backup_job(
    stubber: Stubber, table: str, states: list[str], keep_days: int | None = None
) -> str:
    arn = f"arn:aws:dynamodb:us-east-1:{MOTO_ACCOUNT}:table/{table}"
    point = f"arn:aws:backup:us-east-1:{MOTO_ACCOUNT}:recovery-point:{table}-1"
    stubber.add_response(
        "start_backup_job",
        {
            "BackupJobId": f"job-{table}",
            "RecoveryPointArn": point,
            "CreationDate": "2026-11-30T05:00:00Z",
        },
        {
            "BackupVaultName": "formkiq-prod-backup-vault",
            "ResourceArn": arn,
            "IamRoleArn": f"arn:aws:iam::{MOTO_ACCOUNT}:role/backup",
            "RecoveryPointTags": {"Application": "FormKiQ", "formkiq-dr": "snapshot"},
            **({"Lifecycle": {"DeleteAfterDays": keep_days}} if keep_days else {}),
        },
    )
    for state in states:
        stubber.add_response(
            "describe_backup_job",
            {
                "BackupJobId": f"job-{table}",
                "State": state,
                "RecoveryPointArn": point,
                "ResourceArn": arn,
            },
            {"BackupJobId": f"job-{table}"},
        )
    return point


def test_snapshot_into_a_vault_runs_aws_backup_jobs(world: World, stubbed_backup: Stubber) -> None:
    expect_vault(stubbed_backup)
    points = {
        DOCUMENTS: expect_backup_job(
            stubbed_backup, DOCUMENTS, ["CREATED", "RUNNING", "COMPLETED"]
        ),
        SYNCS: expect_backup_job(stubbed_backup, SYNCS, ["COMPLETED"]),
    }
    outcome = world.run("snapshot", *INTO_VAULT)

    assert outcome.exit_code == 0, outcome.report
    assert outcome.report["summary"]["backups"] == points


def test_snapshot_into_a_locked_vault_gives_each_job_the_lifecycle_asked_for(
    world: World, stubbed_backup: Stubber
) -> None:
    """The jobs AWS receives carry `Lifecycle.DeleteAfterDays` (the stub checks the request)."""
    expect_vault(stubbed_backup, MinRetentionDays=7, MaxRetentionDays=2555)
    expect_backup_job(stubbed_backup, DOCUMENTS, ["COMPLETED"], keep_days=30)
    expect_backup_job(stubbed_backup, SYNCS, ["COMPLETED"], keep_days=30)
    outcome = world.run("snapshot", *INTO_VAULT, "--keep-days", "30")

    assert outcome.exit_code == 0, outcome.report


@pytest.mark.parametrize(
    ("keep", "message"),
    [
        (
            (),
            "--keep-days: vault formkiq-prod-backup-vault has a Vault Lock keeping recovery "
            "points 7 to 2555 days; a backup kept until deleted is longer than its maximum, so "
            "AWS Backup would fail the job: give --keep-days from 7 to 2555",
        ),
        (
            ("--keep-days", "3"),
            "--keep-days 3: vault formkiq-prod-backup-vault has a Vault Lock keeping recovery "
            "points 7 to 2555 days, and AWS Backup fails a job outside them",
        ),
        (
            ("--keep-days", "3000"),
            "--keep-days 3000: vault formkiq-prod-backup-vault has a Vault Lock keeping recovery "
            "points 7 to 2555 days, and AWS Backup fails a job outside them",
        ),
    ],
)
def test_a_snapshot_a_locked_vault_would_fail_is_refused_before_any_job(
    world: World, stubbed_backup: Stubber, keep: tuple[str, ...], message: str
) -> None:
    """Only DescribeBackupVault is answered: a StartBackupJob would fail the stub."""
    expect_vault(stubbed_backup, MinRetentionDays=7, MaxRetentionDays=2555)
    outcome = world.run("snapshot", *INTO_VAULT, *keep)

    assert outcome.exit_code == 2
    assert outcome.report["summary"]["error"] == message
    assert outcome.entries("snapshot") == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--keep-days", "30"), "--keep-days is the recovery points' lifecycle in a vault"),
        ((*INTO_VAULT, "--keep-days", "0"), "--keep-days 0: from 1 to 36500 days"),
        ((*INTO_VAULT, "--keep-days", "36501"), "--keep-days 36501: from 1 to 36500 days"),
    ],
)
def test_keep_days_is_checked_before_any_aws_call(
    world: World, options: tuple[str, ...], message: str
) -> None:
    outcome = world.run("snapshot", *options)

    assert outcome.exit_code == 2
    assert message in outcome.stderr


def test_a_failed_backup_job_fails_the_snapshot(world: World, stubbed_backup: Stubber) -> None:
    expect_vault(stubbed_backup)
    expect_backup_job(stubbed_backup, DOCUMENTS, ["FAILED"])
    expect_backup_job(stubbed_backup, SYNCS, ["COMPLETED"])
    outcome = world.run("snapshot", *INTO_VAULT)

    assert outcome.exit_code == 1
    assert {e["subject"]: e["status"] for e in outcome.entries("snapshot")} == {
        DOCUMENTS: "fail",
        SYNCS: "pass",
    }


def test_drill_from_backups_restores_verifies_and_cleans_up(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backups = snapshot(world)
    tables_before = world.tables()
    writes = watch_source_writes(monkeypatch)

    outcome = world.run(
        "drill",
        "--from-backup",
        backups[DOCUMENTS],
        "--from-backup",
        backups[SYNCS],
        "--strict",
        "--sample",
        "5",
        "--seed",
        "3",
        "--report",
        str(tmp_path / "drill"),
    )

    assert outcome.exit_code == 0, outcome.report
    assert outcome.statuses("restore") == {DOCUMENTS: "pass", SYNCS: "pass"}
    assert outcome.statuses("integrity") == {DOCUMENTS: "pass", SYNCS: "pass"}
    integrity = outcome.entries("integrity")[0]["data"]
    assert integrity["sourceItems"] == integrity["restoredItems"] > 0
    assert integrity["sourceDigest"] == integrity["restoredDigest"]
    documents = outcome.entries("documents")
    assert len(documents) == 5
    assert {entry["status"] for entry in documents} == {"pass"}
    assert all(entry["seconds"] is not None for entry in outcome.entries("restore"))
    assert outcome.report["summary"]["measuredRecoverySeconds"] > 0
    assert outcome.report["summary"]["documentsSampled"] == "5 of 10"
    # Everything it created is gone, and nothing of FormKiQ's was written.
    assert world.tables() == tables_before
    assert writes == []
    markdown = (tmp_path / "drill.md").read_text()
    assert "# formkiq-dr drill: FormKiQ prod" in markdown
    assert "| integrity | formkiq-core-prod-documents | pass |" in markdown
    assert json.loads((tmp_path / "drill.json").read_text())["ok"] is True


def test_drill_from_pitr_restores_the_latest_restorable_time(world: World) -> None:
    outcome = world.run("drill", "--sample", "2")
    assert outcome.exit_code == 0, outcome.report
    assert "PITR, latest restorable time" in outcome.entries("restore")[0]["detail"]


def test_drill_reports_changes_since_the_backup_and_fails_them_when_strict(world: World) -> None:
    backups = snapshot(world)
    world.client("dynamodb").put_item(
        TableName=DOCUMENTS,
        Item={"PK": {"S": "docs#new"}, "SK": {"S": "document"}, "documentId": {"S": "new"}},
    )
    lenient = world.run("drill", "--from-backup", backups[DOCUMENTS], "--sample", "1")
    strict = world.run("drill", "--from-backup", backups[DOCUMENTS], "--sample", "1", "--strict")

    assert lenient.statuses("integrity")[DOCUMENTS] == "warn"
    assert lenient.exit_code == 0
    assert strict.statuses("integrity")[DOCUMENTS] == "fail"
    assert strict.exit_code == 1
    data = strict.entries("integrity")[0]["data"]
    assert data["sourceItems"] == data["restoredItems"] + 1


def test_drill_catches_a_document_whose_content_no_longer_matches(world: World) -> None:
    """The metadata names a version whose bytes differ from its checksum: a failed restore."""
    document = world.finance()[0]
    item = world.item(DOCUMENTS, f"finance/docs#{document.document_id}", "document")
    assert item is not None
    rogue = world.client("s3").put_object(Bucket=BUCKET, Key=document.object_key, Body=b"tampered")
    world.client("dynamodb").update_item(
        TableName=DOCUMENTS,
        Key={"PK": item["PK"], "SK": item["SK"]},
        UpdateExpression="SET s3version = :v",
        ExpressionAttributeValues={":v": {"S": rogue["VersionId"]}},
    )
    outcome = world.run("drill", "--sample", "10")

    assert outcome.exit_code == 1
    failed = [e for e in outcome.entries("documents") if e["status"] == "fail"]
    assert [e["subject"] for e in failed] == [f"{document.object_key} @ {rogue['VersionId']}"]
    assert "length 8 != contentLength" in failed[0]["detail"]
    assert "checksum" in failed[0]["detail"]


def test_drill_fails_a_document_whose_version_is_gone(world: World) -> None:
    """The version the metadata names was permanently deleted: that content cannot be restored."""
    document = world.finance()[0]
    s3 = world.client("s3")
    s3.delete_object(Bucket=BUCKET, Key=document.object_key, VersionId=document.versions[-1])

    outcome = world.run("drill", "--sample", "10")

    assert outcome.exit_code == 1
    failed = [e for e in outcome.entries("documents") if e["status"] == "fail"]
    assert [e["subject"] for e in failed] == [f"{document.object_key} @ {document.versions[-1]}"]
    assert failed[0]["detail"].startswith("version not retrievable: GetObject: NoSuchVersion")
    assert len(outcome.entries("documents")) == 10


def test_drill_from_a_backup_that_does_not_exist_is_a_usage_error(world: World) -> None:
    missing = f"arn:aws:dynamodb:us-east-1:{MOTO_ACCOUNT}:table/{DOCUMENTS}/backup/0123-abcd"
    outcome = world.run("drill", "--from-backup", missing)

    assert outcome.exit_code == 2
    assert outcome.report["summary"]["error"].startswith(f"--from-backup {missing}: ")
    assert "BackupNotFound" in outcome.report["summary"]["error"]


def test_interrupted_drill_still_deletes_its_tables(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables_before = world.tables()

    def interrupt(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(dr_drill, "digest_tables", interrupt)
    outcome = world.run("drill")

    assert outcome.exit_code == 1
    assert outcome.statuses("interrupted") == {"drill": "fail"}
    assert world.tables() == tables_before


def stubbed_dynamodb() -> Any:
    """A DynamoDB client for Stubber; fake credentials, and Stubber answers before any send."""
    return boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    ).client("dynamodb")


def table_status(name: str, status: str, restoring: bool) -> dict[str, Any]:
    """A DescribeTable answer for a table a restore is (or is no longer) writing into."""
    return {
        "Table": {
            "TableName": name,
            "TableStatus": status,
            "RestoreSummary": {
                "RestoreDateTime": "2026-11-30T05:00:00Z",
                "RestoreInProgress": restoring,
            },
        }
    }


def test_cleanup_waits_out_a_restore_still_creating_the_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto finishes restores at once, so the in-progress case is stubbed: DynamoDB refuses
    to delete a table while a restore is writing into it (ResourceInUseException)."""
    monkeypatch.setattr("formkiq_backup.dr.polling.POLL_SECONDS", 0.0)
    dynamodb = stubbed_dynamodb()
    name = f"{DOCUMENTS}-drill-20261130T050000"
    with Stubber(dynamodb) as stubber:
        stubber.add_client_error(
            "delete_table",
            "ResourceInUseException",
            "restore in progress",
            400,
            None,
            {"TableName": name},
        )
        stubber.add_response("describe_table", table_status(name, "CREATING", True))
        stubber.add_response("describe_table", table_status(name, "ACTIVE", False))
        stubber.add_response("delete_table", {}, {"TableName": name})

        assert dr_tables.delete_temporary_table(dynamodb, name) is True
        stubber.assert_no_pending_responses()


def test_cleanup_reports_a_table_it_could_not_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    dynamodb = stubbed_dynamodb()
    name = f"{DOCUMENTS}-drill-20261130T050000"
    report = Report("drill", "prod")
    with Stubber(dynamodb) as stubber:
        stubber.add_client_error(
            "delete_table", "AccessDeniedException", "not allowed", 400, None, {"TableName": name}
        )
        report.ledger.ask(
            "temporary",
            "table",
            name,
            "restore asked for",
            remove=lambda: dr_tables.delete_temporary_table(dynamodb, name),
            by_hand=f"aws dynamodb delete-table --table-name {name}",
        )
        report.ledger.clean_up()

    assert [(r["name"], r["state"], r["detail"]) for r in report.resources] == [
        (
            name,
            "left-behind",
            "left behind: DeleteTable: AccessDeniedException: not allowed; delete it yourself: "
            f"aws dynamodb delete-table --table-name {name}",
        )
    ]
    assert report.exit_code == 1


def test_temporary_table_names_are_unique_and_fit_dynamodb_s_limit() -> None:
    """Two runs in the same second never share a table (the deletion on the way out must only
    ever delete this run's), and a long source name is cut before the part that is unique."""
    from datetime import UTC, datetime

    now = datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
    first, second = (dr_tables.temporary_table_name(DOCUMENTS, "drill", now) for _ in range(2))
    assert first != second
    assert first.startswith(f"{DOCUMENTS}-drill-20261130T050000-")
    long = dr_tables.temporary_table_name("t" * 255, "repair", now)
    assert len(long) == 255
    assert "-repair-20261130T050000-" in long


def test_waiting_for_a_restore_gives_up_at_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("formkiq_backup.dr.polling.POLL_SECONDS", 0.0)
    dynamodb = stubbed_dynamodb()
    name = f"{DOCUMENTS}-drill-20261130T050000"
    with Stubber(dynamodb) as stubber:
        stubber.add_response("describe_table", table_status(name, "CREATING", True))
        with pytest.raises(TimeoutError, match=f"table {name} still CREATING after 0s"):
            dr_tables.wait_until_active(dynamodb, name, timeout_seconds=0.0)


def test_source_guard_refuses_writes_to_formkiq_before_they_are_sent(world: World) -> None:
    guard = SourceGuard([DOCUMENTS], [BUCKET])
    dynamodb = guard.attach(world.session.client("dynamodb"))
    s3 = guard.attach(world.session.client("s3"))

    with pytest.raises(
        SourceWriteRefusedError, match="refused dynamodb PutItem on formkiq-core-prod-documents"
    ):
        dynamodb.put_item(TableName=DOCUMENTS, Item={"PK": {"S": "x"}, "SK": {"S": "y"}})
    with pytest.raises(SourceWriteRefusedError, match="BatchWriteItem"):
        dynamodb.batch_write_item(
            RequestItems={
                DOCUMENTS: [{DeleteRequest: {"Key": {"PK": {"S": "x"}, "SK": {"S": "y"}}}}]
            }
        )
    with pytest.raises(SourceWriteRefusedError, match="refused s3 DeleteObject"):
        s3.delete_object(Bucket=BUCKET, Key="anything")
    with pytest.raises(SourceWriteRefusedError, match="RestoreTableFromBackup"):
        dynamodb.restore_table_from_backup(
            TargetTableName=DOCUMENTS, BackupArn="arn:aws:dynamodb:x"
        )
    # Reads still work.
    assert dynamodb.describe_table(TableName=DOCUMENTS)["Table"]["TableName"] == DOCUMENTS


DeleteRequest = "DeleteRequest"


def test_drill_rejects_backups_of_tables_it_does_not_protect(world: World) -> None:
    dynamodb = world.client("dynamodb")
    other = dynamodb.create_backup(TableName="formkiq-core-prod-cache", BackupName="cache-backup")
    tables_before = world.tables()
    outcome = world.run("drill", "--from-backup", other["BackupDetails"]["BackupArn"])
    assert outcome.exit_code == 2
    assert outcome.report["summary"]["error"] == (
        "--from-backup: backups of formkiq-core-prod-cache, which FormKiQ prod does not protect "
        f"(it protects {DOCUMENTS}, {SYNCS})"
    )
    assert world.tables() == tables_before


def test_an_aws_backup_recovery_point_is_refused_with_a_pointer(world: World) -> None:
    outcome = world.run(
        "drill", "--from-backup", f"arn:aws:backup:us-east-1:{MOTO_ACCOUNT}:recovery-point:abc"
    )
    assert outcome.exit_code == 2
    assert "not a DynamoDB backup ARN" in outcome.report["summary"]["error"]


def test_a_backup_job_that_never_finishes_fails_at_its_deadline(
    world: World, stubbed_backup: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one polling loop gives up at the snapshot's deadline: a failure, not a hang."""
    monkeypatch.setattr("formkiq_backup.dr.snapshot.TIMEOUT_SECONDS", 0)
    expect_vault(stubbed_backup)
    expect_backup_job(stubbed_backup, DOCUMENTS, ["RUNNING"])
    expect_backup_job(stubbed_backup, SYNCS, ["COMPLETED"])
    outcome = world.run("snapshot", *INTO_VAULT)

    assert outcome.exit_code == 1
    assert outcome.report["ok"] is False
    (failed,) = [e for e in outcome.entries("snapshot") if e["status"] == "fail"]
    assert failed["subject"] == DOCUMENTS
    assert failed["detail"] == (
        "AWS Backup job job-formkiq-core-prod-documents in formkiq-prod-backup-vault ended "
        "still RUNNING after 0s"
    )
