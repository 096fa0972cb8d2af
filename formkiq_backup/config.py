"""The `formkiq-backup` configuration contract: keys, defaults and validation, parsed once.

`parse_settings` is pure (raw strings in, `BackupSettings` out) so the Pulumi program, the
offline preview and the tests share it. Every problem is collected and reported at once, each
naming the key, the value given and the rule, before any resource is registered.
"""

import difflib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from formkiq_backup import aws_rules
from formkiq_backup.aws_rules import CronSchedule, ExportSchedule, ScheduleError

NAMESPACE = "formkiq-backup"


class Tier(StrEnum):
    """The backup tiers of FormKiQ's guide, lowest first."""

    BASIC = "basic"
    STANDARD = "standard"
    ENHANCED = "enhanced"
    ENTERPRISE = "enterprise"


# The tiers whose copies and replicas live in a second region.
CROSS_REGION_TIERS = frozenset({Tier.ENHANCED, Tier.ENTERPRISE})

# The guide's retention policy asks for monthly exports: the 1st of each month, 06:00.
DEFAULT_EXPORT_SCHEDULE = "cron(0 6 1 * ? *)"
_DEFAULT_EXPORTS = aws_rules.parse_export_schedule(DEFAULT_EXPORT_SCHEDULE)

SettingKind = Literal["string", "integer", "boolean", "array"]


@dataclass(frozen=True)
class SettingSpec:
    """One configuration key as declared in Pulumi.yaml and the README."""

    key: str
    kind: SettingKind
    description: str
    default: str | int | bool | list[str] | None = None
    required: bool = False


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "tier", "string", "Backup tier: basic, standard, enhanced or enterprise.", required=True
    ),
    SettingSpec(
        "appEnvironment",
        "string",
        "FormKiQ's AppEnvironment; names are read from /formkiq/<appEnvironment>/.",
        required=True,
    ),
    # Pulumi requires a default for every optional project key; "" and 0 mean "not set".
    SettingSpec(
        "drRegion",
        "string",
        "Disaster-recovery region (enhanced and enterprise); must differ from "
        'aws:region. "" = none.',
        default="",
    ),
    SettingSpec(
        "notificationEmails", "array", "E-mail addresses subscribed to the alarm topic.", default=[]
    ),
    SettingSpec(
        "backupSchedule",
        "string",
        "AWS 6-field cron for the daily backup rule; at most hourly.",
        default="cron(0 5 * * ? *)",
    ),
    SettingSpec(
        "scheduleTimezone", "string", "IANA time zone the backup schedules run in.", default="UTC"
    ),
    SettingSpec(
        "dailyRetentionDays",
        "integer",
        "Days each daily recovery point is kept (1..36500).",
        default=35,
    ),
    SettingSpec(
        "monthlyRetentionDays",
        "integer",
        "Days each monthly recovery point is kept (1..36500).",
        default=365,
    ),
    SettingSpec(
        "coldStorageAfterDays",
        "integer",
        "Days after which monthly recovery points move to cold storage; retention "
        "must be at least 90 days longer. 0 = never.",
        default=0,
    ),
    SettingSpec(
        "breakGlassRoleArns",
        "array",
        "IAM role ARNs still allowed to delete recovery points.",
        default=[],
    ),
    SettingSpec(
        "protectBackups",
        "boolean",
        "Protect vaults, their keys and the backup role from deletion by Pulumi.",
        default=True,
    ),
    SettingSpec(
        "remediatePosture",
        "boolean",
        "Let the posture guard re-enable PITR and versioning when it finds them off.",
        default=False,
    ),
    SettingSpec(
        "exportSchedule",
        "string",
        "EventBridge Scheduler cron() or rate() for the system exports (standard and up).",
        default=DEFAULT_EXPORT_SCHEDULE,
    ),
    SettingSpec(
        "exportRetentionDays",
        "integer",
        "Days each export is kept; more than 60 (exports move to Glacier Instant Retrieval "
        "at 60 days).",
        default=365,
    ),
)
SETTINGS_BY_KEY = {spec.key: spec for spec in SETTINGS}


