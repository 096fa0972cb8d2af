"""The `formkiq-backup` configuration contract, declared once: each key is one field of
`BackupSettings`, whose metadata holds its name, type, default, rule, description and the tier
capability that uses it. Parsing, `Pulumi.yaml`, the README table and the tier components'
arguments (tiers/components.py, generated) all follow from it.

`parse_settings` is pure (raw strings in, `BackupSettings` out) so the Pulumi program, the
offline preview and the tests share it; `parse_arguments` applies the same rules to a tier
component's typed arguments, reporting them as its caller spells them. Every problem is
collected and reported at once, each naming the key, the value given and the rule, before any
resource is registered. What is legal but probably not meant (a key the tier ignores, dailies
kept longer than monthlies) is a warning.
"""

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final, Literal

from formkiq_backup import aws_rules
from formkiq_backup.aws_rules import CronSchedule, ExportSchedule, ScheduleError
from tiers.definitions import (
    SECOND_REGION_CAPABILITIES,
    SWITCHABLE_OFF,
    TIERS,
    Capability,
    RuleKind,
    Tier,
    rule_name,
)

NAMESPACE = "formkiq-backup"

ScalarKind = Literal["string", "integer", "boolean", "array"]
SettingKind = Literal["string", "integer", "boolean", "array", "object"]
ScalarDefault = str | int | bool | list[str]
Default = ScalarDefault | dict[str, ScalarDefault]


class _Marker:
    """A value a problem names by what it is rather than by its content."""

    def __init__(self, shown: str) -> None:
        self.shown = shown

    def __repr__(self) -> str:
        return self.shown


# A key given `~` or `null` in a stack file: shown as null, unlike a key not given.
NULL: Final = _Marker("null")
# An argument passed as a Pulumi Output (or a list holding one): its value is known only while
# the engine deploys, too late to validate it before anything is registered.
DEFERRED: Final = _Marker("(an Output)")
# A value that failed its own rule: rules across keys skip it rather than report it again.
_INVALID: Final = object()


@dataclass(frozen=True)
class ConfigProblem:
    """One invalid value: the keys and values involved and the rule they break."""

    values: tuple[tuple[str, object], ...]
    rule: str

    def __str__(self) -> str:
        shown = " and ".join(f"{key}={show(value)}" for key, value in self.values)
        return f"{shown}: {self.rule}"


class ConfigError(ValueError):
    """Every problem in a stack's configuration, reported together (with any warnings)."""

    def __init__(
        self,
        problems: list[ConfigProblem],
        *,
        warnings: Iterable[ConfigProblem] = (),
        subject: str = f"{NAMESPACE} configuration",
    ) -> None:
        self.problems = problems
        self.warnings = tuple(warnings)
        lines = [f"  - {problem}" for problem in problems]
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        message = f"{subject} has {count}:\n" + "\n".join(lines)
        if self.warnings:
            message += "\nand warnings:\n" + "\n".join(f"  - {w}" for w in self.warnings)
        super().__init__(message)


class InvalidValueError(ValueError):
    """Raised by a setting's parser: each (value, rule) becomes one problem of that key."""

    def __init__(self, *found: tuple[object, str]) -> None:
        super().__init__("; ".join(rule for _, rule in found))
        self.found = found


def _keep(value: Any) -> Any:
    return value


def snake_case(name: str) -> str:
    """`validationWindowHours` -> `validation_window_hours`: a key as Python spells it."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class SubSetting:
    """One key inside an object-valued setting: `restoreTesting.schedule`, say.

    Declared like a setting (type, default, rule, description), always optional: a stack that
    gives the object without it gets the default.
    """

    key: str
    kind: ScalarKind
    description: str
    rule: str
    default: ScalarDefault
    default_note: str = ""
    parse: Callable[[Any], Any] = _keep
    """Typed value to the field value; raises InvalidValueError."""

    @property
    def field_name(self) -> str:
        """The key as Python spells it: the object's field, and the argument's nested key."""
        return snake_case(self.key)

    @property
    def default_text(self) -> str:
        if isinstance(self.default, str) and self.default:
            return self.default
        return json.dumps(self.default)


def sub_key(
    name: str, kind: ScalarKind, description: str, rule: str, default: ScalarDefault, **options: Any
) -> SubSetting:
    """A key inside an object-valued setting."""
    return SubSetting(name, kind, description, rule, default, **options)


_KIND_NAMES = {
    "string": "string",
    "integer": "int",
    "boolean": "bool",
    "array": "list of strings",
    "object": "object",
}


@dataclass(frozen=True)
class Setting:
    """One `formkiq-backup` key: how a stack spells it, checks it and what it means."""

    key: str
    kind: SettingKind
    description: str
    """Pulumi.yaml's description."""
    rule: str
    """The README's rule column."""
    default: Default | None = None
    """As Pulumi.yaml declares it; None means the key is required."""
    default_note: str = ""
    """What the default means, when not obvious ("none", "never")."""
    used_by: frozenset[Capability] = frozenset()
    """The capabilities this key configures; empty: every tier uses it."""
    required_where_used: str = ""
    """Why a tier using this key must set it although it has a default (drRegion: the copies
    need a second region); empty: the default serves every tier."""
    parse: Callable[[Any], Any] = _keep
    """Typed value (str, int, bool or list of str) to the field value; raises InvalidValueError.
    For an object, it receives each sub-key's parsed value by its field name."""
    labels_only: bool = False
    """The value only names where something goes (an e-mail endpoint), so an offline render may
    stand in for an encrypted one; every other value shapes what is built."""
    fields: tuple[SubSetting, ...] = ()
    """An object's keys (`kind` "object"), each with its own type, default and rule."""
    switches: Capability | None = None
    """An object whose `enabled` key switches this capability on (where the tier has it as an
    option) or off (where tiers.definitions.SWITCHABLE_OFF allows)."""

    def __post_init__(self) -> None:
        if (self.kind == "object") != bool(self.fields):
            raise TypeError(f"{self.key}: an object setting, and only one, declares fields")
        if self.kind == "object" and self.default is None:
            # Defaults of an object are its keys' defaults: the object itself is never required.
            object.__setattr__(self, "default", {f.key: f.default for f in self.fields})

    @property
    def required(self) -> bool:
        return self.default is None

    @property
    def fields_by_key(self) -> Mapping[str, SubSetting]:
        return {sub.key: sub for sub in self.fields}

    def used_in(self, tier: Tier) -> bool:
        """Whether `tier` reads this key (a tier ignores the keys of capabilities it lacks)."""
        return not self.used_by or bool(self.used_by & TIERS[tier].possible_capabilities)

    def required_in(self, tier: Tier) -> bool:
        """Whether a stack (or a tier component) of `tier` must give this key a value."""
        return self.required or bool(self.required_where_used and self.used_in(tier))

    @property
    def default_text(self) -> str:
        """The default as a stack file spells it: cron(0 5 * * ? *), 35, true, "", []."""
        if isinstance(self.default, str) and self.default:
            return self.default
        return json.dumps(self.default)

    def pulumi_yaml(self) -> dict[str, object]:
        """This key's entry in Pulumi.yaml's `config:` block.

        Pulumi's project schema types a key as string, integer, boolean or array only
        (sdk/go/common/workspace/project.json, SimpleConfigType), and `type` is optional: an
        object-valued key is declared with its description and default and no type. The CLI
        then checks nothing of it and hands the program the value as JSON, which
        `parse_settings` checks key by key.
        """
        entry: dict[str, object] = {} if self.kind == "object" else {"type": self.kind}
        if self.kind == "array":
            entry["items"] = {"type": "string"}
        entry["description"] = self.description
        if not self.required:
            entry["default"] = self.default
        return entry

    def readme_rows(self) -> list[str]:
        """This key's rows in the README's configuration table: an object's, one per key."""
        if self.kind != "object":
            default = "required" if self.required else _shown(self.default_text, self.default_note)
            return [self._row(self.key, self.kind, default, self.rule)]
        return [
            self._row(
                f"{self.key}.{sub.key}",
                sub.kind,
                _shown(sub.default_text, sub.default_note),
                sub.rule,
            )
            for sub in self.fields
        ]

    def _row(self, name: str, kind: str, default: str, rule: str) -> str:
        return f"| `{name}` | {_KIND_NAMES[kind]} | {default} | {self.tiers} | {rule} |"

    @property
    def tiers(self) -> str:
        """The tiers that use this key: `all`, or the first that does and `+`."""
        if not self.used_by:
            return "all"
        first = next(
            tier for tier, spec in TIERS.items() if spec.possible_capabilities & self.used_by
        )
        return "all" if first is next(iter(TIERS)) else f"{first.value}+"


