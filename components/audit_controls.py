"""Backup Audit Manager controls: what each evaluates, its parameters, and their rules.

Each capability contributes the controls that evidence what it builds (the plan's frequency and
retention, manual deletion disabled, restore times, cross-region copies, vault lock), with
parameters derived from the stack's settings; the audit framework gathers them. The functions
below make one control each, named as the capability would say it; `control_problems` checks a
control before anything is registered, because CreateFramework would only refuse it at deploy.

Control names and parameters: AWS Backup developer guide, "Choosing your controls",
"Controls and remediation" and "Creating frameworks using the AWS Backup API"; parameter rules
from the AWS Config managed rules the controls deploy (config/latest/developerguide, one page
per rule). Every parameter value is a string (ControlInputParameter.ParameterValue).
"""

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from formkiq_backup import aws_rules

# Each control's parameters, as CreateFramework names them.
CONTROL_PARAMETERS: Mapping[str, frozenset[str]] = {
    "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN": frozenset(),
    "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK": frozenset(
        {"requiredFrequencyUnit", "requiredFrequencyValue", "requiredRetentionDays"}
    ),
    "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED": frozenset({"principalArnList"}),
    "BACKUP_RECOVERY_POINT_ENCRYPTED": frozenset(),
    "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK": frozenset({"requiredRetentionDays"}),
    "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION": frozenset({"crossRegionList"}),
    "BACKUP_RESOURCES_PROTECTED_BY_CROSS_ACCOUNT": frozenset({"crossAccountList"}),
    # Parameter names as the AWS Config rule behind it spells them (resources protected by
    # backup plan rules: minRetentionDays, maxRetentionDays).
    "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK": frozenset(
        {"minRetentionDays", "maxRetentionDays"}
    ),
    "BACKUP_LAST_RECOVERY_POINT_CREATED": frozenset(
        {"recoveryPointAgeUnit", "recoveryPointAgeValue"}
    ),
    "RESTORE_TIME_FOR_RESOURCES_MEET_TARGET": frozenset({"maxRestoreTime"}),
    "RESOURCES_IN_LOGICALLY_AIR_GAPPED_VAULT": frozenset(
        {"recoveryPointAgeUnit", "recoveryPointAgeValue"}
    ),
}
_INTEGER_PARAMETERS = frozenset(
    {
        "requiredFrequencyValue",
        "requiredRetentionDays",
        "minRetentionDays",
        "maxRetentionDays",
        "recoveryPointAgeValue",
        "maxRestoreTime",
    }
)


@dataclass(frozen=True)
class AuditControl:
    """One control of the audit framework, and what it is scoped to."""

    name: str
    parameters: Mapping[str, str] = field(default_factory=dict)
    resource_types: Sequence[str] = ()
    """ControlScope.ComplianceResourceTypes: evaluate these resource types only."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """ControlScope.Tags: one key (and value) naming the plans or vaults evaluated."""
    evidences: str = ""
    """What a compliant result proves, for a reviewer of the preview."""


def control_problems(control: AuditControl) -> list[str]:
    """What CreateFramework (or the control's AWS Config rule) would refuse in `control`."""
    known = CONTROL_PARAMETERS.get(control.name)
    if known is None:
        guess = difflib.get_close_matches(control.name, list(CONTROL_PARAMETERS), n=1)
        hint = f"; did you mean {guess[0]}?" if guess else ""
        return [f"{control.name!r} is not a Backup Audit Manager control{hint}"]
    found = []
    for name, value in control.parameters.items():
        if name not in known:
            guess = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.5)
            takes = "no parameters" if not known else "only " + ", ".join(sorted(known))
            hint = f"did you mean {guess[0]}?" if guess else f"it takes {takes}"
            found.append(f"{control.name}: {name!r} is not one of its parameters; {hint}")
        elif name in _INTEGER_PARAMETERS and not (value.isdigit() and int(value) >= 1):
            found.append(f"{control.name}: {name}={value!r} must be a whole number >= 1")
    if found:
        return found
    found += _value_problems(control)
    if len(control.tags) > 1:
        found.append(f"{control.name}: a control scope takes one tag (ControlScope.Tags)")
    found += [
        f"{control.name}: {kind!r} is not an AWS Backup resource type"
        for kind in control.resource_types
        if kind not in aws_rules.BACKUP_RESOURCE_TYPES
    ]
    return found


def _value_problems(control: AuditControl) -> list[str]:
    """Parameter values each control's rule bounds."""
    parameters, name = control.parameters, control.name
    found = []
    for unit_key, value_key, limits in (
        ("requiredFrequencyUnit", "requiredFrequencyValue", aws_rules.MAX_FREQUENCY),
        ("recoveryPointAgeUnit", "recoveryPointAgeValue", aws_rules.MAX_RECOVERY_POINT_AGE),
    ):
        if unit_key not in parameters:
            continue
        unit = parameters[unit_key]
        if unit not in limits:
            found.append(f"{name}: {unit_key}={unit!r} must be hours or days")
        elif value_key in parameters and int(parameters[value_key]) > limits[unit]:
            found.append(
                f"{name}: {value_key}={parameters[value_key]} {unit} is more than the "
                f"{limits[unit]} {unit} the control takes"
            )
    principals = [arn for arn in parameters.get("principalArnList", "").split(",") if arn]
    if len(principals) > aws_rules.MAX_MANUAL_DELETION_PRINCIPALS:
        found.append(
            f"{name}: {len(principals)} principals in principalArnList; the control exempts at "
            f"most {aws_rules.MAX_MANUAL_DELETION_PRINCIPALS} IAM roles"
        )
    found += [
        f"{name}: principalArnList entry {arn!r} is not an IAM role ARN"
        for arn in principals
        if not aws_rules.is_iam_role_arn(arn)
    ]
    regions = aws_rules.region_partitions()
    found += [
        f"{name}: crossRegionList entry {region!r} is not a region AWS Backup runs in"
        for region in parameters.get("crossRegionList", "").split(",")
        if region and region not in regions
    ]
    low, high = parameters.get("minRetentionDays"), parameters.get("maxRetentionDays")
    if low is not None and high is not None and int(low) > int(high):
        found.append(f"{name}: minRetentionDays={low} is more than maxRetentionDays={high}")
    return found


