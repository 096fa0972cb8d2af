"""The posture-guard Lambda against moto: what it sees, publishes and repairs."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from formkiq_backup.lambdas.posture_guard import GuardSettings, handler, run_guard
from formkiq_backup.offline.samples import sample_formkiq
from formkiq_backup.offline.seed import seed_formkiq
from formkiq_backup.posture import Check

DOCUMENTS = "formkiq-core-prod-documents"
SYNCS = "formkiq-core-prod-documentsyncs"
BUCKET = "formkiq-core-prod-documents-123456789012"


@pytest.fixture
def formkiq(aws_session: boto3.session.Session) -> dict[str, Any]:
    """A seeded FormKiQ 1.19 plus an alarm topic whose messages land in a queue we can read."""
    seed_formkiq(aws_session, sample_formkiq(account_id="123456789012"))
    sns, sqs = aws_session.client("sns"), aws_session.client("sqs")
    topic_arn = sns.create_topic(Name="alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    settings = GuardSettings(
        app_environment="prod", tables=(DOCUMENTS, SYNCS), buckets=(BUCKET,), topic_arn=topic_arn
    )
    return {"session": aws_session, "settings": settings, "queue_url": queue_url}


def metric(session: boto3.session.Session, check: Check, resource: str) -> float | None:
    """The newest value the guard published for one check."""
    datapoints = session.client("cloudwatch").get_metric_statistics(
        Namespace="FormKiQ/Backup",
        MetricName=check.value,
        Dimensions=[
            {"Name": "AppEnvironment", "Value": "prod"},
            {"Name": check.resource_dimension, "Value": resource},
        ],
        StartTime=datetime.now(UTC) - timedelta(minutes=10),
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=60,
        Statistics=["Minimum"],
    )["Datapoints"]
    return min(point["Minimum"] for point in datapoints) if datapoints else None


def messages(session: boto3.session.Session, queue_url: str) -> list[str]:
    received = session.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"])["Message"] for m in received.get("Messages", [])]


def disable_pitr(session: boto3.session.Session, table: str) -> None:
    session.client("dynamodb").update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )


def test_compliant_formkiq_publishes_ones_and_stays_quiet(formkiq: dict[str, Any]) -> None:
    session = formkiq["session"]
    findings = run_guard(formkiq["settings"], session)

    assert [f.compliant for f in findings] == [True, True, True]
    assert findings[0].observed == "PITR enabled, 35-day recovery period"
    assert metric(session, Check.PITR, DOCUMENTS) == 1.0
    assert metric(session, Check.PITR, SYNCS) == 1.0
    assert metric(session, Check.VERSIONING, BUCKET) == 1.0
    assert messages(session, formkiq["queue_url"]) == []


def test_pitr_turned_off_is_a_violation_the_alarm_sees(formkiq: dict[str, Any]) -> None:
    session = formkiq["session"]
    disable_pitr(session, DOCUMENTS)

    findings = run_guard(formkiq["settings"], session)

    documents = findings[0]
    assert (documents.resource, documents.compliant, documents.observed) == (
        DOCUMENTS,
        False,
        "PITR disabled",
    )
    assert metric(session, Check.PITR, DOCUMENTS) == 0.0
    assert metric(session, Check.PITR, SYNCS) == 1.0
    # Not remediating: the alarm (not the guard) tells people; the table stays as found.
    assert messages(session, formkiq["queue_url"]) == []
    status = session.client("dynamodb").describe_continuous_backups(TableName=DOCUMENTS)
    assert (
        status["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
            "PointInTimeRecoveryStatus"
        ]
        == "DISABLED"
    )


def test_recovery_period_of_7_days_is_too_short(formkiq: dict[str, Any]) -> None:
    session = formkiq["session"]
    session.client("dynamodb").update_continuous_backups(
        TableName=SYNCS,
        PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": True,
            "RecoveryPeriodInDays": 7,
        },
    )

    syncs = run_guard(formkiq["settings"], session)[1]

    assert (syncs.compliant, syncs.observed) == (False, "PITR enabled, 7-day recovery period")
    assert metric(session, Check.PITR, SYNCS) == 0.0


def test_suspended_versioning_is_a_violation(formkiq: dict[str, Any]) -> None:
    session = formkiq["session"]
    session.client("s3").put_bucket_versioning(
        Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"}
    )

    bucket = run_guard(formkiq["settings"], session)[2]

    assert (bucket.compliant, bucket.observed) == (False, "versioning Suspended")
    assert metric(session, Check.VERSIONING, BUCKET) == 0.0


def test_remediation_restores_pitr_and_versioning_and_says_so(formkiq: dict[str, Any]) -> None:
    session = formkiq["session"]
    dynamodb = session.client("dynamodb")
    disable_pitr(session, DOCUMENTS)
    dynamodb.update_continuous_backups(
        TableName=SYNCS,
        PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": True,
            "RecoveryPeriodInDays": 7,
        },
    )
    session.client("s3").put_bucket_versioning(
        Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"}
    )
    settings = GuardSettings(**{**formkiq["settings"].__dict__, "remediate": True})

    findings = run_guard(settings, session)

    assert all(f.compliant and f.remediated for f in findings)
    for table in (DOCUMENTS, SYNCS):
        pitr = dynamodb.describe_continuous_backups(TableName=table)[
            "ContinuousBackupsDescription"
        ]["PointInTimeRecoveryDescription"]
        assert (pitr["PointInTimeRecoveryStatus"], pitr["RecoveryPeriodInDays"]) == ("ENABLED", 35)
    assert session.client("s3").get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    assert metric(session, Check.PITR, DOCUMENTS) == 1.0
    (notice,) = messages(session, formkiq["queue_url"])
    assert f"PitrCompliant {DOCUMENTS}: PITR disabled -> now PITR enabled, 35-day" in notice
    assert f"PitrCompliant {SYNCS}: PITR enabled, 7-day recovery period -> now" in notice
    assert f"VersioningCompliant {BUCKET}: versioning Suspended -> now versioning Enabled" in notice
    assert "restore window starts again now" in notice


def test_a_check_that_cannot_run_counts_as_a_violation_and_is_never_remediated(
    formkiq: dict[str, Any],
) -> None:
    session = formkiq["session"]
    settings = GuardSettings(
        **{**formkiq["settings"].__dict__, "tables": ("deleted-table",), "remediate": True}
    )

    finding = run_guard(settings, session)[0]

    assert (finding.compliant, finding.checked, finding.remediated) == (False, False, False)
    assert (
        finding.observed == "check failed: TableNotFoundException: Table not found: deleted-table"
    )
    assert metric(session, Check.PITR, "deleted-table") == 0.0
    assert messages(session, formkiq["queue_url"]) == []


def test_handler_reads_its_settings_from_the_environment(
    formkiq: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings: GuardSettings = formkiq["settings"]
    disable_pitr(formkiq["session"], DOCUMENTS)
    monkeypatch.setenv("APP_ENVIRONMENT", "prod")
    monkeypatch.setenv("PROTECTED_TABLES", json.dumps([DOCUMENTS]))
    monkeypatch.setenv("PROTECTED_BUCKETS", json.dumps([BUCKET]))
    monkeypatch.setenv("ALARM_TOPIC_ARN", settings.topic_arn)
    monkeypatch.setenv("MINIMUM_PITR_DAYS", "35")
    monkeypatch.setenv("REMEDIATE", "false")

    result = handler({"source": "aws.events"}, None)

    assert result == {
        "compliant": False,
        "findings": [
            f"VIOLATION PitrCompliant {DOCUMENTS}: PITR disabled",
            f"OK VersioningCompliant {BUCKET}: versioning Enabled",
        ],
    }
