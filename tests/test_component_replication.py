"""ReplicaBucket, BucketReplication, ReplicationAlarms, BatchReplicationRole: arguments AWS
would refuse fail before anything is registered; the region each child is sent."""

from collections.abc import Callable

import pulumi_aws as aws
import pytest

from components import (
    BatchReplicationRole,
    BatchReplicationRoleArgs,
    BucketReplication,
    BucketReplicationArgs,
    ReplicaBucket,
    ReplicaBucketArgs,
    ReplicationAlarms,
    ReplicationAlarmsArgs,
    Side,
)
from formkiq_backup.offline.program import ProgramRun

Build = Callable[..., ProgramRun]
SOURCE = "formkiq-core-prod-documents-111122223333"
TOPIC = "arn:aws:sns:us-west-2:111122223333:alerts"


def replication(**changes: object) -> Callable[[], object]:
    def body() -> object:
        versioning = aws.s3.BucketVersioning(
            "replica-versioning", bucket="replica", versioning_configuration={"status": "Enabled"}
        )
        base: dict[str, object] = {
            "source_bucket": SOURCE,
            "source_bucket_arn": f"arn:aws:s3:::{SOURCE}",
            "destination_bucket_arn": "arn:aws:s3:::replica",
            "destination_region": "us-west-2",
            "destination_key_arn": "arn:aws:kms:us-west-2:111122223333:key/replica",
            "destination_versioning": versioning,
            "role_name": "formkiq-prod-documents-replication",
            "rule_id": "formkiq-backup-dr",
            "source_region": "us-east-1",
            "account_id": "111122223333",
            "partition": "aws",
        }
        return BucketReplication("documents", BucketReplicationArgs(**{**base, **changes}))  # type: ignore[arg-type]

    return body


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rtc_minutes": 10}, "takes 15 minutes only"),
        ({"destination_region": "us-east-1"}, "cross-region replication needs two regions"),
        ({"rule_id": ""}, "rule id '' must have 1..255 characters"),
        ({"role_name": "r" * 65}, "IAM role name"),
    ],
)
def test_replication_aws_would_refuse_fails_before_anything_is_registered(
    build: Build, changes: dict[str, object], message: str
) -> None:
    run = build(replication(**changes), raise_errors=False)

    assert message in str(run.error)
    assert [r.type for r in run.resources if r.custom] == [
        "aws:s3/bucketVersioning:BucketVersioning"
    ]


def test_an_sse_s3_source_gets_no_source_key_grant_and_an_sse_kms_one_does(build: Build) -> None:
    import json

    def statements(run: ProgramRun) -> set[str]:
        policy = json.loads(run.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
        return {statement["Sid"] for statement in policy["Statement"]}

    sse_s3 = build(replication())
    sse_kms = build(replication(source_key_arn="arn:aws:kms:us-east-1:111122223333:key/source"))

    assert "DecryptSourceObjects" not in statements(sse_s3)
    assert "DecryptSourceObjects" in statements(sse_kms)


def test_a_replica_bucket_name_s3_would_refuse_fails_before_anything_is_registered(
    build: Build,
) -> None:
    run = build(
        lambda: ReplicaBucket(
            "replica",
            ReplicaBucketArgs(
                bucket_name="Formkiq_Prod_Replica",
                key_alias="alias/replica",
                account_id="111122223333",
                partition="aws",
            ),
        ),
        raise_errors=False,
    )
    assert "bucket name 'Formkiq_Prod_Replica' must be 3..63 lower-case" in str(run.error)
    assert run.resources == []


def test_alarm_names_beyond_cloudwatchs_limit_fail_before_registering(build: Build) -> None:
    run = build(
        lambda: ReplicationAlarms(
            "alarms",
            ReplicationAlarmsArgs(
                side=Side.SOURCE,
                source_bucket=SOURCE,
                destination_bucket="replica",
                rule_id="formkiq-backup-dr",
                topic_arn=TOPIC,
                alarm_name_prefix="p" * 250,
            ),
        ),
        raise_errors=False,
    )
    assert "CloudWatch alarm name" in str(run.error)
    assert run.resources == []


def test_each_side_alarms_only_on_the_metrics_published_in_its_region(build: Build) -> None:
    def side(which: Side) -> list[str]:
        run = build(
            lambda: ReplicationAlarms(
                "alarms",
                ReplicationAlarmsArgs(
                    side=which,
                    source_bucket=SOURCE,
                    destination_bucket="replica",
                    rule_id="formkiq-backup-dr",
                    topic_arn=TOPIC,
                    alarm_name_prefix="formkiq-prod-documents",
                ),
            )
        )
        return sorted(
            a.inputs["metricName"] for a in run.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        )

    assert side(Side.SOURCE) == ["OperationsFailedReplication"]
    assert side(Side.DESTINATION) == [
        "BytesPendingReplication",
        "OperationsPendingReplication",
        "ReplicationLatency",
    ]


def test_the_batch_replication_role_is_global_and_refuses_an_empty_source_list(
    build: Build,
) -> None:
    def role(sources: list[str]) -> Callable[[], object]:
        return lambda: BatchReplicationRole(
            "batch",
            BatchReplicationRoleArgs(
                role_name="formkiq-prod-batch-replication",
                source_bucket_arns=sources,
                report_bucket_arn="arn:aws:s3:::exports",
                report_prefix="batch-replication/",
                report_key_arn="arn:aws:kms:us-east-1:111122223333:key/exports",
                region="us-east-1",
            ),
        )

    run = build(role([f"arn:aws:s3:::{SOURCE}"]))
    assert [r.name for r in run.resources if r.custom and "region" in r.inputs] == []
    refused = build(role([]), raise_errors=False)
    assert "give at least one replicated bucket" in str(refused.error)
