"""EventBridge-run Lambda: check what an AWS Backup restore test restored, and report it.

AWS Backup restore testing restores a protected table or the documents bucket on schedule
and, when the restore job is COMPLETED, EventBridge runs this handler with the job's event
(`detail.restoreJobId`, `detail.restoreTestingPlanArn`; aws-backup/latest/devguide,
restore-testing-validation). It checks the restored copy against its source with the checks
`formkiq-dr drill` makes (formkiq_backup.integrity) and reports with PutRestoreValidationResult
(SUCCESSFUL, FAILED, or TIMED_OUT when the copy is too large to check within this run); AWS
Backup then deletes the copy. It publishes RestoreTestValidated (1 passed, 0 not) per source
resource, whose alarm tells the alert topic.

A validation status, once set, cannot be changed (restore-testing-validation), so only a
verdict is ever reported: an error (throttling, a network fault) raises, the invocation is
retried by Lambda, and a run that never reports leaves the job to time out at the end of its
validation window while the function's error alarm says why.

Only restored copies named as restore testing names them (`awsbackup-restore-test-`,
restore-testing-inferred-metadata) are read, and only FormKiQ's protected resources as sources:
this function's role can read nothing else anyway.
"""

import json
import os
import random
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from formkiq_backup.integrity import (
    DocumentSample,
    Outcome,
    Verdict,
    VersionCheck,
    bucket_verdict,
    current_keys,
    source_at,
    table_verdict,
    verify_document_version,
)
from formkiq_backup.items import Item, TableDigest, text_of
from formkiq_backup.sites import document_object_key

RESTORED_PREFIX = "awsbackup-restore-test-"
METRIC_NAME = "RestoreTestValidated"
APP_ENVIRONMENT_DIMENSION = "AppEnvironment"
RESOURCE_DIMENSION = "ResourceName"
# Parallel scan segments per table: each its own thread, the table answering one while the
# client parses another's page.
SCAN_SEGMENTS = 4
# Stop reading with this much of the run left, to report TIMED_OUT rather than be cut off.
REPORT_MARGIN_SECONDS = 60
# PutRestoreValidationResult's message is free text; keep it to what a console line shows.
_MESSAGE_LIMIT = 1_000
# DynamoDB writes and TTL deletes change a table without anyone restoring it
# (amazondynamodb/latest/developerguide/metrics-dimensions.html).
_CHANGE_METRICS = ("ConsumedWriteCapacityUnits", "TimeToLiveDeletedItemCount")
_CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8})

Clock = Callable[[], float]
"""Seconds left in this run (Lambda's context.get_remaining_time_in_millis / 1000)."""


class OutOfTimeError(RuntimeError):
    """The copy is too large to check within this run."""


@dataclass(frozen=True)
class ValidatorSettings:
    """What the RestoreValidator component tells the function, through its environment."""

    app_environment: str
    tables: Mapping[str, str]
    """Protected table name -> its FormKiQ role (documents, documentsyncs)."""
    buckets: tuple[str, ...]
    documents_bucket: str
    plan_arn: str
    sample_size: int
    metric_namespace: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "ValidatorSettings":
        return cls(
            app_environment=environ["APP_ENVIRONMENT"],
            tables=json.loads(environ["PROTECTED_TABLES"]),
            buckets=tuple(json.loads(environ["PROTECTED_BUCKETS"])),
            documents_bucket=environ["DOCUMENTS_BUCKET"],
            plan_arn=environ["RESTORE_TESTING_PLAN_ARN"],
            sample_size=int(environ["SAMPLE_SIZE"]),
            metric_namespace=environ["METRIC_NAMESPACE"],
        )


@dataclass(frozen=True)
class Clients:
    backup: Any
    dynamodb: Any
    s3: Any
    cloudwatch: Any

    @classmethod
    def create(cls) -> "Clients":
        session = boto3.session.Session()
        backup = session.client("backup", config=_CLIENT_CONFIG)
        if not hasattr(backup, "put_restore_validation_result"):
            raise RuntimeError(
                "this runtime's botocore has no PutRestoreValidationResult: the shipped backup "
                "model was not found (AWS_DATA_PATH)"
            )
        return cls(
            backup=backup,
            dynamodb=session.client("dynamodb", config=_CLIENT_CONFIG),
            s3=session.client("s3", config=_CLIENT_CONFIG),
            cloudwatch=session.client("cloudwatch", config=_CLIENT_CONFIG),
        )


@dataclass(frozen=True)
class RestoreTest:
    """One completed restore test: AWS Backup's job, its source and the copy it made."""

    job: Mapping[str, Any]
    source: str
    restored: str

    @property
    def recovery_point_created(self) -> datetime:
        created: datetime = self.job["RecoveryPointCreationDate"]
        return created


