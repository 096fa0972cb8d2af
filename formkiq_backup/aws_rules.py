"""AWS's rules that no emulator enforces, checked before anything reaches AWS.

moto accepts any backup plan (a 30-day cold tier with 60-day retention, a 10-minute schedule,
40,000-day retention), so these checks are our only guard before `pulumi up`. Each function
returns problems as sentences; the caller decides whether a problem names a config key or a
component argument. Sources are cited next to each rule.
"""

import calendar
import itertools
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache

# API_Lifecycle: "DeleteAfterDays cannot be less than 1 or more than 36500 days".
MAX_LIFECYCLE_DAYS = 36_500
# API_Lifecycle: cold recovery points stay cold at least 90 days, so
# DeleteAfterDays >= MoveToColdStorageAfterDays + 90.
COLD_STORAGE_MINIMUM_DAYS = 90
# BackupRuleInput.StartWindowMinutes: "must be at least 60 minutes to avoid errors".
MIN_START_WINDOW_MINUTES = 60
# DynamoDB PointInTimeRecoverySpecification.RecoveryPeriodInDays: 1..35 (default 35).
MAX_PITR_RECOVERY_PERIOD_DAYS = 35

# PutBackupVaultNotifications: the events AWS still delivers. BACKUP_JOB_FAILED and friends are
# accepted by the API but deprecated and never sent, so a vault subscribed only to them is silent.
SUPPORTED_VAULT_EVENTS = frozenset(
    {
        "BACKUP_JOB_STARTED",
        "BACKUP_JOB_COMPLETED",
        "COPY_JOB_STARTED",
        "COPY_JOB_SUCCESSFUL",
        "COPY_JOB_FAILED",
        "RESTORE_JOB_STARTED",
        "RESTORE_JOB_COMPLETED",
        "RECOVERY_POINT_MODIFIED",
        "S3_BACKUP_OBJECT_FAILED",
        "S3_RESTORE_OBJECT_FAILED",
    }
)

_RULE_NAME = re.compile(r"^[a-zA-Z0-9\-_.]{1,50}$")  # BackupRuleInput.RuleName
_VAULT_NAME = re.compile(r"^[a-zA-Z0-9\-_]{2,50}$")  # CreateBackupVault.BackupVaultName
_SELECTION_NAME = re.compile(r"^[a-zA-Z0-9\-_.]{1,50}$")  # BackupSelection.SelectionName
_IAM_ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
# An e-mail endpoint is "an email address" (SNS API reference, Subscribe, Endpoint): the bare
# addr-spec of RFC 5322 section 3.4.1 in its dot-atom form, local part at most 64 characters
# and the whole at most 254 (RFC 5321 section 4.5.3.1, RFC 3696 errata), domain labels of
# letters, digits and hyphens (RFC 1035 section 2.3.1). No display name, no <>, no mailto:.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL_LOCAL = re.compile(rf"{_ATEXT}(\.{_ATEXT})*")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")

_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, start=1)}
_WEEKDAYS = {name: number for number, name in enumerate(_WEEKDAY_NAMES, start=1)}


class ScheduleError(ValueError):
    """A schedule expression AWS Backup would reject, or one that breaks its hourly minimum."""


@dataclass(frozen=True)
class CronSchedule:
    """An AWS 6-field cron expression, parsed far enough to reason about how often it runs."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]

    def monthly_on_first_day(self) -> str:
        """The same time of day on the first of each month: the monthly rule's schedule."""
        return f"cron({self.minutes[0]} {self.hours[0]} 1 * ? *)"

    def yearly_on_first_day(self) -> str:
        """The same time of day on the first of January: the yearly rule's schedule."""
        return f"cron({self.minutes[0]} {self.hours[0]} 1 1 ? *)"

    @property
    def longest_gap(self) -> timedelta:
        """The longest time between two runs (a weekday-only schedule: the weekend)."""
        fields = self.expression.removeprefix("cron(").removesuffix(")").split()
        return _longest_gap(fields, self.minutes, self.hours)


def parse_backup_schedule(expression: str, *, this_year: int | None = None) -> CronSchedule:
    """Parse an AWS Backup schedule, rejecting anything AWS would reject, run more than hourly,
    or never run at all.

    AWS Backup takes EventBridge 6-field cron (plan-options-and-configuration) and runs jobs
    "as frequently as hourly": a minutes field naming more than one minute fires twice in an hour.
    AWS accepts a cron that matches no date (the 30th of February, only past years) and then never
    starts a job, so that is refused here. `this_year` defaults to the current UTC year.
    """
    text = expression.strip()
    if text.startswith("rate("):
        raise ScheduleError(
            "AWS Backup plans take cron() schedules only (rate() is not documented for backup "
            "rules), e.g. cron(0 5 * * ? *)"
        )
    match = re.fullmatch(r"cron\((.*)\)", text)
    if not match:
        raise ScheduleError("must be a cron() expression, e.g. cron(0 5 * * ? *)")
    fields = match.group(1).split()
    if len(fields) != 6:
        raise ScheduleError(
            f"has {len(fields)} fields; AWS cron takes 6 (minutes hours day-of-month month "
            "day-of-week year), e.g. cron(0 5 * * ? *)"
        )
    minute, hour, day_of_month, month, day_of_week, year = fields
    minutes = _expand("minutes", minute, 0, 59)
    hours = _expand("hours", hour, 0, 23)
    days = _days_of_month(day_of_month)
    months = _field_values("month", month, 1, 12, _MONTHS)
    _check_day_of_week(day_of_week)
    years = _field_values("year", year, 1970, 2199, {})
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleError(
            "exactly one of day-of-month and day-of-week must be '?', e.g. cron(0 5 * * ? *)"
        )
    if len(minutes) > 1:
        listed = ",".join(str(m) for m in minutes)
        raise ScheduleError(
            f"starts {len(minutes)} jobs an hour (minutes {listed}); AWS Backup runs a rule "
            "at most hourly, so the minutes field must name one minute, e.g. cron(0 5 * * ? *)"
        )
    never = _never_fires(
        day_of_month,
        days,
        months,
        years,
        datetime.now(UTC).year if this_year is None else this_year,
    )
    if never:
        raise ScheduleError(f"never starts a job: {never}, e.g. cron(0 5 * * ? *)")
    return CronSchedule(expression=text, minutes=minutes, hours=hours)


