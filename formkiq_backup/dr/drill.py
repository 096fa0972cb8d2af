"""`formkiq-dr drill`: the guide's quarterly restore test, measured and cleaned up.

Restores every protected table into a temporary table, checks it against the source (item count
and an order-independent digest), downloads a random sample of documents at the versions the
restored metadata names and checks them against it, and times each step. A SourceGuard on every
client makes writes to FormKiQ's tables or bucket impossible; temporary tables are deleted on
the way out, interrupted or not.
"""

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from formkiq_backup.dr.context import DrContext, SetupError, describe_error
from formkiq_backup.dr.documents import verify_document_version
from formkiq_backup.dr.report import Report, Status
from formkiq_backup.dr.tables import (
    RecoverySource,
    ScanProgress,
    SourceGuard,
    backup_sources,
    check_restorable,
    page_counter,
    report_left_behind,
    scan,
    temporary_table_name,
    temporary_tables,
    timed_restore,
)
from formkiq_backup.formkiq import TableFacts, TableRole
from formkiq_backup.items import Item, TableDigest, text_of
from formkiq_backup.sites import document_object_key


@dataclass
class DocumentSample:
    """A uniform random sample of document items (reservoir sampling, one pass)."""

    size: int
    rng: random.Random
    seen: int = 0

    def __post_init__(self) -> None:
        self.items: list[Item] = []

    def offer(self, item: Mapping[str, Any]) -> None:
        if text_of(item.get("SK")) != "document" or not text_of(item.get("documentId")):
            return
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(dict(item))
        else:
            slot = self.rng.randrange(self.seen)
            if slot < self.size:
                self.items[slot] = dict(item)


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
) -> None:
    """Restore, verify and measure each protected table; then sample documents."""
    environment = ctx.environment
    guard = SourceGuard(
        [t.name for t in environment.protected_tables],
        [b.name for b in environment.protected_buckets],
    )
    dynamodb = guard.attach(ctx.client("dynamodb"))
    s3 = guard.attach(ctx.client("s3"))
    sources = backup_sources(dynamodb, backup_arns)
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
    sample = DocumentSample(sample_size, random.Random(seed))
    report.summary.update(sampleSize=sample_size, strict=strict)
    recovery_seconds = 0.0

    with temporary_tables(dynamodb, report_left_behind(report)) as created:
        for table in environment.protected_tables:
            source = sources.get(table.name, RecoverySource(at=at))
            target = temporary_table_name(table.name, "drill")
            created.append(target)
            restore_seconds = timed_restore(
                dynamodb,
                report,
                table.name,
                source,
                target,
                keep_indexes=True,
                on_step=on_step,
                target=target,
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
            )
            recovery_seconds += restore_seconds + verify_seconds
        on_step("checking sampled documents")
        recovery_seconds += _verify_documents(s3, report, environment.documents_bucket.name, sample)
    report.summary["measuredRecoverySeconds"] = round(recovery_seconds, 3)
    report.summary["temporaryTablesDeleted"] = len(created)


def _verify_integrity(
    dynamodb: Any,
    report: Report,
    table: TableFacts,
    target: str,
    *,
    strict: bool,
    on_scan: ScanProgress,
    sample: DocumentSample | None,
) -> float:
    started = time.monotonic()
    source, restored = digest_tables(dynamodb, table.name, target, on_scan=on_scan, sample=sample)
    seconds = time.monotonic() - started
    data = {
        "sourceItems": source.count,
        "restoredItems": restored.count,
        "sourceDigest": source.hexdigest,
        "restoredDigest": restored.hexdigest,
    }
    if source.count and not restored.count:
        report.add("integrity", table.name, Status.FAIL, "restored table is empty", seconds, **data)
    elif (source.count, source.hexdigest) == (restored.count, restored.hexdigest):
        report.add(
            "integrity",
            table.name,
            Status.PASS,
            f"{restored.count} items, digest {restored.hexdigest[:16]}... identical",
            seconds,
            **data,
        )
    else:
        report.add(
            "integrity",
            table.name,
            Status.FAIL if strict else Status.WARN,
            f"restored {restored.count} items vs {source.count} live, digests differ "
            "(expected when the table changed after the recovery point)",
            seconds,
            **data,
        )
    return seconds


def digest_tables(
    dynamodb: Any,
    source_table: str,
    restored_table: str,
    *,
    on_scan: ScanProgress | None = None,
    sample: DocumentSample | None = None,
) -> tuple[TableDigest, TableDigest]:
    """Count and digest both tables, one scan each; `sample` sees the restored one."""
    source = TableDigest().add_all(
        scan(dynamodb, source_table, on_page=page_counter(on_scan, source_table))
    )
    restored = TableDigest()
    for item in scan(dynamodb, restored_table, on_page=page_counter(on_scan, restored_table)):
        restored.add(item)
        if sample is not None:
            sample.offer(item)
    return source, restored


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
