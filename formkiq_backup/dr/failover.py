"""`formkiq-dr failover-check --region <drRegion>`: before anyone fails over, what a FormKiQ
deployed in that region would find there, and what is missing.

Read-only: every call it makes describes, lists, gets, heads, queries or scans
(tests/test_dr_failover_check.py holds it to that). With `--stack-outputs` it never calls the
primary region, so it runs while that region is down; without them it discovers FormKiQ in
`--primary-region` and uses the names the program gives.

Sections, each read in that region; "needed" means ready needs it (where the stack keeps it):

- replica table: DescribeTable, ACTIVE in a replication group, ItemCount (approximate). Needed.
- replica pitr: DescribeContinuousBackups, PITR on. Needed.
- item count: with `--exact`, a bounded Scan with Select COUNT. Information.
- newest document: a bounded Query of FormKiQ's GSI1 (documents by day). Information.
- documents replica: the replica bucket, holding objects; the newest document's content.
  Needed (the newest document's content missing is a warning).
- vault, dr copies: the DR vault, each resource's newest completed recovery point in it.
  Needed (none is a failure, one older than the tier allows a warning).
- exports replica: the newest export of each data set, checked as the export monitor checks
  it. A corrupt one fails; a missing or old one warns. A DynamoDB export that failed writes no
  manifest summary, so the replica shows only the newest that completed (ListExports in the
  primary region is where a failed one is seen: `formkiq-dr verify`).
- readiness: the verdict, ready or what is missing.

Ready is exit code 0; not ready is a failed check, exit code 1; a usage or access error 2
(formkiq_backup.dr.report). A check stopped by another AWS error also exits 1, with no verdict:
`summary.error` says why, and `summary.ready` is absent.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from formkiq_backup.dr.context import DrContext, describe_error
from formkiq_backup.dr.dr_region import DrExpectations, check_dr_copies, tier_replications
from formkiq_backup.dr.expectations import StackExpectations
from formkiq_backup.dr.exports import bucket_exists
from formkiq_backup.dr.replicas import check_replica_pitr, check_replica_table
from formkiq_backup.dr.report import Report, Status, readable_time
from formkiq_backup.dr.scope import bucket_sites, registry_sites
from formkiq_backup.dr.vault_locks import check_vault
from formkiq_backup.exports import (
    ExportFinding,
    State,
    check_infrastructure_export,
    check_table_export_in_bucket,
    check_users_export,
    max_age_days,
    read_expectations,
)
from formkiq_backup.items import text_of
from formkiq_backup.posture import check_bucket_versioning
from formkiq_backup.replication import Replicated
from formkiq_backup.sites import DEFAULT_SITE, site_of_key, site_prefix
from tiers.definitions import Capability, TierSpec
from tiers.scope import Naming, ScopeRole

# --exact counts at most this many items a table: a Scan reads (and bills) the whole table.
EXACT_COUNT_LIMIT = 1_000_000
# The newest document is looked for this many days back, over at most this many sites.
NEWEST_LOOKBACK_DAYS = 7
MAX_SITES = 50
# S3 lists by key, never by time: the newest object is the newest of one listing page.
LISTING_SAMPLE = 1_000
# The longest gap of the default monthly export schedule, where exports.json cannot be read.
DEFAULT_EXPORT_GAP = timedelta(days=31)
# FormKiQ names its Documents table `formkiq-<type>-<env>-documents` (CF/storage/template.yaml).
_DOCUMENTS_TABLE = re.compile(r"-documents$")
# FormKiQ's inserteddate: yyyy-MM-dd'T'HH:mm:ssZ (core DateUtil), e.g. 2026-05-01T12:00:00+0000.
_INSERTED = "%Y-%m-%dT%H:%M:%S%z"

COUNT_SECTION = "item count"
NEWEST_SECTION = "newest document"
BUCKET_SECTION = "documents replica"
EXPORTS_SECTION = "exports replica"
READINESS_SECTION = "readiness"


@dataclass(frozen=True)
class FailoverTarget:
    """What a failover to `region` needs there, and which of it the stack keeps there."""

    region: str
    primary_region: str
    dr_region: str | None
    """The stack's drRegion: where content and copies are, when `region` is another one."""
    source: str
    """Where the names come from, for the summary."""
    tables: tuple[tuple[str, str], ...]
    """FormKiQ's protected tables (name, ARN in the primary region): the replicas' names too."""
    buckets: tuple[tuple[str, str], ...]
    documents_table: str | None
    replicated_tables: bool
    documents_replica: str | None
    exports_replica: str | None
    dr_vault: str | None
    max_age_hours: int | None


