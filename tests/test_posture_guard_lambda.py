"""The posture-guard Lambda against moto: what it sees, publishes and repairs."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

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


# --- recovery points (Standard and up) -------------------------------------------------------
# moto does not emulate ListRecoveryPointsByResource, so the guard's Backup client is a real
# botocore client under Stubber: requests and answers are checked against the API model.

VAULT = "formkiq-prod-backup-vault"
ARNS = {
    DOCUMENTS: f"arn:aws:dynamodb:us-east-1:123456789012:table/{DOCUMENTS}",
    SYNCS: f"arn:aws:dynamodb:us-east-1:123456789012:table/{SYNCS}",
    BUCKET: f"arn:aws:s3:::{BUCKET}",
}


class WithStubbedBackup:
    """The moto session, except that its Backup clients are stubbed ones (one per region:
    `dr_backup` answers a client asked for another region)."""

    def __init__(self, session: boto3.session.Session, backup: Any, dr_backup: Any = None) -> None:
        self.session, self.backup, self.dr_backup = session, backup, dr_backup

    def client(self, service: str, config: Any = None, region_name: str | None = None) -> Any:
        if service == "backup":
            return self.dr_backup if region_name else self.backup
        return self.session.client(service, config=config)  # type: ignore[call-overload]


def point(vault: str, hours_old: float, status: str = "COMPLETED") -> dict[str, Any]:
    return {
        "RecoveryPointArn": (
            f"arn:aws:backup:us-east-1:123456789012:recovery-point:{vault}-{hours_old}"
        ),
        "BackupVaultName": vault,
        "CreationDate": datetime.now(UTC) - timedelta(hours=hours_old),
        "Status": status,
    }


def guard_with_points(
    formkiq: dict[str, Any], points: dict[str, list[dict[str, Any]] | str]
) -> tuple[list[Any], boto3.session.Session]:
    """Run the guard with a vault; `points` answers ListRecoveryPointsByResource per resource
    (a string: that error code instead)."""
    session: boto3.session.Session = formkiq["session"]
    settings = GuardSettings(
        **{
            **formkiq["settings"].__dict__,
            "backup_vault": VAULT,
            "backed_up_resources": tuple(ARNS.items()),
            "remediate": True,
        }
    )
    backup = session.client("backup")
    with Stubber(backup) as stubber:
        for name, arn in ARNS.items():
            answer = points[name]
            if isinstance(answer, str):
                stubber.add_client_error(
                    "list_recovery_points_by_resource",
                    service_error_code=answer,
                    service_message="not allowed",
                    http_status_code=403,
                    expected_params={"ResourceArn": arn},
                )
            else:
                stubber.add_response(
                    "list_recovery_points_by_resource",
                    {"RecoveryPoints": answer},
                    {"ResourceArn": arn},
                )
        findings = run_guard(settings, WithStubbedBackup(session, backup))
        stubber.assert_no_pending_responses()
    return [f for f in findings if f.check is Check.RECOVERY_POINT], session


def test_fresh_recovery_points_in_the_vault_publish_ones(formkiq: dict[str, Any]) -> None:
    findings, session = guard_with_points(
        formkiq, {DOCUMENTS: [point(VAULT, 3)], SYNCS: [point(VAULT, 3)], BUCKET: [point(VAULT, 4)]}
    )

    assert [(f.resource, f.compliant) for f in findings] == [
        (DOCUMENTS, True),
        (SYNCS, True),
        (BUCKET, True),
    ]
    for name in ARNS:
        assert metric(session, Check.RECOVERY_POINT, name) == 1.0


def test_a_bucket_whose_backups_fail_alarms_while_the_tables_stay_green(
    formkiq: dict[str, Any],
) -> None:
    """The case a vault-wide sum hides: two healthy tables, a bucket backed up 30 h ago."""
    findings, session = guard_with_points(
        formkiq,
        {
            DOCUMENTS: [point(VAULT, 2)],
            SYNCS: [point(VAULT, 2)],
            # A newer point in another vault, and a newer PARTIAL one here, do not count.
            BUCKET: [point(VAULT, 30), point("someone-elses-vault", 1), point(VAULT, 1, "PARTIAL")],
        },
    )

    bucket = findings[-1]
    assert (bucket.resource, bucket.compliant) == (BUCKET, False)
    assert bucket.observed.startswith("newest recovery point ")
    assert bucket.observed.endswith("30.0 h old")
    assert bucket.expected == f"a completed recovery point in {VAULT} at most 26 h old"
    assert metric(session, Check.RECOVERY_POINT, BUCKET) == 0.0
    assert metric(session, Check.RECOVERY_POINT, DOCUMENTS) == 1.0
    # Nothing is "remediated" by starting a backup: the alarm must tell why the plan fails.
    assert messages(session, formkiq["queue_url"]) == []


def test_no_recovery_point_yet_is_a_violation(formkiq: dict[str, Any]) -> None:
    findings, _ = guard_with_points(formkiq, {DOCUMENTS: [], SYNCS: [], BUCKET: []})
    assert {f.observed for f in findings} == {f"no completed recovery point in {VAULT}"}
    assert not any(f.compliant for f in findings)


def test_recovery_points_the_guard_may_not_read_count_as_violations(
    formkiq: dict[str, Any],
) -> None:
    findings, session = guard_with_points(
        formkiq, {DOCUMENTS: "AccessDeniedException", SYNCS: [point(VAULT, 1)], BUCKET: []}
    )
    documents = findings[0]
    assert (documents.compliant, documents.checked, documents.remediated) == (False, False, False)
    assert documents.error_code == "AccessDeniedException"
    assert metric(session, Check.RECOVERY_POINT, DOCUMENTS) == 0.0


def test_recovery_point_settings_come_from_the_environment() -> None:
    settings = GuardSettings.from_environment(
        {
            "APP_ENVIRONMENT": "prod",
            "PROTECTED_TABLES": json.dumps([DOCUMENTS]),
            "PROTECTED_BUCKETS": json.dumps([BUCKET]),
            "ALARM_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
            "BACKUP_VAULT_NAME": VAULT,
            "BACKED_UP_RESOURCES": json.dumps(ARNS),
            "RECOVERY_POINT_MAX_AGE_HOURS": "30",
        }
    )
    assert settings.backup_vault == VAULT
    assert dict(settings.backed_up_resources) == ARNS
    assert settings.recovery_point_max_age_hours == 30
    basic = GuardSettings.from_environment(
        {
            "APP_ENVIRONMENT": "prod",
            "PROTECTED_TABLES": "[]",
            "PROTECTED_BUCKETS": "[]",
            "ALARM_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
        }
    )
    assert (basic.backup_vault, basic.backed_up_resources) == ("", ())


# --- our replication rule on each replicated bucket (Enhanced) ------------------------------

REPLICA = "formkiq-prod-documents-dr-123456789012-us-west-2"
ROLE = "arn:aws:iam::123456789012:role/formkiq-prod-documents-replication"


def replicated(formkiq: dict[str, Any], configuration: dict[str, Any] | None) -> dict[str, Any]:
    """The guard's settings with our rule expected on BUCKET; `configuration` put there."""
    from dataclasses import replace

    from formkiq_backup.posture import ExpectedReplication
    from tests.dr_support import FaithfulReplication

    session = formkiq["session"]
    faithful = FaithfulReplication()
    faithful.attach(session.events)
    if configuration is not None:
        faithful.put(session.client("s3"), BUCKET, configuration)
    expected = ExpectedReplication(BUCKET, "formkiq-backup-dr", f"arn:aws:s3:::{REPLICA}", ROLE)
    return {**formkiq, "settings": replace(formkiq["settings"], replications=(expected,))}


