"""AWS's rules that moto does not enforce (it accepts any backup plan): our own checks."""

import pytest

from formkiq_backup import aws_rules
from formkiq_backup.aws_rules import ScheduleError, parse_backup_schedule


@pytest.mark.parametrize(
    ("expression", "minutes", "hours"),
    [
        ("cron(0 5 * * ? *)", (0,), (5,)),  # the guide's daily schedule
        ("cron(30 2 ? * MON-FRI *)", (30,), (2,)),
        ("cron(15 * * * ? *)", (15,), tuple(range(24))),  # hourly is the limit, and allowed
        ("cron(0 0/6 * * ? *)", (0,), (0, 6, 12, 18)),
        ("cron(45 1,13 L * ? 2026-2199)", (45,), (1, 13)),
        ("cron(0 3 ? JAN-DEC 2#1 *)", (0,), (3,)),
        ("cron(0 4 15W * ? *)", (0,), (4,)),
        ("cron(10 2-4 * * ? *)", (10,), (2, 3, 4)),
    ],
)
def test_valid_schedules_parse(
    expression: str, minutes: tuple[int, ...], hours: tuple[int, ...]
) -> None:
    schedule = parse_backup_schedule(expression)
    assert (schedule.minutes, schedule.hours) == (minutes, hours)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("cron(0/10 * * * ? *)", "starts 6 jobs an hour"),
        ("cron(0,30 5 * * ? *)", "starts 2 jobs an hour"),
        ("cron(* 5 * * ? *)", "starts 60 jobs an hour"),
        ("cron(0 5 * *)", "has 4 fields"),
        ("rate(1 hour)", "cron() schedules only"),
        ("0 5 * * ? *", "must be a cron() expression"),
        ("cron(0 5 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 5 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(60 5 * * ? *)", "outside 0-59"),
        ("cron(0 24 * * ? *)", "outside 0-23"),
        ("cron(0 5 32 * ? *)", "outside 1-31"),
        ("cron(0 5 ? FOO * *)", "outside 1-12"),
        ("cron(0 5 ? * 8 *)", "outside 1-7"),
        ("cron(0 5 * * ? 1969)", "outside 1970-2199"),
        ("cron(0/0 5 * * ? *)", "step '0' is not a number"),
        ("cron(0 five * * ? *)", "hours field 'five' is not valid cron syntax"),
        ("cron(0 5 1/x * ? *)", "field '1/x' is not valid cron syntax"),
    ],
)
def test_invalid_schedules_are_rejected_with_the_reason(expression: str, reason: str) -> None:
    with pytest.raises(ScheduleError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_backup_schedule(expression)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("cron(0 5 30 2 ? *)", "day-of-month 30 does not occur in FEB"),
        ("cron(0 5 31 4 ? *)", "day-of-month 31 does not occur in APR"),
        ("cron(0 5 31 APR,JUN,SEP,NOV ? *)", "does not occur in APR, JUN, SEP, NOV"),
        ("cron(0 5 30-31 FEB ? *)", "day-of-month 30-31 does not occur in FEB"),
        ("cron(0 5 31W 9 ? *)", "day-of-month 31W does not occur in SEP"),
        ("cron(0 5 29 2 ? 2027)", "day-of-month 29 does not occur in FEB"),
        ("cron(0 5 * * ? 2020-2025)", "every year it names is before 2026"),
        ("cron(0 5 ? * MON 2019)", "every year it names is before 2026"),
    ],
)
def test_a_schedule_that_can_never_fire_is_rejected(expression: str, reason: str) -> None:
    """AWS Backup accepts such a cron and then never starts a job: no backup, no error."""
    with pytest.raises(ScheduleError, match="never starts a job") as raised:
        parse_backup_schedule(expression, this_year=2026)
    assert reason in str(raised.value)


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 5 29 2 ? *)",  # leap years come
        "cron(0 5 29 2 ? 2027-2028)",  # 2028 is a leap year
        "cron(0 5 31 4,5 ? *)",  # May has a 31st
        "cron(0 5 31 NOV-JAN ? *)",  # a range wrapping past December includes December
        "cron(0 5 30 */2 ? *)",  # odd months, with days 30 and 31 in most
        "cron(0 5 L 2 ? *)",  # the last day exists in every month
        "cron(0 5 ? 2 5#5 *)",  # day-of-week schedules are not second-guessed
        "cron(0 5 * * ? 2026)",
    ],
)
def test_schedules_that_fire_on_some_date_are_accepted(expression: str) -> None:
    assert parse_backup_schedule(expression, this_year=2026).expression == expression


def test_a_step_of_zero_in_a_month_field_is_refused() -> None:
    with pytest.raises(ScheduleError, match="month field '1/0' is not valid cron syntax"):
        parse_backup_schedule("cron(0 5 1 1/0 ? *)")


