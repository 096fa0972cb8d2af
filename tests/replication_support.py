"""A FormKiQ in moto with the Enhanced tier's replication in place, for `replicate-existing` and
`purge-replica` (their own tests and the CLI contract's).

moto 5.2.5 implements no S3 Control job API (CreateJob, DescribeJob): the s3control client is
botocore's Stubber with the real API model, so each request is checked against S3 Control's
shapes and the exact parameters expected. moto answers GetBucketReplication lossily, so the
configurations are handed back as put (FaithfulReplication). AWS Backup's recovery points are
stubbed too (moto has none).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
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
    replicas_in,
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


def replicate(world: World, monkeypatch: pytest.MonkeyPatch) -> FaithfulReplication:
    """Our rule on FormKiQ's bucket and on the exports bucket, replicas in us-west-2."""
    s3 = world.client("s3")
    s3.create_bucket(Bucket=EXPORTS)
    s3.put_bucket_versioning(Bucket=EXPORTS, VersioningConfiguration={"Status": "Enabled"})
    faithful = replicas_in(world, monkeypatch, DR, (DOCUMENTS_REPLICA, EXPORTS_REPLICA))
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
    """DescribeJob's answer for job-1."""
    summary: dict[str, Any] = {"NumberOfTasksSucceeded": succeeded, "NumberOfTasksFailed": failed}
    if total is not None:
        summary["TotalNumberOfTasks"] = total
    return {"Job": {"JobId": "job-1", "Status": status, "ProgressSummary": summary}}


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


def replica_versions(world: World, key: str) -> list[str]:
    listed = world.session.client("s3", region_name=DR).list_object_versions(
        Bucket=DOCUMENTS_REPLICA, Prefix=key
    )
    return [v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key]


def no_recovery_points(backup: Stubber, runs: int = 1) -> None:
    """ListRecoveryPointsByResource answered empty in both regions, `runs` times."""
    for _ in range(2 * runs):
        backup.add_response("list_recovery_points_by_resource", {"RecoveryPoints": []})


def recovery_point(vault: str) -> dict[str, Any]:
    return {
        "RecoveryPointArn": f"arn:aws:backup:us-east-1:{MOTO_ACCOUNT}:recovery-point:{vault}",
        "BackupVaultName": vault,
        "CreationDate": datetime.now(UTC) + timedelta(minutes=1),
        "Status": "COMPLETED",
    }