def replication_finding(findings: list[Any]) -> Any:
    return next(f for f in findings if f.check is Check.REPLICATION)


def test_our_complete_rule_publishes_one(formkiq: dict[str, Any]) -> None:
    from tests.dr_support import our_replication

    world = replicated(formkiq, our_replication(REPLICA, ROLE))
    finding = replication_finding(run_guard(world["settings"], world["session"]))

    assert (finding.compliant, finding.observed) == (True, "rule formkiq-backup-dr complete")
    assert metric(world["session"], Check.REPLICATION, BUCKET) == 1.0


def test_a_configuration_formkiq_replaced_ours_with_alarms(formkiq: dict[str, Any]) -> None:
    """PutBucketReplication replaces the whole document: a FormKiQ update that set its own
    rule removed ours."""
    from tests.dr_support import our_replication

    theirs = our_replication("formkiq-own-copy", ROLE, ID="formkiq-template-rule")
    world = replicated(formkiq, theirs)
    finding = replication_finding(run_guard(world["settings"], world["session"]))

    assert not finding.compliant
    assert "rule formkiq-backup-dr is missing; the configuration holds formkiq-template-rule" in (
        finding.observed
    )
    assert metric(world["session"], Check.REPLICATION, BUCKET) == 0.0


def test_no_replication_configuration_at_all_alarms(formkiq: dict[str, Any]) -> None:
    world = replicated(formkiq, None)
    finding = replication_finding(run_guard(world["settings"], world["session"]))
    assert not finding.compliant
    assert finding.observed.startswith("no replication configuration")


