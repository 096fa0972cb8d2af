"""`formkiq-dr restore-documents`: a site's (or prefix's) content back to a point in time.

Dry-run by default: the plan says, per object, whether it is unchanged, undeleted (later delete
markers removed), copied back (an old version copied on top) or left alone (created after the
time). Restore metadata first (`repair`), then content: FormKiQ reacts to object events.
"""

from collections import Counter
from collections.abc import Callable
from datetime import datetime

from formkiq_backup.dr.context import DrContext, SetupError
from formkiq_backup.dr.documents import ObjectAction, apply_object_plan, plan_point_in_time
from formkiq_backup.dr.report import Report, Status
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
    counts = Counter(plan.action for plan in plans)
    report.summary["plan"] = {action.value: counts[action] for action in ObjectAction}
    report.add(
        "plan", bucket, Status.INFO, ", ".join(f"{counts[a]} {a.value}" for a in ObjectAction)
    )
    for plan in plans:
        if plan.action is ObjectAction.UNCHANGED:
            continue
        if plan.action is ObjectAction.CREATED_AFTER:
            report.add("documents", plan.key, Status.INFO, "created after --at: left as is")
            continue
        detail = (
            f"remove {len(plan.delete_markers)} delete marker(s); version "
            f"{plan.version_id} becomes current"
            if plan.action is ObjectAction.UNDELETE
            else f"copy version {plan.version_id} on top"
        )
        if apply:
            apply_object_plan(s3, bucket, plan)
            on_object()
            report.add("documents", plan.key, Status.PASS, f"done: {detail}")
        else:
            report.add("documents", plan.key, Status.INFO, f"would {detail}")
