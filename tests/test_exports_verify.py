"""`formkiq-dr verify`'s export checks and the export monitor, against moto.

moto completes DynamoDB exports at once and writes no manifest-summary.json; the checks read
DescribeExport (status, time, ItemCount), which moto answers, and our own manifests.
"""

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from formkiq_backup.dr import exports as dr_exports
from formkiq_backup.dr.context import DrContext
from formkiq_backup.dr.report import Report
from formkiq_backup.exports import METRIC_NAME, METRIC_NAMESPACE, ExportExpectations
from formkiq_backup.lambdas import cognito_export, export_monitor, infrastructure_export
from formkiq_backup.lambdas.cognito_export import UsersExportSettings
from formkiq_backup.lambdas.infrastructure_export import InfrastructureExportSettings
from tests.dr_support import DOCUMENTS, SYNCS, World
from tests.exports_support import (
    create_exports_bucket,
    export_tables,
    formkiq_stacks,
    good_exports,
    record_export_times,
    write_completed_table_export,
    write_descriptor,
)


@pytest.fixture(autouse=True)
def _export_times(world: World, monkeypatch: pytest.MonkeyPatch) -> dict[str, datetime]:
    return record_export_times(world.session, monkeypatch)


# Every data set a FormKiQ 1.19 stack exports, all healthy.
ALL_PASS = {
    f"dynamodb/{DOCUMENTS}": "pass",
    f"dynamodb/{SYNCS}": "pass",
    "cognito": "pass",
    "infrastructure": "pass",
}


def verify_exports(world: World) -> dict[str, dict[str, Any]]:
    """The export entries `verify` reports, by data set."""
    report = Report("verify", "prod")
    dr_exports.check_export_health(DrContext.create("prod", region="us-east-1"), report, True)
    return {
        e.subject: {"status": e.status.value, "detail": e.detail, **e.data} for e in report.entries
    }


def test_good_exports_pass_with_counts_and_digests(world: World) -> None:
    expectations = good_exports(world.session, world.sample, world.pool_id)

    entries = verify_exports(world)

    assert {name: e["status"] for name, e in entries.items()} == ALL_PASS
    documents = entries[f"dynamodb/{DOCUMENTS}"]
    live = world.client("dynamodb").describe_table(TableName=DOCUMENTS)["Table"]["ItemCount"]
    assert documents["itemCount"] == live > 0
    assert documents["maxAgeDays"] == expectations.max_age_days == 33
    assert entries["cognito"]["count"] == entries["cognito"]["linesInObject"] == 4
    assert "sha256 matches" in entries["cognito"]["detail"]


def test_a_failed_newest_export_fails_even_after_a_completed_one(world: World) -> None:
    """moto fails an export only when its bucket is missing; the answer is then moved to our
    bucket (and a minute later), as DescribeExport reports an export that failed after it
    started."""
    expectations = good_exports(world.session, world.sample, world.pool_id)
    # An export whose bucket vanished fails in moto, as one would after it started in AWS.
    dynamodb = world.client("dynamodb")
    failed = dynamodb.export_table_to_point_in_time(
        TableArn=expectations.tables[0].arn,
        S3Bucket="no-such-bucket",
        S3Prefix="dynamodb/x/",
        ExportFormat="DYNAMODB_JSON",
    )["ExportDescription"]
    described = dynamodb.describe_export(ExportArn=failed["ExportArn"])["ExportDescription"]
    assert described["ExportStatus"] == "FAILED"
    original = dynamodb.describe_export

    def into_our_bucket(**kwargs: Any) -> dict[str, Any]:
        answer: dict[str, Any] = original(**kwargs)
        if kwargs["ExportArn"] == failed["ExportArn"]:
            answer["ExportDescription"]["S3Bucket"] = expectations.bucket
            answer["ExportDescription"]["StartTime"] += timedelta(minutes=1)
        return answer

    context = DrContext.create("prod", region="us-east-1")
    context.client("dynamodb").describe_export = into_our_bucket
    report = Report("verify", "prod")
    dr_exports.check_export_health(context, report, True)

    entries = {e.subject: e for e in report.entries}
    failing = entries[f"dynamodb/{DOCUMENTS}"]
    assert failing.status.value == "fail"
    assert failing.detail.startswith("FAILED: newest export")
    assert entries[f"dynamodb/{SYNCS}"].status.value == "pass"