@pytest.mark.parametrize(
    ("changes", "gap"),
    [
        ({"DeleteMarkerReplication": {"Status": "Disabled"}}, "delete markers not replicated"),
        ({"Status": "Disabled"}, "status Disabled"),
        ({"Filter": {"Prefix": "finance/"}}, "is not the whole bucket"),
        (
            {"Destination": {"Bucket": f"arn:aws:s3:::{REPLICA}"}},
            "RTC off; replication metrics off",
        ),
    ],
)
def test_an_incomplete_rule_alarms_naming_what_it_lacks(
    formkiq: dict[str, Any], changes: dict[str, Any], gap: str
) -> None:
    from tests.dr_support import our_replication

    world = replicated(formkiq, our_replication(REPLICA, ROLE, **changes))
    finding = replication_finding(run_guard(world["settings"], world["session"]))

    assert not finding.compliant
    assert gap in finding.observed


def test_remediation_never_puts_a_replication_configuration(formkiq: dict[str, Any]) -> None:
    """Putting one replaces the bucket's whole document: that is pulumi up's to do."""
    from dataclasses import replace

    world = replicated(formkiq, None)
    settings = replace(world["settings"], remediate=True)
    finding = replication_finding(run_guard(settings, world["session"]))

    assert (finding.compliant, finding.remediated) == (False, False)
    with pytest.raises(world["session"].client("s3").exceptions.ClientError):
        world["session"].client("s3").get_bucket_replication(Bucket=BUCKET)
    assert messages(world["session"], world["queue_url"]) == []


def test_replication_rules_come_from_the_environment() -> None:
    rule = {
        "sourceBucket": BUCKET,
        "ruleId": "formkiq-backup-dr",
        "destinationBucketArn": f"arn:aws:s3:::{REPLICA}",
        "roleArn": ROLE,
        "rtcMinutes": 15,
    }
    settings = GuardSettings.from_environment(
        {
            "APP_ENVIRONMENT": "prod",
            "PROTECTED_TABLES": "[]",
            "PROTECTED_BUCKETS": "[]",
            "ALARM_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
            "REPLICATION_RULES": json.dumps([rule]),
        }
    )
    assert [r.as_json() for r in settings.replications] == [rule]
    assert settings.replications[0].source_bucket_arn == f"arn:aws:s3:::{BUCKET}"


# --- copies in the DR vault (Enhanced) ------------------------------------------------------

DR_VAULT = "formkiq-prod-dr-backup-vault"


def test_copies_that_stop_reaching_the_dr_vault_alarm_per_resource(formkiq: dict[str, Any]) -> None:
    """The guard asks drRegion for each resource's points: a copy keeps its source's ARN."""
    session: boto3.session.Session = formkiq["session"]
    settings = GuardSettings(
        **{
            **formkiq["settings"].__dict__,
            "backup_vault": VAULT,
            "backed_up_resources": tuple(ARNS.items()),
            "copy_vault": DR_VAULT,
            "copy_region": "us-west-2",
        }
    )
    backup = session.client("backup")
    dr_backup = session.client("backup", region_name="us-west-2")
    copies = {DOCUMENTS: [point(DR_VAULT, 3)], SYNCS: [point(DR_VAULT, 3)], BUCKET: []}
    with Stubber(backup) as primary, Stubber(dr_backup) as dr:
        for name, arn in ARNS.items():
            primary.add_response(
                "list_recovery_points_by_resource",
                {"RecoveryPoints": [point(VAULT, 2)]},
                {"ResourceArn": arn},
            )
            dr.add_response(
                "list_recovery_points_by_resource",
                {"RecoveryPoints": copies[name]},
                {"ResourceArn": arn},
            )
        findings = run_guard(settings, WithStubbedBackup(session, backup, dr_backup))
        dr.assert_no_pending_responses()

    copied = {f.resource: f for f in findings if f.check is Check.COPY}
    assert {name: f.compliant for name, f in copied.items()} == {
        DOCUMENTS: True,
        SYNCS: True,
        BUCKET: False,
    }
    assert copied[BUCKET].observed == f"no completed recovery point in {DR_VAULT}"
    assert metric(session, Check.COPY, BUCKET) == 0.0
    assert metric(session, Check.COPY, DOCUMENTS) == 1.0


def test_the_copy_vault_comes_from_the_environment() -> None:
    settings = GuardSettings.from_environment(
        {
            "APP_ENVIRONMENT": "prod",
            "PROTECTED_TABLES": "[]",
            "PROTECTED_BUCKETS": "[]",
            "ALARM_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
            "COPY_VAULT_NAME": DR_VAULT,
            "COPY_VAULT_REGION": "us-west-2",
        }
    )
    assert (settings.copy_vault, settings.copy_region) == (DR_VAULT, "us-west-2")