def target_from_outputs(
    expected: StackExpectations, region: str, account_id: str, partition: str
) -> FailoverTarget:
    """What the stack keeps in `region`, from its outputs alone: no call to the primary."""
    primary = expected.primary_region
    vault = next((v for v in expected.vaults if v.region == region), None)
    return FailoverTarget(
        region=region,
        primary_region=primary,
        dr_region=expected.dr_region,
        source=f"the stack outputs {expected.source}",
        tables=tuple(
            (name, f"arn:{partition}:dynamodb:{primary}:{account_id}:table/{name}")
            for name in expected.tables
        ),
        buckets=tuple((name, f"arn:{partition}:s3:::{name}") for name in expected.buckets),
        documents_table=next((t for t in expected.tables if _DOCUMENTS_TABLE.search(t)), None),
        replicated_tables=region in expected.replica_regions,
        documents_replica=_replica(expected, Replicated.DOCUMENTS, region),
        exports_replica=_replica(expected, Replicated.EXPORTS, region),
        dr_vault=vault.name if vault else None,
        max_age_hours=vault.max_recovery_point_age_hours if vault else None,
    )


def _replica(expected: StackExpectations, kind: Replicated, region: str) -> str | None:
    return next(
        (
            plan.replica_bucket
            for plan in expected.replication
            if plan.replicated is kind and plan.replica_region == region
        ),
        None,
    )


def target_from_tier(ctx: DrContext, spec: TierSpec, region: str) -> FailoverTarget:
    """What the tier keeps in `region`, by the names the program gives, for FormKiQ as
    discovered in the primary region (`ctx.discovery_region`)."""
    environment = ctx.environment
    plans = tier_replications(ctx, spec, region)
    replicas = {plan.replicated: plan.replica_bucket for plan in plans}
    copies = Capability.CROSS_REGION_COPIES in spec.capabilities
    return FailoverTarget(
        region=region,
        primary_region=environment.region,
        dr_region=region,
        source=f"tier {spec.tier.value}, the names the program gives",
        tables=tuple((t.name, t.arn) for t in environment.protected_tables),
        buckets=tuple((b.name, b.arn) for b in environment.protected_buckets),
        documents_table=environment.documents_table.name,
        replicated_tables=Capability.GLOBAL_TABLE_REPLICAS in spec.capabilities,
        documents_replica=replicas.get(Replicated.DOCUMENTS),
        exports_replica=replicas.get(Replicated.EXPORTS),
        dr_vault=(
            Naming.for_environment(environment.app_environment, ScopeRole.DR).backup_vault()
            if copies
            else None
        ),
        max_age_hours=spec.recovery_point_max_age_hours,
    )


def run_failover_check(
    ctx: DrContext,
    report: Report,
    target: FailoverTarget,
    *,
    exact: bool = False,
    on_step: Callable[[str], None] = lambda _: None,
) -> None:
    """Every check, then the verdict; `report.summary` says where the names came from."""
    report.summary.update(
        failoverRegion=target.region, primaryRegion=target.primary_region, names=target.source
    )
    on_step(f"replica tables in {target.region}")
    documents_found = _check_tables(ctx, report, target, exact=exact)
    newest = None
    if documents_found and target.documents_table:
        on_step("newest document")
        newest = _newest_document(ctx, report, target, target.documents_table)
    on_step("documents replica")
    _check_documents_replica(ctx, report, target, newest)
    on_step("DR vault")
    _check_dr_vault(ctx, report, target)
    on_step("exports replica")
    _check_exports_replica(ctx, report, target)
    _conclude(report, target)


# --- tables ------------------------------------------------------------------------------


def _check_tables(ctx: DrContext, report: Report, target: FailoverTarget, *, exact: bool) -> bool:
    """Each table's replica, as `verify` checks it; returns whether the Documents one is there."""
    documents_found = False
    hint = "" if target.replicated_tables else _NOT_REPLICATED
    for name, _ in target.tables:
        described = check_replica_table(
            ctx, report, name, target.region, required=target.replicated_tables, missing_hint=hint
        )
        if described is None:
            continue
        documents_found |= name == target.documents_table
        check_replica_pitr(ctx, report, name, target.region, required=target.replicated_tables)
        if exact:
            _count_items(ctx, report, name, target.region)
    return documents_found


