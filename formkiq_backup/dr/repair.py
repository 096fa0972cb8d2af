"""`formkiq-dr repair`: put a table (or one site of it) back as it was, without a cutover.

Restore into a temporary table, diff it against the live table, and write back only what
differs. Dry-run by default: the plan lists items to put (deleted since), overwrite (changed
since) and delete (created since). With `--apply`, every write is conditional on the live item
still being exactly what the plan saw, so a user's concurrent change is never clobbered
silently: it is reported as a conflict and left alone.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from botocore.exceptions import ClientError

from formkiq_backup.dr.context import DrContext, SetupError
from formkiq_backup.dr.report import Report, Status
from formkiq_backup.dr.tables import (
    RecoverySource,
    SourceGuard,
    backup_sources,
    check_reference_options,
    existing_reference,
    restore_to_new_table,
    scan,
    table_key_attributes,
    temporary_table_name,
    temporary_tables,
)
from formkiq_backup.formkiq import TableRole
from formkiq_backup.items import Item
from formkiq_backup.sites import belongs_to_site, is_site_id, site_filter_expression
from formkiq_backup.tablediff import Action, Change, TableDiff

# DynamoDB's limit on an expression string; larger guards fall back to fewer attributes.
MAX_EXPRESSION_CHARS = 4_000
PLAN_PREVIEW = 20
# Changes listed in the JSON report; a larger plan is counted, not listed (it stays on disk).
PLAN_LISTED = 10_000


class UnguardedItemError(ValueError):
    """An item a conditional write cannot protect: too many attributes for one condition."""


ScanProgress = Callable[[str, int], None]


def resolve_table(ctx: DrContext, name: str) -> str:
    """`documents`, `documentsyncs`, or a table name."""
    environment = ctx.environment
    if name == TableRole.DOCUMENTS.value:
        return environment.documents_table.name
    if name == TableRole.DOCUMENT_SYNCS.value:
        if environment.document_syncs_table is None:
            raise SetupError("--table documentsyncs: this FormKiQ (before v1.10) has none")
        return environment.document_syncs_table.name
    return name


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

    With `from_table` the reference is a table the operator already restored (in `from_region`,
    else here): no restore is started, and the guard keeps it read-only and undeleted.
    """
    if site is not None and not is_site_id(site):
        raise SetupError(f"--site {site!r}: a FormKiQ site id has letters, digits, '-' and '_'")
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
        table=live, scope=scope, source=source.describe(), mode="apply" if apply else "dry-run"
    )

    def left_behind(problem: str) -> None:
        report.add("cleanup", "temporary tables", Status.FAIL, problem)

    with temporary_tables(dynamodb, left_behind) as created:
        keys = table_key_attributes(dynamodb, live)
        if source.table:
            target = source.table
            existing_reference(reference_dynamodb, target, source.region, keys)
            report.add("reference", live, Status.PASS, f"{source.describe()}: no restore")
        else:
            target = temporary_table_name(live, "repair")
            created.append(target)
            on_step(f"restoring {live} ({source.describe()})")
            started = time.monotonic()
            restore_to_new_table(dynamodb, live, source, target, keep_indexes=False)
            report.add(
                "restore",
                live,
                Status.PASS,
                f"{source.describe()} -> {target}",
                time.monotonic() - started,
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
        ) as diff:
            counts = diff.counts()
            report.add(
                "diff",
                live,
                Status.INFO,
                f"{diff.reference_count} items then, {diff.live_count} now: "
                + ", ".join(f"{counts[a]} to {a.value}" for a in Action),
                time.monotonic() - started,
            )
            report.summary["plan"] = {action.value: counts[action] for action in Action}
            planned = sum(counts.values())
            report.summary["changes"] = [
                _describe(change) for change in islice(diff.changes(), PLAN_LISTED)
            ]
            if planned > PLAN_LISTED:
                report.summary["changesNotListed"] = planned - PLAN_LISTED
            for change in islice(diff.changes(), PLAN_PREVIEW):
                report.add("plan", _key_text(change.key), Status.INFO, change.action.value)
            if apply:
                on_step(f"writing {planned} changes to {live}")
                _apply(dynamodb, live, diff, delete_new, report)


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
) -> TableDiff:
    """One scan of each table (a site's items only, when given) into a finished diff.

    The caller closes it. Non-default sites are filtered server-side too, so fewer bytes come
    back; the client-side check also catches what a prefix cannot express (the default site).
    `reference_dynamodb` reads the reference when it lives in another region.
    """
    filter_expression = site_filter_expression(site) if site else None

    def keep(item: Item) -> bool:
        return site is None or belongs_to_site(item, site)

    def counter(table: str) -> Callable[[int], None] | None:
        return None if on_scan is None else (lambda n: on_scan(table, n))

    diff = TableDiff(keys)
    try:
        diff.collect(
            scan(
                reference_dynamodb or dynamodb,
                reference,
                filter_expression=filter_expression,
                keep=keep,
                on_page=counter(reference),
            ),
            scan(
                dynamodb,
                live,
                filter_expression=filter_expression,
                keep=keep,
                on_page=counter(live),
            ),
        )
    except BaseException:
        diff.close()
        raise
    return diff


