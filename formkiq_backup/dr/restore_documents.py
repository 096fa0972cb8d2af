"""`formkiq-dr restore-documents`: a site's (or prefix's) content back to a point in time.

Dry-run by default: the plan says, per object, whether it is unchanged, undeleted (later delete
markers removed), copied back (an old version copied on top) or left alone (created after the
time). Restore metadata first (`repair`), then content: FormKiQ reacts to object events.
"""

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from formkiq_backup.dr.context import DrContext, SetupError
from formkiq_backup.dr.documents import (
    ObjectAction,
    ObjectPlan,
    apply_object_plan,
    plan_point_in_time,
)
from formkiq_backup.dr.ledger import Record
from formkiq_backup.dr.report import Report, ResourceState, Status, scope_outcome
from formkiq_backup.dr.scope import require_site
from formkiq_backup.dr.tables import SourceGuard
from formkiq_backup.sites import object_belongs_to_site, site_prefix


def run_restore_documents(
    ctx: DrContext,
    report: Report,
    *,
    site: str | None,
    prefix: str | None,
    at: datetime,
    apply: bool,
    on_object: Callable[[], None],
) -> None:
    """Plan, and with `apply` carry out, the point-in-time restore of documents.

    Neither `site` nor `prefix`: the whole bucket (the CLI asks for `--whole-bucket`).
    """
    if site is not None and prefix is not None:
        raise SetupError("give --site or --prefix, not both")
    environment = ctx.environment
    if site is not None:
        require_site(ctx, site)
    bucket = environment.documents_bucket.name
    # A dry run cannot change anything; an applied one may change only the documents bucket.
    guard = SourceGuard([t.name for t in environment.protected_tables], [] if apply else [bucket])
    s3 = guard.attach(ctx.client("s3"))
    scope_prefix = site_prefix(site) if site else (prefix or "")
    keep = (lambda key: object_belongs_to_site(key, site)) if site else None
    report.summary.update(
        bucket=bucket,
        at=at.isoformat(),
        scope=f"site {site}" if site else (f"prefix '{prefix}'" if prefix else "whole bucket"),
        mode="apply" if apply else "dry-run",
    )

    plans = plan_point_in_time(s3, bucket, scope_prefix, at, keep)
    _report_plan(report, bucket, plans, scope_prefix, apply=apply)
    changes = [plan for plan in plans if plan.action in _CHANGES]
    if apply:
        _apply(report, s3, bucket, changes, on_object)
    report.conclude(scope_outcome(matched=bool(plans), changes=bool(changes), apply=apply))


# What changes an object (the rest are left as they are).
_CHANGES = (ObjectAction.UNDELETE, ObjectAction.COPY_VERSION)


def _report_plan(
    report: Report, bucket: str, plans: list[ObjectPlan], prefix: str, *, apply: bool
) -> None:
    """How many objects the scope matched and what each needs; a scope matching none says so."""
    counts = Counter(plan.action for plan in plans)
    report.summary["plan"] = {action.value: counts[action] for action in ObjectAction}
    report.summary["matched"] = len(plans)
    report.add(
        "plan", bucket, Status.INFO, ", ".join(f"{counts[a]} {a.value}" for a in ObjectAction)
    )
    if not plans:
        where = f"under '{prefix}'" if prefix else "at all"
        report.add(
            "scope",
            str(report.summary["scope"]),
            Status.WARN,
            f"no object and no version {where} in {bucket}: nothing matched",
        )
    for plan in plans:
        if plan.action is ObjectAction.CREATED_AFTER:
            report.add("documents", plan.key, Status.INFO, "created after --at: left as is")
        elif plan.action in _CHANGES and not apply:
            report.add("documents", plan.key, Status.INFO, f"would {_describe(plan)}")


def _describe(plan: ObjectPlan) -> str:
    if plan.action is ObjectAction.UNDELETE:
        return (
            f"remove {len(plan.delete_markers)} delete marker(s); version "
            f"{plan.version_id} becomes current"
        )
    return f"copy version {plan.version_id} on top"


def _apply(
    report: Report,
    s3: Any,
    bucket: str,
    changes: list[ObjectPlan],
    on_object: Callable[[], None],
) -> None:
    """Each object's change, in the report's ledger: the whole plan first (not reached), then
    each object as it is asked for and answered. Stopped part-way, the report says which
    objects were changed, which one was in flight (it may have changed) and which were not
    reached (left as they were); nothing is undone, since every change is the point."""
    records = [
        report.ledger.plan(
            "documents",
            "object",
            plan.key,
            f"not reached: left as it was (would {_describe(plan)})",
        )
        for plan in changes
    ]
    try:
        for plan, record in zip(changes, records, strict=True):
            record.asked(f"{_describe(plan)}: sent, no answer yet: it may have changed")

            def removed(count: int, plan: ObjectPlan = plan, record: Record = record) -> None:
                total = len(plan.delete_markers)
                record.progress(
                    f"{_describe(plan)}: {count} of {total} removed, the next sent without an "
                    "answer: the object may still read as deleted"
                )

            with record.sending():
                apply_object_plan(s3, bucket, plan, on_marker_removed=removed)
            record.done(f"done: {_describe(plan)}")
            on_object()
    finally:
        states = Counter(record.state.value for record in records)
        report.summary["applied"] = {state.value: states[state.value] for state in _OBJECT_STATES}


_OBJECT_STATES = (
    ResourceState.DONE,
    ResourceState.REQUESTED,
    ResourceState.REFUSED,
    ResourceState.NOT_REACHED,
)
