"""`formkiq-dr replicate-existing`: S3 Batch Replication of what the live rule never saw.

Live replication copies only objects written after the rule exists; S3 Batch Replication, an
S3 Batch Operations job, replicates the rest, and re-drives objects whose replication FAILED
(AmazonS3 userguide, s3-batch-replication-batch.html). One job per replicated bucket, created
with S3 Control CreateJob and an S3-generated manifest of exactly the objects eligible for the
bucket's replication rules that never replicated (`ObjectReplicationStatuses` NONE) or failed
(FAILED). No copy is made here: copying objects ourselves would write new source versions and
fire FormKiQ's ObjectCreated Lambda. Manifests and completion reports go to the exports bucket.
"""

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from formkiq_backup.dr.context import DrContext, SetupError
from formkiq_backup.dr.expectations import StackExpectations
from formkiq_backup.dr.polling import poll_until
from formkiq_backup.dr.report import Outcome, Report, Status
from formkiq_backup.exports import exports_bucket_name
from formkiq_backup.replication import (
    BATCH_REPORT_PREFIX,
    RULE_ID,
    Replicated,
    batch_replication_role_name,
    role_arn,
)
from tiers.scope import Naming

# Job states (S3 Control DescribeJob, JobStatus): ended, or waiting for a person.
ENDED = frozenset({"Complete", "Failed", "Cancelled"})
HELD = frozenset({"Suspended", "Paused"})
# A Batch Replication job over millions of objects takes hours; past this, stop following it.
WAIT_TIMEOUT_SECONDS = 48 * 3_600
# Batch Operations runs jobs of higher priority first (CreateJob, Priority).
JOB_PRIORITY = 10
SECTION = "batch replication"
JOB_KIND = "batch replication job"


@dataclass(frozen=True)
class BatchJob:
    """Where a job's inputs and outputs are, for one source bucket."""

    source_bucket: str
    role_arn: str
    report_bucket: str
    report_prefix: str
    account_id: str
    partition: str

    def request(self, token: str) -> dict[str, Any]:
        """The CreateJob request (AmazonS3 API_control_CreateJob, S3JobManifestGenerator)."""
        report_arn = f"arn:{self.partition}:s3:::{self.report_bucket}"
        return {
            "AccountId": self.account_id,
            "ConfirmationRequired": False,
            "Operation": {"S3ReplicateObject": {}},
            "Report": {
                "Bucket": report_arn,
                "Format": "Report_CSV_20180820",
                "Enabled": True,
                "Prefix": f"{self.report_prefix}reports/{self.source_bucket}",
                # Every object that did not replicate, by name; the counts come from DescribeJob.
                "ReportScope": "FailedTasksOnly",
            },
            "ClientRequestToken": token,
            "Priority": JOB_PRIORITY,
            "RoleArn": self.role_arn,
            "Description": f"formkiq-dr replicate-existing {self.source_bucket}"[:256],
            "ManifestGenerator": {
                "S3JobManifestGenerator": {
                    "ExpectedBucketOwner": self.account_id,
                    "SourceBucket": f"arn:{self.partition}:s3:::{self.source_bucket}",
                    "ManifestOutputLocation": {
                        "ExpectedManifestBucketOwner": self.account_id,
                        "Bucket": report_arn,
                        "ManifestPrefix": f"{self.report_prefix}manifests/{self.source_bucket}",
                        "ManifestFormat": "S3InventoryReport_CSV_20211130",
                    },
                    # Eligible for the bucket's replication rules, and never replicated or
                    # failed: what live replication left behind (s3-batch-replication-batch).
                    "Filter": {
                        "EligibleForReplication": True,
                        "ObjectReplicationStatuses": ["NONE", "FAILED"],
                    },
                    "EnableManifestOutput": True,
                }
            },
        }


def planned_jobs(
    ctx: DrContext,
    report: Report,
    which: Sequence[Replicated],
    expected: StackExpectations | None,
) -> list[BatchJob]:
    """One job per replicated bucket asked for, named from the stack's outputs or its names;
    a bucket asked for that the stack does not replicate is said so."""
    environment = ctx.environment
    account, partition = environment.account_id, environment.partition
    if expected is not None:
        if expected.batch_replication is None or not expected.replication:
            raise SetupError(
                f"--stack-outputs {expected.source}: the stack replicates nothing (tier "
                f"{expected.tier.value}): nothing to backfill"
            )
        batch = expected.batch_replication
        role, bucket, prefix = batch.role_arn, batch.report_bucket, batch.report_prefix
        sources = {plan.replicated: plan.source_bucket for plan in expected.replication}
    else:
        prefix_name = Naming.for_environment(environment.app_environment).prefix
        role = role_arn(partition, account, batch_replication_role_name(prefix_name))
        bucket = exports_bucket_name(environment.app_environment, account)
        prefix = BATCH_REPORT_PREFIX
        sources = {
            Replicated.DOCUMENTS: environment.documents_bucket.name,
            Replicated.EXPORTS: bucket,
        }
    for kind in which:
        if kind not in sources:  # only a stack's outputs can leave one out
            report.add(
                SECTION,
                f"{kind.value} bucket",
                Status.WARN,
                f"the stack ({expected.source if expected else 'its names'}) does not replicate "
                f"the {kind.value} bucket: nothing to backfill there",
            )
    return [
        BatchJob(sources[kind], role, bucket, prefix, account, partition)
        for kind in which
        if kind in sources
    ]