def _shown(text: str, note: str) -> str:
    """A default as the README shows it: `35`, or `""` (none)."""
    return f"`{text}`" + (f" ({note})" if note else "")


def key(
    name: str, kind: SettingKind, description: str, rule: str, **options: Any
) -> dict[str, Setting]:
    """Field metadata declaring a BackupSettings field as the stack key `name`."""
    return {"setting": Setting(name, kind, description, rule, **options)}


# --- per-key parsers: raise InvalidValueError with the rule a value breaks ---------------


def _tier(text: str) -> Tier:
    try:
        return Tier(text)
    except ValueError:
        pass
    names = [tier.value for tier in Tier]
    rule = f"must be one of {', '.join(names)}"
    if text.lower() in names:
        rule += f' (tiers are lower case: did you mean "{text.lower()}"?)'
    else:
        guess = difflib.get_close_matches(text.lower(), names, n=1)
        if guess:
            rule += f' (did you mean "{guess[0]}"?)'
    raise InvalidValueError((text, rule))


# FormKiQ's AllowedPattern for AppEnvironment (CloudFormation root template).
_APP_ENVIRONMENT = re.compile(r"[a-zA-Z0-9_.\-/]+")


def _app_environment(text: str) -> str:
    if not _APP_ENVIRONMENT.fullmatch(text):
        raise InvalidValueError(
            (text, "must match FormKiQ's AppEnvironment pattern [a-zA-Z0-9_.-/]+")
        )
    return text


def _region(text: str) -> str | None:
    """ "" is the declared default meaning "not set"."""
    if not text:
        return None
    partitions = aws_rules.region_partitions()
    if text not in partitions:
        raise InvalidValueError((text, f"is not an AWS region where AWS Backup runs{_near(text)}"))
    return text


def _near(region: str) -> str:
    """A hint naming the region probably meant (region codes are lower case)."""
    regions = list(aws_rules.region_partitions())
    guess = difflib.get_close_matches(region.strip().lower(), regions, n=1)
    return f' (did you mean "{guess[0]}"?)' if guess else ""


def _emails(addresses: list[str]) -> tuple[str, ...]:
    found: list[tuple[object, str]] = [
        (address, rule)
        for address in addresses
        for rule in aws_rules.email_address_problems(address)
    ]
    seen: dict[str, str] = {}
    for address in addresses:
        if address.lower() in seen:
            # One subscription per address: two would collide on one logical name, and SNS
            # treats the address case-insensitively for delivery.
            found.append((address, f"is listed twice (as {json.dumps(seen[address.lower()])} too)"))
        seen.setdefault(address.lower(), address)
    if found:
        raise InvalidValueError(*found)
    return tuple(addresses)


def _cron(text: str) -> CronSchedule:
    """An AWS Backup cron expression (restore testing takes the same syntax)."""
    try:
        return aws_rules.parse_backup_schedule(text)
    except ScheduleError as error:
        raise InvalidValueError((text, str(error))) from None


def _schedule(text: str) -> CronSchedule:
    """The daily rule's schedule: a valid cron that leaves no day without a backup."""
    schedule = _cron(text)
    problems = aws_rules.daily_rule_problems(schedule)
    if problems:
        raise InvalidValueError(*((text, rule) for rule in problems))
    return schedule


def _export_schedule(text: str) -> ExportSchedule:
    try:
        return aws_rules.parse_export_schedule(text)
    except ScheduleError as error:
        raise InvalidValueError((text, str(error))) from None


def _export_retention(value: int) -> int:
    problems = aws_rules.export_retention_problems(value, None)
    if problems:
        raise InvalidValueError(*((value, rule) for rule in problems))
    return value


def _timezone(text: str) -> str:
    problems = aws_rules.timezone_problems(text)
    if problems:
        raise InvalidValueError(*((text, rule) for rule in problems))
    return text


def _days(value: int) -> int:
    if not 1 <= value <= aws_rules.MAX_LIFECYCLE_DAYS:
        raise InvalidValueError(
            (
                value,
                f"must be 1..{aws_rules.MAX_LIFECYCLE_DAYS} days (AWS Backup's lifecycle limit)",
            )
        )
    return value


def _cold_storage(value: int) -> int | None:
    """0 is the declared default meaning "never"."""
    if value == 0:
        return None
    if not 1 <= value <= aws_rules.MAX_LIFECYCLE_DAYS:
        raise InvalidValueError(
            (value, f"must be 1..{aws_rules.MAX_LIFECYCLE_DAYS} days, or 0 for no cold storage")
        )
    return value


def _role_arns(arns: list[str]) -> tuple[str, ...]:
    bad = [arn for arn in arns if not aws_rules.is_iam_role_arn(arn)]
    if bad:
        rule = "is not an IAM role ARN (arn:aws:iam::123456789012:role/BreakGlass)"
        raise InvalidValueError(*((arn, rule) for arn in bad))
    return tuple(arns)


_AWS_BACKUP = frozenset({Capability.AWS_BACKUP})
_EXPORTS = frozenset({Capability.SYSTEM_EXPORTS})
_REPLICAS = frozenset({Capability.GLOBAL_TABLE_REPLICAS})
_YEARLY = frozenset({Capability.YEARLY_COLD_STORAGE})
# The guide's seven years; cold after 90 days (the guide's cold storage advice), kept at least
# 90 days cold (API_Lifecycle).
DEFAULT_YEARLY_RETENTION_DAYS = 2555
DEFAULT_YEARLY_COLD_STORAGE_DAYS = 90
# The guide's retention policy asks for monthly exports: the 1st of each month, 06:00.
DEFAULT_EXPORT_SCHEDULE = "cron(0 6 1 * ? *)"
# The guide's checklist tests recovery quarterly: the 1st of January, April, July and October,
# 08:00, after that day's daily and monthly backups (05:00, 3-hour completion window).
DEFAULT_RESTORE_TEST_SCHEDULE = "cron(0 8 1 1,4,7,10 ? *)"
MAX_SAMPLE_SIZE = 1_000


@dataclass(frozen=True)
class RestoreTestingSettings:
    """`restoreTesting`: when AWS Backup restores the protected data, and how it is checked."""

    enabled: bool
    schedule: CronSchedule
    validation_window_hours: int
    sample_size: int


@dataclass(frozen=True)
class AuditSettings:
    """`audit`: the Backup Audit Manager framework, its reports and an optional recorder."""

    enabled: bool
    config_recorder: bool
    report_retention_days: int


def _validation_window(value: int) -> int:
    problems = aws_rules.validation_window_problems(value)
    if problems:
        raise InvalidValueError(*((value, rule) for rule in problems))
    return value


def _sample_size(value: int) -> int:
    if not 1 <= value <= MAX_SAMPLE_SIZE:
        raise InvalidValueError((value, f"must be 1..{MAX_SAMPLE_SIZE} documents"))
    return value


@dataclass(frozen=True)
class VaultLockSettings:
    """`vaultLock`: the lock on the primary and DR vaults (AWS Backup Vault Lock)."""

    mode: str
    """governance (a principal with the IAM permissions may change or remove it) or
    compliance (immutable once `changeable_for_days` have passed)."""
    min_retention_days: int
    max_retention_days: int | None
    """None: the longest retention of any rule (or copy) writing into the vault."""
    changeable_for_days: int
    acknowledge_irreversible: bool

    @property
    def compliance(self) -> bool:
        return self.mode == LOCK_COMPLIANCE

    def max_for(self, retentions: "Iterable[aws_rules.Retention]") -> int:
        """The maximum the lock is given: the setting, else the longest retention."""
        if self.max_retention_days is not None:
            return self.max_retention_days
        return max((kept.days for kept in retentions), default=self.min_retention_days)


