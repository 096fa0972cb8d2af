"""`formkiq-dr diff-exports`, `repair --from-export`, `drill --from-export` and `export-now`:
recovery from DynamoDB exports, without a restore and without reading the table's capacity.

An export reads the table's PITR data on AWS's side (no read capacity, at any point in the
recovery window), so the reference state of a repair needs no restored table: it is the export
at the recovery point. The diff is computed by a query engine (formkiq_backup.exportdiff),
DuckDB on this machine or Athena in the account, into the same `TableDiff` a scan-based repair
makes, and written back with the same safety rules: a plan first, items created since kept
unless `--delete-new`, every write conditional on the live item the plan saw.
"""

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from formkiq_backup.dr.context import DrContext, SetupError

# Repair's own plan, outcome and conditional writes: a plan from exports reads, ends and writes
# exactly like one from a restored table.
from formkiq_backup.dr.repair import (
    plan_outcome,
    planned_action,
    report_plan,
    resolve_table,
)
from formkiq_backup.dr.report import EXIT_FAILED, Report, Status
from formkiq_backup.dr.scope import require_site
from formkiq_backup.dr.tables import (
    READ_SEGMENTS,
    ScanProgress,
    SourceGuard,
    page_counter,
    scan,
    table_key_attributes,
)
from formkiq_backup.dr.writes import apply_plan
from formkiq_backup.exportdiff.diff import ExportMismatchError, diff_exports, export_items
from formkiq_backup.exportdiff.engine import Engine, EngineError, Made
from formkiq_backup.exportdiff.manifest import (
    Export,
    ExportCheckError,
    ExportLocation,
    newest_export,
    read_export,
)
from formkiq_backup.exports import exports_bucket_name, table_prefix
from formkiq_backup.sites import (
    DEFAULT_SITE,
    is_global,
    item_sites,
    site_filter_expression,
    site_member,
)
from formkiq_backup.tablediff import Action, Change, TableDiff

LATEST = "latest:"
ENGINES = ("duckdb", "athena")
# Writers of repair --from-export: each sends one conditional write at a time.
DEFAULT_WRITERS = 8


@dataclass(frozen=True)
class EngineOptions:
    """Which engine computes the diff, and its settings."""

    engine: str = "duckdb"
    memory_limit: str = "1GB"
    threads: int | None = None
    direct_s3: bool = False
    workgroup: str | None = None
    athena_database: str = "default"
    athena_output: str | None = None

    def open(self, ctx: DrContext, s3: Any, report: Report) -> Engine:
        """The engine; what it makes in AWS (Athena's tables) goes in the report's ledger."""
        if self.engine == "athena":
            from formkiq_backup.exportdiff.athena_engine import AthenaEngine

            if not self.workgroup:
                raise SetupError("--engine athena needs --workgroup")
            workgroup = self.workgroup

            def track(name: str, drop: Callable[[], bool]) -> Made:
                return report.ledger.ask(
                    "athena",
                    "athena table",
                    name,
                    "CREATE EXTERNAL TABLE sent, no answer yet",
                    remove=drop,
                    by_hand=f"aws athena start-query-execution --work-group {workgroup} "
                    f"--query-string 'DROP TABLE IF EXISTS {name}'",
                )

            return AthenaEngine(
                ctx.client("athena"),
                s3,
                workgroup=workgroup,
                database=self.athena_database,
                output_location=self.athena_output,
                track=track,
            )
        from formkiq_backup.exportdiff.duckdb_engine import DuckDbEngine

        return DuckDbEngine(
            s3,
            credentials=ctx.session.get_credentials() if self.direct_s3 else None,
            memory_limit=self.memory_limit,
            threads=self.threads,
            direct_s3=self.direct_s3,
        )


def _read_only_s3(ctx: DrContext) -> Any:
    """An S3 client for which every FormKiQ bucket and the exports bucket are read-only."""
    environment = ctx.environment
    exports = exports_bucket_name(environment.app_environment, environment.account_id)
    buckets = [b.name for b in environment.protected_buckets] + [exports]
    return SourceGuard([], buckets).attach(ctx.client("s3"))


