"""Scheduled system exports: where they land, and whether the newest of each is good.

The exports bucket holds three data sets, each under a prefix of its own:

| prefix                   | written by                           | checked by                     |
|--------------------------|--------------------------------------|--------------------------------|
| `dynamodb/<table>/`      | ExportTableToPointInTime (Scheduler) | ListExports, DescribeExport;   |
|                          |                                      | older: manifest-summary.json   |
| `cognito/<date>/`        | the users-export Lambda              | manifest count and sha256      |
| `infrastructure/<date>/` | the infrastructure-export Lambda     | manifest and its files         |

plus `exports.json` at the root, written by the Pulumi program: what the stack promises (tables,
schedule, the longest an export may be old). The export-monitor Lambda and `formkiq-dr verify`
run the same checks (this module), so an alarm and a verify never disagree. This module ships
inside the Lambda packages: it imports only the standard library and botocore.
"""

import gzip
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, BinaryIO, cast

from botocore.exceptions import ClientError

METRIC_NAMESPACE = "FormKiQ/Backup"
METRIC_NAME = "ExportHealthy"
APP_ENVIRONMENT_DIMENSION = "AppEnvironment"
EXPORT_SET_DIMENSION = "ExportSet"

DESCRIPTOR_KEY = "exports.json"
DYNAMODB_PREFIX = "dynamodb/"
COGNITO_PREFIX = "cognito/"
INFRASTRUCTURE_PREFIX = "infrastructure/"
MANIFEST_NAME = "manifest.json"
USERS_OBJECT_NAME = "users.jsonl.gz"
# An export started by the schedule may take hours on a large table, and a Lambda run may be
# retried: this much beyond the schedule's longest gap is still on time.
SLACK = timedelta(days=2)
# An export's item count is compared with DescribeTable's ItemCount, which DynamoDB updates
# about every six hours: a difference this large is worth a look, not a failure.
ITEM_COUNT_TOLERANCE = 0.10
_CHUNK = 1024 * 1024


def exports_bucket_name(app_environment: str, account_id: str) -> str:
    """`formkiq-<env>-exports-<account>`: S3 names are global, lower case, at most 63 long.

    FormKiQ's AppEnvironment may hold capitals, dots and underscores; a 27-character one still
    fits (8 + 27 + 9 + 12 = 56).
    """
    slug = re.sub(r"[^a-z0-9-]+", "-", app_environment.lower()).strip("-") or "env"
    if len(slug) > 27:
        slug = f"{slug[:20]}-{hashlib.sha256(app_environment.encode()).hexdigest()[:6]}"
    return f"formkiq-{slug}-exports-{account_id}"


def table_prefix(table_name: str) -> str:
    return f"{DYNAMODB_PREFIX}{table_name}/"


def dated_prefix(prefix: str, when: datetime) -> str:
    """`cognito/2027-01-01/`: one folder a day, newest last in S3's lexical listing."""
    return f"{prefix}{when.astimezone(UTC):%Y-%m-%d}/"


def max_age(longest_gap: timedelta) -> timedelta:
    """How old the newest export may be: the schedule's longest gap plus SLACK."""
    return longest_gap + SLACK