@dataclass(frozen=True)
class ConfigProblem:
    """One invalid value: the keys and values involved and the rule they break."""

    values: tuple[tuple[str, object], ...]
    rule: str

    def __str__(self) -> str:
        shown = " and ".join(f"{key}={_show(value)}" for key, value in self.values)
        return f"{shown}: {self.rule}"


class ConfigError(ValueError):
    """Every problem in a stack's configuration, reported together."""

    def __init__(self, problems: list[ConfigProblem], *, source: str = NAMESPACE) -> None:
        self.problems = problems
        lines = [f"  - {problem}" for problem in problems]
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{source} configuration has {count}:\n" + "\n".join(lines))


@dataclass(frozen=True)
class BackupSettings:
    """A stack's validated configuration; the only config object below the program's edge."""

    tier: Tier
    app_environment: str
    primary_region: str | None
    dr_region: str | None
    notification_emails: tuple[str, ...]
    backup_schedule: CronSchedule
    schedule_timezone: str
    daily_retention_days: int
    monthly_retention_days: int
    cold_storage_after_days: int | None
    break_glass_role_arns: tuple[str, ...]
    protect_backups: bool
    remediate_posture: bool
    export_schedule: ExportSchedule = _DEFAULT_EXPORTS
    export_retention_days: int = 365


def parse_settings(raw: Mapping[str, str], primary_region: str | None) -> BackupSettings:
    """Validate raw config values (namespace stripped, as Pulumi passes them: strings).

    `primary_region` is `aws:region`, which drRegion must differ from. Raises ConfigError
    listing every problem.
    """
    problems: list[ConfigProblem] = []
    problems.extend(_unknown_key_problems(raw))
    values = {spec.key: _typed_value(spec, raw, problems) for spec in SETTINGS}

    tier = _parse_tier(values["tier"], problems)
    app_environment = values["appEnvironment"]
    if isinstance(app_environment, str):
        problems.extend(_app_environment_problems(app_environment))
    schedule = _parse_schedule(values["backupSchedule"], problems)
    _check_timezone(values["scheduleTimezone"], problems)
    _check_days("dailyRetentionDays", values["dailyRetentionDays"], problems)
    _check_days("monthlyRetentionDays", values["monthlyRetentionDays"], problems)
    _check_cold_storage(values, problems)
    _check_dr_region(tier, values["drRegion"], primary_region, problems)
    export_schedule = _parse_export_schedule(values["exportSchedule"], problems)
    _check_export_retention(values["exportRetentionDays"], export_schedule, problems)
    _check_list(
        values["notificationEmails"],
        "notificationEmails",
        aws_rules.is_email_address,
        "is not a valid e-mail address (name@example.com)",
        problems,
    )
    _check_list(
        values["breakGlassRoleArns"],
        "breakGlassRoleArns",
        aws_rules.is_iam_role_arn,
        "is not an IAM role ARN (arn:aws:iam::123456789012:role/BreakGlass)",
        problems,
    )

    if problems:
        raise ConfigError(problems)
    # guaranteed when no problems were found
    assert tier is not None and schedule is not None and export_schedule is not None
    return BackupSettings(
        tier=tier,
        app_environment=str(app_environment),
        primary_region=primary_region,
        dr_region=_optional_str(values["drRegion"]),
        notification_emails=tuple(_str_list(values["notificationEmails"])),
        backup_schedule=schedule,
        schedule_timezone=str(values["scheduleTimezone"]),
        daily_retention_days=int(_int(values["dailyRetentionDays"])),
        monthly_retention_days=int(_int(values["monthlyRetentionDays"])),
        cold_storage_after_days=_optional_int(values["coldStorageAfterDays"]),
        break_glass_role_arns=tuple(_str_list(values["breakGlassRoleArns"])),
        protect_backups=bool(values["protectBackups"]),
        remediate_posture=bool(values["remediatePosture"]),
        export_schedule=export_schedule,
        export_retention_days=int(_int(values["exportRetentionDays"])),
    )


