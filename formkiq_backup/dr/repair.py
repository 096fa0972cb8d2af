"""`formkiq-dr repair`: put a table (or one site of it) back as it was, without a cutover.

Restore into a temporary table, diff it against the live table, and write back only what
differs. Dry-run by default: the plan lists items to put (deleted since), overwrite (changed
since) and keep (created since: legitimate work is never deleted unless `--delete-new` asks
for it). With `--apply`, every write is conditional on the live item still being exactly what
the plan saw, so a user's concurrent change is never clobbered silently: it is reported as a
conflict (formkiq_backup/dr/writes.py, shared with `repair --from-export`).
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from formkiq_backup.dr.context import DrContext, SetupError
from formkiq_backup.dr.report import Outcome, Report, Status, scope_outcome
from formkiq_backup.dr.scope import require_site
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
    is_large,
    map_segments,
    page_counter,
    restore_temporary_table,
    scan,
    table_key_attributes,
    worker_client,
    worker_page_counter,
    worker_profile,
)
from formkiq_backup.dr.writes import apply_plan, key_text
from formkiq_backup.formkiq import TableRole
from formkiq_backup.sites import site_filter_expression, site_member
from formkiq_backup.tablediff import Action, Change, TableDiff, store_side

PLAN_PREVIEW = 20
# Changes listed in the JSON report; a larger plan is counted, not listed (it stays on disk).
PLAN_LISTED = 10_000
# What the plan calls an item created after the recovery point that stays (the default).
KEEP = "keep"
KEPT_DETAIL = "kept: created after the recovery point (--delete-new deletes it)"


def resolve_table(ctx: DrContext, name: str) -> str:
    """`documents`, `documentsyncs`, or the name of a table FormKiQ's protection covers.

    Any other table is refused: repair writes to the table it names.
    """
    environment = ctx.environment
    if name == TableRole.DOCUMENTS.value:
        return environment.documents_table.name
    if name == TableRole.DOCUMENT_SYNCS.value:
        if environment.document_syncs_table is None:
            raise SetupError("--table documentsyncs: this FormKiQ (before v1.10) has none")
        return environment.document_syncs_table.name
    protected = [table.name for table in environment.protected_tables]
    if name not in protected:
        choices = [TableRole.DOCUMENTS.value]
        if environment.document_syncs_table is not None:
            choices.append(TableRole.DOCUMENT_SYNCS.value)
        raise SetupError(
            f"--table {name!r}: not a table FormKiQ {ctx.app_environment} protects; give "
            f"{' or '.join(choices)}, or one of {', '.join(protected)}"
        )
    return name


def planned_action(change: Change, delete_new: bool) -> str:
    """The plan's word for a change: items created after the recovery point are kept."""
    if change.action is Action.DELETE and not delete_new:
        return KEEP
    return change.action.value


def run_repair(
    ctx: DrContext,
    report: Report,
    *,
    table_name: str,
    site: str | None,
    at: datetime | None,
    backup_arn: str | None,
    apply: bool,
    delete_new: bool,
    on_scan: ScanProgress,
    on_step: Callable[[str], None],
    from_table: str | None = None,
    from_region: str | None = None,
) -> None:
    """Plan (and with `apply`, make) the writes that bring the live table back.

    `site` None repairs the whole table; the CLI asks for `--whole-table` to say so. With
    `from_table` the reference is a table the operator already restored (in `from_region`, else
    here): no restore is started, and the guard keeps it read-only and undeleted.
    """
    check_reference_options(
        from_tables=[from_table] if from_table else [],
        from_region=from_region,
        restore_options={"--at": at is not None, "--from-backup": backup_arn is not None},
    )
    if at is None and backup_arn is None and from_table is None:
        raise SetupError(
            "give --at TIME (PITR) or --from-backup ARN (or --from-table NAME, a table already "
            "restored): the state to go back to"
        )
    live = resolve_table(ctx, table_name)
    if site is not None:
        require_site(ctx, site)
    source, dynamodb, reference_dynamodb = _clients_and_source(
        ctx,
        live,
        at=at,
        backup_arn=backup_arn,
        from_table=from_table,
        from_region=from_region,
        apply=apply,
    )
    scope = f"site {site}" if site else "whole table"
    report.summary.update(
        table=live,
        scope=scope,
        source=source.describe(),
        mode="apply" if apply else "dry-run",
        newItems="deleted (--delete-new)" if delete_new else "kept",
    )

    keys = table_key_attributes(dynamodb, live)
    if source.table:
        target = source.table
        existing_reference(reference_dynamodb, target, source.region, keys)
        report.add("reference", live, Status.PASS, f"{source.describe()}: no restore")
    else:  # deleted on the way out by the report's ledger, whatever happens next
        target, _ = restore_temporary_table(
            dynamodb, report, live, source, "repair", keep_indexes=False, on_step=on_step
        )
    on_step(f"comparing {scope}")
    started = time.monotonic()
    with compare_tables(
        dynamodb,
        target,
        live,
        keys,
        site=site,
        on_scan=on_scan,
        reference_dynamodb=reference_dynamodb,
        in_workers=is_large(dynamodb, live),
        profile=worker_profile(ctx),
    ) as diff:
        writes = report_plan(report, diff, live, delete_new, time.monotonic() - started)
        report.conclude(plan_outcome(diff, scope, writes, apply=apply, report=report))
        if apply and writes:
            on_step(f"writing {writes} changes to {live}")
            apply_plan(dynamodb, live, diff, delete_new, report)