def resolve_export(
    ctx: DrContext, s3: Any, text: str, option: str, *, full_only: bool = False
) -> Export:
    """`s3://.../AWSDynamoDB/<id>/` or `latest:<table>` (documents, documentsyncs or a
    protected table's name: its newest finished export in the exports bucket; the newest full
    one with `full_only`, for a reference)."""
    if text.startswith(LATEST):
        table = resolve_table(ctx, text.removeprefix(LATEST))
        environment = ctx.environment
        bucket = exports_bucket_name(environment.app_environment, environment.account_id)
        location = newest_export(s3, bucket, table_prefix(table), full_only=full_only)
        if location is None:
            raise SetupError(
                f"{option} {text}: no finished export of {table} in s3://{bucket}/"
                f"{table_prefix(table)} (formkiq-dr export-now {table} makes one)"
            )
    else:
        try:
            location = ExportLocation.parse(text)
        except ValueError as error:
            raise SetupError(f"{option} {error}") from error
    return read_export(s3, location)


def _protected_export(ctx: DrContext, export: Export, option: str) -> str:
    protected = {t.name for t in ctx.environment.protected_tables}
    if export.table_name not in protected:
        raise SetupError(
            f"{option}: {export.describe()} is not of a table FormKiQ {ctx.app_environment} "
            f"protects ({', '.join(sorted(protected))})"
        )
    return export.table_name


def _checked(report: Report, body: Callable[[], None]) -> None:
    """A failed export check (a corrupt manifest, a missing or changed file) fails the command
    (exit 1) with its reason; exports that cannot be compared are a usage error (exit 2)."""
    try:
        body()
    except (ExportCheckError, EngineError) as error:
        report.add("export", "check", Status.FAIL, str(error))
        report.stop(str(error), EXIT_FAILED)
    except ExportMismatchError as error:
        raise SetupError(str(error)) from error


def _diff(
    ctx: DrContext,
    s3: Any,
    reference: Export,
    live: Export | str,
    *,
    site: str | None,
    engine_options: EngineOptions,
    dynamodb: Any,
    on_scan: ScanProgress | None,
    on_step: Callable[[str], None],
    report: Report,
) -> tuple[TableDiff, dict[str, object]]:
    """The diff of `reference` against a later export of its table, or against the live table
    itself (a scan, compared in this process: the reference still needs no restore)."""
    keys = table_key_attributes(dynamodb, reference.table_name)
    if isinstance(live, str):
        on_step(f"comparing {reference.describe()} with table {live}")
        diff = TableDiff(keys)
        try:
            with TemporaryDirectory(prefix="formkiq-dr-export-") as directory:
                diff.collect(
                    export_items(s3, reference, site, directory=Path(directory)),
                    scan(
                        dynamodb,
                        live,
                        filter_expression=site_filter_expression(site) if site else None,
                        keep=site_member(site) if site else None,
                        on_page=page_counter(on_scan, live),
                        segments=READ_SEGMENTS,
                    ),
                )
        except BaseException:
            diff.close()
            raise
        return diff, {"engine": "in-process", "live": f"table {live} (scanned)"}
    on_step(f"comparing {reference.describe()} with {live.describe()} ({engine_options.engine})")
    engine = engine_options.open(ctx, s3, report)
    try:
        return diff_exports(engine, reference, live, keys, site=site)
    finally:
        engine.close()


def _plan(report: Report, diff: TableDiff, subject: str, delete_new: bool, started: float) -> int:
    """The plan in `repair`'s words and shape (summary `plan`, `changes`, the `diff` entry and
    its first lines), and per site (`sites`); returns how many writes it has."""
    writes = report_plan(report, diff, subject, delete_new, time.monotonic() - started)
    report.summary["sites"] = _per_site(diff.changes(), delete_new)
    return writes


def _per_site(changes: Iterator[Change], delete_new: bool) -> dict[str, dict[str, int]]:
    """Planned actions per site (an item of several sites counts in each; the site registry
    under `(no site)`)."""
    found: dict[str, Counter[str]] = {}
    for change in changes:
        item = change.wanted or change.found or change.key
        sites = ["(no site)"] if is_global(item) else sorted(item_sites(item)) or [DEFAULT_SITE]
        for site in sites:
            found.setdefault(site, Counter())[planned_action(change, delete_new)] += 1
    return {site: dict(counts) for site, counts in sorted(found.items())}