def run_replicate_existing(
    ctx: DrContext,
    report: Report,
    *,
    which: Sequence[Replicated],
    expected: StackExpectations | None,
    wait: bool,
    on_progress: Callable[[str], None],
) -> None:
    """Create a Batch Replication job per bucket that has our rule; with `wait`, follow each.

    Each job is in the report's ledger before CreateJob is sent (an answer that never comes
    may still have created it), and every job planned is listed however the command ends. No
    bucket with our rule is nothing matched; with `wait`, jobs that found nothing to replicate
    are unchanged.
    """
    jobs = [
        job
        for job in planned_jobs(ctx, report, which, expected)
        if _has_our_rule(ctx, report, job.source_bucket)
    ]
    report.summary["matched"] = len(jobs)
    if not jobs:
        report.conclude(Outcome.NOTHING_MATCHED)
        return
    control = ctx.client("s3control")
    records = [
        report.ledger.plan(
            SECTION, JOB_KIND, job.source_bucket, "not reached: no job created for it"
        )
        for job in jobs
    ]
    created: dict[str, str] = {}
    report.summary["jobs"] = created
    for job, record in zip(jobs, records, strict=True):
        record.asked(
            "CreateJob sent, no answer yet: a job may have been created; `aws s3control "
            f"list-jobs --account-id {job.account_id} --region {ctx.region}` lists it"
        )
        with record.sending():
            job_id = str(control.create_job(**job.request(str(uuid.uuid4())))["JobId"])
        created[job.source_bucket] = job_id
        record.done(
            f"job {job_id} created; follow it with `aws s3control describe-job --account-id "
            f"{job.account_id} --job-id {job_id} --region {ctx.region}`, or run this with --wait",
            arn=f"arn:{job.partition}:s3:{ctx.region}:{job.account_id}:job/{job_id}",
        )
        record.entry.data["jobId"] = job_id
    if not wait:
        return
    tasks = [_follow(control, report, job, created[job.source_bucket], on_progress) for job in jobs]
    if not any(tasks):
        report.conclude(Outcome.UNCHANGED)


def _has_our_rule(ctx: DrContext, report: Report, bucket: str) -> bool:
    """Batch Replication replicates by the bucket's rules: ours must be there, enabled."""
    client = ctx.client("s3")
    try:
        rules = client.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]["Rules"]
    except client.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ReplicationConfigurationNotFoundError":
            raise
        rules = []
    if any(rule.get("ID") == RULE_ID and rule.get("Status") == "Enabled" for rule in rules):
        return True
    report.add(
        SECTION,
        bucket,
        Status.WARN,
        f"no enabled replication rule {RULE_ID}: nothing would be replicated, no job created "
        "(pulumi up first; formkiq-dr verify says what is missing)",
    )
    return False


def _follow(
    control: Any,
    report: Report,
    job: BatchJob,
    job_id: str,
    on_progress: Callable[[str], None],
) -> int:
    """Poll the job until it ends (or waits for a person), showing its progress; returns how
    many objects it had to replicate (its tasks)."""

    def read() -> dict[str, Any]:
        described: dict[str, Any] = control.describe_job(AccountId=job.account_id, JobId=job_id)[
            "Job"
        ]
        on_progress(f"{job.source_bucket}: {_progress(described)}")
        return described

    described = poll_until(
        read,
        lambda state: state.get("Status") in ENDED | HELD,
        timeout_seconds=WAIT_TIMEOUT_SECONDS,
        what=f"batch replication job {job_id}",
    )
    status = described.get("Status")
    summary = described.get("ProgressSummary", {})
    failed = int(summary.get("NumberOfTasksFailed", 0))
    tasks = int(summary.get("TotalNumberOfTasks", 0))
    reports = f"s3://{job.report_bucket}/{job.report_prefix}reports/{job.source_bucket}"
    if status == "Complete" and failed == 0:
        verdict, detail = Status.PASS, f"job {job_id} complete: {_progress(described)}"
        if not tasks:
            detail = f"job {job_id} complete: nothing left to replicate"
    elif status == "Complete":
        verdict = Status.FAIL
        detail = f"job {job_id} complete with {failed} failed objects: listed in {reports}"
    else:
        reasons = "; ".join(
            str(reason.get("FailureReason", "")) for reason in described.get("FailureReasons", [])
        )
        why = reasons or described.get("StatusUpdateReason") or described.get("SuspendedCause")
        verdict, detail = Status.FAIL, f"job {job_id} {status}: {why or 'no reason given'}"
        tasks = max(tasks, 1)  # a job that did not complete is never "nothing to do"
    report.add("job outcome", job.source_bucket, verdict, detail, jobId=job_id)
    return tasks


def _progress(described: dict[str, Any]) -> str:
    summary = described.get("ProgressSummary", {})
    total = summary.get("TotalNumberOfTasks")
    return (
        f"{described.get('Status')}, {summary.get('NumberOfTasksSucceeded', 0)} of "
        f"{'?' if total is None else total} replicated, "
        f"{summary.get('NumberOfTasksFailed', 0)} failed"
    )
