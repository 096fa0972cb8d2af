"""`formkiq-dr drill`: the guide's quarterly restore test, measured and cleaned up.

Restores every protected table into a temporary table, checks it against the source (item count
and an order-independent digest), downloads a random sample of documents at the versions the
restored metadata names and checks them against it, and times each step. A SourceGuard on every
client makes writes to FormKiQ's tables or bucket impossible; temporary tables are deleted on
the way out, interrupted or not.
"""

import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from formkiq_backup.dr.context import DrContext, SetupError, describe_error
from formkiq_backup.dr.repair import resolve_table
from formkiq_backup.dr.report import Report, ResourceState, Status
from formkiq_backup.dr.tables import (
    READ_SEGMENTS,
    ClientSpec,
    RecoverySource,
    ScanProgress,
    SourceGuard,
    TableScan,
    backup_sources,
    check_reference_options,
    check_restorable,
    existing_reference,
    map_segments,
    page_counter,
    restore_temporary_table,
    scan,
    scan_segments,
    table_key_attributes,
    worker_client,
    worker_page_counter,
    worker_profile,
)
from formkiq_backup.formkiq import TableFacts, TableRole
from formkiq_backup.integrity import (
    DocumentSample,
    Outcome,
    table_verdict,
    verify_document_version,
)
from formkiq_backup.items import Item, TableDigest, text_of
from formkiq_backup.sites import document_object_key

# The checks are formkiq_backup.integrity's, shared with the restore-validation Lambda.
__all__ = ["DocumentSample", "digest_tables", "reference_tables", "run_drill"]
_STATUS = {Outcome.PASS: Status.PASS, Outcome.WARN: Status.WARN, Outcome.FAIL: Status.FAIL}


def run_drill(
    ctx: DrContext,
    report: Report,
    *,
    at: datetime | None,
    backup_arns: list[str],
    sample_size: int,
    seed: int | None,
    strict: bool,
    on_scan: ScanProgress,
    on_step: Callable[[str], None],
    from_tables: Sequence[str] = (),
    from_region: str | None = None,
) -> None:
    """Restore, verify and measure each protected table; then sample documents.

    With `from_tables`, tables the operator already restored stand in for the restores (in
    `from_region`, else here): none is started, and the guard keeps them read-only and undeleted.
    Protected tables with no such table are reported as not checked.
    """
    check_reference_options(
        from_tables=from_tables,
        from_region=from_region,
        restore_options={"--at": at is not None, "--from-backup": bool(backup_arns)},
    )
    environment = ctx.environment
    elsewhere = from_region not in (None, ctx.region)
    named = [reference.rpartition("=")[2] for reference in from_tables]
    guard = SourceGuard(
        [t.name for t in environment.protected_tables] + ([] if elsewhere else named),
        [b.name for b in environment.protected_buckets],
    )
    dynamodb = guard.attach(ctx.client("dynamodb"))
    reference_dynamodb = dynamodb
    if elsewhere:
        reference_dynamodb = SourceGuard(named, []).attach(ctx.client("dynamodb", from_region))
    if from_tables:
        _verify_existing(
            ctx,
            report,
            dynamodb,
            reference_dynamodb,
            from_tables,
            region=from_region if elsewhere else None,
            strict=strict,
            sample=DocumentSample(sample_size, random.Random(seed)),
            s3=guard.attach(ctx.client("s3")),
            on_scan=on_scan,
            on_step=on_step,
        )
        return
    _verify_restores(
        ctx,
        report,
        dynamodb,
        s3=guard.attach(ctx.client("s3")),
        sources=backup_sources(dynamodb, backup_arns),
        at=at,
        strict=strict,
        sample=DocumentSample(sample_size, random.Random(seed)),
        on_scan=on_scan,
        on_step=on_step,
    )


def _verify_restores(
    ctx: DrContext,
    report: Report,
    dynamodb: Any,
    *,
    s3: Any,
    sources: dict[str, RecoverySource],
    at: datetime | None,
    strict: bool,
    sample: DocumentSample,
    on_scan: ScanProgress,
    on_step: Callable[[str], None],
) -> None:
    """The drill proper: each table restored (from its backup in `sources`, else PITR at
    `at`) into a temporary table, verified, timed; the documents sampled; the tables deleted."""
    environment = ctx.environment
    unknown = set(sources) - {t.name for t in environment.protected_tables}
    if unknown:
        raise SetupError(
            f"--from-backup: backups of {', '.join(sorted(unknown))}, which FormKiQ "
            f"{ctx.app_environment} does not protect (it protects "
            f"{', '.join(t.name for t in environment.protected_tables)})"
        )
    # Every PITR restore is checked before the first starts: all tables or none.
    for table in environment.protected_tables:
        if table.name not in sources:
            check_restorable(dynamodb, table.name, at)
    report.summary.update(sampleSize=sample.size, strict=strict)
    recovery_seconds = 0.0
    for table in environment.protected_tables:
        source = sources.get(table.name, RecoverySource(at=at))
        target, restore_seconds = restore_temporary_table(
            dynamodb,
            report,
            table.name,
            source,
            "drill",
            keep_indexes=True,
            on_step=on_step,
        )
        on_step(f"verifying {target}")
        verify_seconds = _verify_integrity(
            dynamodb,
            report,
            table,
            target,
            strict=strict,
            on_scan=on_scan,
            sample=sample if table.role is TableRole.DOCUMENTS else None,
            profile=worker_profile(ctx),
        )
        recovery_seconds += restore_seconds + verify_seconds
    on_step("checking sampled documents")
    recovery_seconds += _verify_documents(s3, report, environment.documents_bucket.name, sample)
    report.summary["measuredRecoverySeconds"] = round(recovery_seconds, 3)
    report.ledger.clean_up(on_step=on_step)
    report.summary["temporaryTablesDeleted"] = sum(
        record.state is ResourceState.REMOVED for record in report.ledger.records
    )