def report_plan(
    report: Report, diff: TableDiff, live: str, delete_new: bool, seconds: float
) -> int:
    """The plan (counts, the changes listed, a preview), in the summary and the entries;
    returns how many writes it has. Every repair reports its plan so, whatever the reference."""
    counts = diff.counts()
    plan = {
        Action.PUT.value: counts[Action.PUT],
        Action.OVERWRITE.value: counts[Action.OVERWRITE],
        Action.DELETE.value: counts[Action.DELETE] if delete_new else 0,
        KEEP: 0 if delete_new else counts[Action.DELETE],
    }
    report.add(
        "diff",
        live,
        Status.INFO,
        f"{diff.reference_count} items then, {diff.live_count} now: "
        + ", ".join(f"{count} to {action}" for action, count in plan.items()),
        seconds,
    )
    report.summary["plan"] = plan
    planned = sum(counts.values())
    report.summary["changes"] = [
        _describe(change, delete_new) for change in islice(diff.changes(), PLAN_LISTED)
    ]
    if planned > PLAN_LISTED:
        report.summary["changesNotListed"] = planned - PLAN_LISTED
    _preview(report, diff, plan, delete_new)
    return planned - plan[KEEP]


def plan_outcome(
    diff: TableDiff, scope: str, writes: int, *, apply: bool, report: Report
) -> Outcome:
    """Nothing in the scope, then or now, is nothing matched; nothing to write is unchanged;
    otherwise planned (a dry run) or done. Every plan of repair's shape ends so."""
    matched = bool(diff.reference_count or diff.live_count)
    if not matched:
        report.add(
            "scope",
            scope,
            Status.WARN,
            "no item in this scope, neither at the recovery point nor now: nothing matched",
        )
    return scope_outcome(matched=matched, changes=bool(writes), apply=apply)


def _preview(report: Report, diff: TableDiff, plan: Mapping[str, int], delete_new: bool) -> None:
    """The first writes under `plan` and the first kept items under `kept`, each with a count
    of the rest: the summary stays readable, the JSON lists them all (up to PLAN_LISTED)."""
    totals = {"plan": sum(plan.values()) - plan[KEEP], "kept": plan[KEEP]}
    shown = {"plan": 0, "kept": 0}
    for change in diff.changes():
        if all(shown[section] >= min(totals[section], PLAN_PREVIEW) for section in shown):
            break
        action = planned_action(change, delete_new)
        section = "kept" if action == KEEP else "plan"
        if shown[section] < PLAN_PREVIEW:
            shown[section] += 1
            detail = KEPT_DETAIL if action == KEEP else action
            report.add(section, key_text(change.key), Status.INFO, detail)
    for section, total in totals.items():
        if total > shown[section]:
            report.add(section, "...", Status.INFO, f"and {total - shown[section]} more")


