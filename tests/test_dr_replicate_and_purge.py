"""`formkiq-dr replicate-existing` and `purge-replica` against a seeded FormKiQ in moto.

moto 5.2.5 implements no S3 Control job API (CreateJob, DescribeJob): the s3control client is
botocore's Stubber with the real API model, so each request is checked against S3 Control's
shapes and the exact parameters expected. moto answers GetBucketReplication lossily, so
FormKiQ's bucket's configuration is handed back as put (FaithfulReplication). AWS Backup's
recovery points are stubbed too (moto has none).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import boto3
import pytest
from botocore.stub import ANY, Stubber

from formkiq_backup.dr import context as dr_context
from formkiq_backup.exports import exports_bucket_name
from tests.dr_support import (
    BUCKET,
    MOTO_ACCOUNT,
    FaithfulReplication,
    World,
    our_replication,
    watch_source_writes,
)

DR: Final = "us-west-2"
EXPORTS = exports_bucket_name("prod", MOTO_ACCOUNT)
DOCUMENTS_REPLICA = f"formkiq-prod-documents-dr-{MOTO_ACCOUNT}-{DR}"
EXPORTS_REPLICA = f"formkiq-prod-exports-dr-{MOTO_ACCOUNT}-{DR}"
BATCH_ROLE = f"arn:aws:iam::{MOTO_ACCOUNT}:role/formkiq-prod-batch-replication"


@contextmanager
def stubbed(monkeypatch: pytest.MonkeyPatch, service: str) -> Iterator[Stubber]:
    """Give DrContext a `service` client whose every call must be stubbed, in order."""
    client = boto3.session.Session(region_name="us-east-1").client(service)  # type: ignore[call-overload]
    stubber = Stubber(client)
    original = dr_context.DrContext.client

    def client_for(self: dr_context.DrContext, name: str, region: str | None = None) -> Any:
        return client if name == service else original(self, name, region)

    monkeypatch.setattr(dr_context.DrContext, "client", client_for)
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


@pytest.fixture
def replicated(world: World, monkeypatch: pytest.MonkeyPatch) -> FaithfulReplication:
    """Our rule on FormKiQ's bucket and on the exports bucket, replicas in us-west-2."""
    s3 = world.client("s3")
    s3.create_bucket(Bucket=EXPORTS)
    s3.put_bucket_versioning(Bucket=EXPORTS, VersioningConfiguration={"Status": "Enabled"})
    dr_s3 = world.session.client("s3", region_name=DR)
    for replica in (DOCUMENTS_REPLICA, EXPORTS_REPLICA):
        dr_s3.create_bucket(Bucket=replica, CreateBucketConfiguration={"LocationConstraint": DR})
        dr_s3.put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Enabled"})
    faithful = FaithfulReplication()
    faithful.attach_to_dr_clients(monkeypatch)
    role = f"arn:aws:iam::{MOTO_ACCOUNT}:role/formkiq-prod-documents-replication"
    faithful.put(s3, BUCKET, our_replication(DOCUMENTS_REPLICA, role))
    faithful.put(s3, EXPORTS, our_replication(EXPORTS_REPLICA, role))
    return faithful


def create_job_request(source: str) -> dict[str, Any]:
    """What CreateJob must receive for one replicated bucket."""
    reports = f"arn:aws:s3:::{EXPORTS}"
    return {
        "AccountId": MOTO_ACCOUNT,
        "ConfirmationRequired": False,
        "Operation": {"S3ReplicateObject": {}},
        "Report": {
            "Bucket": reports,
            "Format": "Report_CSV_20180820",
            "Enabled": True,
            "Prefix": f"batch-replication/reports/{source}",
            "ReportScope": "FailedTasksOnly",
        },
        "ClientRequestToken": ANY,
        "Priority": 10,
        "RoleArn": BATCH_ROLE,
        "Description": f"formkiq-dr replicate-existing {source}",
        "ManifestGenerator": {
            "S3JobManifestGenerator": {
                "ExpectedBucketOwner": MOTO_ACCOUNT,
                "SourceBucket": f"arn:aws:s3:::{source}",
                "ManifestOutputLocation": {
                    "ExpectedManifestBucketOwner": MOTO_ACCOUNT,
                    "Bucket": reports,
                    "ManifestPrefix": f"batch-replication/manifests/{source}",
                    "ManifestFormat": "S3InventoryReport_CSV_20211130",
                },
                "Filter": {
                    "EligibleForReplication": True,
                    "ObjectReplicationStatuses": ["NONE", "FAILED"],
                },
                "EnableManifestOutput": True,
            }
        },
    }