def test_stale_exports_fail_once_older_than_the_schedule_allows(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    good_exports(world.session, world.sample, world.pool_id)
    later = datetime.now(UTC) + timedelta(days=34)  # monthly schedule: 31 days + 2 of slack
    monkeypatch.setattr(dr_exports, "now", lambda: later)

    entries = verify_exports(world)

    assert {e["status"] for e in entries.values()} == {"fail"}
    assert all(e["detail"].startswith("STALE:") for e in entries.values())
    assert "older than 33 days" in entries["cognito"]["detail"]


def test_a_users_export_that_does_not_match_its_manifest_fails(world: World) -> None:
    good_exports(world.session, world.sample, world.pool_id)
    s3 = world.client("s3")
    bucket = json.loads(s3.get_object(Bucket=_bucket(world), Key="exports.json")["Body"].read())[
        "bucket"
    ]
    key = next(
        o["Key"]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix="cognito/")["Contents"]
        if o["Key"].endswith(".gz")
    )
    tampered = gzip.compress(b'{"username": "intruder"}\n', mtime=0)
    s3.put_object(Bucket=bucket, Key=key, Body=tampered)

    entries = verify_exports(world)

    assert entries["cognito"]["status"] == "fail"
    assert "CORRUPT" in entries["cognito"]["detail"]
    assert "does not match the manifest" in entries["cognito"]["detail"]


def test_missing_exports_fail_and_a_missing_bucket_says_so(world: World) -> None:
    assert verify_exports(world) == {
        f"formkiq-prod-exports-{world.sample.account_id}": {
            "status": "fail",
            "detail": "no exports bucket: are the system exports deployed?",
        }
    }
    bucket, _ = create_exports_bucket(world.session, world.sample.account_id)
    write_descriptor(world.session, world.sample, bucket, world.pool_id)

    entries = verify_exports(world)

    assert {name: e["status"] for name, e in entries.items()} == {
        f"dynamodb/{DOCUMENTS}": "fail",
        f"dynamodb/{SYNCS}": "fail",
        "cognito": "fail",
        "infrastructure": "fail",
    }
    assert entries["cognito"]["detail"].startswith("MISSING:")


# --- exports older than ListExports remembers ---------------------------------------------------

QUARTERLY = "cron(0 6 1 1,4,7,10 ? *)"  # 92 days at the longest: an export may be 94 days old


def quarterly_exports(world: World, age: timedelta) -> dict[str, str]:
    """Every export of a quarterly stack made `age` ago; the tables' only in S3, as AWS's
    ListExports (90 days) no longer lists them. Returns each table's summary manifest key."""
    when = datetime.now(UTC) - age
    bucket, key = create_exports_bucket(world.session, world.sample.account_id)
    expectations = write_descriptor(
        world.session, world.sample, bucket, world.pool_id, schedule_expression=QUARTERLY
    )
    live = world.client("dynamodb")
    summaries = {
        table.name: write_completed_table_export(
            world.session,
            bucket,
            key,
            table,
            when=when,
            item_count=live.describe_table(TableName=table.name)["Table"]["ItemCount"],
        )
        for table in expectations.tables
    }
    cognito_export.run_export(UsersExportSettings(world.pool_id, bucket, key), world.session, when)
    formkiq_stacks(world.session, world.pool_id)
    infrastructure_export.run_export(
        InfrastructureExportSettings("prod", bucket, key, user_pool_id=world.pool_id),
        world.session,
        when,
    )
    return summaries


def test_a_quarterly_export_older_than_90_days_is_found_from_its_summary_manifest(
    world: World,
) -> None:
    """ListExports lists only the past 90 days of exports: a quarterly schedule's newest is
    often older, and sits in the bucket with its manifest-summary.json."""
    summaries = quarterly_exports(world, timedelta(days=91))

    entries = verify_exports(world)

    assert {name: e["status"] for name, e in entries.items()} == ALL_PASS
    documents = entries[f"dynamodb/{DOCUMENTS}"]
    assert documents["summaryManifest"] == summaries[DOCUMENTS]
    assert "ListExports lists only the past 90 days" in documents["detail"]
    assert documents["maxAgeDays"] == 94
    bucket = _bucket(world)
    results = export_monitor.run_monitor("prod", bucket, world.session)
    assert all(finding.healthy for finding, _ in results)
    assert set(published(world.session).values()) == {1.0}


