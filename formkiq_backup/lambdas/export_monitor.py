"""Scheduled Lambda: is the newest export of every data set good, and young enough?

EventBridge Scheduler only sees an export start: a DynamoDB export that fails an hour later,
or a Lambda that stops writing, would be silent. This runs the same checks as
`formkiq-dr verify` (formkiq_backup.exports) once a day and publishes ExportHealthy (1 or 0)
per data set; one alarm per data set treats missing data as breaching, so a monitor that stops
running alarms too. Before the first exports are due (the stack's `exports.json` plus the
longest an export may be old) a missing export counts as pending, not failed.
"""

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

from formkiq_backup.exports import (
    METRIC_NAMESPACE,
    ExportFinding,
    State,
    check_exports,
    read_expectations,
)

_CLIENT_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8})


class MissingDescriptorError(RuntimeError):
    """The exports bucket has no exports.json: the stack did not finish deploying."""


def run_monitor(
    app_environment: str, bucket: str, session: Any, now: datetime | None = None
) -> list[tuple[ExportFinding, bool]]:
    """Check and publish; returns each finding and whether it counted as pending."""
    now = now or datetime.now(UTC)
    s3 = session.client("s3", config=_CLIENT_CONFIG)
    expectations = read_expectations(s3, bucket)
    if expectations is None:
        raise MissingDescriptorError(f"s3://{bucket}/exports.json is missing")
    dynamodb = session.client("dynamodb", config=_CLIENT_CONFIG)
    findings = check_exports(dynamodb, s3, expectations, now)
    due = expectations.first_exports_due()
    results = [
        (finding, finding.state is State.MISSING and due is not None and now < due)
        for finding in findings
    ]
    session.client("cloudwatch", config=_CLIENT_CONFIG).put_metric_data(
        Namespace=METRIC_NAMESPACE,
        MetricData=[
            finding.metric_datum(app_environment, pending_first=pending)
            for finding, pending in results
        ],
    )
    return results


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point; the event (a schedule tick) carries nothing we need."""
    results = run_monitor(
        os.environ["APP_ENVIRONMENT"], os.environ["EXPORTS_BUCKET"], boto3.session.Session()
    )
    for finding, pending in results:
        verdict = "PENDING (first export not due yet)" if pending else finding.state.value.upper()
        print(f"{verdict} {finding.export_set}: {finding.detail} {finding.warning}".rstrip())
    return {
        "healthy": all(finding.healthy or pending for finding, pending in results),
        "findings": {finding.export_set: finding.state.value for finding, _ in results},
    }