def job(status: str, succeeded: int, failed: int, total: int | None = 100) -> dict[str, Any]:
    summary: dict[str, Any] = {"NumberOfTasksSucceeded": succeeded, "NumberOfTasksFailed": failed}
    if total is not None:
        summary["TotalNumberOfTasks"] = total
    return {"Job": {"JobId": "job-1", "Status": status, "ProgressSummary": summary}}


def test_one_batch_replication_job_per_bucket_with_an_s3_generated_manifest(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stubbed(monkeypatch, "s3control") as control:
        for index, source in enumerate((BUCKET, EXPORTS)):
            control.add_response(
                "create_job", {"JobId": f"job-{index}"}, create_job_request(source)
            )
        outcome = world.run("replicate-existing")

    assert outcome.exit_code == 0, outcome.report
    assert outcome.report["summary"]["jobs"] == {BUCKET: "job-0", EXPORTS: "job-1"}
    detail = outcome.entries("batch replication")[0]["detail"]
    assert detail.startswith("job job-0 created; follow it with `aws s3control describe-job")


def test_wait_follows_the_job_to_its_end_with_progress(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    follow = {"AccountId": MOTO_ACCOUNT, "JobId": "job-1"}
    with stubbed(monkeypatch, "s3control") as control:
        control.add_response("create_job", {"JobId": "job-1"}, create_job_request(BUCKET))
        control.add_response("describe_job", job("Preparing", 0, 0, None), follow)
        control.add_response("describe_job", job("Active", 40, 0), follow)
        control.add_response("describe_job", job("Complete", 100, 0), follow)
        outcome = world.run("replicate-existing", "--bucket", "documents", "--wait")

    assert outcome.exit_code == 0, outcome.report
    done = outcome.entries("batch replication")[-1]
    assert (done["status"], done["detail"]) == (
        "pass",
        "job job-1 complete: Complete, 100 of 100 replicated, 0 failed",
    )


def test_a_job_with_failed_objects_fails_naming_where_the_report_is(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    follow = {"AccountId": MOTO_ACCOUNT, "JobId": "job-1"}
    with stubbed(monkeypatch, "s3control") as control:
        control.add_response("create_job", {"JobId": "job-1"}, create_job_request(BUCKET))
        control.add_response("describe_job", job("Complete", 97, 3), follow)
        outcome = world.run("replicate-existing", "--bucket", "documents", "--wait")

    assert outcome.exit_code == 1
    assert outcome.report["ok"] is False
    assert outcome.entries("batch replication")[-1]["detail"] == (
        f"job job-1 complete with 3 failed objects: listed in "
        f"s3://{EXPORTS}/batch-replication/reports/{BUCKET}"
    )


def test_a_failed_job_says_why(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    follow = {"AccountId": MOTO_ACCOUNT, "JobId": "job-1"}
    failed = job("Failed", 0, 0)
    failed["Job"]["FailureReasons"] = [{"FailureCode": "AccessDenied", "FailureReason": "denied"}]
    with stubbed(monkeypatch, "s3control") as control:
        control.add_response("create_job", {"JobId": "job-1"}, create_job_request(BUCKET))
        control.add_response("describe_job", failed, follow)
        outcome = world.run("replicate-existing", "--bucket", "documents", "--wait")

    assert outcome.exit_code == 1
    assert outcome.entries("batch replication")[-1]["detail"] == "job job-1 Failed: denied"


def test_no_job_is_created_for_a_bucket_without_our_rule(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch Replication replicates by the bucket's rules: without ours it would do nothing."""
    with stubbed(monkeypatch, "s3control"):  # any CreateJob call would fail the stubber
        outcome = world.run("replicate-existing", "--bucket", "documents")

    assert outcome.exit_code == 1
    assert outcome.statuses("batch replication") == {BUCKET: "fail"}
    assert (
        "no enabled replication rule formkiq-backup-dr"
        in (outcome.entries("batch replication")[0]["detail"])
    )


def test_create_job_denied_is_an_access_error(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stubbed(monkeypatch, "s3control") as control:
        control.add_client_error(
            "create_job", service_error_code="AccessDenied", http_status_code=403
        )
        outcome = world.run("replicate-existing", "--bucket", "documents")

    assert outcome.exit_code == 2
    assert "CreateJob: AccessDenied" in outcome.report["summary"]["error"]


# --- purge-replica ------------------------------------------------------------------------


def replicate_everything(world: World) -> None:
    """What replication (and a backfill) would leave: every version of every document."""
    s3 = world.client("s3")
    dr_s3 = world.session.client("s3", region_name=DR)
    for document in world.documents:
        for version in s3.list_object_versions(Bucket=BUCKET, Prefix=document.object_key)[
            "Versions"
        ]:
            body = s3.get_object(
                Bucket=BUCKET, Key=document.object_key, VersionId=version["VersionId"]
            )
            dr_s3.put_object(
                Bucket=DOCUMENTS_REPLICA, Key=document.object_key, Body=body["Body"].read()
            )


def purge_in_formkiq(world: World, key: str) -> None:
    """A FormKiQ purge: every version deleted by id (not replicated)."""
    s3 = world.client("s3")
    for version in s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]:
        if version["Key"] == key:
            s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version["VersionId"])


def replica_versions(world: World, key: str) -> int:
    listed = world.session.client("s3", region_name=DR).list_object_versions(
        Bucket=DOCUMENTS_REPLICA, Prefix=key
    )
    return sum(1 for v in listed.get("Versions", []) if v["Key"] == key)


def test_purge_replica_is_a_dry_run_that_names_the_recovery_points_holding_the_document(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    replicate_everything(world)
    document = world.finance()[0]
    purge_in_formkiq(world, document.object_key)
    bucket_arn = f"arn:aws:s3:::{BUCKET}"
    with stubbed(monkeypatch, "backup") as backup:
        for _ in ("us-east-1", DR):
            backup.add_response(
                "list_recovery_points_by_resource",
                {"RecoveryPoints": [_point("formkiq-prod-backup-vault")]},
                {"ResourceArn": bucket_arn},
            )
        outcome = world.run(
            "purge-replica", "--document", document.document_id, "--site", "finance"
        )

    assert outcome.exit_code == 0, outcome.report
    assert outcome.entries("purge") == [
        {
            "section": "purge",
            "subject": document.object_key,
            "status": "info",
            "detail": f"would delete 2 versions from {DOCUMENTS_REPLICA} (dry run: add --apply)",
            "seconds": None,
            "data": {},
            "resource": None,
        }
    ]
    assert replica_versions(world, document.object_key) == 2
    held = outcome.entries("recovery points")
    assert [e["status"] for e in held] == ["warn", "warn"]
    assert (
        "may still hold the purged content: vault formkiq-prod-backup-vault" in (held[0]["detail"])
    )


def test_purge_replica_apply_deletes_only_the_purged_documents_versions(
    world: World, replicated: FaithfulReplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    replicate_everything(world)
    purged, still_there = world.finance()[0], world.finance()[1]
    purge_in_formkiq(world, purged.object_key)
    writes = watch_source_writes(monkeypatch)
    with stubbed(monkeypatch, "backup") as backup:
        for _ in ("us-east-1", DR):
            backup.add_response("list_recovery_points_by_resource", {"RecoveryPoints": []})
        outcome = world.run(
            "purge-replica",
            "--document",
            purged.document_id,
            "--document",
            still_there.document_id,
            "--site",
            "finance",
            "--apply",
        )

    assert outcome.exit_code == 0, outcome.report
    statuses = {e["subject"]: (e["status"], e["detail"]) for e in outcome.entries("purge")}
    assert statuses[purged.object_key] == ("pass", f"deleted 2 versions from {DOCUMENTS_REPLICA}")
    assert statuses[still_there.object_key][1] == (
        "still in FormKiQ's bucket, not purged: left alone in the replica"
    )
    assert replica_versions(world, purged.object_key) == 0
    assert replica_versions(world, still_there.object_key) == 2
    assert writes == []  # FormKiQ's bucket was never written


def test_purge_replica_refuses_a_document_id_with_a_slash(world: World) -> None:
    outcome = world.run("purge-replica", "--document", "finance/abc")
    assert outcome.exit_code == 2
    assert "--document 'finance/abc'" in outcome.report["summary"]["error"]


def _point(vault: str) -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta

    return {
        "RecoveryPointArn": f"arn:aws:backup:us-east-1:{MOTO_ACCOUNT}:recovery-point:{vault}",
        "BackupVaultName": vault,
        "CreationDate": datetime.now(UTC) + timedelta(minutes=1),
        "Status": "COMPLETED",
    }