@dataclass(frozen=True)
class Result:
    """What was reported for one restore job."""

    restore_job_id: str
    status: str
    message: str
    source: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "restoreJobId": self.restore_job_id,
            "validationStatus": self.status,
            "message": self.message,
            "source": self.source,
        }


def handler(event: Mapping[str, Any], context: Any) -> dict[str, str]:
    settings = ValidatorSettings.from_environment(os.environ)

    def seconds_left() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000

    result = validate(event, settings, Clients.create(), seconds_left)
    print(json.dumps(result.as_dict()))
    return result.as_dict()


def validate(
    event: Mapping[str, Any], settings: ValidatorSettings, clients: Clients, seconds_left: Clock
) -> Result:
    """Check the restore the event names and report the verdict; returns what was reported."""
    job_id = str(event["detail"]["restoreJobId"])
    job = clients.backup.describe_restore_job(RestoreJobId=job_id)
    created_by = (job.get("CreatedBy") or {}).get("RestoreTestingPlanArn")
    if job.get("Status") != "COMPLETED" or created_by != settings.plan_arn:
        # Not this stack's completed restore test: nothing to validate, nothing reported.
        return Result(job_id, "NOT_VALIDATED", f"status {job.get('Status')}, plan {created_by}")
    source_arn = job.get("SourceResourceArn") or _recovery_point(clients, job)["ResourceArn"]
    test = RestoreTest(job, _name(source_arn), _name(str(job.get("CreatedResourceArn", ""))))
    try:
        verdict = _check(test, settings, clients, seconds_left)
    except OutOfTimeError as stopped:
        return _report(clients, settings, Result(job_id, "TIMED_OUT", str(stopped), test.source))
    status = "FAILED" if verdict.outcome is Outcome.FAIL else "SUCCESSFUL"
    return _report(clients, settings, Result(job_id, status, verdict.detail, test.source))


def _check(
    test: RestoreTest, settings: ValidatorSettings, clients: Clients, seconds_left: Clock
) -> Verdict:
    if not test.restored.startswith(RESTORED_PREFIX):
        return Verdict(
            Outcome.FAIL, f"restored resource {test.restored!r} is not a restore test copy"
        )
    kind = test.job.get("ResourceType")
    if kind == "DynamoDB" and test.source in settings.tables:
        return _check_table(test, settings, clients, seconds_left)
    if kind == "S3" and test.source in settings.buckets:
        return _check_bucket(test, settings, clients)
    return Verdict(Outcome.FAIL, f"{kind} {test.source} is not a resource FormKiQ's stack protects")


def _check_table(
    test: RestoreTest, settings: ValidatorSettings, clients: Clients, seconds_left: Clock
) -> Verdict:
    """Count and digest both tables, sample documents of the restored Documents table, and
    hold a difference against the source only when the source took no write since."""
    deadline = time.monotonic() + seconds_left() - REPORT_MARGIN_SECONDS
    sample = (
        DocumentSample(settings.sample_size, random.Random())
        if settings.tables[test.source] == "documents"
        else None
    )
    live = digest_table(clients.dynamodb, test.source, deadline)
    copy = digest_table(clients.dynamodb, test.restored, deadline, sample)
    changes = changes_since(clients.cloudwatch, test.source, test.recovery_point_created)
    verdict = table_verdict(live, copy, strict=changes == 0)
    detail = verdict.detail
    if verdict.outcome is Outcome.WARN:
        detail += f"; the source took {changes:g} writes or TTL deletes since the recovery point"
    elif verdict.outcome is Outcome.FAIL and changes == 0:
        detail += "; the source took no write since the recovery point, so nothing explains it"
    if sample is None or verdict.outcome is Outcome.FAIL:
        return Verdict(verdict.outcome, detail)
    checks = [_document_check(clients.s3, settings.documents_bucket, i) for i in sample.items]
    failed = [f"{c.key} @ {c.version_id}: {c.detail}" for c in checks if not c.ok]
    if failed:
        return Verdict(Outcome.FAIL, f"{detail}; documents: " + "; ".join(failed))
    return Verdict(
        verdict.outcome,
        f"{detail}; {len(checks)} of {sample.seen} documents sampled, each version's length "
        "and checksum as the restored metadata records",
    )


def _document_check(s3: Any, bucket: str, item: Item) -> VersionCheck:
    """One sampled document's version, checked; a version S3 no longer has fails the check
    (as in `formkiq-dr drill`): a purge the metadata outlived."""
    try:
        return verify_document_version(s3, bucket, item)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        key, version = document_object_key(item) or "?", text_of(item.get("s3version"))
        return VersionCheck(key, version, False, f"version not retrievable ({code})")