_NOT_REPLICATED = (
    ": the stack keeps no replica of it here; FormKiQ's metadata would come from the DR "
    "vault's copies (restore them: docs/failover.md)"
)


def _count_items(ctx: DrContext, report: Report, table: str, region: str) -> None:
    """An exact count by Scan with `Select=COUNT`, stopped at EXACT_COUNT_LIMIT scanned items.

    A Scan reads every item it evaluates (and bills the reads) even when it returns only the
    count; `Limit` caps the items evaluated, `ScannedCount` says how many were, and no
    `LastEvaluatedKey` means the table was read to its end (DynamoDB API reference, Scan).
    """
    dynamodb = ctx.client("dynamodb", region)
    counted = scanned = 0
    start: dict[str, Any] | None = None
    while True:
        page = dynamodb.scan(
            TableName=table,
            Select="COUNT",
            # Limit: items evaluated per page, so the Scan never reads past the bound.
            Limit=EXACT_COUNT_LIMIT - scanned,
            **({"ExclusiveStartKey": start} if start else {}),
        )
        counted += int(page.get("Count", 0))
        scanned += int(page.get("ScannedCount", 0))
        start = page.get("LastEvaluatedKey")
        if not start or scanned >= EXACT_COUNT_LIMIT:
            break
    subject = f"{table} ({region})"
    if start:
        detail = f"at least {counted:,} items: stopped after scanning {scanned:,}"
    else:
        detail = f"exactly {counted:,} items (a Scan just now, every item read)"
    report.add(COUNT_SECTION, subject, Status.INFO, detail, items=counted, complete=not start)


@dataclass(frozen=True)
class NewestDocument:
    """The newest document FormKiQ's GSI1 lists: its id, site and when it was added."""

    document_id: str
    site: str
    inserted: datetime

    @property
    def object_key(self) -> str:
        """Its content's key in the documents bucket (and so in the replica)."""
        return f"{site_prefix(self.site)}{self.document_id}"


def _newest_document(
    ctx: DrContext, report: Report, target: FailoverTarget, table: str
) -> NewestDocument | None:
    """The newest document added, read through FormKiQ's GSI1, day by day back from tomorrow.

    FormKiQ indexes each document under `GSI1PK=[<site>/]docts#<yyyy-MM-dd>` with
    `GSI1SK=<inserteddate>#<documentId>` (core DocumentRecordBuilder): one Query per site and
    day, newest first, Limit 1, finds the newest of that day. Bounded: NEWEST_LOOKBACK_DAYS days
    over at most MAX_SITES sites, stopping at the first day that has any.
    """
    dynamodb = ctx.client("dynamodb", target.region)
    sites, unread = _sites(ctx, target, table)
    today = datetime.now(UTC).date()
    days = [today + timedelta(days=1 - back) for back in range(NEWEST_LOOKBACK_DAYS + 1)]
    subject = f"{table} ({target.region})"
    try:
        for day in days:
            found = [_newest_on(dynamodb, table, site, day.isoformat()) for site in sites]
            hits = [hit for hit in found if hit is not None]
            if hits:
                newest = max(hits, key=lambda hit: hit.inserted)
                _report_newest(report, subject, newest, sites, unread)
                return newest
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ValidationException":
            raise
        report.add(NEWEST_SECTION, subject, Status.INFO, f"not read: {describe_error(error)}")
        return None
    report.add(
        NEWEST_SECTION,
        subject,
        Status.INFO,
        f"no document added in the last {NEWEST_LOOKBACK_DAYS} days in sites "
        f"{', '.join(sites)}{unread}: a quiet week, or the replica is behind (verify's "
        "replica lag says which)",
    )
    return None