def test_monthly_schedule_keeps_the_daily_time_of_day() -> None:
    assert parse_backup_schedule("cron(30 2 * * ? *)").monthly_on_first_day() == (
        "cron(30 2 1 * ? *)"
    )
    assert parse_backup_schedule("cron(0 0/6 * * ? *)").monthly_on_first_day() == (
        "cron(0 0 1 * ? *)"
    )


def test_cold_storage_must_leave_90_days_before_deletion() -> None:
    assert aws_rules.lifecycle_problems(120, 30) == []
    assert aws_rules.lifecycle_problems(119, 30) == [
        "AWS Backup keeps cold recovery points at least 90 days, so retention must be >= 120"
    ]
    assert aws_rules.lifecycle_problems(35, None) == []


def test_a_copys_cold_storage_obeys_the_same_90_day_rule() -> None:
    assert aws_rules.copy_lifecycle_problems(400, 90) == []
    assert aws_rules.copy_lifecycle_problems(150, 90) == [
        "copy action: AWS Backup keeps cold recovery points at least 90 days, so retention "
        "must be >= 180"
    ]
    assert aws_rules.copy_lifecycle_problems(0, None) == [
        "copy action: retention must be 1..36500 days (AWS Backup's limit)"
    ]


@pytest.mark.parametrize("days", [0, 36_501])
def test_retention_outside_aws_limits_is_rejected(days: int) -> None:
    assert aws_rules.lifecycle_problems(days, None) == [
        "retention must be 1..36500 days (AWS Backup's limit)"
    ]


def test_start_window_under_an_hour_and_completion_not_after_start_are_rejected() -> None:
    assert aws_rules.window_problems(60, 180) == []
    assert aws_rules.window_problems(30, 180) == [
        "start window must be at least 60 minutes (got 30)"
    ]
    assert aws_rules.window_problems(120, 120) == [
        "completion window (120 min) must be longer than the start window (120 min)"
    ]


def test_alarm_windows_follow_cloudwatch_limits() -> None:
    assert aws_rules.alarm_window_problems(3600, 26) == []  # 26 hours of one-hour periods
    assert aws_rules.alarm_window_problems(1800, 48) == []  # exactly one day
    assert aws_rules.alarm_window_problems(1800, 49) != []  # sub-hour periods: one day at most
    assert aws_rules.alarm_window_problems(3600, 169) != []  # seven days at most
    assert aws_rules.alarm_window_problems(90, 1) != []  # not a multiple of 60


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("daily_kept_35_days", True),
        ("monthly.kept-1-year", True),
        ("x" * 51, False),
        ("a b", False),
    ],
)
def test_rule_names(name: str, ok: bool) -> None:
    assert (aws_rules.rule_name_problems(name) == []) is ok


@pytest.mark.parametrize(
    ("name", "ok"),
    [("formkiq-prod-backup-vault", True), ("a", False), ("has.dot", False), ("x" * 51, False)],
)
def test_vault_names(name: str, ok: bool) -> None:
    assert (aws_rules.vault_name_problems(name) == []) is ok


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("formkiq-prod-protected-data", True),
        ("v1.19_data", True),
        ("a b", False),
        ("x" * 51, False),
    ],
)
def test_selection_names(name: str, ok: bool) -> None:
    assert (aws_rules.selection_name_problems(name) == []) is ok


@pytest.mark.parametrize(
    ("arn", "ok"),
    [
        ("arn:aws:iam::111122223333:role/BreakGlass", True),
        ("arn:aws:iam::111122223333:role/ops/break-glass@corp", True),
        ("arn:aws-us-gov:iam::111122223333:role/BreakGlass", True),
        ("arn:aws:iam::111122223333:user/alice", False),
        ("arn:aws:iam::1111:role/BreakGlass", False),
        ("arn:aws:sts::111122223333:assumed-role/BreakGlass/session", False),
    ],
)
def test_break_glass_principals_must_be_role_arns(arn: str, ok: bool) -> None:
    assert aws_rules.is_iam_role_arn(arn) is ok


@pytest.mark.parametrize(
    ("address", "ok"),
    [
        ("ops@example.com", True),
        ("first.last+backup@corp.example.co.uk", True),
        ("ops-at-example.com", False),
        ("ops@localhost", False),
        ("ops @example.com", False),
        ("mailto:ops@example.com", False),
        ("<ops@example.com>", False),
        ("Ops <ops@example.com>", False),
        ("ops@example", False),
    ],
)
def test_email_addresses(address: str, ok: bool) -> None:
    assert aws_rules.is_email_address(address) is ok


def test_regions_come_from_botocore_with_their_partition() -> None:
    regions = aws_rules.region_partitions()
    assert regions["us-west-2"] == "aws"
    assert regions["us-gov-west-1"] == "aws-us-gov"
    assert "us-east-9" not in regions


def test_time_zones_are_iana_names() -> None:
    assert aws_rules.timezone_problems("Europe/Berlin") == []
    assert aws_rules.timezone_problems("UTC") == []
    assert aws_rules.timezone_problems("Mars/Base") != []