def _apply(dynamodb: Any, table: str, diff: TableDiff, delete_new: bool, report: Report) -> None:
    outcome = {"written": 0, "conflicts": 0, "skipped": 0, "unguarded": 0}
    started = time.monotonic()
    for change in diff.changes():
        if change.action is Action.DELETE and not delete_new:
            outcome["skipped"] += 1
            continue
        try:
            _write(dynamodb, table, change)
            outcome["written"] += 1
        except UnguardedItemError as error:
            outcome["unguarded"] += 1
            report.add("unguarded", _key_text(change.key), Status.FAIL, f"not written: {error}")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            outcome["conflicts"] += 1
            report.add(
                "conflict",
                _key_text(change.key),
                Status.FAIL,
                f"changed since the plan was made: {change.action.value} not applied",
            )
    report.summary["applied"] = outcome
    report.add(
        "apply",
        table,
        Status.PASS if not (outcome["conflicts"] or outcome["unguarded"]) else Status.FAIL,
        f"{outcome['written']} written, {outcome['conflicts']} conflicts, "
        f"{outcome['unguarded']} too large to guard, {outcome['skipped']} deletions skipped",
        time.monotonic() - started,
    )


def _write(dynamodb: Any, table: str, change: Change) -> None:
    """One conditional write: the live item must still be as the plan saw it."""
    if change.action is Action.PUT:
        names = {f"#k{i}": name for i, name in enumerate(change.key)}
        dynamodb.put_item(
            TableName=table,
            Item=change.wanted,
            ConditionExpression=" AND ".join(f"attribute_not_exists({n})" for n in names),
            ExpressionAttributeNames=names,
        )
        return
    assert change.found is not None
    condition = unchanged_condition(change.found)
    if change.action is Action.OVERWRITE:
        dynamodb.put_item(TableName=table, Item=change.wanted, **condition)
    else:
        dynamodb.delete_item(TableName=table, Key=change.key, **condition)


def unchanged_condition(found: Mapping[str, Any]) -> dict[str, Any]:
    """A condition true only while every attribute still has the value the plan saw.

    Items too large for one 4 KB expression are guarded by their scalar attributes.
    """
    for attributes in (list(found), [n for n, v in found.items() if {"S", "N", "BOOL"} & set(v)]):
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {f":v{i}": found[name] for i, name in enumerate(attributes)}
        expression = " AND ".join(f"#a{i} = :v{i}" for i in range(len(attributes)))
        if len(expression) <= MAX_EXPRESSION_CHARS:
            return {
                "ConditionExpression": expression,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
    raise UnguardedItemError(
        f"{len(found)} attributes do not fit one {MAX_EXPRESSION_CHARS}-character condition, so "
        "a concurrent change could not be detected; restore this item by hand"
    )


def _key_text(key: Mapping[str, Any]) -> str:
    return " / ".join(str(next(iter(value.values()))) for value in key.values())


def _describe(change: Change) -> dict[str, Any]:
    return {"action": change.action.value, "key": _key_text(change.key)}