@dataclass(frozen=True)
class AirGappedVaultSettings:
    """`airGappedVault`: a logically air-gapped vault in drRegion that copies go to."""

    enabled: bool
    min_retention_days: int
    max_retention_days: int | None
    """None: AWS's largest, 36500 days (see `max_days`)."""
    share_with_account: str | None
    """An account AWS RAM shares the vault with, to restore from it; None: not shared."""
    copy_tables: bool
    """Copy the tables' recovery points there too, not only the bucket's (see the README)."""

    @property
    def max_days(self) -> int:
        """The vault's maximum retention. Its compliance lock is AWS's, set once at creation
        (AWS Backup developer guide, "Logically air-gapped vault"), so the default does not
        follow the rules' retentions: a longer yearly rule must never need a new vault."""
        if self.max_retention_days is not None:
            return self.max_retention_days
        return aws_rules.MAX_LIFECYCLE_DAYS


LOCK_GOVERNANCE, LOCK_COMPLIANCE = "governance", "compliance"


def _lock_mode(text: str) -> str:
    if text in (LOCK_GOVERNANCE, LOCK_COMPLIANCE):
        return text
    hint = f' (did you mean "{text.lower()}"?)' if text.lower() in _LOCK_MODES else ""
    raise InvalidValueError((text, f"must be governance or compliance{hint}"))


_LOCK_MODES = (LOCK_GOVERNANCE, LOCK_COMPLIANCE)


def _optional_days(value: int) -> int | None:
    """0 is the declared default meaning "the longest retention of any rule"."""
    return None if value == 0 else _days(value)


def _changeable_for(value: int) -> int:
    low, high = aws_rules.MIN_CHANGEABLE_FOR_DAYS, aws_rules.MAX_CHANGEABLE_FOR_DAYS
    if not low <= value <= high:
        raise InvalidValueError(
            (
                value,
                f"must be {low}..{high} days: compliance mode's grace period, before the lock "
                "becomes immutable, is at least 72 hours (PutBackupVaultLockConfiguration)",
            )
        )
    return value


def _air_gapped_min(value: int) -> int:
    low = aws_rules.MIN_AIR_GAPPED_RETENTION_DAYS
    if not low <= value <= aws_rules.MAX_LIFECYCLE_DAYS:
        raise InvalidValueError(
            (
                value,
                f"must be {low}..{aws_rules.MAX_LIFECYCLE_DAYS} days: a logically air-gapped "
                f"vault keeps recovery points at least {low} days "
                "(CreateLogicallyAirGappedBackupVault)",
            )
        )
    return value


def _account(text: str) -> str | None:
    if not text:
        return None
    if not aws_rules.is_account_id(text):
        raise InvalidValueError(
            (text, "must be a 12-digit AWS account id (AWS RAM shares with accounts), or empty")
        )
    return text


def _vault_lock(values: Mapping[str, Any]) -> VaultLockSettings:
    return VaultLockSettings(**values)


def _air_gapped_vault(values: Mapping[str, Any]) -> AirGappedVaultSettings:
    return AirGappedVaultSettings(**values)


def _replica_regions(regions: list[str]) -> tuple[str, ...]:
    """Regions where DynamoDB (and so global tables) runs, none twice."""
    known = aws_rules.dynamodb_region_partitions()
    found: list[tuple[object, str]] = [
        (region, f"is not a region where DynamoDB runs{_near(region)}")
        for region in regions
        if region not in known
    ]
    found += [
        (region, "is listed twice: a table has one replica per region")
        for region in sorted(set(regions))
        if regions.count(region) > 1
    ]
    if found:
        raise InvalidValueError(*found)
    return tuple(regions)


def _restore_testing(values: Mapping[str, Any]) -> RestoreTestingSettings:
    return RestoreTestingSettings(**values)


def _audit(values: Mapping[str, Any]) -> AuditSettings:
    return AuditSettings(**values)


