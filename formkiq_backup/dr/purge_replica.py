"""`formkiq-dr purge-replica`: a document FormKiQ purged, gone from the replica bucket too.

S3 replication does not replicate a delete by version id ("If you specify an object version ID
to delete in a DELETE request, Amazon S3 deletes that object version in the source bucket. But
it doesn't replicate the deletion": AmazonS3 userguide, replication-what-is-isnot-replicated
.html), and a FormKiQ purge deletes every version that way: the replica keeps the document.
Where purges must reach every copy (a compliance erasure), this removes the purged document's
versions from the replica bucket, and names the AWS Backup recovery points that may still hold
it (they expire by their own lifecycle; only a break-glass role may delete one early).

Dry run by default. Only the keys of the documents named, and only those FormKiQ's bucket no
longer holds any version of, are ever deleted: a document still in FormKiQ is left alone.
"""

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from formkiq_backup.dr.context import DrContext, SetupError, describe_error, is_access_error
from formkiq_backup.dr.expectations import StackExpectations
from formkiq_backup.dr.report import Report, Status, scope_outcome
from formkiq_backup.dr.scope import require_site
from formkiq_backup.dr.tables import SourceGuard
from formkiq_backup.replication import RULE_ID, Replicated
from formkiq_backup.sites import DEFAULT_SITE, site_prefix

# DeleteObjects takes at most 1,000 keys a request (AmazonS3 API_DeleteObjects).
DELETE_BATCH = 1_000


@dataclass(frozen=True)
class Replica:
    """The documents replica bucket and its region."""

    bucket: str
    region: str


@dataclass
class Versions:
    """Every version and delete marker of one key, oldest first by time."""

    ids: list[str] = field(default_factory=list)
    oldest: datetime | None = None