def reference_tables(
    ctx: DrContext, reference_dynamodb: Any, from_tables: Sequence[str], region: str | None
) -> dict[str, RecoverySource]:
    """Which protected table each `--from-table` stands in for.

    `SOURCE=NAME` says it (SOURCE: documents, documentsyncs or a table name); a bare NAME is
    matched by the source DynamoDB records for a restored table (DescribeTable's
    RestoreSummary.SourceTableArn), or, in another region, by name (a replica).
    """
    protected = {t.name for t in ctx.environment.protected_tables}
    found: dict[str, RecoverySource] = {}
    for reference in from_tables:
        source_name, equals, name = reference.rpartition("=")
        if equals:
            try:
                source = resolve_table(ctx, source_name)
            except SetupError:
                source = source_name  # refused below, in --from-table's words
        else:
            try:
                described = reference_dynamodb.describe_table(TableName=name)["Table"]
            except ClientError as error:
                raise SetupError(f"--from-table {name}: {describe_error(error)}") from error
            restored_from = (described.get("RestoreSummary") or {}).get("SourceTableArn", "")
            source = str(restored_from).rpartition("/")[2] or (name if region else "")
            if not source:
                raise SetupError(
                    f"--from-table {name}: DynamoDB records no restore for it, so which table it "
                    f"stands in for is unknown; say so as documents={name} (or <table>={name})"
                )
        if source not in protected:
            raise SetupError(
                f"--from-table {reference}: {source} is not a table this FormKiQ protects "
                f"({', '.join(sorted(protected))})"
            )
        if source in found:
            raise SetupError(f"--from-table: two tables stand in for {source}; give one")
        if name == source and region is None:
            raise SetupError(f"--from-table {name}: that is FormKiQ's own table, not a restore")
        found[source] = RecoverySource(table=name, region=region)
    return found


def _verify_existing(
    ctx: DrContext,
    report: Report,
    dynamodb: Any,
    reference_dynamodb: Any,
    from_tables: Sequence[str],
    *,
    region: str | None,
    strict: bool,
    sample: DocumentSample,
    s3: Any,
    on_scan: ScanProgress,
    on_step: Callable[[str], None],
) -> None:
    """The drill against tables already restored: integrity of each, then the documents."""
    environment = ctx.environment
    references = reference_tables(ctx, reference_dynamodb, from_tables, region)
    report.summary.update(sampleSize=sample.size, strict=strict)
    recovery_seconds = 0.0
    for table in environment.protected_tables:
        source = references.get(table.name)
        if source is None or source.table is None:
            report.add("reference", table.name, Status.WARN, "no --from-table for it: not checked")
            continue
        keys = table_key_attributes(dynamodb, table.name)
        existing_reference(reference_dynamodb, source.table, source.region, keys)
        report.add("reference", table.name, Status.PASS, f"{source.describe()}: no restore")
        on_step(f"verifying {source.table}")
        recovery_seconds += _verify_integrity(
            dynamodb,
            report,
            table,
            source.table,
            strict=strict,
            on_scan=on_scan,
            sample=sample if table.role is TableRole.DOCUMENTS else None,
            restored_dynamodb=reference_dynamodb,
            profile=worker_profile(ctx),
        )
    on_step("checking sampled documents")
    recovery_seconds += _verify_documents(s3, report, environment.documents_bucket.name, sample)
    report.summary["measuredRecoverySeconds"] = round(recovery_seconds, 3)
    report.summary["temporaryTablesDeleted"] = 0