def max_age_days(longest_gap: timedelta) -> int:
    return -(-max_age(longest_gap) // timedelta(days=1))


class ExportSet(StrEnum):
    """What kind of data one check is about (the ExportSet dimension is `<kind>` or
    `dynamodb/<table>`)."""

    DYNAMODB = "dynamodb"
    COGNITO = "cognito"
    INFRASTRUCTURE = "infrastructure"


class State(StrEnum):
    """What the newest export of one data set is."""

    GOOD = "good"
    MISSING = "missing"
    FAILED = "failed"
    STALE = "stale"
    CORRUPT = "corrupt"


@dataclass(frozen=True)
class ExportFinding:
    """The newest export of one data set, and what is wrong with it if anything."""

    export_set: str
    """`dynamodb/<table>`, `cognito` or `infrastructure`: the metric's ExportSet dimension."""
    state: State
    detail: str
    newest: datetime | None = None
    warning: str = ""
    """Something worth a look that does not make the export bad (an item count far off)."""
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return self.state is State.GOOD

    def metric_datum(self, app_environment: str, *, pending_first: bool = False) -> dict[str, Any]:
        """1 when healthy (or its first export is not due yet), else 0; alarms watch < 1."""
        return {
            "MetricName": METRIC_NAME,
            "Dimensions": [
                {"Name": APP_ENVIRONMENT_DIMENSION, "Value": app_environment},
                {"Name": EXPORT_SET_DIMENSION, "Value": self.export_set},
            ],
            "Value": 1.0 if self.healthy or pending_first else 0.0,
            "Unit": "Count",
        }


@dataclass(frozen=True)
class TableExpectation:
    name: str
    arn: str


@dataclass(frozen=True)
class ExportExpectations:
    """What the stack promises about its exports (`exports.json`, written by Pulumi)."""

    app_environment: str
    bucket: str
    schedule: str
    max_age_days: int
    retention_days: int
    tables: tuple[TableExpectation, ...]
    user_pool_id: str | None
    infrastructure: bool = True
    since: datetime | None = None
    """When the descriptor was last written: the first exports are due max_age_days later."""

    def descriptor(self) -> dict[str, Any]:
        """The `exports.json` document (without `since`, which is the object's LastModified)."""
        return {
            "appEnvironment": self.app_environment,
            "bucket": self.bucket,
            "scheduleExpression": self.schedule,
            "maxAgeDays": self.max_age_days,
            "retentionDays": self.retention_days,
            "tables": [
                {"name": t.name, "arn": t.arn, "prefix": table_prefix(t.name)} for t in self.tables
            ],
            "userPoolId": self.user_pool_id,
            "infrastructure": self.infrastructure,
        }

    @classmethod
    def from_descriptor(
        cls, document: Mapping[str, Any], since: datetime | None = None
    ) -> "ExportExpectations":
        return cls(
            app_environment=str(document["appEnvironment"]),
            bucket=str(document["bucket"]),
            schedule=str(document["scheduleExpression"]),
            max_age_days=int(document["maxAgeDays"]),
            retention_days=int(document["retentionDays"]),
            tables=tuple(TableExpectation(t["name"], t["arn"]) for t in document["tables"]),
            user_pool_id=document.get("userPoolId"),
            infrastructure=bool(document.get("infrastructure", True)),
            since=since,
        )

    def first_exports_due(self) -> datetime | None:
        return None if self.since is None else self.since + timedelta(days=self.max_age_days)


def read_expectations(s3: Any, bucket: str) -> ExportExpectations | None:
    """The stack's `exports.json`, or None when the bucket has none (or does not exist)."""
    try:
        answer = s3.get_object(Bucket=bucket, Key=DESCRIPTOR_KEY)
    except ClientError as error:
        if _code(error) in ("NoSuchKey", "NoSuchBucket", "404"):
            return None
        raise
    document = json.loads(answer["Body"].read())
    return ExportExpectations.from_descriptor(document, since=answer.get("LastModified"))


def check_exports(
    dynamodb: Any, s3: Any, expectations: ExportExpectations, now: datetime | None = None
) -> list[ExportFinding]:
    """Every check the stack's expectations call for, tables first."""
    now = now or datetime.now(UTC)
    limit = timedelta(days=expectations.max_age_days)
    findings = [
        check_table_export(
            dynamodb, s3, table.name, table.arn, expectations.bucket, limit=limit, now=now
        )
        for table in expectations.tables
    ]
    if expectations.user_pool_id:
        findings.append(check_users_export(s3, expectations.bucket, limit, now))
    if expectations.infrastructure:
        findings.append(check_infrastructure_export(s3, expectations.bucket, limit, now))
    return findings


# --- DynamoDB ---------------------------------------------------------------------------------

# ListExports "lists completed exports within the past 90 days" (DynamoDB API reference,
# ListExports). A schedule may leave longer gaps (quarterly, yearly exports for compliance), so
# a table with no completed export listed is looked up where every completed export leaves its
# summary: `<prefix>AWSDynamoDB/<ExportId>/manifest-summary.json` (DynamoDB developer guide,
# S3DataExport.Output, "The summary manifest"), kept as long as the export is.
EXPORT_FOLDER = "AWSDynamoDB/"
SUMMARY_NAME = "manifest-summary.json"


@dataclass(frozen=True)
class _CompletedExport:
    """The newest completed export of a table, from DescribeExport or its summary manifest."""

    when: datetime
    items: object
    export_arn: object
    s3_prefix: object
    summary_key: str | None = None
    """Set when it was found from its summary manifest in S3, not by ListExports."""


def check_table_export(
    dynamodb: Any,
    s3: Any,
    table: str,
    table_arn: str,
    bucket: str,
    *,
    limit: timedelta,
    now: datetime,
) -> ExportFinding:
    """The newest export of `table` into `bucket`: failed, stale and missing are bad.

    A failed newest export is bad even when an older one completed: Scheduler only sees an
    export start, so this is where a failure shows. One in progress defers to the newest
    completed one, which ListExports knows for 90 days and the bucket for as long as it is kept.
    """
    export_set = f"{ExportSet.DYNAMODB.value}/{table}"
    listed = sorted(
        (d for d in _described_exports(dynamodb, table_arn) if d.get("S3Bucket") == bucket),
        key=_export_started,
    )
    if listed and listed[-1].get("ExportStatus") == "FAILED":
        return _failed(export_set, listed[-1])
    running = bool(listed) and listed[-1].get("ExportStatus") != "COMPLETED"
    in_progress = " (a newer one is IN_PROGRESS)" if running else ""
    completed = _newest_listed(listed) or _newest_in_bucket(s3, bucket, table, table_arn)
    if completed is None:
        what = "completed export" if listed else "export"
        return ExportFinding(
            export_set, State.MISSING, f"no {what} of {table} into {bucket}{in_progress}"
        )
    live = dynamodb.describe_table(TableName=table)["Table"].get("ItemCount")
    return _judged(export_set, completed, live, in_progress, limit=limit, now=now)


def check_table_export_in_bucket(
    s3: Any, bucket: str, table: str, table_arn: str, *, limit: timedelta, now: datetime
) -> ExportFinding:
    """The newest export of `table` whose summary manifest is in `bucket`: for a bucket
    ListExports does not know, such as the exports bucket's replica in drRegion."""
    export_set = f"{ExportSet.DYNAMODB.value}/{table}"
    completed = _newest_in_bucket(s3, bucket, table, table_arn)
    if completed is None:
        return ExportFinding(export_set, State.MISSING, f"no export of {table} in {bucket}")
    return _judged(export_set, completed, None, "", limit=limit, now=now)


def _failed(export_set: str, newest: Mapping[str, Any]) -> ExportFinding:
    why = newest.get("FailureMessage") or newest.get("FailureCode") or "no reason given"
    return ExportFinding(
        export_set,
        State.FAILED,
        f"newest export (started {_iso(_export_started(newest))}) FAILED: {why}",
        newest=_export_started(newest),
        data={"exportArn": newest.get("ExportArn"), "exportStatus": "FAILED"},
    )


def _newest_listed(listed: list[dict[str, Any]]) -> _CompletedExport | None:
    completed = [e for e in listed if e.get("ExportStatus") == "COMPLETED"]
    if not completed:
        return None
    good = completed[-1]
    return _CompletedExport(
        when=good.get("ExportTime") or _export_started(good),
        items=good.get("ItemCount"),
        export_arn=good.get("ExportArn"),
        s3_prefix=good.get("S3Prefix"),
    )


def _newest_in_bucket(s3: Any, bucket: str, table: str, table_arn: str) -> _CompletedExport | None:
    """The newest completed export of `table_arn` whose summary manifest is in the bucket.

    Every export folder's summary is read (an export without one did not complete): folders
    are named by an ID whose order DynamoDB does not document.
    """
    newest: _CompletedExport | None = None
    for folder in _folders(s3, bucket, f"{table_prefix(table)}{EXPORT_FOLDER}"):
        key = f"{folder}{SUMMARY_NAME}"
        summary = _json_object(s3, bucket, key)
        if summary is None or summary.get("tableArn") != table_arn:
            continue
        when = _summary_time(summary)
        if when is not None and (newest is None or when > newest.when):
            newest = _CompletedExport(
                when=when,
                items=summary.get("itemCount"),
                export_arn=summary.get("exportArn"),
                s3_prefix=summary.get("s3Prefix"),
                summary_key=key,
            )
    return newest


def _summary_time(summary: Mapping[str, Any]) -> datetime | None:
    """The export's point in time (`exportTime`, ISO 8601 in the documented example)."""
    text = summary.get("exportTime") or summary.get("startTime")
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _judged(
    export_set: str,
    export: _CompletedExport,
    live: object,
    in_progress: str,
    *,
    limit: timedelta,
    now: datetime,
) -> ExportFinding:
    """GOOD, or STALE when older than the schedule allows. `live`: the table's approximate
    item count, None where the table is not asked (an export read from a replica bucket)."""
    when = export.when
    found = (
        f" (found from {export.summary_key}: ListExports lists only the past 90 days)"
        if export.summary_key and live is not None
        else ""
    )
    table_count = "" if live is None else f", table has about {live}"
    detail = (
        f"newest {_iso(when)} ({_age(now - when)} old), {export.items} items exported"
        f"{table_count}{in_progress}{found}"
    )
    data = {
        "exportArn": export.export_arn,
        "exportStatus": "COMPLETED",
        "exportTime": _iso(when),
        "itemCount": export.items,
        "tableItemCount": live,
        "s3Prefix": export.s3_prefix,
    }
    if export.summary_key:
        data["summaryManifest"] = export.summary_key
    if now - when > limit:
        return ExportFinding(
            export_set, State.STALE, f"{detail}; older than {limit.days} days", when, data=data
        )
    return ExportFinding(
        export_set,
        State.GOOD,
        detail,
        when,
        warning=_item_count_warning(export.items, live),
        data=data,
    )


def _described_exports(dynamodb: Any, table_arn: str) -> Iterable[dict[str, Any]]:
    """Every export of the table, described (ListExports gives neither time nor bucket)."""
    token: str | None = None
    while True:
        page = dynamodb.list_exports(
            TableArn=table_arn, MaxResults=25, **({"NextToken": token} if token else {})
        )
        for summary in page.get("ExportSummaries", []):
            yield dynamodb.describe_export(ExportArn=summary["ExportArn"])["ExportDescription"]
        token = page.get("NextToken")
        if not token:
            return


def _export_started(described: Mapping[str, Any]) -> datetime:
    when = described.get("StartTime") or described.get("ExportTime")
    return when if isinstance(when, datetime) else datetime.min.replace(tzinfo=UTC)


def _item_count_warning(exported: object, live: object) -> str:
    if not isinstance(exported, int) or not isinstance(live, int):
        return ""
    if live == 0 and exported == 0:
        return ""
    if abs(exported - live) > ITEM_COUNT_TOLERANCE * max(exported, live):
        return (
            f"exported {exported} items but the table has about {live} (DescribeTable's "
            "count lags about six hours): check the export"
        )
    return ""


# --- Cognito and infrastructure: manifests -----------------------------------------------------


def newest_manifest(
    s3: Any, bucket: str, prefix: str
) -> tuple[str, dict[str, Any]] | tuple[None, None]:
    """The newest `<prefix><date>/manifest.json` and its content.

    A Lambda writes the manifest last, so a dated folder without one is an export that did not
    finish; older folders are tried in turn.
    """
    for folder in sorted(_folders(s3, bucket, prefix), reverse=True):
        key = f"{folder}{MANIFEST_NAME}"
        manifest = _json_object(s3, bucket, key)
        if manifest is not None:
            return key, manifest
    return None, None


def _folders(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The "folders" right under `prefix` (S3 common prefixes)."""
    folders: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    ):
        folders += [entry["Prefix"] for entry in page.get("CommonPrefixes", [])]
    return folders


def _json_object(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The JSON document stored at `key`, or None when there is no such object."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if _code(error) in ("NoSuchKey", "404"):
            return None
        raise
    document: dict[str, Any] = json.loads(body)
    return document


def check_users_export(s3: Any, bucket: str, limit: timedelta, now: datetime) -> ExportFinding:
    """The newest users export: its object's sha256 and line count must match the manifest."""
    key, manifest = newest_manifest(s3, bucket, COGNITO_PREFIX)
    if key is None or manifest is None:
        return ExportFinding(ExportSet.COGNITO.value, State.MISSING, f"no users export in {bucket}")
    when = datetime.fromisoformat(manifest["exportedAt"])
    data_key = manifest["object"]
    digest, lines = hashlib.sha256(), 0
    try:
        body = s3.get_object(Bucket=bucket, Key=data_key)["Body"]
    except ClientError as error:
        if _code(error) not in ("NoSuchKey", "404"):
            raise
        return ExportFinding(
            ExportSet.COGNITO.value, State.CORRUPT, f"{key} names {data_key}, which is missing"
        )
    with (
        _HashingReader(body, digest) as raw,
        gzip.GzipFile(fileobj=cast(BinaryIO, raw), mode="rb") as unzipped,
    ):
        for line in unzipped:
            if line.strip():
                lines += 1
    data = {
        "manifest": key,
        "count": manifest["count"],
        "linesInObject": lines,
        "sha256": manifest["sha256"],
        "exportedAt": manifest["exportedAt"],
        "userPoolId": manifest.get("userPoolId"),
    }
    if digest.hexdigest() != manifest["sha256"]:
        return ExportFinding(
            ExportSet.COGNITO.value,
            State.CORRUPT,
            f"{data_key}: sha256 {digest.hexdigest()[:12]}... does not match the manifest's "
            f"{str(manifest['sha256'])[:12]}...",
            when,
            data=data,
        )
    if lines != manifest["count"]:
        return ExportFinding(
            ExportSet.COGNITO.value,
            State.CORRUPT,
            f"{data_key} holds {lines} users, the manifest says {manifest['count']}",
            when,
            data=data,
        )
    detail = f"{lines} users exported {_iso(when)} ({_age(now - when)} old), sha256 matches"
    if now - when > limit:
        return ExportFinding(
            ExportSet.COGNITO.value, State.STALE, f"{detail}; older than {limit.days} days", when
        )
    return ExportFinding(ExportSet.COGNITO.value, State.GOOD, detail, when, data=data)


def check_infrastructure_export(
    s3: Any, bucket: str, limit: timedelta, now: datetime
) -> ExportFinding:
    """The newest infrastructure export: every file its manifest lists is there, same size."""
    key, manifest = newest_manifest(s3, bucket, INFRASTRUCTURE_PREFIX)
    if key is None or manifest is None:
        return ExportFinding(
            ExportSet.INFRASTRUCTURE.value, State.MISSING, f"no infrastructure export in {bucket}"
        )
    when = datetime.fromisoformat(manifest["exportedAt"])
    missing = []
    for entry in manifest.get("files", []):
        try:
            head = s3.head_object(Bucket=bucket, Key=entry["key"])
        except ClientError as error:
            if _code(error) not in ("NoSuchKey", "404"):
                raise
            missing.append(entry["key"])
            continue
        if head.get("ContentLength") != entry["size"]:
            missing.append(f"{entry['key']} (size {head.get('ContentLength')} != {entry['size']})")
    data = {
        "manifest": key,
        "rootStack": manifest.get("rootStack"),
        "stacks": len(manifest.get("stacks", [])),
        "parameters": manifest.get("parameterCount"),
        "exportedAt": manifest["exportedAt"],
    }
    if missing:
        return ExportFinding(
            ExportSet.INFRASTRUCTURE.value,
            State.CORRUPT,
            f"{key} lists files that are missing or differ: {', '.join(missing[:5])}",
            when,
            data=data,
        )
    detail = (
        f"stack {manifest.get('rootStack')} and {len(manifest.get('stacks', [])) - 1} nested "
        f"stacks, {manifest.get('parameterCount')} SSM parameters, exported {_iso(when)} "
        f"({_age(now - when)} old)"
    )
    if now - when > limit:
        return ExportFinding(
            ExportSet.INFRASTRUCTURE.value,
            State.STALE,
            f"{detail}; older than {limit.days} days",
            when,
            data=data,
        )
    return ExportFinding(ExportSet.INFRASTRUCTURE.value, State.GOOD, detail, when, data=data)


def file_entry(key: str, body: bytes) -> dict[str, Any]:
    """A manifest's record of one file it vouches for."""
    return {"key": key, "size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


class _HashingReader:
    """A read-only file object over an S3 body that hashes what passes through it."""

    def __init__(self, body: Any, digest: "hashlib._Hash") -> None:
        self._body = body
        self._digest = digest

    def read(self, size: int = -1) -> bytes:
        chunk: bytes = self._body.read(size if size and size > 0 else _CHUNK)
        self._digest.update(chunk)
        return chunk

    def readable(self) -> bool:
        return True

    def __enter__(self) -> "_HashingReader":
        return self

    def __exit__(self, *_: object) -> None:
        # Drain what gzip did not need (trailing bytes), so the hash covers the whole object.
        while self.read(_CHUNK):
            pass


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _age(age: timedelta) -> str:
    if age < timedelta(hours=48):
        return f"{age.total_seconds() / 3600:.1f} h"
    return f"{age.days} days"