def _sites(ctx: DrContext, target: FailoverTarget, table: str) -> tuple[list[str], str]:
    """The sites to look in: default, the site registry's, the replica bucket's folders."""
    found = {DEFAULT_SITE}
    unread = []
    try:
        found |= registry_sites(ctx.client("dynamodb", target.region), table)
    except (ClientError, BotoCoreError) as error:
        unread.append(f"the site registry: {describe_error(error)}")
    if target.documents_replica:
        try:
            found |= bucket_sites(ctx.client("s3", target.region), target.documents_replica)
        except (ClientError, BotoCoreError) as error:
            unread.append(f"the replica bucket: {describe_error(error)}")
    ordered = [DEFAULT_SITE, *sorted(found - {DEFAULT_SITE})]
    note = f" (could not read {'; '.join(unread)})" if unread else ""
    if len(ordered) > MAX_SITES:
        note += f" (the first {MAX_SITES} of {len(ordered)} sites)"
    return ordered[:MAX_SITES], note


def _newest_on(dynamodb: Any, table: str, site: str, day: str) -> NewestDocument | None:
    answer = dynamodb.query(
        TableName=table,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :day",
        ExpressionAttributeValues={":day": {"S": f"{site_prefix(site)}docts#{day}"}},
        ScanIndexForward=False,
        Limit=1,
    )
    for item in answer.get("Items", []):
        document_id = text_of(item.get("documentId"))
        inserted = _inserted(text_of(item.get("inserteddate")) or text_of(item.get("GSI1SK")))
        if document_id and inserted:
            return NewestDocument(
                document_id, site_of_key(text_of(item.get("PK"))) or site, inserted
            )
    return None


def _inserted(text: str | None) -> datetime | None:
    """FormKiQ's inserteddate (or GSI1SK, which starts with it) as a time, None if unreadable."""
    if not text:
        return None
    try:
        return datetime.strptime(text.split("#", 1)[0], _INSERTED)
    except ValueError:
        return None


def _report_newest(
    report: Report, subject: str, newest: NewestDocument, sites: Sequence[str], unread: str
) -> None:
    age = datetime.now(UTC) - newest.inserted
    report.add(
        NEWEST_SECTION,
        subject,
        Status.INFO,
        f"{newest.document_id} in site {newest.site}, added {readable_time(newest.inserted)} "
        f"({_age(age)} ago); read through GSI1 over {len(sites)} sites{unread}",
        documentId=newest.document_id,
        site=newest.site,
        inserted=newest.inserted.isoformat(),
    )


# --- documents bucket ----------------------------------------------------------------------


def _check_documents_replica(
    ctx: DrContext, report: Report, target: FailoverTarget, newest: NewestDocument | None
) -> None:
    """The replica bucket: there, versioned, holding objects; the newest document's content."""
    bucket = target.documents_replica
    if bucket is None and target.dr_vault is None:
        # A replicaRegions region: the tables are here, the documents' content is not.
        report.add(
            BUCKET_SECTION,
            target.region,
            Status.FAIL,
            "no document content here: the stack keeps neither a replica bucket nor copies in "
            f"{target.region}; they are in {target.dr_region}",
        )
        return
    if bucket is None:
        report.add(
            BUCKET_SECTION,
            target.region,
            Status.INFO,
            "the stack replicates no bucket here: content would come from the DR vault's "
            "copies of the documents bucket",
        )
        return
    s3 = ctx.client("s3", target.region)
    if not bucket_exists(s3, bucket):
        report.add(BUCKET_SECTION, bucket, Status.FAIL, f"no bucket {bucket}: no content here")
        return
    versioning = check_bucket_versioning(s3, bucket).observed
    page = s3.list_objects_v2(Bucket=bucket, MaxKeys=LISTING_SAMPLE)
    listed = page.get("Contents", [])
    if not listed:
        report.add(BUCKET_SECTION, bucket, Status.FAIL, f"empty ({versioning}): no content")
        return
    latest = max(listed, key=lambda entry: entry["LastModified"])
    sample = f"of the first {len(listed):,} keys" if page.get("IsTruncated") else "of its objects"
    report.add(
        BUCKET_SECTION,
        bucket,
        Status.PASS,
        f"{versioning}; newest {sample}: {latest['Key']}, {readable_time(latest['LastModified'])}"
        " (S3 lists by key, not by time)",
        newestKey=latest["Key"],
        newestModified=latest["LastModified"].isoformat(),
    )
    if newest is not None:
        _check_newest_content(s3, report, bucket, newest)