@dataclass(frozen=True)
class BackupSettings:
    """A stack's validated configuration; the only config object below the program's edge."""

    tier: Tier = field(
        metadata=key(
            "tier",
            "string",
            "Backup tier: basic, standard, enhanced or enterprise.",
            "`basic`, `standard`, `enhanced` or `enterprise`",
            parse=_tier,
        )
    )
    app_environment: str = field(
        metadata=key(
            "appEnvironment",
            "string",
            "FormKiQ's AppEnvironment; names are read from /formkiq/<appEnvironment>/.",
            "FormKiQ's `AppEnvironment`; names are read from `/formkiq/<appEnvironment>/`",
            parse=_app_environment,
        )
    )
    primary_region: str | None
    """`aws:region`: FormKiQ's region, where everything but the DR copies lives."""
    # Pulumi requires a default for every optional project key; "" and 0 mean "not set".
    dr_region: str | None = field(
        metadata=key(
            "drRegion",
            "string",
            "Disaster-recovery region (enhanced and enterprise); must differ from the "
            "primary region (aws:region).",
            "required for enhanced/enterprise; a region where AWS Backup runs, in the same "
            "partition, not `aws:region`",
            default="",
            default_note="none",
            used_by=SECOND_REGION_CAPABILITIES,
            required_where_used="its copies and replicas live in a second region, e.g. us-west-2",
            parse=_region,
        )
    )
    notification_emails: tuple[str, ...] = field(
        metadata=key(
            "notificationEmails",
            "array",
            "E-mail addresses subscribed to the alarm topic.",
            "each a bare e-mail address (`name@example.com`: no `mailto:`, no display name or "
            "`<>`), none twice (in any case); each gets an e-mail subscription to the alarm topic",
            default=[],
            parse=_emails,
            labels_only=True,
        )
    )
    backup_schedule: CronSchedule = field(
        metadata=key(
            "backupSchedule",
            "string",
            "AWS 6-field cron for the daily backup rule; at most hourly, at least daily.",
            "AWS 6-field cron, one of day-of-month/day-of-week `?`, at most hourly (one minute "
            "value), at least daily (no day without a backup), matching a date that exists",
            default="cron(0 5 * * ? *)",
            used_by=_AWS_BACKUP,
            parse=_schedule,
        )
    )
    schedule_timezone: str = field(
        metadata=key(
            "scheduleTimezone",
            "string",
            "IANA time zone the backup schedules run in.",
            "IANA time zone name",
            default="UTC",
            used_by=_AWS_BACKUP,
            parse=_timezone,
        )
    )
    daily_retention_days: int = field(
        metadata=key(
            "dailyRetentionDays",
            "integer",
            "Days each daily recovery point is kept (1..36500).",
            "1..36500; more than `monthlyRetentionDays` is a warning",
            default=35,
            used_by=_AWS_BACKUP,
            parse=_days,
        )
    )
    monthly_retention_days: int = field(
        metadata=key(
            "monthlyRetentionDays",
            "integer",
            "Days each monthly recovery point is kept (1..36500).",
            "1..36500",
            default=365,
            used_by=_AWS_BACKUP,
            parse=_days,
        )
    )
    cold_storage_after_days: int | None = field(
        metadata=key(
            "coldStorageAfterDays",
            "integer",
            "Days after which monthly recovery points move to cold storage; retention "
            "must be at least 90 days longer. 0 = never.",
            "if set, monthly recovery points go cold after this many days; "
            "`monthlyRetentionDays` >= this + 90",
            default=0,
            default_note="never",
            used_by=_AWS_BACKUP,
            parse=_cold_storage,
        )
    )
    break_glass_role_arns: tuple[str, ...] = field(
        metadata=key(
            "breakGlassRoleArns",
            "array",
            "IAM role ARNs still allowed to delete recovery points and exports.",
            "IAM role ARNs in the partition of `aws:region`; the only principals allowed to "
            "delete recovery points, exports or their keys",
            default=[],
            used_by=_AWS_BACKUP,
            parse=_role_arns,
        )
    )
    protect_backups: bool = field(
        metadata=key(
            "protectBackups",
            "boolean",
            "Protect vaults, their keys and the backup role from deletion by Pulumi.",
            "vaults, their keys and the backup role get Pulumi `protect`",
            default=True,
            used_by=_AWS_BACKUP,
        )
    )
    remediate_posture: bool = field(
        metadata=key(
            "remediatePosture",
            "boolean",
            "Let the posture guard re-enable PITR and versioning when it finds them off.",
            "let the posture guard re-enable PITR and versioning it finds off",
            default=False,
            used_by=frozenset({Capability.POSTURE_GUARD}),
        )
    )
    export_schedule: ExportSchedule = field(
        metadata=key(
            "exportSchedule",
            "string",
            "EventBridge Scheduler cron() or rate() for the system exports (standard and up); "
            "at most once a day.",
            "EventBridge Scheduler `cron()` (6 fields) or `rate()`, recurring, at most once a "
            "day; more than 100 exports kept at once is a warning",
            default=DEFAULT_EXPORT_SCHEDULE,
            used_by=_EXPORTS,
            parse=_export_schedule,
        )
    )
    export_retention_days: int = field(
        metadata=key(
            "exportRetentionDays",
            "integer",
            "Days each export is kept (61..36500; exports move to Glacier Instant Retrieval "
            "at 60 days).",
            "61..36500 (S3 expiry must come after the 60-day Glacier Instant Retrieval "
            "transition) and longer than the export schedule's longest gap; under 150 is a "
            "warning (Glacier Instant Retrieval bills 90 days at least)",
            default=365,
            used_by=_EXPORTS,
            parse=_export_retention,
        )
    )
    replica_regions: tuple[str, ...] = field(
        metadata=key(
            "replicaRegions",
            "array",
            "More regions for DynamoDB global table replicas of Documents and DocumentSyncs, "
            "besides drRegion, which always has one (enterprise).",
            "regions where DynamoDB runs, in the partition of `aws:region`; not `aws:region`, "
            "not `drRegion` (it has a replica already), none twice",
            default=[],
            default_note="drRegion only",
            used_by=_REPLICAS,
            parse=_replica_regions,
        )
    )
    yearly_retention_days: int = field(
        metadata=key(
            "yearlyRetentionDays",
            "integer",
            "Days each yearly recovery point is kept (enterprise; 2555 = the guide's seven years).",
            "1..36500; >= `yearlyColdStorageAfterDays` + 90",
            default=DEFAULT_YEARLY_RETENTION_DAYS,
            used_by=_YEARLY,
            parse=_days,
        )
    )
    yearly_cold_storage_after_days: int | None = field(
        metadata=key(
            "yearlyColdStorageAfterDays",
            "integer",
            "Days after which yearly recovery points of the tables move to cold storage "
            "(DynamoDB only: the bucket's stay warm). 0 = never.",
            "if set, the tables' yearly recovery points (and their copies in drRegion) go cold "
            "after this many days; `yearlyRetentionDays` >= this + 90",
            default=DEFAULT_YEARLY_COLD_STORAGE_DAYS,
            used_by=_YEARLY,
            parse=_cold_storage,
        )
    )
    restore_testing: RestoreTestingSettings = field(
        metadata=key(
            "restoreTesting",
            "object",
            "AWS Backup restore testing of the protected tables and documents bucket, each "
            "restore checked against its source (enhanced and up).",
            "",
            used_by=frozenset({Capability.RESTORE_TESTING}),
            switches=Capability.RESTORE_TESTING,
            parse=_restore_testing,
            fields=(
                sub_key(
                    "enabled",
                    "boolean",
                    "Run restore tests (each test is charged, see the README).",
                    "`false`: no restore tests, no restore testing plan",
                    True,
                ),
                sub_key(
                    "schedule",
                    "string",
                    "AWS 6-field cron of the restore tests, in scheduleTimezone.",
                    "AWS 6-field cron, as `backupSchedule` (but any frequency); quarterly by "
                    "default (the guide's checklist)",
                    DEFAULT_RESTORE_TEST_SCHEDULE,
                    parse=_cron,
                ),
                sub_key(
                    "validationWindowHours",
                    "integer",
                    "Hours a restored table or bucket is kept for its validation (1..168).",
                    "1..168; AWS deletes the restored copy once the validation reports or the "
                    "window ends",
                    24,
                    parse=_validation_window,
                ),
                sub_key(
                    "sampleSize",
                    "integer",
                    "Documents (or objects) whose content a validation downloads and checks.",
                    f"1..{MAX_SAMPLE_SIZE}",
                    20,
                    parse=_sample_size,
                ),
            ),
        )
    )
    audit: AuditSettings = field(
        metadata=key(
            "audit",
            "object",
            "AWS Backup Audit Manager framework and reports (enterprise; enhanced with "
            "audit.enabled).",
            "",
            used_by=frozenset({Capability.AUDIT}),
            switches=Capability.AUDIT,
            parse=_audit,
            fields=(
                sub_key(
                    "enabled",
                    "boolean",
                    "Build the audit framework and reports in an enhanced stack.",
                    "enhanced only: enterprise always builds them",
                    False,
                ),
                sub_key(
                    "configRecorder",
                    "boolean",
                    "Create an AWS Config recorder for the backup resource types.",
                    "`true` only where the region has no recorder yet (one per account and "
                    "region); see the Config prerequisite",
                    False,
                ),
                sub_key(
                    "reportRetentionDays",
                    "integer",
                    "Days each audit report is kept in the reports bucket (1..36500).",
                    "1..36500",
                    2555,
                    parse=_days,
                ),
            ),
        )
    )
    vault_lock: VaultLockSettings = field(
        metadata=key(
            "vaultLock",
            "object",
            "AWS Backup Vault Lock on the primary and DR vaults (enterprise): the retention "
            "every recovery point must have, and whether the lock can ever be lifted.",
            "",
            used_by=frozenset({Capability.VAULT_LOCK}),
            parse=_vault_lock,
            fields=(
                sub_key(
                    "mode",
                    "string",
                    "governance (removable by principals allowed to) or compliance "
                    "(immutable after changeableForDays; the vault then cannot be deleted "
                    "while it holds recovery points).",
                    "`governance` or `compliance`; compliance needs `acknowledgeIrreversible: "
                    "true`",
                    LOCK_GOVERNANCE,
                    parse=_lock_mode,
                ),
                sub_key(
                    "minRetentionDays",
                    "integer",
                    "Shortest retention a recovery point or copy may have in the vaults.",
                    "1..36500; at most the shortest rule's retention (each rule outside the "
                    "bounds is named)",
                    7,
                    parse=_days,
                ),
                sub_key(
                    "maxRetentionDays",
                    "integer",
                    "Longest retention a recovery point or copy may have in the vaults. "
                    "0 = the longest rule's retention.",
                    "0 or 1..36500; at least the longest rule's retention",
                    0,
                    default_note="the longest rule's",
                    parse=_optional_days,
                ),
                sub_key(
                    "changeableForDays",
                    "integer",
                    "Compliance mode only: days the lock can still be changed or removed "
                    "before it becomes immutable.",
                    "3..36500 (AWS's 72-hour minimum); ignored in governance mode",
                    3,
                    parse=_changeable_for,
                ),
                sub_key(
                    "acknowledgeIrreversible",
                    "boolean",
                    "Compliance mode only: true says you know the lock can never be lifted "
                    "after changeableForDays, by anyone, AWS included.",
                    "must be `true` for `mode: compliance`",
                    False,
                ),
            ),
        )
    )
    air_gapped_vault: AirGappedVaultSettings = field(
        metadata=key(
            "airGappedVault",
            "object",
            "A logically air-gapped vault in drRegion receiving copies (enterprise): "
            "compliance-locked by AWS, restorable from another account.",
            "",
            used_by=frozenset({Capability.AIR_GAPPED_VAULT}),
            switches=Capability.AIR_GAPPED_VAULT,
            parse=_air_gapped_vault,
            fields=(
                sub_key(
                    "enabled",
                    "boolean",
                    "Build the logically air-gapped vault and copy to it.",
                    "`false`: no air-gapped vault (drRegion where AWS offers none: Asia "
                    "Pacific (Malaysia), Canada West (Calgary), China, AWS GovCloud (US))",
                    True,
                ),
                sub_key(
                    "minRetentionDays",
                    "integer",
                    "Shortest retention a copy may have in the vault (AWS: at least 7).",
                    "7..36500; at most the shortest rule's retention",
                    aws_rules.MIN_AIR_GAPPED_RETENTION_DAYS,
                    parse=_air_gapped_min,
                ),
                sub_key(
                    "maxRetentionDays",
                    "integer",
                    "Longest retention a copy may have in the vault. 0 = 36500, AWS's largest. "
                    "Set once: the vault's lock never changes after it is created.",
                    "0 or 1..36500; at least the longest rule's retention",
                    0,
                    default_note="36500",
                    parse=_optional_days,
                ),
                sub_key(
                    "shareWithAccount",
                    "string",
                    "A recovery account the vault is shared with through AWS RAM, to restore "
                    "from it if this account is compromised. Empty = not shared.",
                    "a 12-digit account id: the recovery account, another than this one; the share "
                    "must be accepted there within 12 hours",
                    "",
                    default_note="not shared",
                    parse=_account,
                ),
                sub_key(
                    "copyTables",
                    "boolean",
                    "Also copy the tables' recovery points (not only the bucket's): only once "
                    "AWS lists DynamoDB as a resource a logically air-gapped vault accepts.",
                    "`true` only after checking AWS Backup's 'Feature availability by "
                    "resource' table (README)",
                    False,
                ),
            ),
        )
    )
    warnings: tuple[ConfigProblem, ...] = ()
    """What is valid but probably not meant; the program logs each with pulumi.log.warn."""

    def retentions(self, kinds: Iterable[RuleKind]) -> list[aws_rules.Retention]:
        """Each rule of `kinds` (a tier's backup rules) by name, with its retention: what a
        vault receiving its recovery points, or copies of them, must admit."""
        return _retentions(
            kinds, {name: getattr(self, name) for name in _RETENTION_FIELDS.values()}
        )

    @property
    def switched_on(self) -> frozenset[Capability]:
        """Capabilities an object's `enabled: true` asks for (audit in enhanced)."""
        return frozenset(
            spec.switches
            for name, spec in _FIELDS.items()
            if spec.switches is not None and getattr(self, name).enabled
        )

    @property
    def switched_off(self) -> frozenset[Capability]:
        """Capabilities an object's `enabled: false` turns off (restore testing)."""
        return frozenset(
            spec.switches
            for name, spec in _FIELDS.items()
            if spec.switches is not None and not getattr(self, name).enabled
        )