def find_replica(ctx: DrContext, expected: StackExpectations | None) -> Replica:
    """From the stack's outputs, else from our rule on FormKiQ's bucket."""
    if expected is not None:
        plans = [p for p in expected.replication if p.replicated is Replicated.DOCUMENTS]
        if not plans:
            raise SetupError(
                f"--stack-outputs {expected.source}: the stack replicates no documents (tier "
                f"{expected.tier.value})"
            )
        return Replica(plans[0].replica_bucket, plans[0].replica_region)
    bucket = ctx.environment.documents_bucket.name
    s3 = ctx.client("s3")
    try:
        rules = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]["Rules"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ReplicationConfigurationNotFoundError":
            raise
        rules = []
    ours = next((rule for rule in rules if rule.get("ID") == RULE_ID), None)
    if ours is None:
        raise SetupError(
            f"no replication rule {RULE_ID} on {bucket} to find the replica by: give "
            "--stack-outputs FILE (pulumi stack output --json)"
        )
    replica = str(ours["Destination"]["Bucket"]).split(":::")[-1]
    location = s3.get_bucket_location(Bucket=replica).get("LocationConstraint")
    return Replica(replica, location or "us-east-1")


def document_keys(site: str | None, document_id: str) -> str:
    """The object key FormKiQ stores a document's content under (formkiq_backup.sites)."""
    return f"{site_prefix(site) if site and site != DEFAULT_SITE else ''}{document_id}"


def versions_of(s3: Any, bucket: str, key: str, *, markers: bool = True) -> dict[str, Versions]:
    """Every version (and delete marker) of `key` and of the objects under `key/`, by key.

    Listed by prefix, then kept only on a whole match: `doc1` must not reach `doc10`.
    """
    found: dict[str, Versions] = defaultdict(Versions)
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
        entries = [*page.get("Versions", []), *(page.get("DeleteMarkers", []) if markers else [])]
        for entry in entries:
            name = entry["Key"]
            if name != key and not name.startswith(f"{key}/"):
                continue
            versions = found[name]
            versions.ids.append(entry["VersionId"])
            modified = entry["LastModified"]
            versions.oldest = min(versions.oldest or modified, modified)
    return dict(found)


def run_purge_replica(
    ctx: DrContext,
    report: Report,
    *,
    documents: Sequence[str],
    site: str | None,
    expected: StackExpectations | None,
    apply: bool,
) -> None:
    """Plan, and with `apply` carry out, the removal of purged documents from the replica.

    Every version deleted is in the report's ledger before DeleteObjects is sent. A document
    in neither bucket is nothing matched; documents FormKiQ still holds, or already gone from
    the replica, are unchanged; a dry run with versions to delete is planned.
    """
    environment = ctx.environment
    if site is not None:
        require_site(ctx, site)
    source = environment.documents_bucket.name
    replica = find_replica(ctx, expected)
    # FormKiQ's bucket is only ever read here, whatever happens.
    guard = SourceGuard([t.name for t in environment.protected_tables], [source])
    source_s3 = guard.attach(ctx.client("s3"))
    replica_s3 = guard.attach(ctx.client("s3", replica.region))
    report.summary.update(
        bucket=source,
        replica=replica.bucket,
        replicaRegion=replica.region,
        mode="apply" if apply else "dry-run",
    )
    purges: dict[str, Versions] = {}
    matched = 0
    for document in documents:
        found = _find(source_s3, replica_s3, source, replica.bucket, document_keys(site, document))
        matched += bool(found.kept or found.purged)
        _report_found(report, replica.bucket, found, apply=apply)
        purges |= found.purged
    report.summary["matched"] = matched
    if apply and purges:
        _purge(replica_s3, report, replica.bucket, purges)
    if purges:
        since = min(v.oldest for v in purges.values() if v.oldest is not None)
        regions = [None] if replica.region == ctx.region else [None, replica.region]
        name_recovery_points(ctx, report, environment.documents_bucket.arn, since, regions)
    report.conclude(scope_outcome(matched=bool(matched), changes=bool(purges), apply=apply))


@dataclass(frozen=True)
class Found:
    """One document's key, what FormKiQ's bucket still holds of it, what the replica holds."""

    key: str
    kept: list[str]
    """Keys FormKiQ's bucket still holds a version of: left alone in the replica."""
    purged: dict[str, Versions]
    """Keys only the replica holds, with their versions: to delete."""


def _find(source_s3: Any, replica_s3: Any, source: str, replica: str, key: str) -> Found:
    # Content FormKiQ still holds (any version; a delete marker alone holds none).
    kept = versions_of(source_s3, source, key, markers=False)
    copies = versions_of(replica_s3, replica, key)
    purged = {name: versions for name, versions in copies.items() if name not in kept}
    return Found(key, sorted(kept), purged)


def _report_found(report: Report, bucket: str, found: Found, *, apply: bool) -> None:
    for name in found.kept:
        report.add(
            "purge",
            name,
            Status.INFO,
            "still in FormKiQ's bucket, not purged: left alone in the replica",
        )
    if not found.purged and not found.kept:
        report.add(
            "scope",
            found.key,
            Status.WARN,
            f"in neither FormKiQ's bucket nor {bucket}: nothing matched (a mistyped id or "
            "--site, or purged from both already)",
        )
    if apply:
        return
    for name, versions in sorted(found.purged.items()):
        report.add(
            "purge",
            name,
            Status.INFO,
            f"would delete {len(versions.ids)} versions from {bucket} (dry run: add --apply)",
        )


def _purge(s3: Any, report: Report, bucket: str, purges: dict[str, Versions]) -> None:
    """Every version of every purged key, each a ledger record planned first, asked for as
    its DeleteObjects request is sent, and done or refused by the answer."""
    records = {
        (key, version): report.ledger.plan(
            "purge", "replica version", f"{key} version {version}", "not reached: not deleted"
        )
        for key, versions in sorted(purges.items())
        for version in versions.ids
    }
    for batch in _batches(list(records)):
        for record in (records[entry] for entry in batch):
            record.asked("DeleteObjects sent, no answer yet: it may have been deleted")
        try:
            answer = s3.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": k, "VersionId": v} for k, v in batch], "Quiet": True},
            )
        except ClientError as error:
            for record in (records[entry] for entry in batch):
                record.refused(f"refused: {describe_error(error)}")
            raise
        errors = {(e.get("Key"), e.get("VersionId")): e for e in answer.get("Errors", [])}
        for entry in batch:
            problem = errors.get(entry)
            if problem is None:  # Quiet mode lists only the keys it could not delete
                records[entry].done(f"deleted from {bucket}")
            else:
                hint = (
                    " (the replica's policy lets only break-glass roles delete versions: run "
                    "as one)"
                    if problem.get("Code") == "AccessDenied"
                    else ""
                )
                records[entry].refused(
                    f"not deleted: {problem.get('Code')}: {problem.get('Message', '')}{hint}"
                )


def _batches(items: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    for start in range(0, len(items), DELETE_BATCH):
        yield items[start : start + DELETE_BATCH]


def name_recovery_points(
    ctx: DrContext,
    report: Report,
    bucket_arn: str,
    since: datetime,
    regions: Sequence[str | None],
) -> None:
    """Recovery points of FormKiQ's bucket made since the document existed: they may hold it.

    Listed in the primary region (None) and the DR region, where the copies are (a copy keeps
    the source's ARN and creation date). They are never changed here: each expires by its
    lifecycle, and only a break-glass role may delete one early.
    """
    for region in regions:
        where = region or ctx.region
        backup = ctx.client("backup", region)
        try:
            points = _points_since(backup, bucket_arn, since)
        except ClientError as error:
            if not is_access_error(error):
                raise
            report.add(
                "recovery points",
                where,
                Status.WARN,
                "not allowed to list the bucket's recovery points: find them in AWS Backup",
            )
            continue
        for point in points:
            report.add(
                "recovery points",
                point["RecoveryPointArn"],
                Status.WARN,
                f"may still hold the purged content: vault {point['BackupVaultName']} ({where}), "
                f"made {point['CreationDate'].isoformat()}; it expires by its own lifecycle "
                "(only a break-glass role may delete it earlier)",
            )


def _points_since(backup: Any, bucket_arn: str, since: datetime) -> list[dict[str, Any]]:
    found = []
    pages = backup.get_paginator("list_recovery_points_by_resource").paginate(
        ResourceArn=bucket_arn
    )
    for page in pages:
        found += [
            point
            for point in page.get("RecoveryPoints", [])
            if point.get("CreationDate") and point["CreationDate"] >= since
        ]
    return found