def framework_problems(controls: Sequence[AuditControl]) -> list[str]:
    """A framework's controls: each valid, each once, and within the account's 50."""
    found = [problem for control in controls for problem in control_problems(control)]
    names = [control.name for control in controls]
    # One control of each name: whether a framework takes the same control twice (with two
    # scopes) is not documented, and each would count against the 50 anyway.
    found += [f"control {n} is given twice" for n in sorted(set(names)) if names.count(n) > 1]
    if len(controls) > aws_rules.MAX_AUDIT_CONTROLS:
        found.append(
            f"{len(controls)} controls; an account holds at most {aws_rules.MAX_AUDIT_CONTROLS} "
            "per region, across all its frameworks"
        )
    if not controls:
        found.append("a framework needs at least one control")
    return found


# --- the controls, as the capabilities that evidence them make them --------------------------


def protected_by_backup_plan(resource_types: Sequence[str]) -> AuditControl:
    return AuditControl(
        "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
        resource_types=tuple(resource_types),
        evidences="every protected resource is in a backup plan",
    )


def plan_frequency_and_retention(
    unit: str, value: int, retention_days: int, plan_tags: Mapping[str, str]
) -> AuditControl:
    return AuditControl(
        "BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK",
        {
            "requiredFrequencyUnit": unit,
            "requiredFrequencyValue": str(value),
            "requiredRetentionDays": str(retention_days),
        },
        tags=dict(plan_tags),
        evidences=f"the plan backs up at least every {value} {unit}, kept {retention_days} days",
    )


def recovery_point_minimum_retention(days: int, resource_types: Sequence[str]) -> AuditControl:
    return AuditControl(
        "BACKUP_RECOVERY_POINT_MINIMUM_RETENTION_CHECK",
        {"requiredRetentionDays": str(days)},
        resource_types=tuple(resource_types),
        evidences=f"every recovery point is kept at least {days} days",
    )


def recovery_points_encrypted(resource_types: Sequence[str]) -> AuditControl:
    return AuditControl(
        "BACKUP_RECOVERY_POINT_ENCRYPTED",
        resource_types=tuple(resource_types),
        evidences="every recovery point is encrypted",
    )


def manual_deletion_disabled(
    principal_arns: Sequence[str], vault_tags: Mapping[str, str]
) -> AuditControl:
    parameters = {"principalArnList": ",".join(principal_arns)} if principal_arns else {}
    return AuditControl(
        "BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED",
        parameters,
        tags=dict(vault_tags),
        evidences="only the break-glass roles may delete recovery points from the vaults",
    )


def _age(hours: int) -> tuple[str, int]:
    """A recovery point age as the controls take it: whole days where it is, else hours."""
    return ("days", hours // 24) if hours % 24 == 0 else ("hours", hours)


def last_recovery_point_created(max_age_hours: int, resource_types: Sequence[str]) -> AuditControl:
    unit, value = _age(max_age_hours)
    return AuditControl(
        "BACKUP_LAST_RECOVERY_POINT_CREATED",
        {"recoveryPointAgeUnit": unit, "recoveryPointAgeValue": str(value)},
        resource_types=tuple(resource_types),
        evidences=f"every protected resource has a recovery point younger than {value} {unit}",
    )


def restore_time_meets_target(minutes: int, resource_types: Sequence[str]) -> AuditControl:
    return AuditControl(
        "RESTORE_TIME_FOR_RESOURCES_MEET_TARGET",
        {"maxRestoreTime": str(minutes)},
        resource_types=tuple(resource_types),
        evidences=f"restore tests complete within {minutes} minutes (the tier's RTO)",
    )


def protected_cross_region(regions: Sequence[str], resource_types: Sequence[str]) -> AuditControl:
    return AuditControl(
        "BACKUP_RESOURCES_PROTECTED_BY_CROSS_REGION",
        {"crossRegionList": ",".join(regions)},
        resource_types=tuple(resource_types),
        evidences="every protected resource's backups are copied to " + ", ".join(regions),
    )


def protected_by_vault_lock(
    min_retention_days: int, max_retention_days: int, resource_types: Sequence[str]
) -> AuditControl:
    return AuditControl(
        "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_VAULT_LOCK",
        {"minRetentionDays": str(min_retention_days), "maxRetentionDays": str(max_retention_days)},
        resource_types=tuple(resource_types),
        evidences="backups land in a locked vault",
    )


def resources_in_air_gapped_vault(
    max_age_hours: int, resource_types: Sequence[str]
) -> AuditControl:
    unit, value = _age(max_age_hours)
    return AuditControl(
        "RESOURCES_IN_LOGICALLY_AIR_GAPPED_VAULT",
        {"recoveryPointAgeUnit": unit, "recoveryPointAgeValue": str(value)},
        resource_types=tuple(resource_types),
        evidences=f"every copied resource has a copy younger than {value} {unit} in a logically "
        "air-gapped vault",
    )