def test_a_quarterly_export_past_its_schedule_is_stale_not_missing(world: World) -> None:
    quarterly_exports(world, timedelta(days=100))

    entries = verify_exports(world)

    documents = entries[f"dynamodb/{DOCUMENTS}"]
    assert documents["status"] == "fail"
    assert documents["detail"].startswith("STALE: newest ")
    assert "older than 94 days" in documents["detail"]


def test_an_export_folder_without_a_summary_is_not_a_completed_export(world: World) -> None:
    """An export that failed or is running leaves `_started` and no summary: the newest
    completed one is still the one judged."""
    summaries = quarterly_exports(world, timedelta(days=91))
    s3 = world.client("s3")
    unfinished = f"dynamodb/{DOCUMENTS}/AWSDynamoDB/99999999999999-unfinished/_started"
    s3.put_object(Bucket=_bucket(world), Key=unfinished, Body=b"")

    documents = verify_exports(world)[f"dynamodb/{DOCUMENTS}"]

    assert documents["status"] == "pass"
    assert documents["summaryManifest"] == summaries[DOCUMENTS]


# --- the monitor Lambda -------------------------------------------------------------------------


def published(session: boto3.session.Session) -> dict[str, float]:
    """The newest ExportHealthy value per data set."""
    cloudwatch = session.client("cloudwatch")
    values = {}
    for metric in cloudwatch.list_metrics(Namespace=METRIC_NAMESPACE, MetricName=METRIC_NAME)[
        "Metrics"
    ]:
        dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        points = cloudwatch.get_metric_statistics(
            Namespace=METRIC_NAMESPACE,
            MetricName=METRIC_NAME,
            Dimensions=metric["Dimensions"],
            StartTime=datetime.now(UTC) - timedelta(days=1),
            EndTime=datetime.now(UTC) + timedelta(days=1),
            Period=86400,
            Statistics=["Minimum"],
        )["Datapoints"]
        values[dimensions["ExportSet"]] = min(p["Minimum"] for p in points)
    return values


def test_monitor_publishes_healthy_exports_as_one(world: World) -> None:
    expectations = good_exports(world.session, world.sample, world.pool_id)

    results = export_monitor.run_monitor("prod", expectations.bucket, world.session)

    assert all(finding.healthy for finding, _ in results)
    assert published(world.session) == {
        f"dynamodb/{DOCUMENTS}": 1.0,
        f"dynamodb/{SYNCS}": 1.0,
        "cognito": 1.0,
        "infrastructure": 1.0,
    }


def test_monitor_counts_missing_exports_as_pending_until_the_first_are_due(world: World) -> None:
    bucket, _ = create_exports_bucket(world.session, world.sample.account_id)
    write_descriptor(world.session, world.sample, bucket, world.pool_id)
    export_tables(world.session, _expectations(world, bucket))

    soon = export_monitor.run_monitor("prod", bucket, world.session)
    assert {f.export_set: pending for f, pending in soon} == {
        f"dynamodb/{DOCUMENTS}": False,
        f"dynamodb/{SYNCS}": False,
        "cognito": True,
        "infrastructure": True,
    }
    assert set(published(world.session).values()) == {1.0}

    overdue = export_monitor.run_monitor(
        "prod", bucket, world.session, now=datetime.now(UTC) + timedelta(days=34)
    )
    assert not any(pending for _, pending in overdue)
    assert all(not finding.healthy for finding, _ in overdue)


def _bucket(world: World) -> str:
    return f"formkiq-prod-exports-{world.sample.account_id}"


def _expectations(world: World, bucket: str) -> ExportExpectations:
    body = world.client("s3").get_object(Bucket=bucket, Key="exports.json")["Body"].read()
    return ExportExpectations.from_descriptor(json.loads(body))