def _check_newest_content(s3: Any, report: Report, bucket: str, newest: NewestDocument) -> None:
    """Whether the newest document's content has reached the replica."""
    key = newest.object_key
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey"):
            raise
        report.add(
            BUCKET_SECTION,
            key,
            Status.WARN,
            "the newest document's content is not in the replica: replication takes up to 15 "
            "minutes (S3 RTC), a document older than the rule needs formkiq-dr "
            "replicate-existing, or the document has no content yet",
        )
        return
    report.add(
        BUCKET_SECTION,
        key,
        Status.PASS,
        f"the newest document's content is there, {head.get('ContentLength')} bytes, "
        f"version {head.get('VersionId')}",
    )


# --- DR vault and exports --------------------------------------------------------------------


def _check_dr_vault(ctx: DrContext, report: Report, target: FailoverTarget) -> None:
    """The DR vault, and each resource's newest completed recovery point in it."""
    if target.dr_vault is None:
        report.add("vault", target.region, Status.INFO, "the stack copies no recovery point here")
        return
    if check_vault(ctx, report, target.dr_vault, target.region, lock_required=False) is None:
        return
    wanted = DrExpectations(
        replications=(),
        replication_required=False,
        dr_vault=target.dr_vault,
        dr_region=target.region,
        max_age_hours=target.max_age_hours,
    )
    check_dr_copies(ctx, report, wanted, [*target.tables, *target.buckets], stale=Status.WARN)


_EXPORT_STATUS = {
    State.GOOD: Status.PASS,
    State.STALE: Status.WARN,
    State.MISSING: Status.WARN,
    State.FAILED: Status.FAIL,
    State.CORRUPT: Status.FAIL,
}


def _check_exports_replica(ctx: DrContext, report: Report, target: FailoverTarget) -> None:
    """The newest export of each data set in the exports replica: the export monitor's checks
    (formkiq_backup.exports) against the replica, judged by the stack's `exports.json`, which
    replicates with them."""
    bucket = target.exports_replica
    if bucket is None:
        report.add(
            EXPORTS_SECTION, target.region, Status.INFO, "the stack replicates no exports here"
        )
        return
    s3 = ctx.client("s3", target.region)
    if not bucket_exists(s3, bucket):
        report.add(EXPORTS_SECTION, bucket, Status.FAIL, f"no bucket {bucket}: no exports here")
        return
    now = datetime.now(UTC)
    descriptor = read_expectations(s3, bucket)
    if descriptor is None:
        report.add(
            EXPORTS_SECTION,
            bucket,
            Status.WARN,
            "no exports.json in the replica: judged against the default monthly schedule",
        )
        tables = list(target.tables)
        limit = timedelta(days=max_age_days(DEFAULT_EXPORT_GAP))
        users, infrastructure = True, True
    else:
        tables = [(t.name, t.arn) for t in descriptor.tables]
        limit = timedelta(days=descriptor.max_age_days)
        users, infrastructure = bool(descriptor.user_pool_id), descriptor.infrastructure
    findings = [
        check_table_export_in_bucket(s3, bucket, name, arn, limit=limit, now=now)
        for name, arn in tables
    ]
    if users:
        findings.append(check_users_export(s3, bucket, limit, now))
    if infrastructure:
        findings.append(check_infrastructure_export(s3, bucket, limit, now))
    for finding in findings:
        _report_export(report, finding)


def _report_export(report: Report, finding: ExportFinding) -> None:
    detail = f"{finding.state.value.upper()}: {finding.detail}"
    if finding.warning:
        detail += f"; {finding.warning}"
    report.add(
        EXPORTS_SECTION,
        finding.export_set,
        _EXPORT_STATUS[finding.state],
        detail,
        state=finding.state.value,
        **dict(finding.data),
    )


def _conclude(report: Report, target: FailoverTarget) -> None:
    """The verdict, in one entry and the summary: ready, or what is missing or unusable."""
    failed = [entry for entry in report.entries if entry.status is Status.FAIL]
    missing = [f"{entry.section}: {entry.subject}" for entry in failed]
    report.summary.update(ready=not failed, missing=missing)
    if failed:
        report.add(
            READINESS_SECTION,
            target.region,
            Status.FAIL,
            f"not ready: {len(failed)} problems ({'; '.join(missing)})",
        )
        return
    warned = sum(entry.status is Status.WARN for entry in report.entries)
    note = f"; {warned} warnings to read" if warned else ""
    report.add(
        READINESS_SECTION,
        target.region,
        Status.PASS,
        f"ready: what the stack keeps in {target.region} is there{note}",
    )


def _age(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 120:
        return f"{max(minutes, 0)} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"