def _verify_integrity(
    dynamodb: Any,
    report: Report,
    table: TableFacts,
    target: str,
    *,
    strict: bool,
    on_scan: ScanProgress,
    sample: DocumentSample | None,
    restored_dynamodb: Any | None = None,
    profile: str | None = None,
) -> float:
    started = time.monotonic()
    source, restored = digest_tables(
        dynamodb,
        table.name,
        target,
        on_scan=on_scan,
        sample=sample,
        restored_dynamodb=restored_dynamodb,
        segments=scan_segments(dynamodb, table.name),
        profile=profile,
    )
    seconds = time.monotonic() - started
    data = {
        "sourceItems": source.count,
        "restoredItems": restored.count,
        "sourceDigest": source.hexdigest,
        "restoredDigest": restored.hexdigest,
    }
    verdict = table_verdict(source, restored, strict=strict)
    report.add("integrity", table.name, _STATUS[verdict.outcome], verdict.detail, seconds, **data)
    return seconds


def digest_tables(
    dynamodb: Any,
    source_table: str,
    restored_table: str,
    *,
    on_scan: ScanProgress | None = None,
    sample: DocumentSample | None = None,
    restored_dynamodb: Any | None = None,
    segments: int = 1,
    profile: str | None = None,
) -> tuple[TableDigest, TableDigest]:
    """Count and digest both tables, one scan each; `sample` sees the restored one.

    `restored_dynamodb` reads the restored table when it lives in another region. With
    `segments` above 1 each table is read as a parallel scan, one worker process per segment
    (clients made like these, with `profile`): the digest is a sum, so the parts add up.
    Otherwise each table is read in this process, READ_SEGMENTS segments at once in threads,
    the restored table's first pages asked for as soon as the source's last one is in.
    """
    reader = restored_dynamodb or dynamodb
    if segments > 1:
        return _digest_in_parallel(
            (ClientSpec.like(dynamodb, profile), source_table),
            (ClientSpec.like(reader, profile), restored_table),
            segments=segments,
            on_scan=on_scan,
            sample=sample,
        )

    with TableScan(
        reader,
        restored_table,
        on_page=page_counter(on_scan, restored_table),
        segments=READ_SEGMENTS,
    ) as restored_items:
        source = TableDigest().add_all(
            scan(
                dynamodb,
                source_table,
                on_page=page_counter(on_scan, source_table),
                segments=READ_SEGMENTS,
                then=restored_items,
            )
        )
        restored = TableDigest()
        for item in restored_items:
            restored.add(item)
            if sample is not None:
                sample.offer(item)
    return source, restored


SegmentDigest = tuple[int, int, list[Item], int]
"""What a worker sends back: item count, digest sum, its sample, document items it saw."""


def _digest_in_parallel(
    source: tuple[ClientSpec, str],
    restored: tuple[ClientSpec, str],
    *,
    segments: int,
    on_scan: ScanProgress | None,
    sample: DocumentSample | None,
) -> tuple[TableDigest, TableDigest]:
    size = sample.size if sample is not None else 0
    seed = sample.rng.getrandbits(64) if sample is not None else 0
    calls = [
        (spec, table, (segment, segments), size if table_sample else 0, seed + segment)
        for (spec, table), table_sample in ((source, False), (restored, True))
        for segment in range(segments)
    ]
    parts = map_segments(_digest_segment, calls, processes=segments, on_page=on_scan)
    digests = []
    for half in (parts[:segments], parts[segments:]):
        digest = TableDigest()
        for count, total, _, _ in half:
            digest.count += count
            digest.total = (digest.total + total) % (1 << 128)
        digests.append(digest)
    if sample is not None:
        sample.merge([(items, seen) for _, _, items, seen in parts[segments:]])
    return digests[0], digests[1]


def _digest_segment(
    spec: ClientSpec, table: str, segment: tuple[int, int], sample_size: int, seed: int
) -> SegmentDigest:
    """In a worker process: one segment's count, digest sum and document sample."""
    digest = TableDigest()
    sample = DocumentSample(sample_size, random.Random(seed))
    for item in scan(
        worker_client(spec), table, segment=segment, on_page=worker_page_counter(table)
    ):
        digest.add(item)
        if sample_size:
            sample.offer(item)
    return digest.count, digest.total, sample.items, sample.seen


def _verify_documents(s3: Any, report: Report, bucket: str, sample: DocumentSample) -> float:
    started = time.monotonic()
    if not sample.items:
        report.add("documents", bucket, Status.WARN, "no document items to sample")
        return 0.0
    for item in sample.items:
        begun = time.monotonic()
        try:
            check = verify_document_version(s3, bucket, item)
        except ClientError as error:
            key, version = document_object_key(item), text_of(item.get("s3version"))
            report.add(
                "documents",
                f"{key} @ {version}",
                Status.FAIL,
                f"version not retrievable: {describe_error(error)}",
                time.monotonic() - begun,
            )
            continue
        report.add(
            "documents",
            f"{check.key} @ {check.version_id}",
            Status.PASS if check.ok else Status.FAIL,
            check.detail,
            time.monotonic() - begun,
        )
    report.summary["documentsSampled"] = f"{len(sample.items)} of {sample.seen}"
    return time.monotonic() - started