# The daily rule is the tier's recovery point promise: a recovery point younger than 26 hours,
# which the freshness alarms, the posture guard and `formkiq-dr verify` check (tiers.definitions,
# recovery_point_max_age_hours). A schedule with a longer gap would alarm on every day it skips.
MAX_BACKUP_INTERVAL = timedelta(days=1)


def daily_rule_problems(schedule: CronSchedule) -> list[str]:
    """Problems with `schedule` as the daily rule's: it must leave no day without a backup."""
    fields = schedule.expression[len("cron(") : -1].split()
    try:
        gap = _longest_gap(fields, schedule.minutes, schedule.hours)
    except ScheduleError:
        return []  # runs only in years named explicitly: _never_fires judged those
    if gap <= MAX_BACKUP_INTERVAL:
        return []
    return [
        f"leaves up to {_days_text(gap)} between backups: the daily rule must run every day "
        "(the tier promises a recovery point younger than 26 hours, and its alarms and "
        "verify check exactly that), e.g. cron(0 5 * * ? *); keep fewer recovery points with "
        "dailyRetentionDays instead"
    ]


def _expand(field: str, text: str, low: int, high: int) -> tuple[int, ...]:
    """Expand a minutes or hours field (`*`, `n`, `a-b`, `x/step`, lists) into its values."""
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"{field} field {text!r}: step {step_text!r} is not a number")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif re.fullmatch(r"\d+-\d+", base):
            start, end = (int(v) for v in base.split("-"))
        elif base.isdigit():
            start = int(base)
            end = high if step_text else start
        else:
            raise ScheduleError(f"{field} field {text!r} is not valid cron syntax")
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise ScheduleError(f"{field} field {text!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return tuple(sorted(values))


def _field_values(
    field: str, text: str, low: int, high: int, names: dict[str, int]
) -> frozenset[int]:
    """The values a day-of-month, month or year field names: `*`, numbers or names, ranges
    (wrapping past the end, e.g. NOV-FEB), steps and lists."""
    if text == "*":
        return frozenset(range(low, high + 1))
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        if step_text and (not step_text.isdigit() or int(step_text) == 0):
            raise ScheduleError(f"{field} field {text!r} is not valid cron syntax")
        bounds: list[int] = []
        for bound in base.split("-") if base != "*" else []:
            value = names.get(bound.upper()) if not bound.isdigit() else int(bound)
            if value is None or not low <= value <= high:
                raise ScheduleError(f"{field} field {text!r} is outside {low}-{high}")
            bounds.append(value)
        if base == "*":
            start, end = low, high
        elif len(bounds) == 1:
            start, end = bounds[0], high if step_text else bounds[0]
        elif len(bounds) == 2:
            start, end = bounds
        else:
            raise ScheduleError(f"{field} field {text!r} is not valid cron syntax")
        span = (
            [*range(start, high + 1), *range(low, end + 1)]
            if start > end
            else range(start, end + 1)
        )
        values.update(span[:: int(step_text or 1)])
    return frozenset(values)


def _days_of_month(text: str) -> frozenset[int] | None:
    """The days a day-of-month field names; None when it fires in every month (`?` leaves the
    choice to day-of-week, `*`, `L` last day, `LW` last weekday)."""
    if text in ("?", "*", "L", "LW"):
        return None
    nearest_weekday = re.fullmatch(r"([1-9]|[12]\d|3[01])W", text)
    if nearest_weekday:
        # nW: "the weekday closest to the nth day of the month" (EventBridge, Cron expressions
        # reference, eb-cron-expressions): a month without day n has no such weekday.
        return frozenset({int(nearest_weekday.group(1))})
    return _field_values("day-of-month", text, 1, 31, {})


def _check_day_of_week(text: str) -> None:
    """Validate day-of-week: also `?`, `nL` (last weekday n) and `n#k` (k-th weekday n)."""
    if text in ("?", "*", "L"):
        return
    if re.fullmatch(r"([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)(L|#[1-5])", text.upper()):
        return
    _field_values("day-of-week", text, 1, 7, _WEEKDAYS)


# The longest each month gets (February in a leap year).
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _never_fires(
    day_of_month: str,
    days: frozenset[int] | None,
    months: frozenset[int],
    years: frozenset[int],
    this_year: int,
) -> str | None:
    """Why a schedule matches no date from this year on, or None when it matches one.

    Fields as the EventBridge Cron expressions reference (eb-cron-expressions) defines them; years
    run 1970-2199 there, so a list of past years is accepted by AWS and then never fires.
    """
    coming = sorted(year for year in years if year >= this_year)
    if not coming:
        return f"every year it names is before {this_year}"
    if days is None:
        return None
    leap_year_ahead = any(calendar.isleap(year) for year in coming)
    for month in months:
        longest = _MONTH_DAYS[month - 1] if month != 2 or leap_year_ahead else 28
        if min(days) <= longest:
            return None
    named = ", ".join(_MONTH_NAMES[month - 1] for month in sorted(months))
    return f"day-of-month {day_of_month} does not occur in {named}"


def lifecycle_problems(delete_after_days: int, cold_storage_after_days: int | None) -> list[str]:
    """Problems with a recovery point lifecycle (API_Lifecycle)."""
    problems = []
    if not 1 <= delete_after_days <= MAX_LIFECYCLE_DAYS:
        problems.append(f"retention must be 1..{MAX_LIFECYCLE_DAYS} days (AWS Backup's limit)")
    if cold_storage_after_days is not None:
        if not 1 <= cold_storage_after_days <= MAX_LIFECYCLE_DAYS:
            problems.append(f"cold storage must start after 1..{MAX_LIFECYCLE_DAYS} days")
        elif delete_after_days < cold_storage_after_days + COLD_STORAGE_MINIMUM_DAYS:
            problems.append(
                "AWS Backup keeps cold recovery points at least "
                f"{COLD_STORAGE_MINIMUM_DAYS} days, so retention must be >= "
                f"{cold_storage_after_days + COLD_STORAGE_MINIMUM_DAYS}"
            )
    return problems


def copy_lifecycle_problems(
    delete_after_days: int, cold_storage_after_days: int | None
) -> list[str]:
    """Problems with a copy action's lifecycle: the same rules as a rule's (API_CopyAction,
    Lifecycle: "Backups transitioned to cold storage must be stored in cold storage for a
    minimum of 90 days")."""
    return [
        f"copy action: {problem}"
        for problem in lifecycle_problems(delete_after_days, cold_storage_after_days)
    ]


def window_problems(start_window_minutes: int, completion_window_minutes: int) -> list[str]:
    """Problems with a rule's start and completion windows (BackupRuleInput)."""
    problems = []
    if start_window_minutes < MIN_START_WINDOW_MINUTES:
        problems.append(
            f"start window must be at least {MIN_START_WINDOW_MINUTES} minutes "
            f"(got {start_window_minutes})"
        )
    if completion_window_minutes <= start_window_minutes:
        problems.append(
            f"completion window ({completion_window_minutes} min) must be longer than the "
            f"start window ({start_window_minutes} min)"
        )
    return problems


def rule_name_problems(name: str) -> list[str]:
    """AWS Backup rule names: letters, digits, '-', '_', '.'; at most 50 characters."""
    return [] if _RULE_NAME.match(name) else [f"rule name {name!r} must match {_RULE_NAME.pattern}"]


def vault_name_problems(name: str) -> list[str]:
    """Backup vault names: letters, digits, '-', '_'; 2 to 50 characters."""
    if _VAULT_NAME.match(name):
        return []
    return [f"vault name {name!r} must match {_VAULT_NAME.pattern}"]


def plan_name_problems(name: str) -> list[str]:
    """Backup plan names: "1 to 50 alphanumeric or '-_.' characters" (CreateBackupPlan,
    BackupPlanName)."""
    if _SELECTION_NAME.match(name):
        return []
    return [f"plan name {name!r} must match {_SELECTION_NAME.pattern}"]


def selection_name_problems(name: str) -> list[str]:
    """Backup selection names: letters, digits, '-', '_', '.'; at most 50 characters."""
    if _SELECTION_NAME.match(name):
        return []
    return [f"selection name {name!r} must match {_SELECTION_NAME.pattern}"]


def timezone_problems(name: str) -> list[str]:
    """ScheduleExpressionTimezone takes an IANA time zone name."""
    if name in _iana_time_zones():
        return []
    return ["must be an IANA time zone name, e.g. UTC or Europe/Berlin"]


@cache
def _iana_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_iam_role_arn(arn: str) -> bool:
    """An IAM role ARN in any partition, e.g. arn:aws:iam::123456789012:role/BreakGlass."""
    return bool(_IAM_ROLE_ARN.match(arn))


def is_email_address(address: str) -> bool:
    """A bare address SNS can subscribe (see `email_address_problems`)."""
    return not email_address_problems(address)


def email_address_problems(address: str) -> list[str]:
    """Why `address` is not an e-mail endpoint SNS accepts, with what was probably meant."""
    example = "name@example.com"
    text = address.strip()
    if text.lower().startswith("mailto:"):
        return [f'is a mailto: link: give the bare address, e.g. "{text[7:]}"']
    if "<" in text or ">" in text:
        inner = text[text.find("<") + 1 : text.rfind(">")] if ">" in text else ""
        hint = f', e.g. "{inner}"' if is_email_address(inner) else f" ({example})"
        return [f"has a display name or <>: give the bare address{hint}"]
    if text != address:
        return [f"has spaces around it: give the address alone ({example})"]
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return [f"is not an e-mail address ({example})"]
    if not address.isascii():
        return [
            f"has characters other than ASCII, which SNS e-mail endpoints do not take ({example})"
        ]
    problems = []
    if len(local) > 64 or not _EMAIL_LOCAL.fullmatch(local):
        problems.append(
            "has a local part (before @) that is not letters, digits and !#$%&'*+/=?^_`{|}~- "
            f"with single dots between, at most 64 characters ({example})"
        )
    labels = domain.split(".")
    if (
        len(labels) < 2
        or len(domain) > 253
        or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        problems.append(
            "has a domain (after @) that is not a host name with a dot, e.g. example.com"
        )
    if len(address) > 254:
        problems.append("is longer than 254 characters, the longest address SMTP delivers")
    return problems


@cache
def region_partitions() -> dict[str, str]:
    """Every region AWS Backup runs in, mapped to its partition.

    Read from botocore's bundled endpoint data, so no network call is made.
    """
    return _service_regions("backup")


def _service_regions(service: str) -> dict[str, str]:
    """Every region botocore's bundled endpoint data lists for `service`, with its partition."""
    import botocore.session

    session = botocore.session.get_session()
    regions: dict[str, str] = {}
    for partition in session.get_available_partitions():
        for region in session.get_available_regions(service, partition_name=partition):
            regions[region] = partition
    return regions


def alarm_window_problems(period_seconds: int, evaluation_periods: int) -> list[str]:
    """CloudWatch PutMetricAlarm: valid periods and the longest total evaluation window.

    Periods are 10, 20, 30 or a multiple of 60 seconds; Period x EvaluationPeriods is at most
    7 days, and at most one day when the period is shorter than an hour.
    """
    problems = []
    if period_seconds not in (10, 20, 30) and period_seconds % 60:
        problems.append(f"alarm period {period_seconds}s must be 10, 20, 30 or a multiple of 60")
    limit = 86_400 if period_seconds < 3_600 else 604_800
    if evaluation_periods < 1 or period_seconds * evaluation_periods > limit:
        problems.append(
            f"alarm window {period_seconds}s x {evaluation_periods} must be 1 period up to "
            f"{limit}s in total"
        )
    return problems


# Vault access policies: "Unlike other IAM-based policies, AWS Backup access policies don't
# support a wildcard in the Action key" (aws-backup/latest/devguide/create-a-vault-access-policy).
_VAULT_POLICY_ACTION = re.compile(r"^backup:[A-Za-z]+$")


def vault_policy_action_problems(actions: Sequence[str]) -> list[str]:
    """Each action of a vault access policy must be one named `backup:` action, no wildcards."""
    problems = []
    for action in actions:
        if "*" in action or "?" in action:
            problems.append(
                f"vault policy action {action!r} has a wildcard; AWS Backup vault access "
                "policies take named actions only, e.g. backup:DeleteBackupVault"
            )
        elif not _VAULT_POLICY_ACTION.match(action):
            problems.append(f"vault policy action {action!r} must be backup:<Action>")
    return problems


@dataclass(frozen=True)
class TopicPublisher:
    """An AWS service that publishes to an encrypted alert topic, and how its requests are
    matched: the topic policy admits it to sns:Publish, the topic key's policy to
    kms:GenerateDataKey* and kms:Decrypt (SNS developer guide, sns-key-management, "Enable
    compatibility between event sources from AWS services and encrypted topics")."""

    name: str
    """Statement names start with it."""
    says_its_account: bool
    """Its requests carry aws:SourceAccount, so both grants can be limited to this account; a
    condition on a key its requests lack matches nothing, and every alert is dropped."""
    source: str


# Every service that may publish to an alert topic. A builder declaring another one must look
# up its form first (NotificationTopicArgs.problems refuses an unknown one). The Lambdas that
# publish (the posture guard's remediation notice) do so as their execution role, granted
# sns:Publish and the key by IAM (the key policy's account statement lets IAM grant it; SNS
# developer guide, sns-key-management, "Allow a user to send messages to a topic with SSE").
# S3 publishes to no alert topic.
TOPIC_PUBLISHERS = {
    "cloudwatch.amazonaws.com": TopicPublisher(
        "CloudWatch",
        says_its_account=True,
        # An alarm publishes as its own ARN (aws:SourceArn), in this account
        # (repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger); the SNS guide
        # asks for aws:SourceAccount on the key's grant (sns-key-management, step 3).
        source="CloudWatch alarm actions carry aws:SourceArn and aws:SourceAccount",
    ),
    "events.amazonaws.com": TopicPublisher(
        "EventBridge",
        says_its_account=False,
        # "Adding the aws:SourceAccount, aws:SourceArn, and aws:SourceOrgID to a AWS KMS policy
        # is not supported for EventBridge-to-encrypted topics" (sns-key-management);
        # "Condition blocks are not supported" (EventBridge user guide, eb-use-resource-based,
        # Amazon SNS permissions).
        source="EventBridge supports no condition on either policy",
    ),
    "backup.amazonaws.com": TopicPublisher(
        "AwsBackup",
        says_its_account=False,
        # No AWS page says AWS Backup's requests carry aws:SourceAccount, so AWS's own examples'
        # form: no condition (AWS Backup developer guide, backup-notifications, the topic policy
        # for backup.amazonaws.com; sns-key-management, step 2, the key). AWS Backup notifies
        # only topics of the vault's own account ("cross-account notifications ... not
        # supported"), so no other account's vault can use these grants.
        source="AWS Backup's examples use no condition; it notifies its own account's topics only",
    ),
}


@dataclass(frozen=True)
class NameRule:
    """AWS's limit and characters for one kind of resource name."""

    kind: str
    max_length: int
    pattern: str
    source: str


# Each limit as the service's API reference states it.
NAME_RULES = {
    # lambda/latest/api/API_CreateFunction.html: FunctionName up to 64 (name form).
    "lambda function": NameRule(
        "Lambda function", 64, r"[a-zA-Z0-9_-]+", "API_CreateFunction FunctionName"
    ),
    # eventbridge/latest/APIReference/API_PutRule.html: Name 1..64, [\.\-_A-Za-z0-9]+.
    "event rule": NameRule("EventBridge rule", 64, r"[.\-_A-Za-z0-9]+", "API_PutRule Name"),
    # IAM/latest/APIReference/API_CreateRole.html: RoleName 1..64, [\w+=,.@-]+.
    "iam role": NameRule("IAM role", 64, r"[\w+=,.@-]+", "API_CreateRole RoleName"),
    # AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html: AlarmName 1..255.
    "alarm": NameRule("CloudWatch alarm", 255, r"[^\x00-\x1f]+", "API_PutMetricAlarm AlarmName"),
    # AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html: 1..512.
    "log group": NameRule(
        "log group", 512, r"[.\-_/#A-Za-z0-9]+", "API_CreateLogGroup logGroupName"
    ),
}


def resource_name_problems(kind: str, name: str) -> list[str]:
    """Problems with `name` for a resource of `kind` (a NAME_RULES key)."""
    rule = NAME_RULES[kind]
    problems = []
    if not 1 <= len(name) <= rule.max_length:
        problems.append(
            f"{rule.kind} name {name!r} has {len(name)} characters; AWS allows 1.."
            f"{rule.max_length} ({rule.source})"
        )
    if not re.fullmatch(rule.pattern, name):
        problems.append(f"{rule.kind} name {name!r} must match {rule.pattern} ({rule.source})")
    return problems


# The ResourceType values AWS Backup uses (API_UpdateRegionSettings / API_BackupJob
# ResourceType) and publishes as the ResourceType dimension of AWS/Backup metrics
# (aws-backup/latest/devguide/cloudwatch.html). FormKiQ's tables are "DynamoDB", its bucket "S3".
BACKUP_RESOURCE_TYPES = frozenset(
    {
        "Aurora",
        "CloudFormation",
        "DocumentDB",
        "DSQL",
        "DynamoDB",
        "EBS",
        "EC2",
        "EFS",
        "FSx",
        "Neptune",
        "RDS",
        "Redshift",
        "Redshift Serverless",
        "S3",
        "SAP HANA on Amazon EC2",
        "Storage Gateway",
        "Timestream",
        "VirtualMachine",
    }
)


# --- scheduled exports ----------------------------------------------------------------------

# FormKiQ's backup guide moves exports to Glacier Instant Retrieval after 60 days.
GLACIER_IR_TRANSITION_DAYS = 60
# Glacier Instant Retrieval bills each object for at least 90 days (AmazonS3 userguide,
# storage-class-intro, "Comparing the Amazon S3 storage classes": minimum storage duration):
# an export that expires sooner after its transition pays for days it is not kept.
GLACIER_IR_MINIMUM_STORAGE_DAYS = 90
# S3 documents no maximum for a lifecycle expiration (a positive integer of days); AWS Backup's
# limit for recovery points, 100 years, is kept for exports too, so a typed digit too many is
# caught rather than taken at face value.
MAX_EXPORT_RETENTION_DAYS = MAX_LIFECYCLE_DAYS
# How far ahead an export schedule is expanded to find its longest gap between two runs.
_SCHEDULE_HORIZON_DAYS = 2 * 366


@dataclass(frozen=True)
class ExportSchedule:
    """An EventBridge Scheduler recurring expression and the gaps between its runs."""

    expression: str
    longest_gap: timedelta
    shortest_gap: timedelta | None = None
    """None: the same as longest_gap (a rate, or one run a period)."""

    @property
    def closest_runs(self) -> timedelta:
        return self.shortest_gap if self.shortest_gap is not None else self.longest_gap


# Exports keep one folder a day (cognito/<date>/, infrastructure/<date>/, formkiq_backup.exports):
# a second run in a day writes over the first. And the tables' own recovery point objective is
# PITR's 5 minutes: a full export more than once a day adds cost, not recovery.
MIN_EXPORT_INTERVAL = timedelta(days=1)
_ONCE_A_DAY = "exports run at most once a day"


def parse_export_schedule(expression: str) -> ExportSchedule:
    """Parse an EventBridge Scheduler `cron()` or `rate()` expression for recurring exports.

    Scheduler takes `at()`, `rate(value unit)` and 6-field `cron()` (schedule-types in the
    EventBridge Scheduler user guide); a one-time `at()` would export once and then go stale.
    """
    text = expression.strip()
    rate = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value == 0 or (value == 1) != (not unit.endswith("s")):
            raise ScheduleError(
                "rate() takes a positive value with a matching unit, e.g. rate(1 day) or "
                "rate(7 days)"
            )
        every = timedelta(**{unit.rstrip("s") + "s": value})
        if every < MIN_EXPORT_INTERVAL:
            raise ScheduleError(
                f"runs every {value} {unit}: {_ONCE_A_DAY} (users and the stack are kept one "
                "export a day, a second run that day writes over the first; the tables' 5-minute "
                "recovery point comes from PITR), e.g. rate(1 day) or cron(0 6 * * ? *)"
            )
        return ExportSchedule(text, every)
    if text.startswith(("at(", "rate(")):
        raise ScheduleError(
            "exports recur: use cron(minutes hours day-of-month month day-of-week year) or "
            "rate(n days), e.g. cron(0 6 1 * ? *)"
        )
    match = re.fullmatch(r"cron\((.*)\)", text)
    if not match:
        raise ScheduleError("must be a cron() or rate() expression, e.g. cron(0 6 1 * ? *)")
    fields = match.group(1).split()
    if len(fields) != 6:
        raise ScheduleError(
            f"has {len(fields)} fields; EventBridge Scheduler cron takes 6 (minutes hours "
            "day-of-month month day-of-week year), e.g. cron(0 6 1 * ? *)"
        )
    minute, hour, day_of_month, month, day_of_week, year = fields
    minutes = _expand("minutes", minute, 0, 59)
    hours = _expand("hours", hour, 0, 23)
    _days_of_month(day_of_month)
    _field_values("month", month, 1, 12, _MONTHS)
    _check_day_of_week(day_of_week)
    _field_values("year", year, 1970, 2199, {})
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleError(
            "exactly one of day-of-month and day-of-week must be '?', e.g. cron(0 6 1 * ? *)"
        )
    if len(minutes) * len(hours) > 1:
        raise ScheduleError(
            f"runs {len(minutes) * len(hours)} times on each day it matches: {_ONCE_A_DAY} "
            "(users and the stack are kept one export a day, a second run that day writes over "
            "the first; the tables' 5-minute recovery point comes from PITR), e.g. "
            "cron(0 6 * * ? *)"
        )
    runs = _runs(fields, minutes, hours)
    gaps = [later - earlier for earlier, later in itertools.pairwise(runs)]
    return ExportSchedule(text, max(gaps), min(gaps))


def _longest_gap(fields: list[str], minutes: tuple[int, ...], hours: tuple[int, ...]) -> timedelta:
    """The longest time between two runs over the next two years (from a fixed start)."""
    runs = _runs(fields, minutes, hours)
    return max(later - earlier for earlier, later in itertools.pairwise(runs))


def _runs(fields: list[str], minutes: tuple[int, ...], hours: tuple[int, ...]) -> list[datetime]:
    """Every run over the next two years (from a fixed start); at least two."""
    _, _, day_of_month, month, day_of_week, year = fields
    months = set(_values(month, 1, 12, _MONTHS))
    years = None if year == "*" else set(_values(year, 1970, 2199, {}))
    start = date(2027, 1, 1)
    runs: list[datetime] = []
    for offset in range(_SCHEDULE_HORIZON_DAYS):
        day = start + timedelta(days=offset)
        if day.month not in months or (years is not None and day.year not in years):
            continue
        if not _day_matches(day, day_of_month, day_of_week):
            continue
        runs.extend(datetime(day.year, day.month, day.day, h, m) for h in hours for m in minutes)
    if len(runs) < 2:
        raise ScheduleError("does not run at least twice in the next two years")
    return runs


def _values(text: str, low: int, high: int, names: dict[str, int]) -> list[int]:
    """Expand a month, year or plain day field (numbers or names, ranges, steps, lists)."""
    if text in ("*", "?"):
        return list(range(low, high + 1))
    found: list[int] = []
    for part in text.split(","):
        base, _, step = part.partition("/")
        bounds = [names.get(b.upper()) if not b.isdigit() else int(b) for b in base.split("-")]
        first = bounds[0] if base != "*" else low
        last = bounds[-1] if base != "*" else high
        if step and len(bounds) == 1 and base != "*":
            last = high
        if first is None or last is None:
            raise ScheduleError(f"field {text!r} is not valid cron syntax")
        found.extend(range(first, last + 1, int(step) if step else 1))
    return found


def _day_matches(day: date, day_of_month: str, day_of_week: str) -> bool:
    """Whether a cron fires on `day`; L, W and # are placed as AWS documents them."""
    last_day = calendar.monthrange(day.year, day.month)[1]
    if day_of_week == "?":
        return _day_of_month_matches(day.day, last_day, day_of_month)
    return _day_of_week_matches(day, last_day, day_of_week.upper())


def _day_of_month_matches(day: int, last_day: int, text: str) -> bool:
    if text == "*":
        return True
    if text in ("L", "LW"):
        return day == last_day  # LW is within two days of it: close enough for a gap
    if text.endswith("W"):
        return day == min(int(text[:-1]), last_day)
    return day in _values(text, 1, 31, {})


def _day_of_week_matches(day: date, last_day: int, text: str) -> bool:
    weekday = (day.isoweekday() % 7) + 1  # cron: SUN=1 .. SAT=7
    special = re.fullmatch(r"([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)(L|#[1-5])", text)
    if special:
        wanted = _WEEKDAYS.get(special.group(1)) or int(special.group(1))
        if special.group(2) == "L":
            return weekday == wanted and day.day > last_day - 7
        return weekday == wanted and (day.day - 1) // 7 + 1 == int(special.group(2)[1:])
    if text == "L":
        return weekday == 7
    return text == "*" or weekday in _values(text, 1, 7, _WEEKDAYS)


def export_retention_problems(retention_days: int, schedule: ExportSchedule | None) -> list[str]:
    """Problems with how long exports are kept.

    S3 lifecycle: an expiration in the same rule as a transition must come later than it
    (AWS::S3::Bucket Rule, ExpirationInDays: "The expiration time must also be later than the
    transition time"), and exports move to GLACIER_IR at 60 days. Kept for less than one
    schedule period, there would be days with no export at all.
    """
    if retention_days > MAX_EXPORT_RETENTION_DAYS:
        return [
            f"must be at most {MAX_EXPORT_RETENTION_DAYS} days (100 years): S3 sets no "
            "maximum, so a longer value is taken for a typo"
        ]
    if retention_days <= GLACIER_IR_TRANSITION_DAYS:
        return [
            f"must be more than {GLACIER_IR_TRANSITION_DAYS} days: exports move to Glacier "
            f"Instant Retrieval after {GLACIER_IR_TRANSITION_DAYS} days, and S3 lifecycle "
            "expiry must come after the transition"
        ]
    if schedule is not None and timedelta(days=retention_days) <= schedule.longest_gap:
        return [
            f"must be longer than the schedule's longest gap ({schedule.longest_gap.days} days), "
            "or the newest export expires before the next one is made"
        ]
    return []


def export_retention_warnings(retention_days: int, schedule: ExportSchedule) -> list[str]:
    """Legal but costly: exports billed for days they are not kept, or many full copies kept.

    Each export is a full copy of every table (DynamoDB bills an export per GB of table size;
    S3 stores each copy until it expires): COPIES_WORTH_A_WARNING is eight times the guide's
    twelve monthly exports kept a year.
    """
    warnings = []
    paid_until = GLACIER_IR_TRANSITION_DAYS + GLACIER_IR_MINIMUM_STORAGE_DAYS
    if retention_days < paid_until:
        warnings.append(
            f"exports move to Glacier Instant Retrieval after {GLACIER_IR_TRANSITION_DAYS} days "
            f"and expire {retention_days - GLACIER_IR_TRANSITION_DAYS} days later, but Glacier "
            f"Instant Retrieval bills at least {GLACIER_IR_MINIMUM_STORAGE_DAYS} days: each "
            f"export of 128 KB or more is paid as if kept {paid_until} days; keep them "
            f"{paid_until} days or more"
        )
    copies = -(-timedelta(days=retention_days) // schedule.closest_runs)
    if copies > COPIES_WORTH_A_WARNING:
        warnings.append(
            f"keeps up to {copies} full exports of every table at once (a run every "
            f"{_days_text(schedule.closest_runs)}, each kept {retention_days} days): each is a "
            "full copy, billed by DynamoDB per GB exported and stored by S3"
        )
    return warnings


COPIES_WORTH_A_WARNING = 100


def _days_text(gap: timedelta) -> str:
    days = gap / timedelta(days=1)
    return f"{days:g} day{'s' if days != 1 else ''}"


# --- restore testing --------------------------------------------------------------------------

# RestoreTestingPlanForCreate.RestoreTestingPlanName and RestoreTestingSelectionForCreate.
# RestoreTestingSelectionName: "only alphanumeric characters and underscores", and the quotas'
# "Max plan name length: 50 characters", "Max selection name length: 50 characters"
# (aws-backup/latest/devguide/restore-testing.html). The guide's CLI note allows hyphens and
# 256 characters for selections; letters, digits and underscores within 50 satisfy both.
_RESTORE_TESTING_NAME = re.compile(r"^[A-Za-z0-9_]{1,50}$")
# RestoreTestingSelectionForCreate.ValidationWindowHours: 0..168 in the API, 1..168 in the
# console ("retain for a specific number of hours ... from 1 to 168 hours") and the provider.
MAX_VALIDATION_WINDOW_HOURS = 168
# Quotas (restore-testing.html): start window 1..168 hours, selection window up to 365 days,
# 30 selections per plan, 30 protected resource ARNs per selection.
MAX_START_WINDOW_HOURS = 168
MAX_SELECTION_WINDOW_DAYS = 365
MAX_RESTORE_TESTING_SELECTIONS = 30
MAX_RESTORE_TESTING_ARNS = 30
# RestoreTestingSelectionForCreate.ProtectedResourceType: the types restore testing accepts.
RESTORE_TESTING_RESOURCE_TYPES = frozenset(
    {"Aurora", "DocumentDB", "DynamoDB", "EBS", "EC2", "EFS", "FSx", "Neptune", "RDS", "S3"}
)


def restore_testing_name_problems(kind: str, name: str) -> list[str]:
    """A restore testing plan or selection name: letters, digits and underscores, <= 50."""
    if _RESTORE_TESTING_NAME.match(name):
        return []
    return [
        f"restore testing {kind} name {name!r} must be 1..50 letters, digits or underscores "
        "(no '-' or '.'), e.g. formkiq_prod_restore_tests"
    ]


def validation_window_problems(hours: int) -> list[str]:
    """How long a restored resource is kept for validation (ValidationWindowHours)."""
    if 1 <= hours <= MAX_VALIDATION_WINDOW_HOURS:
        return []
    return [f"must be 1..{MAX_VALIDATION_WINDOW_HOURS} hours (restore testing's validation window)"]


# --- Backup Audit Manager -------------------------------------------------------------------

# "You can use up to 50 controls per account per Region. Using the same control in two
# different frameworks counts as using two controls" (aws-backup/latest/devguide/
# controls-and-remediation.html).
MAX_AUDIT_CONTROLS = 50
# BACKUP_RECOVERY_POINT_MANUAL_DELETION_DISABLED: "Up to 5 IAM roles that allow manual deletion
# of recovery points" (choosing-controls.html).
MAX_MANUAL_DELETION_PRINCIPALS = 5
# BACKUP_PLAN_MIN_FREQUENCY_AND_MIN_RETENTION_CHECK, requiredFrequencyValue: "Maximum of 24 for
# hours, 31 for days" (AWS Config rule backup-plan-min-frequency-and-min-retention-check).
MAX_FREQUENCY = {"hours": 24, "days": 31}
# BACKUP_LAST_RECOVERY_POINT_CREATED: "Value in hours [1 to 744] or days [1 to 31]"
# (choosing-controls.html).
MAX_RECOVERY_POINT_AGE = {"hours": 744, "days": 31}
_FRAMEWORK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,255}$")  # CreateFramework.FrameworkName


def framework_name_problems(kind: str, name: str) -> list[str]:
    """Framework and report plan names: a letter, then letters, digits and underscores."""
    if _FRAMEWORK_NAME.match(name):
        return []
    return [f"{kind} name {name!r} must match {_FRAMEWORK_NAME.pattern}"]


def backup_frequency(schedule: CronSchedule) -> tuple[str, int]:
    """How often a backup schedule runs at worst, as the frequency control takes it.

    Whole days are said in days (cron(0 5 * * ? *) is 1 day, a weekday schedule 3 days), the
    rest in hours, rounded up; the longest gap decides, so the control never asks for more
    than the schedule delivers.
    """
    gap = schedule.longest_gap
    hours = -(-int(gap.total_seconds()) // 3600)
    if hours % 24 == 0 or hours > MAX_FREQUENCY["hours"]:
        return "days", min(-(-hours // 24), MAX_FREQUENCY["days"])
    return "hours", hours


# --- Enterprise: vault lock, logically air-gapped vaults, global table replicas ---------------

# PutBackupVaultLockConfiguration: ChangeableForDays "must be at least 3 days" (the 72-hour
# cooling-off of compliance mode) and at most 36,500; MinRetentionDays and MaxRetentionDays
# 1..36,500 (AWS Backup developer guide, "AWS Backup Vault Lock"; API reference).
MIN_CHANGEABLE_FOR_DAYS = 3
MAX_CHANGEABLE_FOR_DAYS = 36_500
# CreateLogicallyAirGappedBackupVault: MinRetentionDays "The minimum value accepted is 7 days"
# (AWS Backup developer guide, "Logically air-gapped vault"; API reference).
MIN_AIR_GAPPED_RETENTION_DAYS = 7
# Where logically air-gapped vaults are not offered: "not available in Asia Pacific (Malaysia),
# Canada West (Calgary), China, or AWS GovCloud (US)" (AWS Backup developer guide, "Logically
# air-gapped vault", availability): two regions and two whole partitions.
AIR_GAPPED_UNAVAILABLE_REGIONS = frozenset({"ap-southeast-5", "ca-west-1"})
AIR_GAPPED_UNAVAILABLE_PARTITIONS = frozenset({"aws-cn", "aws-us-gov"})
# Where AWS Config runs s3-resources-in-logically-air-gapped-vault, the rule behind the audit
# control for the bucket: "Only available in Europe (Stockholm), Middle East (Bahrain), Asia
# Pacific (Mumbai), Europe (Paris), US East (Ohio), Europe (Ireland), Europe (Frankfurt), South
# America (Sao Paulo), US East (N. Virginia), Asia Pacific (Seoul), Asia Pacific (Osaka), Europe
# (London), Asia Pacific (Tokyo), US West (Oregon), US West (N. California), Asia Pacific
# (Singapore), Asia Pacific (Sydney), Canada (Central)" (AWS Config developer guide).
S3_AIR_GAPPED_CONTROL_REGIONS = frozenset(
    {
        "eu-north-1",
        "me-south-1",
        "ap-south-1",
        "eu-west-3",
        "us-east-2",
        "eu-west-1",
        "eu-central-1",
        "sa-east-1",
        "us-east-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "eu-west-2",
        "ap-northeast-1",
        "us-west-2",
        "us-west-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ca-central-1",
    }
)
# A 12-digit AWS account id, as AWS RAM names a principal account.
_ACCOUNT_ID = re.compile(r"^\d{12}$")


def is_account_id(text: str) -> bool:
    return bool(_ACCOUNT_ID.match(text))


def air_gapped_region_problems(region: str) -> list[str]:
    """Why a logically air-gapped vault cannot be created in `region` (none: it can)."""
    partition = region_partitions().get(region)
    if region in AIR_GAPPED_UNAVAILABLE_REGIONS or partition in AIR_GAPPED_UNAVAILABLE_PARTITIONS:
        return [
            f"logically air-gapped vaults are not available in {region} (AWS Backup developer "
            "guide, 'Logically air-gapped vault': not in Asia Pacific (Malaysia), Canada West "
            "(Calgary), China or AWS GovCloud (US))"
        ]
    return []


@dataclass(frozen=True)
class Retention:
    """How long one rule (or its copies, or a continuous backup) keeps a recovery point."""

    rule: str
    days: int


def lock_bound_problems(
    min_days: int, max_days: int, retentions: Sequence[Retention], vault: str
) -> list[str]:
    """Rules whose recovery points a vault locked to min..max days would refuse.

    "If the retention period of a backup or copy job is outside the vault lock's minimum and
    maximum retention, the vault fails that backup or copy job" (PutBackupVaultLockConfiguration,
    MinRetentionDays and MaxRetentionDays): AWS accepts the lock and fails the jobs later, every
    day, so each rule outside the bounds is named now. `retentions` lists every rule writing
    into the vault, every copy action copying into it and any continuous backup (kept 1..35
    days), each with its retention.
    """
    problems = []
    if min_days > max_days:
        problems.append(f"{vault}: minimum {min_days} days is more than maximum {max_days} days")
    for kept in retentions:
        if kept.days < min_days:
            problems.append(
                f"{vault}: rule {kept.rule} keeps its recovery points {kept.days} days, less "
                f"than the lock's minimum {min_days}: AWS Backup would fail every one of its jobs"
            )
        elif kept.days > max_days:
            problems.append(
                f"{vault}: rule {kept.rule} keeps its recovery points {kept.days} days, more "
                f"than the lock's maximum {max_days}: AWS Backup would fail every one of its jobs"
            )
    return problems


@cache
def dynamodb_region_partitions() -> dict[str, str]:
    """Every region DynamoDB runs in, mapped to its partition (botocore's endpoint data).

    Global tables "are available in all Regions where DynamoDB is available" (DynamoDB
    developer guide, "Global tables"), so a replica region is one of these.
    """
    return _service_regions("dynamodb")