def _clients_and_source(
    ctx: DrContext,
    live: str,
    *,
    at: datetime | None,
    backup_arn: str | None,
    from_table: str | None,
    from_region: str | None,
    apply: bool,
) -> tuple[RecoverySource, Any, Any]:
    """The reference's source, and guarded clients for the live table and the reference."""
    environment = ctx.environment
    protected = {t.name for t in environment.protected_tables}
    elsewhere = from_region not in (None, ctx.region)
    if from_table == live and not elsewhere:
        raise SetupError(f"--from-table {from_table}: that is the table being repaired")
    # Only the repaired table may be written, and only with --apply; the reference never.
    writable = {live} if apply else set()
    read_only = protected - writable | ({from_table} if from_table and not elsewhere else set())
    guard = SourceGuard(read_only, [b.name for b in environment.protected_buckets])
    dynamodb = guard.attach(ctx.client("dynamodb"))
    if from_table:
        if not elsewhere:
            return RecoverySource(table=from_table), dynamodb, dynamodb
        reference = SourceGuard([from_table], []).attach(ctx.client("dynamodb", from_region))
        return RecoverySource(table=from_table, region=from_region), dynamodb, reference
    if backup_arn:
        found = backup_sources(dynamodb, [backup_arn]).get(live)
        if found is None:
            raise SetupError(f"--from-backup {backup_arn} is not a backup of {live}")
        return found, dynamodb, dynamodb
    assert at is not None  # run_repair asked for one of the three
    check_restorable(dynamodb, live, at)
    return RecoverySource(at=at), dynamodb, dynamodb


def compare_tables(
    dynamodb: Any,
    reference: str,
    live: str,
    keys: Sequence[str],
    *,
    site: str | None,
    on_scan: ScanProgress | None = None,
    reference_dynamodb: Any | None = None,
    in_workers: bool = False,
    profile: str | None = None,
    read_segments: int = READ_SEGMENTS,
) -> TableDiff:
    """One scan of each table (a site's items only, when given) into a finished diff.

    The caller closes it. Non-default sites are filtered server-side too, so fewer bytes come
    back; the client-side check also catches what a prefix cannot express (the default site).
    `reference_dynamodb` reads the reference when it lives in another region. `in_workers`
    reads the two tables at once, each in a worker process of its own (clients made like these,
    with `profile`), which writes its side's file of the diff: the parent holds no items.
    Otherwise each table is read as `read_segments` segments at once, in threads, the live
    table's first pages asked for as soon as the reference's last one is in.
    """
    filter_expression = site_filter_expression(site) if site else None
    diff = TableDiff(keys)
    try:
        if in_workers:
            calls = [
                (
                    _SideRead(
                        ClientSpec.like(client, profile),
                        table,
                        filter_expression,
                        site,
                        tuple(keys),
                        path,
                    ),
                )
                for client, table, path in (
                    (reference_dynamodb or dynamodb, reference, diff.side_path("reference")),
                    (dynamodb, live, diff.side_path("live")),
                )
            ]
            reference_count, live_count = map_segments(
                _store_table, calls, processes=len(calls), on_page=on_scan
            )
            diff.collect_stored(reference_count, live_count)
            return diff
        keep = site_member(site) if site else None
        with TableScan(
            dynamodb,
            live,
            filter_expression=filter_expression,
            keep=keep,
            on_page=page_counter(on_scan, live),
            segments=read_segments,
        ) as live_items:
            reference_items = scan(
                reference_dynamodb or dynamodb,
                reference,
                filter_expression=filter_expression,
                keep=keep,
                on_page=page_counter(on_scan, reference),
                segments=read_segments,
                then=live_items,
            )
            diff.collect(reference_items, live_items)
    except BaseException:
        diff.close()
        raise
    return diff


@dataclass(frozen=True)
class _SideRead:
    """What a worker process needs to read one table into its side of the diff."""

    spec: ClientSpec
    table: str
    filter_expression: Mapping[str, Any] | None
    site: str | None
    keys: tuple[str, ...]
    path: Path


def _store_table(read: _SideRead) -> int:
    """In a worker process: one table's side of the diff, written to its file; its item count."""
    items = scan(
        worker_client(read.spec),
        read.table,
        filter_expression=read.filter_expression,
        keep=site_member(read.site) if read.site else None,
        on_page=worker_page_counter(read.table),
    )
    return store_side(read.path, items, read.keys)


def _describe(change: Change, delete_new: bool) -> dict[str, Any]:
    return {"action": planned_action(change, delete_new), "key": key_text(change.key)}
