"""`formkiq-dr verify`: the live backup posture, checked against what a tier promises.

PITR and versioning use the same checks as the posture-guard Lambda (formkiq_backup.posture).
A tier's capabilities (tiers.definitions) decide which of the rest are requirements (FAIL when
missing) and which are information. With the stack's outputs (`--stack-outputs`), what the
stack built is required too: its vaults (and their locks, with the bounds it set), the tables
and buckets it protects, its replications, its global table replicas (each ACTIVE, with PITR,
within the RPO) and its logically air-gapped vault. The DR region's checks (replication, copies,
replicas) are in formkiq_backup.dr.dr_region; global table replicas in formkiq_backup.dr.replicas;
vaults and locks in formkiq_backup.dr.vault_locks, which failover-check shares.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from formkiq_backup.dr.context import DrContext, require_access
from formkiq_backup.dr.dr_region import (
    DrExpectations,
    check_dr_copies,
    check_replication_setup,
    dr_expectations,
)
from formkiq_backup.dr.expectations import StackExpectations
from formkiq_backup.dr.replicas import check_global_tables, replica_expectations
from formkiq_backup.dr.report import Report, Status, pitr_detail
from formkiq_backup.dr.vault_locks import (
    check_air_gapped_vault,
    check_vault,
    report_lock,
)
from formkiq_backup.posture import (
    check_bucket_versioning,
    check_table_pitr,
    is_fresh,
    newest_recovery_points,
)
from tiers.definitions import TIERS, Capability, Tier
from tiers.scope import Naming, ScopeRole


def run_verify(  # noqa: PLR0917  # the CLI's options, one each
    ctx: DrContext,
    report: Report,
    tier: Tier,
    dr_region: str | None,
    vaults: Iterable[str],
    expected: StackExpectations | None = None,
) -> None:
    """Add one entry per check to `report`."""
    spec = TIERS[tier]
    environment = ctx.environment
    report.summary.update(tier=tier.value, formkiqVersion=environment.version or "unknown")
    dynamodb, s3 = ctx.client("dynamodb"), ctx.client("s3")
    if expected is not None:
        report.summary["stackOutputs"] = str(expected.source)
        _check_protection(ctx, report, expected)

    for table in environment.protected_tables:
        finding = require_access(check_table_pitr(dynamodb, table.name))
        window = finding.details
        detail = pitr_detail(finding.observed, window)
        report.add(
            "pitr",
            table.name,
            Status.PASS if finding.compliant else Status.FAIL,
            detail,
            earliestRestorable=window.get("earliestRestorable"),
            latestRestorable=window.get("latestRestorable"),
        )
    bucket = environment.documents_bucket.name
    versioning = require_access(check_bucket_versioning(s3, bucket))
    report.add(
        "versioning",
        bucket,
        Status.PASS if versioning.compliant else Status.FAIL,
        versioning.observed,
    )

    dr = dr_expectations(ctx, spec, dr_region, expected)
    check_replication_setup(ctx, report, dr)
    vaults = set(vaults)
    if Capability.AWS_BACKUP in spec.capabilities or vaults:
        max_age = spec.recovery_point_max_age_hours
        if expected is not None:
            ages = [
                vault.max_recovery_point_age_hours
                for vault in expected.vaults
                if vault.max_recovery_point_age_hours and vault.region in (None, ctx.region)
            ]
            max_age = min(ages, default=max_age)
        # The DR vault's copies are checked on their own when the stack (or tier) has one.
        elsewhere = None if dr.dr_vault else dr_region
        seen_vaults = _check_recovery_points(ctx, report, max_age, elsewhere)
        check_dr_copies(ctx, report, dr)
        if expected is not None:
            _check_expected_vaults(ctx, report, expected)
        else:
            _check_vault_locks(ctx, report, vaults | seen_vaults, spec.capabilities, dr)
    _check_air_gapped(ctx, report, spec.capabilities, dr, expected)
    tables = [table.name for table in environment.protected_tables]
    check_global_tables(ctx, report, tables, replica_expectations(spec, dr_region, expected))
    if Capability.SYSTEM_EXPORTS in spec.capabilities:
        from formkiq_backup.dr.exports import check_export_health

        check_export_health(ctx, report, required=True)


def _check_protection(ctx: DrContext, report: Report, expected: StackExpectations) -> None:
    """The stack protects exactly what FormKiQ has now: a table added by a FormKiQ upgrade,
    or one gone, means the stack must be updated (`pulumi up`)."""
    environment = ctx.environment
    found = {
        "table": {t.name for t in environment.protected_tables},
        "bucket": {b.name for b in environment.protected_buckets},
    }
    built = {"table": set(expected.tables), "bucket": set(expected.buckets)}
    problems = 0
    for kind in ("table", "bucket"):
        for name in sorted(found[kind] - built[kind]):
            problems += 1
            report.add(
                "stack",
                name,
                Status.FAIL,
                f"FormKiQ has this {kind}, the stack does not protect it: run pulumi up",
            )
        for name in sorted(built[kind] - found[kind]):
            problems += 1
            report.add(
                "stack",
                name,
                Status.FAIL,
                f"the stack protects this {kind}, FormKiQ does not have it (any more)",
            )
    if not problems:
        report.add(
            "stack",
            str(expected.source),
            Status.PASS,
            f"protects exactly FormKiQ's {len(found['table'])} tables and "
            f"{len(found['bucket'])} buckets",
        )


def _check_expected_vaults(ctx: DrContext, report: Report, expected: StackExpectations) -> None:
    """Each vault the stack built is there, locked as the stack locked it (`vaultLocks`)."""
    for vault in expected.vaults:
        check_vault(
            ctx,
            report,
            vault.name,
            vault.region or ctx.region,
            lock_required=vault.locked,
            wanted=expected.lock_of(vault.name, vault.region),
        )


def _required(required: bool) -> Status:
    return Status.FAIL if required else Status.INFO


def _check_recovery_points(
    ctx: DrContext, report: Report, max_age_hours: int | None, dr_region: str | None
) -> set[str]:
    """Newest completed recovery point per protected resource and vault, against the RPO."""
    environment = ctx.environment
    resources = [(t.name, t.arn) for t in environment.protected_tables]
    resources += [(b.name, b.arn) for b in environment.protected_buckets]
    regions: list[str | None] = [None] + ([dr_region] if dr_region else [])
    now = datetime.now(UTC)
    vaults: set[str] = set()
    for region in regions:
        backup = ctx.client("backup", region)
        where = region or ctx.region
        for name, arn in resources:
            newest = newest_recovery_points(backup, arn)
            if region is None:  # vault locks are checked in the primary region
                vaults |= set(newest)
            if not newest:
                report.add(
                    "recovery points",
                    f"{name} ({where})",
                    _required(bool(max_age_hours)),
                    "no completed recovery point in any vault",
                )
                continue
            fresh = False
            for vault, created in sorted(newest.items()):
                age = now - created
                within = is_fresh(created, max_age_hours, now)
                fresh |= within
                limit = f" (tier allows {max_age_hours} h)" if max_age_hours else ""
                report.add(
                    "recovery points",
                    f"{name} ({where}, {vault})",
                    Status.PASS if within else Status.WARN,
                    f"newest {created.isoformat()}, {_hours(age)} old{limit}",
                    vault=vault,
                    newest=created.isoformat(),
                )
            if max_age_hours and not fresh:
                report.add(
                    "recovery points",
                    f"{name} ({where})",
                    Status.FAIL,
                    f"no vault has a recovery point younger than {max_age_hours} h",
                )
    return vaults


def _check_vault_locks(
    ctx: DrContext,
    report: Report,
    vaults: set[str],
    capabilities: Iterable[Capability],
    dr: DrExpectations,
) -> None:
    """Without the stack's outputs: the primary region's vaults, and the DR vault when the tier
    locks it; the bounds the stack set are not known here, only reported."""
    required = Capability.VAULT_LOCK in capabilities
    backup = ctx.client("backup")
    for vault in sorted(vaults):
        described = backup.describe_backup_vault(BackupVaultName=vault)
        report_lock(report, vault, described, required=required)
    if required and dr.dr_vault and dr.dr_region:
        check_vault(ctx, report, dr.dr_vault, dr.dr_region, lock_required=True)


def _check_air_gapped(
    ctx: DrContext,
    report: Report,
    capabilities: Iterable[Capability],
    dr: DrExpectations,
    expected: StackExpectations | None,
) -> None:
    """The stack's logically air-gapped vault; without its outputs, the one the tier names in
    drRegion (a stack may switch it off: missing is then a warning)."""
    if expected is not None:
        vault = expected.air_gapped_vault
        if vault is not None:
            region = vault.region or expected.dr_region or ctx.region
            wanted = expected.lock_of(vault.name, region)
            check_air_gapped_vault(ctx, report, vault.name, region, required=True, wanted=wanted)
        return
    if Capability.AIR_GAPPED_VAULT in capabilities and dr.dr_region:
        name = Naming.for_environment(ctx.app_environment, ScopeRole.DR).air_gapped_vault()
        check_air_gapped_vault(ctx, report, name, dr.dr_region, required=False)


def _hours(age: timedelta) -> str:
    return f"{age.total_seconds() / 3600:.1f} h"