def read_pulumi_config() -> BackupSettings:
    """The program's edge: read this stack's config from the Pulumi runtime and validate it.

    The SDK has no public way to list config keys, so read both places it keeps them: the
    PULUMI_CONFIG JSON the CLI hands the program, and values set in-process (mocks).
    """
    from pulumi.runtime import config as runtime_config

    everything: dict[str, object] = {
        **runtime_config.get_config_env(),
        **runtime_config.CONFIG.get(),
    }
    prefix = f"{NAMESPACE}:"
    raw = {
        key[len(prefix) :]: str(value)
        for key, value in everything.items()
        if key.startswith(prefix)
    }
    region = everything.get("aws:region")
    return parse_settings(raw, str(region) if region else None)


# --- parsing helpers ------------------------------------------------------------------------

_Value = str | int | bool | list[str] | None


def _typed_value(
    spec: SettingSpec, raw: Mapping[str, str], problems: list[ConfigProblem]
) -> _Value:
    """Convert one raw string to the key's type, or record why it can't be."""
    if spec.key not in raw:
        if spec.required:
            problems.append(ConfigProblem(((spec.key, None),), f"is required: {spec.description}"))
        return spec.default
    text = raw[spec.key]
    try:
        return _convert(spec.kind, text)
    except ValueError as error:
        problems.append(ConfigProblem(((spec.key, text),), str(error)))
        return None


def _convert(kind: SettingKind, text: str) -> _Value:
    if kind == "string":
        return text
    if kind == "integer":
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
    if kind == "boolean":
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise ValueError("must be true or false")
        return lowered == "true"
    try:
        items = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError('must be a list of strings, e.g. ["a", "b"]') from None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError('must be a list of strings, e.g. ["a", "b"]')
    return items


def _unknown_key_problems(raw: Mapping[str, str]) -> list[ConfigProblem]:
    problems = []
    by_lower = {key.lower(): key for key in SETTINGS_BY_KEY}
    for key in sorted(raw):
        if key in SETTINGS_BY_KEY:
            continue
        guess = by_lower.get(key.lower()) or next(
            iter(difflib.get_close_matches(key, list(SETTINGS_BY_KEY), n=1, cutoff=0.5)), None
        )
        hint = f"did you mean {guess}?" if guess else "valid keys: " + ", ".join(SETTINGS_BY_KEY)
        problems.append(ConfigProblem(((key, raw[key]),), f"is not a {NAMESPACE} setting; {hint}"))
    return problems


def _parse_tier(value: _Value, problems: list[ConfigProblem]) -> Tier | None:
    if value is None:
        return None
    text = str(value)
    try:
        return Tier(text)
    except ValueError:
        pass
    choices = ", ".join(tier.value for tier in Tier)
    rule = f"must be one of {choices}"
    if text.lower() in {tier.value for tier in Tier}:
        rule += f' (tiers are lower case: did you mean "{text.lower()}"?)'
    else:
        guess = difflib.get_close_matches(text.lower(), [tier.value for tier in Tier], n=1)
        if guess:
            rule += f' (did you mean "{guess[0]}"?)'
    problems.append(ConfigProblem((("tier", text),), rule))
    return None


def _app_environment_problems(value: str) -> list[ConfigProblem]:
    # FormKiQ's AllowedPattern for AppEnvironment (CloudFormation root template).
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/")
    if value and set(value) <= allowed:
        return []
    return [
        ConfigProblem(
            (("appEnvironment", value),),
            "must match FormKiQ's AppEnvironment pattern [a-zA-Z0-9_.-/]+",
        )
    ]


def _parse_schedule(value: _Value, problems: list[ConfigProblem]) -> CronSchedule | None:
    if value is None:
        return None
    try:
        return aws_rules.parse_backup_schedule(str(value))
    except ScheduleError as error:
        problems.append(ConfigProblem((("backupSchedule", value),), str(error)))
        return None


def _check_timezone(value: _Value, problems: list[ConfigProblem]) -> None:
    if value is None:
        return
    for rule in aws_rules.timezone_problems(str(value)):
        problems.append(ConfigProblem((("scheduleTimezone", value),), rule))