def _check_bucket(test: RestoreTest, settings: ValidatorSettings, clients: Clients) -> Verdict:
    """The restored bucket against the source's versions at the recovery point."""
    until = _recovery_point(clients, test.job).get("CompletionDate")
    state = source_at(clients.s3, test.source, test.recovery_point_created, until)
    keys = current_keys(clients.s3, test.restored)
    comparable = sorted(keys & (set(state.versions) - state.changing))
    sample = random.Random().sample(comparable, min(settings.sample_size, len(comparable)))
    return bucket_verdict(
        clients.s3,
        source_bucket=test.source,
        source=state,
        restored_bucket=test.restored,
        restored=keys,
        sample=sample,
    )


def digest_table(
    dynamodb: Any, table: str, deadline: float, sample: DocumentSample | None = None
) -> TableDigest:
    """Count and digest a table, SCAN_SEGMENTS parallel-scan segments at once."""

    def segment(number: int) -> tuple[TableDigest, list[Item], int]:
        digest = TableDigest()
        part = DocumentSample(sample.size, random.Random()) if sample is not None else None
        pages = dynamodb.get_paginator("scan").paginate(
            TableName=table, Segment=number, TotalSegments=SCAN_SEGMENTS
        )
        for page in pages:
            if time.monotonic() > deadline:
                raise OutOfTimeError(
                    f"{table} could not be read within this run ({digest.count} items of one "
                    f"segment read); check it with formkiq-dr drill --from-table {table}"
                )
            for item in page.get("Items", []):
                digest.add(item)
                if part is not None:
                    part.offer(item)
        return digest, (part.items if part else []), (part.seen if part else 0)

    with ThreadPoolExecutor(SCAN_SEGMENTS) as pool:
        parts = list(pool.map(segment, range(SCAN_SEGMENTS)))
    total = TableDigest()
    for digest, _, _ in parts:
        total.count += digest.count
        total.total = (total.total + digest.total) % (1 << 128)
    if sample is not None:
        sample.merge([(items, seen) for _, items, seen in parts])
    return total


def changes_since(
    cloudwatch: Any, table: str, since: datetime, now: datetime | None = None
) -> float:
    """Writes and TTL deletes on a table since `since`, from its AWS/DynamoDB metrics.

    CloudWatch keeps one-minute data 15 days, five-minute data 63 days and hourly data 455
    days, and returns at most 1,440 datapoints a call (API_GetMetricStatistics): the period
    grows with the span. A period that starts before `since` counts writes made just before
    it too, which can only make a difference look explained, never fail a good restore.
    """
    now = now or datetime.now(UTC)
    span = max((now - since).total_seconds(), 60.0)
    step = 3_600 if now - since > timedelta(days=15) else 300 if span > 3 * 3_600 else 60
    period = max(step, -(-int(span / 1_440) // step) * step)
    total = 0.0
    for metric in _CHANGE_METRICS:
        response = cloudwatch.get_metric_statistics(
            Namespace="AWS/DynamoDB",
            MetricName=metric,
            Dimensions=[{"Name": "TableName", "Value": table}],
            StartTime=since,
            EndTime=now,
            Period=period,
            Statistics=["Sum"],
        )
        total += sum(point["Sum"] for point in response.get("Datapoints", []))
    return total


def _report(clients: Clients, settings: ValidatorSettings, result: Result) -> Result:
    """The verdict on the restore job, and its metric; the message cut to what a line shows."""
    message = result.message
    text = message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 3] + "..."
    clients.backup.put_restore_validation_result(
        RestoreJobId=result.restore_job_id,
        ValidationStatus=result.status,
        ValidationStatusMessage=text,
    )
    clients.cloudwatch.put_metric_data(
        Namespace=settings.metric_namespace,
        MetricData=[
            {
                "MetricName": METRIC_NAME,
                "Dimensions": [
                    {"Name": APP_ENVIRONMENT_DIMENSION, "Value": settings.app_environment},
                    {"Name": RESOURCE_DIMENSION, "Value": result.source},
                ],
                "Value": 1.0 if result.status == "SUCCESSFUL" else 0.0,
                "Unit": "Count",
            }
        ],
    )
    return Result(result.restore_job_id, result.status, text, result.source)


def _recovery_point(clients: Clients, job: Mapping[str, Any]) -> dict[str, Any]:
    vault = str(job.get("BackupVaultArn", "")).rsplit(":", 1)[-1]
    described: dict[str, Any] = clients.backup.describe_recovery_point(
        BackupVaultName=vault, RecoveryPointArn=job["RecoveryPointArn"]
    )
    return described


def _name(arn: str) -> str:
    """A table's or bucket's name from its ARN (table/NAME, arn:aws:s3:::NAME)."""
    return arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