# The setting giving each rule kind its retention.
_RETENTION_FIELDS: Mapping[RuleKind, str] = {
    RuleKind.DAILY: "daily_retention_days",
    RuleKind.MONTHLY: "monthly_retention_days",
    RuleKind.YEARLY: "yearly_retention_days",
}


def _retentions(kinds: Iterable[RuleKind], values: Mapping[str, Any]) -> list[aws_rules.Retention]:
    """The rules of `kinds` with their retentions (skipping a retention already invalid)."""
    found = []
    for kind in kinds:
        days = values.get(_RETENTION_FIELDS[kind])
        if isinstance(days, int):
            found.append(aws_rules.Retention(rule_name(kind, days), days))
    return found


# Every key, in declaration order, keyed by the BackupSettings field it fills.
_FIELDS: Mapping[str, Setting] = {
    f.name: f.metadata["setting"] for f in fields(BackupSettings) if "setting" in f.metadata
}
SETTINGS: tuple[Setting, ...] = tuple(_FIELDS.values())
SETTINGS_BY_KEY: Mapping[str, Setting] = {spec.key: spec for spec in SETTINGS}


# Each key's field name: also the name of the tier components' argument for it, in Python.
# An object's keys are there too, dotted: restoreTesting.sampleSize -> restore_testing.sample_size.
FIELD_NAMES: Mapping[str, str] = {
    **{spec.key: name for name, spec in _FIELDS.items()},
    **{
        f"{spec.key}.{sub.key}": f"{name}.{sub.field_name}"
        for name, spec in _FIELDS.items()
        for sub in spec.fields
    },
}


@dataclass(frozen=True)
class Spelling:
    """How one caller names the settings: a stack's keys, or a tier component's arguments.

    Rules are checked under the stack keys and reported as the caller wrote them, so a Python
    program reads `daily_retention_days=0`, a stack or a YAML program `dailyRetentionDays=0`.
    """

    subject: str
    """Whose values they are, as the first line of an error names them."""
    names: Mapping[str, str] = field(default_factory=dict)
    """Stack key -> the caller's name for it, where the two differ (Python's snake_case)."""
    region: str = "aws:region"
    """What the caller calls the primary region."""

    def name(self, key: str) -> str:
        """`key` as the caller spells it; an object's unknown key keeps the caller's spelling."""
        if key == "aws:region":
            return self.region
        if key in self.names or "." not in key:
            return self.names.get(key, key)
        head, _, tail = key.partition(".")
        return f"{self.names.get(head, head)}.{tail}"

    def spell(self, problem: ConfigProblem) -> ConfigProblem:
        return ConfigProblem(
            tuple((self.name(key), value) for key, value in problem.values), problem.rule
        )


STACK_KEYS: Final = Spelling(f"{NAMESPACE} configuration")


def parse_settings(raw: Mapping[str, str], primary_region: str | None) -> BackupSettings:
    """Validate a stack's values (namespace stripped, as Pulumi passes them: strings).

    `primary_region` is `aws:region`. Raises ConfigError listing every problem. A key the tier
    ignores is only a warning: a stack file may keep the keys of the tier it moves to.
    """
    problems = unknown_key_problems(raw)
    given = {
        spec.key: _from_text(spec, raw[spec.key], problems) for spec in SETTINGS if spec.key in raw
    }
    return _validated(given, primary_region, problems, STACK_KEYS, warn_ignored=True)


def argument_settings(tier: Tier) -> tuple[Setting, ...]:
    """The keys a component of `tier` takes as arguments: those the tier uses, but `tier`."""
    return tuple(spec for spec in SETTINGS if spec.key != "tier" and spec.used_in(tier))


def parse_arguments(
    tier: Tier, arguments: Mapping[str, object], primary_region: str | None, spelling: Spelling
) -> BackupSettings:
    """Validate a tier component's arguments (typed values) by the rules of the stack's keys.

    An argument `tier` does not take is an error, not a warning: the component has no such
    input, so the value could only be a mistake. None means "not given" (the default applies);
    DEFERRED (an Output) is an error naming the argument. `primary_region` is the region of
    the component's AWS provider. Raises ConfigError, spelled as the caller spells, listing
    every problem.
    """
    # Python names, whoever called: the provider host maps other languages' camelCase to them.
    accepted = {FIELD_NAMES[spec.key]: spec for spec in argument_settings(tier)}
    problems: list[ConfigProblem] = []
    given: dict[str, Any] = {"tier": tier.value}
    for name, value in arguments.items():
        spec = accepted.get(name)
        if spec is None:
            problems.append(_unknown_argument(name, value, tier, spelling))
        elif value is not None:
            given[spec.key] = _from_value(spec, value, problems)
    return _validated(given, primary_region, problems, spelling, warn_ignored=False)


@dataclass(frozen=True)
class StackConfiguration:
    """A stack's validated settings, and the arguments its tier's component takes."""

    settings: BackupSettings
    arguments: Mapping[str, Default]
    """Each key the tier uses, typed, under its argument (field) name."""