def _check_days(key: str, value: _Value, problems: list[ConfigProblem]) -> None:
    if isinstance(value, int) and not 1 <= value <= aws_rules.MAX_LIFECYCLE_DAYS:
        problems.append(
            ConfigProblem(
                ((key, value),),
                f"must be 1..{aws_rules.MAX_LIFECYCLE_DAYS} days (AWS Backup's lifecycle limit)",
            )
        )


def _check_cold_storage(values: Mapping[str, _Value], problems: list[ConfigProblem]) -> None:
    cold = values["coldStorageAfterDays"]
    monthly = values["monthlyRetentionDays"]
    if not isinstance(cold, int) or cold == 0:
        return
    if not 1 <= cold <= aws_rules.MAX_LIFECYCLE_DAYS:
        problems.append(
            ConfigProblem(
                (("coldStorageAfterDays", cold),),
                f"must be 1..{aws_rules.MAX_LIFECYCLE_DAYS} days, or 0 for no cold storage",
            )
        )
        return
    if not isinstance(monthly, int) or not 1 <= monthly <= aws_rules.MAX_LIFECYCLE_DAYS:
        return  # already reported against monthlyRetentionDays
    for rule in aws_rules.lifecycle_problems(monthly, cold):
        problems.append(
            ConfigProblem((("coldStorageAfterDays", cold), ("monthlyRetentionDays", monthly)), rule)
        )


def _parse_export_schedule(value: _Value, problems: list[ConfigProblem]) -> ExportSchedule | None:
    if value is None:
        return None
    try:
        return aws_rules.parse_export_schedule(str(value))
    except ScheduleError as error:
        problems.append(ConfigProblem((("exportSchedule", value),), str(error)))
        return None


def _check_export_retention(
    value: _Value, schedule: ExportSchedule | None, problems: list[ConfigProblem]
) -> None:
    if not isinstance(value, int):
        return
    for rule in aws_rules.export_retention_problems(value, schedule):
        keys: tuple[tuple[str, object], ...] = (("exportRetentionDays", value),)
        if schedule is not None and "schedule" in rule:
            keys += (("exportSchedule", schedule.expression),)
        problems.append(ConfigProblem(keys, rule))


def _check_dr_region(
    tier: Tier | None, value: _Value, primary: str | None, problems: list[ConfigProblem]
) -> None:
    if not value:
        if tier in CROSS_REGION_TIERS:
            problems.append(
                ConfigProblem(
                    (("drRegion", None),),
                    f"is required for tier {tier.value if tier else ''}: its copies and replicas "
                    "live in a second region, e.g. us-west-2",
                )
            )
        return
    region = str(value)
    partitions = aws_rules.region_partitions()
    if region not in partitions:
        guess = difflib.get_close_matches(region, list(partitions), n=1)
        hint = f' (did you mean "{guess[0]}"?)' if guess else ""
        problems.append(
            ConfigProblem(
                (("drRegion", region),), f"is not an AWS region where AWS Backup runs{hint}"
            )
        )
        return
    if primary is not None and region == primary:
        problems.append(
            ConfigProblem(
                (("drRegion", region), ("aws:region", primary)),
                "the disaster-recovery region must differ from the primary region, or one "
                "regional outage takes both copies",
            )
        )
    elif primary in partitions and partitions[primary] != partitions[region]:
        problems.append(
            ConfigProblem(
                (("drRegion", region), ("aws:region", primary)),
                f"copies cannot cross partitions ({partitions[primary]} to {partitions[region]})",
            )
        )


def _check_list(
    value: _Value, key: str, valid: Callable[[str], bool], rule: str, problems: list[ConfigProblem]
) -> None:
    for item in _str_list(value):
        if not valid(item):
            problems.append(ConfigProblem(((key, item),), rule))


def _show(value: object) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


def _str_list(value: _Value) -> list[str]:
    return value if isinstance(value, list) else []


def _int(value: _Value) -> int:
    assert isinstance(value, int)
    return value


def _optional_int(value: _Value) -> int | None:
    """0 is the declared default meaning "not set"."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value else None


def _optional_str(value: _Value) -> str | None:
    """ "" is the declared default meaning "not set"."""
    return value if isinstance(value, str) and value else None