def _live_side(ctx: DrContext, s3: Any, text: str, reference: Export) -> Export | str:
    """`--to`: an export (`s3://...`, `latest:...`), or the table the reference is of."""
    if text.startswith(("s3://", LATEST)):
        return resolve_export(ctx, s3, text, "--to")
    table = resolve_table(ctx, text)
    if table != reference.table_name:
        raise SetupError(
            f"--to {text}: table {table}, while --from is {reference.describe()}: give the "
            "table the export is of"
        )
    return table


def _describe_live(live: Export | str) -> str:
    return f"table {live} (scanned)" if isinstance(live, str) else live.describe()


def run_diff_exports(
    ctx: DrContext,
    report: Report,
    *,
    reference_text: str,
    live_text: str,
    site: str | None,
    engine_options: EngineOptions,
    on_scan: ScanProgress,
    on_step: Callable[[str], None],
) -> None:
    """What `repair` would put back, overwrite and keep between an export and a later export
    of the same table (or the live table), per site; nothing is written."""
    s3 = _read_only_s3(ctx)
    dynamodb = SourceGuard([t.name for t in ctx.environment.protected_tables], []).attach(
        ctx.client("dynamodb")
    )
    if site is not None:
        require_site(ctx, site)

    def body() -> None:
        reference = resolve_export(ctx, s3, reference_text, "--from", full_only=True)
        _protected_export(ctx, reference, "--from")
        live = _live_side(ctx, s3, live_text, reference)
        report.summary.update(
            table=reference.table_name,
            scope=f"site {site}" if site else "whole table",
            reference=reference.describe(),
            referenceExport=reference.location.url,
            live=_describe_live(live),
        )
        started = time.monotonic()
        diff, details = _diff(
            ctx,
            s3,
            reference,
            live,
            site=site,
            engine_options=engine_options,
            dynamodb=dynamodb,
            on_scan=on_scan,
            on_step=on_step,
            report=report,
        )
        with diff:
            report.summary["engine"] = details
            writes = _plan(report, diff, reference.table_name, False, started)
            # Read as repair's dry run would be: no write to make is unchanged.
            scope = str(report.summary["scope"])
            report.conclude(plan_outcome(diff, scope, writes, apply=False, report=report))

    _checked(report, body)


@dataclass(frozen=True)
class RepairFromExport:
    """What `repair --from-export` was asked to do."""

    table: str
    site: str | None
    reference_text: str
    live_export_text: str | None
    apply: bool
    delete_new: bool
    writers: int = DEFAULT_WRITERS


def run_repair_from_export(
    ctx: DrContext,
    report: Report,
    request: RepairFromExport,
    *,
    engine_options: EngineOptions,
    on_scan: ScanProgress,
    on_step: Callable[[str], None],
) -> None:
    """`repair --from-export`: the export is the reference; the live side is the table (read by
    a scan) or, with `--live-export`, a later export of it (the table is not read at all).
    Writes are conditional either way, so anything that changed since is a conflict."""
    live = resolve_table(ctx, request.table)
    if request.site is not None:
        require_site(ctx, request.site)
    s3 = _read_only_s3(ctx)
    protected = {t.name for t in ctx.environment.protected_tables}
    # Only the repaired table may be written, and only with --apply.
    writable = {live} if request.apply else set()
    dynamodb = SourceGuard(protected - writable, []).attach(ctx.client("dynamodb"))

    def body() -> None:
        reference = resolve_export(ctx, s3, request.reference_text, "--from-export", full_only=True)
        if reference.table_name != live:
            raise SetupError(
                f"--from-export: {reference.describe()} is an export of another table than "
                f"{live}, the table being repaired"
            )
        live_side: Export | str = live
        if request.live_export_text is not None:
            live_side = resolve_export(ctx, s3, request.live_export_text, "--live-export")
        _summarise_repair(report, request, live, reference, live_side)
        started = time.monotonic()
        diff, details = _diff(
            ctx,
            s3,
            reference,
            live_side,
            site=request.site,
            engine_options=engine_options,
            dynamodb=dynamodb,
            on_scan=on_scan,
            on_step=on_step,
            report=report,
        )
        with diff:
            report.summary["engine"] = details
            writes = _plan(report, diff, live, request.delete_new, started)
            scope = str(report.summary["scope"])
            report.conclude(plan_outcome(diff, scope, writes, apply=request.apply, report=report))
            if request.apply and writes:
                on_step(f"writing {writes} changes to {live}")
                apply_plan(
                    dynamodb, live, diff, request.delete_new, report, writers=request.writers
                )

    _checked(report, body)