def read_pulumi_config() -> StackConfiguration:
    """The program's edge: read this stack's config as Pulumi passed it, and validate it.

    Pulumi's language host hands the program the whole stack configuration, project defaults
    merged and keys Pulumi.yaml does not declare included (`PULUMI_CONFIG`, which
    `pulumi.runtime.config` reads; the CLI checks only the declared keys, in mergeConfig of
    sdk/go/common/workspace/config.go). So every key of this namespace is read and an unknown
    one refused, as `make preview` refuses it, together with keys in a look-alike namespace.
    Warnings go to pulumi.log.warn.
    """
    import pulumi
    from pulumi.runtime import config as runtime_config

    passed: dict[str, object] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{NAMESPACE}:"
    names = [spec.key for spec in SETTINGS] + sorted(
        key[len(prefix) :]
        for key in passed
        if key.startswith(prefix) and key[len(prefix) :] not in SETTINGS_BY_KEY
    )
    project = pulumi.Config(NAMESPACE)
    raw = {name: value for name in names if (value := project.get(name)) is not None}
    found = stack_key_problems(passed)
    try:
        settings = parse_settings(raw, pulumi.Config("aws").get("region"))
    except ConfigError as error:
        raise ConfigError([*found, *error.problems], warnings=error.warnings) from None
    if found:
        raise ConfigError(found, warnings=settings.warnings)
    for warning in settings.warnings:
        pulumi.log.warn(f"{NAMESPACE} configuration: {warning}")
    arguments = {
        FIELD_NAMES[spec.key]: _argument(spec, _convert(spec.kind, raw[spec.key]))
        for spec in argument_settings(settings.tier)
        if spec.key in raw
    }
    return StackConfiguration(settings, arguments)


def _argument(spec: Setting, value: Default) -> Default:
    """A stack's value as the tier component takes it: an object's keys in Python's names."""
    if not isinstance(value, dict):
        return value
    names = {sub.key: sub.field_name for sub in spec.fields}
    return {names.get(name, name): item for name, item in value.items()}


def unknown_key_problems(raw: Iterable[str] | Mapping[str, object]) -> list[ConfigProblem]:
    """Keys of this namespace that are not settings, each with the closest valid key."""
    problems = []
    by_lower = {key.lower(): key for key in SETTINGS_BY_KEY}
    for key in sorted(raw):
        if key in SETTINGS_BY_KEY:
            continue
        guess = by_lower.get(key.lower()) or next(
            iter(difflib.get_close_matches(key, list(SETTINGS_BY_KEY), n=1, cutoff=0.5)), None
        )
        hint = f"did you mean {guess}?" if guess else "valid keys: " + ", ".join(SETTINGS_BY_KEY)
        value = raw[key] if isinstance(raw, Mapping) else None
        problems.append(ConfigProblem(((key, value),), f"is not a {NAMESPACE} setting; {hint}"))
    return problems


# Namespaces a stack file may use besides this project's without being a typo of it.
_OTHER_NAMESPACES = frozenset({"aws", "pulumi"})


def stack_key_problems(values: Mapping[str, object]) -> list[ConfigProblem]:
    """What a stack file's full keys and values get wrong before any value is judged.

    A key in a namespace that merely looks like ours (`formkiq_backup:tier`) reaches no one, so
    the setting meant is silently not applied: an error naming the namespace meant. So is a key
    without a namespace, and a null (`~`), which leaves unclear whether the default is meant.
    """
    problems = []
    for full_key in sorted(values):
        value = values[full_key]
        namespace, colon, name = full_key.partition(":")
        if not colon:
            problems.append(
                ConfigProblem(
                    ((full_key, value),),
                    f"has no namespace: stack keys are namespace:name, e.g. {NAMESPACE}:tier"
                    + (
                        f" (did you mean {NAMESPACE}:{full_key}?)"
                        if full_key in SETTINGS_BY_KEY
                        else ""
                    ),
                )
            )
        elif (
            namespace != NAMESPACE
            and namespace.lower() not in _OTHER_NAMESPACES
            and (
                _squashed(namespace) == _squashed(NAMESPACE)
                or difflib.SequenceMatcher(None, namespace.lower(), NAMESPACE).ratio() >= 0.6
            )
        ):
            problems.append(
                ConfigProblem(
                    ((full_key, value),),
                    f"namespace {namespace} is not {NAMESPACE}, so nothing reads this key: "
                    f"did you mean {NAMESPACE}:{_closest_key(name)}?",
                )
            )
        elif value is NULL:
            default = SETTINGS_BY_KEY.get(name) if namespace == NAMESPACE else None
            hint = (
                f"remove the line to take the default ({default.default_text})"
                if default is not None and not default.required
                else "give it a value"
            )
            problems.append(ConfigProblem(((full_key, value),), f"is null: {hint}"))
    return problems


def _squashed(namespace: str) -> str:
    return re.sub(r"[^a-z0-9]", "", namespace.lower()).removesuffix("s")


def _closest_key(name: str) -> str:
    if name in SETTINGS_BY_KEY:
        return name
    guess = difflib.get_close_matches(name, list(SETTINGS_BY_KEY), n=1, cutoff=0.5)
    return guess[0] if guess else name


_LONGEST_SHOWN = 80


def show(value: object) -> str:
    """A value as a problem names it: strings quoted; not given, null and "" spelled out."""
    if value is None:
        return "(not set)"
    if isinstance(value, _Marker):
        return repr(value)
    if value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        text = str(value) if isinstance(value, int) else json.dumps(value)
    except TypeError:
        text = repr(value)
    if len(text) > _LONGEST_SHOWN:
        # A problem line stays readable whatever was pasted into the stack file.
        return f"{text[: _LONGEST_SHOWN // 2]}...({len(text)} characters)"
    return text


# --- parsing helpers ------------------------------------------------------------------------


def _validated(
    given: Mapping[str, Any],
    primary_region: str | None,
    problems: list[ConfigProblem],
    spelling: Spelling,
    *,
    warn_ignored: bool,
) -> BackupSettings:
    """Settings from typed values by key (or _INVALID where a value could not be typed)."""
    values: dict[str, Any] = {
        name: _parse_one(spec, given, problems, spelling) for name, spec in _FIELDS.items()
    }
    values["primary_region"] = _primary_region(primary_region, problems)
    problems.extend(_cross_key_problems(values))
    warnings = [
        spelling.spell(warning)
        for warning in (
            *(_ignored_key_warnings(given, values) if warn_ignored else ()),
            *_value_warnings(values),
            *_switch_warnings(given, values),
        )
    ]
    if problems:
        raise ConfigError(
            [spelling.spell(problem) for problem in problems],
            warnings=warnings,
            subject=spelling.subject,
        )
    return BackupSettings(**values, warnings=tuple(warnings))


def _parse_one(
    spec: Setting, given: Mapping[str, Any], problems: list[ConfigProblem], spelling: Spelling
) -> Any:
    """One key's field value, or _INVALID after recording why it has none."""
    if spec.key not in given:
        if spec.required:
            problems.append(ConfigProblem(((spec.key, None),), f"is required: {spec.description}"))
            return _INVALID
        typed: Any = spec.default
    else:
        typed = given[spec.key]
        if typed is _INVALID:
            return _INVALID
    if spec.kind == "object":
        typed = _parse_object(spec, typed, problems, spelling)
        if typed is _INVALID:
            return _INVALID
    try:
        return spec.parse(typed)
    except InvalidValueError as rejected:
        problems.extend(ConfigProblem(((spec.key, value),), rule) for value, rule in rejected.found)
        return _INVALID


def _parse_object(
    spec: Setting, given: Mapping[str, Any], problems: list[ConfigProblem], spelling: Spelling
) -> Any:
    """An object's keys, each typed and parsed by its own rule, by field name; or _INVALID.

    A key the object does not have is an error naming it (`restoreTesting.foo`) and the
    closest key it has; a key not given takes its default.
    """
    values: dict[str, Any] = {}
    found = len(problems)
    fields = spec.fields_by_key
    for name, value in given.items():
        if name not in fields:
            problems.append(_unknown_sub_key(spec, name, value, spelling))
    for sub in spec.fields:
        dotted = f"{spec.key}.{sub.key}"
        raw = given.get(sub.key, sub.default)
        try:
            values[sub.field_name] = sub.parse(_typed(sub.kind, raw))
        except ValueError as error:
            rules = error.found if isinstance(error, InvalidValueError) else ((raw, str(error)),)
            problems.extend(ConfigProblem(((dotted, value),), rule) for value, rule in rules)
    return _INVALID if len(problems) > found else values


def _unknown_sub_key(spec: Setting, name: str, value: object, spelling: Spelling) -> ConfigProblem:
    """A key an object does not have, with the closest one it has, as the caller spells it."""
    keys = list(spec.fields_by_key)
    by_lower = {candidate.lower(): candidate for candidate in keys}
    guess = by_lower.get(name.lower().replace("_", "")) or next(
        iter(difflib.get_close_matches(name, keys, n=1, cutoff=0.5)), None
    )
    spelled = [spelling.name(f"{spec.key}.{k}") for k in keys]
    hint = (
        f"did you mean {spelling.name(f'{spec.key}.{guess}')}?"
        if guess
        else "its keys are " + ", ".join(spelled)
    )
    return ConfigProblem(
        ((f"{spec.key}.{name}", value),),
        f"is not a key of {spelling.name(spec.key)}; {hint}",
    )


def _from_text(spec: Setting, text: str, problems: list[ConfigProblem]) -> Any:
    """A stack's string as the key's type, or _INVALID after recording why it is not."""
    try:
        return _convert(spec.kind, text)
    except ValueError as error:
        problems.append(ConfigProblem(((spec.key, _structure(text)),), str(error)))
        return _INVALID


def _from_value(spec: Setting, value: object, problems: list[ConfigProblem]) -> Any:
    """An argument's value as the key's type, or _INVALID after recording why it is not."""
    if value is DEFERRED:
        problems.append(
            ConfigProblem(
                ((spec.key, DEFERRED),),
                "must be a plain value: arguments are checked before anything is registered, "
                "and an Output has no value until the deployment runs",
            )
        )
        return _INVALID
    try:
        typed = _typed(spec.kind, value)
    except ValueError as error:
        problems.append(ConfigProblem(((spec.key, value),), str(error)))
        return _INVALID
    if isinstance(typed, dict):
        # Python's names (the provider host maps other languages' camelCase to them) back to
        # the stack's keys; an unknown key stays as written, to be named in its problem.
        keys = {sub.field_name: sub.key for sub in spec.fields}
        return {keys.get(name, name): item for name, item in typed.items()}
    return typed


def _typed(kind: SettingKind, value: object) -> Default:
    """An argument's value checked against the key's type."""
    if kind == "object":
        if isinstance(value, Mapping) and all(isinstance(name, str) for name in value):
            return dict(value)
        raise ValueError("must be a mapping of keys to values, e.g. {enabled: false}")
    if kind == "string":
        if isinstance(value, str):
            return value
        raise ValueError("must be a string")
    if kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        # Numbers cross Pulumi's wire as doubles (protobuf Struct), so YAML's 35 arrives as 35.0.
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError("must be a whole number")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        raise ValueError("must be true or false")
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ValueError('must be a list of strings, e.g. ["a", "b"]')


def _unknown_argument(name: str, value: object, tier: Tier, spelling: Spelling) -> ConfigProblem:
    """An argument `tier` does not take: a higher tier's setting, or a misspelling."""
    owner = next((spec for key, spec in SETTINGS_BY_KEY.items() if FIELD_NAMES[key] == name), None)
    if owner is not None and owner.key != "tier":
        hint = f" (only tiers {owner.tiers} use it)"
    else:
        accepted = {FIELD_NAMES[spec.key]: spec.key for spec in argument_settings(tier)}
        by_lower = {candidate.lower(): candidate for candidate in accepted}
        guess = by_lower.get(name.lower()) or next(
            iter(difflib.get_close_matches(name, list(accepted), n=1, cutoff=0.5)), None
        )
        names = [spelling.name(key) for key in accepted.values()]
        hint = (
            f"; did you mean {spelling.name(accepted[guess])}?"
            if guess
            else "; it takes " + ", ".join(names)
        )
    return ConfigProblem(((name, value),), f"is not an argument of the {tier.value} tier{hint}")


def _convert(kind: SettingKind, text: str) -> Default:
    """A value as Pulumi hands it to the program (a string; lists and mappings as JSON) to the
    key's type; an object's keys are typed later, each by its own declaration."""
    if kind == "object":
        value = _structure(text)
        if not isinstance(value, dict):
            raise ValueError("must be a mapping of keys to values, e.g. {enabled: false}")
        return value
    if kind == "string":
        if not isinstance(_structure(text), str):
            raise ValueError("must be one value, not a list or mapping")
        return text
    if kind == "integer":
        digits = re.fullmatch(r"\s*-?0*([0-9]+)\s*", text)
        if not digits:
            raise ValueError("must be a whole number")
        if len(digits.group(1)) > _MAX_DIGITS:
            # Python refuses to read numbers of more than 4,300 digits, and no setting takes
            # more than a few: say so rather than pass the number on.
            raise ValueError(
                f"must be a whole number of days, not a {len(digits.group(1))}-digit one"
            )
        return int(text)
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


# No integer setting allows more than five digits (36500); eighteen leave room for any typo to
# reach the key's own rule, which names the range.
_MAX_DIGITS = 18