def _summarise_repair(
    report: Report, request: RepairFromExport, live: str, reference: Export, side: Export | str
) -> None:
    report.summary.update(
        table=live,
        scope=f"site {request.site}" if request.site else "whole table",
        source=f"{reference.describe()}: no restore",
        referenceExport=reference.location.url,
        live=_describe_live(side),
        mode="apply" if request.apply else "dry-run",
        newItems="deleted (--delete-new)" if request.delete_new else "kept",
    )


def run_drill_from_export(
    ctx: DrContext,
    report: Report,
    *,
    restored_text: str,
    reference_text: str,
    strict: bool,
    engine_options: EngineOptions,
    on_step: Callable[[str], None],
) -> None:
    """`drill --from-export`: a restored table's export against a reference export of the same
    table (e.g. the source's, at the recovery point): item counts, and every item compared.
    Nothing is restored, written or deleted."""
    s3 = _read_only_s3(ctx)
    dynamodb = SourceGuard([t.name for t in ctx.environment.protected_tables], []).attach(
        ctx.client("dynamodb")
    )

    def body() -> None:
        reference = resolve_export(ctx, s3, reference_text, "--reference-export", full_only=True)
        restored = resolve_export(ctx, s3, restored_text, "--from-export", full_only=True)
        table = _protected_export(ctx, reference, "--reference-export")
        if restored.incremental:
            raise SetupError(f"--from-export: {restored.describe()}: give a full export")
        # A restored table has a name (and ARN) of its own: it stands in for the reference's.
        standing_in = replace(
            restored,
            table_arn=reference.table_arn,
            export_time=max(restored.export_time, reference.export_time),
        )
        report.summary.update(
            table=table, reference=reference.describe(), restored=restored.describe(), strict=strict
        )
        started = time.monotonic()
        diff, details = _diff(
            ctx,
            s3,
            reference,
            standing_in,
            site=None,
            engine_options=engine_options,
            dynamodb=dynamodb,
            on_scan=None,
            on_step=on_step,
            report=report,
        )
        with diff:
            _integrity(
                report,
                table,
                diff,
                strict=strict,
                seconds=time.monotonic() - started,
                details=details,
            )

    _checked(report, body)


def _integrity(
    report: Report,
    table: str,
    diff: TableDiff,
    *,
    strict: bool,
    seconds: float,
    details: dict[str, object],
) -> None:
    """The drill's integrity entry: PASS when every item is the reference's."""
    counts = diff.counts()
    data = {
        "sourceItems": diff.reference_count,
        "restoredItems": diff.live_count,
        "missing": counts[Action.PUT],
        "different": counts[Action.OVERWRITE],
        "extra": counts[Action.DELETE],
        "engine": details,
    }
    if not any(counts.values()):
        detail = f"{diff.live_count} items, every one identical to the reference"
        report.add("integrity", table, Status.PASS, detail, seconds, **data)
    else:
        detail = (
            f"restored {diff.live_count} items vs {diff.reference_count}: "
            f"{counts[Action.PUT]} missing, {counts[Action.OVERWRITE]} different, "
            f"{counts[Action.DELETE]} extra"
        )
        report.add(
            "integrity", table, Status.FAIL if strict else Status.WARN, detail, seconds, **data
        )
    report.summary["measuredRecoverySeconds"] = round(seconds, 3)