def _structure(text: str) -> object:
    """A list or mapping as the stack file wrote it (Pulumi hands those on as JSON), else text."""
    if text[:1] in ("[", "{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return text
        if isinstance(value, list | dict):
            return value
    return text


def _primary_region(region: str | None, problems: list[ConfigProblem]) -> Any:
    """`aws:region` is required: an unset one would leave the region to whatever AWS_REGION
    the deploying shell happens to have, and a preview to guess."""
    if not region:
        problems.append(
            ConfigProblem(
                (("aws:region", region or None),),
                "is required: FormKiQ's region, e.g. `pulumi config set aws:region us-east-1`",
            )
        )
        return _INVALID
    if region not in aws_rules.region_partitions():
        problems.append(
            ConfigProblem(
                (("aws:region", region),),
                f"is not an AWS region where AWS Backup runs{_near(region)}",
            )
        )
        return _INVALID
    return region


def _cross_key_problems(values: Mapping[str, Any]) -> list[ConfigProblem]:
    """Rules that involve two keys; each is skipped when a key involved is already invalid."""
    problems: list[ConfigProblem] = []
    valid = {name: value for name, value in values.items() if value is not _INVALID}
    tier: Tier | None = valid.get("tier")
    primary: str | None = valid.get("primary_region")
    dr_region: str | None = valid.get("dr_region")
    partitions = aws_rules.region_partitions()
    for name, spec in _FIELDS.items():
        unset = valid.get(name, _INVALID) is None
        if tier is not None and unset and spec.required_where_used and spec.used_in(tier):
            problems.append(
                ConfigProblem(
                    ((spec.key, None),),
                    f"is required for tier {tier.value}: {spec.required_where_used}",
                )
            )
    if dr_region is None:
        pass  # not set (required where used, said above) or already reported
    elif primary is not None and dr_region == primary:
        problems.append(
            ConfigProblem(
                (("drRegion", dr_region), ("aws:region", primary)),
                "the disaster-recovery region must differ from the primary region, or one "
                "regional outage takes both copies",
            )
        )
    elif primary is not None and partitions[primary] != partitions[dr_region]:
        problems.append(
            ConfigProblem(
                (("drRegion", dr_region), ("aws:region", primary)),
                f"copies cannot cross partitions ({partitions[primary]} to "
                f"{partitions[dr_region]})",
            )
        )
    if primary is not None:
        for arn in valid.get("break_glass_role_arns", ()):
            partition = arn.split(":")[1]
            if partition != partitions[primary]:
                problems.append(
                    ConfigProblem(
                        (("breakGlassRoleArns", arn), ("aws:region", primary)),
                        f"a role of partition {partition} can never act in "
                        f"{partitions[primary]}, so it could never break glass: use an "
                        f"arn:{partitions[primary]}:iam:: role ARN",
                    )
                )
    retention, exports = valid.get("export_retention_days"), valid.get("export_schedule")
    if retention is not None and exports is not None:
        problems.extend(
            ConfigProblem(
                (("exportRetentionDays", retention), ("exportSchedule", exports.expression)), rule
            )
            for rule in aws_rules.export_retention_problems(retention, exports)
        )
    cold, monthly = valid.get("cold_storage_after_days"), valid.get("monthly_retention_days")
    if cold is not None and monthly is not None:
        problems.extend(
            ConfigProblem((("coldStorageAfterDays", cold), ("monthlyRetentionDays", monthly)), rule)
            for rule in aws_rules.lifecycle_problems(monthly, cold)
        )
    problems += _enterprise_problems(tier, valid, primary, dr_region)
    roles, audit = valid.get("break_glass_role_arns", ()), valid.get("audit")
    limit = aws_rules.MAX_MANUAL_DELETION_PRINCIPALS
    if tier is not None and audit is not None and _audits(tier, audit) and len(roles) > limit:
        problems.append(
            ConfigProblem(
                (("breakGlassRoleArns", list(roles)),),
                f"{len(roles)} roles; the audit framework's manual-deletion control exempts at "
                f"most {limit} (its principalArnList): give at most {limit}",
            )
        )
    return problems


def _enterprise_problems(
    tier: Tier | None, valid: Mapping[str, Any], primary: str | None, dr_region: str | None
) -> list[ConfigProblem]:
    """Replica regions, the yearly rule's lifecycle, the locks and the air-gapped vault."""
    problems = _replica_region_problems(valid, primary, dr_region)
    yearly = valid.get("yearly_retention_days")
    yearly_cold = valid.get("yearly_cold_storage_after_days")
    if yearly is not None and yearly_cold is not None:
        problems.extend(
            ConfigProblem(
                (("yearlyColdStorageAfterDays", yearly_cold), ("yearlyRetentionDays", yearly)),
                rule,
            )
            for rule in aws_rules.lifecycle_problems(yearly, yearly_cold)
        )
    if tier is not None:
        problems += _lock_problems(tier, valid, dr_region)
    return problems


def _replica_region_problems(
    valid: Mapping[str, Any], primary: str | None, dr_region: str | None
) -> list[ConfigProblem]:
    """Each replica region elsewhere than FormKiQ's table and drRegion's replica, and in the
    primary region's partition (a global table cannot span partitions)."""
    problems = []
    partitions = aws_rules.dynamodb_region_partitions()
    for region in valid.get("replica_regions", ()):
        if region == primary:
            problems.append(
                ConfigProblem(
                    (("replicaRegions", region), ("aws:region", primary)),
                    "FormKiQ's own tables are in the primary region: a replica region must "
                    "be another one",
                )
            )
        elif region == dr_region:
            problems.append(
                ConfigProblem(
                    (("replicaRegions", region), ("drRegion", dr_region)),
                    "drRegion always has a replica: list only the regions beyond it",
                )
            )
        elif primary is not None and partitions.get(region) != partitions.get(primary):
            problems.append(
                ConfigProblem(
                    (("replicaRegions", region), ("aws:region", primary)),
                    f"a global table cannot span partitions ({partitions.get(primary)} to "
                    f"{partitions.get(region)})",
                )
            )
    return problems


def _lock_problems(
    tier: Tier, valid: Mapping[str, Any], dr_region: str | None
) -> list[ConfigProblem]:
    """Locks the tier builds whose bounds would make AWS fail a rule's (or copy's) jobs, a
    compliance lock nobody acknowledged, and an air-gapped vault where AWS has none."""
    spec = TIERS[tier]
    retentions = _retentions(spec.backup_rules, valid)
    problems: list[ConfigProblem] = []
    lock: VaultLockSettings | None = valid.get("vault_lock")
    if lock is not None and Capability.VAULT_LOCK in spec.capabilities:
        if lock.compliance and not lock.acknowledge_irreversible:
            problems.append(
                ConfigProblem(
                    (
                        ("vaultLock.mode", lock.mode),
                        ("vaultLock.acknowledgeIrreversible", False),
                    ),
                    "a compliance lock can never be changed or removed once changeableForDays "
                    "have passed, by anyone (AWS included), and the vault cannot be deleted "
                    "while it holds recovery points: set acknowledgeIrreversible: true to mean "
                    "it, or use governance",
                )
            )
        maximum = lock.max_for(retentions)
        problems += [
            ConfigProblem(
                (
                    ("vaultLock.minRetentionDays", lock.min_retention_days),
                    ("vaultLock.maxRetentionDays", maximum),
                ),
                rule,
            )
            for rule in aws_rules.lock_bound_problems(
                lock.min_retention_days, maximum, retentions, "the primary and DR vaults"
            )
        ]
    gapped: AirGappedVaultSettings | None = valid.get("air_gapped_vault")
    if gapped is not None and gapped.enabled and Capability.AIR_GAPPED_VAULT in spec.capabilities:
        maximum = gapped.max_days
        problems += [
            ConfigProblem(
                (
                    ("airGappedVault.minRetentionDays", gapped.min_retention_days),
                    ("airGappedVault.maxRetentionDays", maximum),
                ),
                rule,
            )
            for rule in aws_rules.lock_bound_problems(
                gapped.min_retention_days, maximum, retentions, "the air-gapped vault"
            )
        ]
        if dr_region is not None:
            problems += [
                ConfigProblem(
                    (("drRegion", dr_region), ("airGappedVault.enabled", True)),
                    f"{rule}: choose another drRegion, or set airGappedVault.enabled: false",
                )
                for rule in aws_rules.air_gapped_region_problems(dr_region)
            ]
    return problems


def _audits(tier: Tier, audit: AuditSettings) -> bool:
    """Whether a stack of `tier` with these audit settings builds the audit framework."""
    spec = TIERS[tier]
    return Capability.AUDIT in spec.capabilities or (
        Capability.AUDIT in spec.optional_capabilities and audit.enabled
    )


def _ignored_key_warnings(
    given: Mapping[str, Any], values: Mapping[str, Any]
) -> list[ConfigProblem]:
    """Keys the tier does not use, set to something other than their default."""
    tier = values["tier"]
    if not isinstance(tier, Tier):
        return []
    warnings = []
    for name, spec in _FIELDS.items():
        if spec.key not in given or spec.used_in(tier) or values[name] is _INVALID:
            continue  # not given, used, or reported as a problem already
        if given[spec.key] == spec.default:
            continue  # the default spelled out changes nothing
        warnings.append(
            ConfigProblem(
                ((spec.key, given[spec.key]),),
                f"tier {tier.value} ignores it (only tiers {spec.tiers} use it)",
            )
        )
    return warnings


def _switch_warnings(given: Mapping[str, Any], values: Mapping[str, Any]) -> list[ConfigProblem]:
    """`enabled: false` given for a capability the tier always builds: said, not obeyed."""
    tier = values["tier"]
    if not isinstance(tier, Tier):
        return []
    warnings = []
    for spec in SETTINGS:
        stated = given.get(spec.key)
        if spec.switches is None or not isinstance(stated, Mapping):
            continue
        always = spec.switches in TIERS[tier].capabilities - SWITCHABLE_OFF
        if stated.get("enabled") is False and always:
            warnings.append(
                ConfigProblem(
                    ((f"{spec.key}.enabled", False),),
                    f"tier {tier.value} always builds {spec.switches.value}: ignored",
                )
            )
    return warnings


def _value_warnings(values: Mapping[str, Any]) -> list[ConfigProblem]:
    """Valid values that are probably not meant: said on every run, never silently accepted."""
    tier = values["tier"]
    if not isinstance(tier, Tier):
        return []
    capabilities = TIERS[tier].capabilities
    warnings: list[ConfigProblem] = []
    retention, exports = values["export_retention_days"], values["export_schedule"]
    if (
        Capability.SYSTEM_EXPORTS in capabilities
        and isinstance(retention, int)
        and isinstance(exports, ExportSchedule)
    ):
        warnings.extend(
            ConfigProblem(
                (("exportRetentionDays", retention), ("exportSchedule", exports.expression)), rule
            )
            for rule in aws_rules.export_retention_warnings(retention, exports)
        )
    daily, monthly = values["daily_retention_days"], values["monthly_retention_days"]
    both_valid = isinstance(daily, int) and isinstance(monthly, int)
    if Capability.AWS_BACKUP in capabilities and both_valid and daily > monthly:
        # Legal, and nothing is lost (points are kept longer, not shorter), so a warning: but
        # every monthly point is outlived by the daily one of the same day.
        warnings.append(
            ConfigProblem(
                (("dailyRetentionDays", daily), ("monthlyRetentionDays", monthly)),
                "daily recovery points are kept longer than monthly ones, so the monthly rule "
                "keeps nothing the daily rule does not; were the two swapped?",
            )
        )
    return warnings
