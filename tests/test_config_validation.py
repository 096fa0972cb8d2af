"""The configuration contract: every bad value is rejected, with its key, value and rule,
before the program registers a resource or calls AWS."""

import pytest

from formkiq_backup.config import SETTINGS, ConfigError, parse_settings
from formkiq_backup.offline.program import run_program
from tiers.definitions import Tier

# One row per bad input the contract lists: (overrides on the prod stack, fragments the user
# must see). `None` removes a key.
BAD_INPUTS: dict[str, tuple[dict[str, object], list[str]]] = {
    "unknown tier": ({"tier": "gold"}, ['tier="gold"', "must be one of basic, standard"]),
    "tier in wrong case": ({"tier": "Standard"}, ['tier="Standard"', 'did you mean "standard"']),
    "missing appEnvironment": ({"appEnvironment": None}, ["appEnvironment=(not set)", "required"]),
    "enhanced without drRegion": (
        {"tier": "enhanced"},
        ["drRegion=(not set)", "required for tier enhanced"],
    ),
    "drRegion equal to aws:region": (
        {"drRegion": "us-east-1"},
        ['drRegion="us-east-1" and aws:region="us-east-1"', "must differ from the primary"],
    ),
    "drRegion not a region": (
        {"drRegion": "us-east-9"},
        ['drRegion="us-east-9"', "not an AWS region"],
    ),
    "schedule more often than hourly": (
        {"backupSchedule": "cron(0/10 * * * ? *)"},
        ['backupSchedule="cron(0/10 * * * ? *)"', "6 jobs an hour", "at most hourly"],
    ),
    "cron with four fields": (
        {"backupSchedule": "cron(0 5 * *)"},
        ['backupSchedule="cron(0 5 * *)"', "has 4 fields", "takes 6"],
    ),
    "timezone not IANA": (
        {"scheduleTimezone": "Mars/Base"},
        ['scheduleTimezone="Mars/Base"', "IANA time zone"],
    ),
    "daily retention 0": ({"dailyRetentionDays": 0}, ["dailyRetentionDays=0", "1..36500"]),
    "daily retention 40000": (
        {"dailyRetentionDays": 40000},
        ["dailyRetentionDays=40000", "1..36500"],
    ),
    "cold storage 30 with retention 100": (
        {"coldStorageAfterDays": 30, "monthlyRetentionDays": 100},
        [
            "coldStorageAfterDays=30 and monthlyRetentionDays=100",
            "at least 90 days, so retention must be >= 120",
        ],
    ),
    "malformed e-mail": (
        {"notificationEmails": ["ops@example.com", "ops-at-example.com"]},
        ['notificationEmails="ops-at-example.com"', "not a valid e-mail"],
    ),
    "break-glass ARN not an IAM role": (
        {"breakGlassRoleArns": ["arn:aws:iam::111122223333:user/alice"]},
        ['breakGlassRoleArns="arn:aws:iam::111122223333:user/alice"', "not an IAM role ARN"],
    ),
}


# Beyond the contract's list: the same guarantees for the other ways a value can be wrong.
BAD_INPUTS |= {
    "missing tier": ({"tier": None}, ["tier=(not set)", "required"]),
    "appEnvironment outside FormKiQ's pattern": (
        {"appEnvironment": "prod env"},
        ['appEnvironment="prod env"', "AppEnvironment pattern"],
    ),
    "negative cold storage": (
        {"coldStorageAfterDays": -5},
        ["coldStorageAfterDays=-5", "must be 1..36500 days, or 0 for no cold storage"],
    ),
    "cold storage with a retention already out of range": (
        {"coldStorageAfterDays": 30, "monthlyRetentionDays": 0},
        ["monthlyRetentionDays=0", "1..36500"],
    ),
    "break-glass ARNs not strings": (
        {"breakGlassRoleArns": [1, 2]},
        ["breakGlassRoleArns=", "must be a list of strings"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_is_rejected_before_any_resource_or_aws_call(case: str) -> None:
    overrides, fragments = BAD_INPUTS[case]
    run = run_program("prod", overrides=overrides, raise_errors=False)

    assert run.error is not None, f"{case}: the program accepted it"
    message = str(run.error)
    for fragment in fragments:
        assert fragment in message, f"{case}: {fragment!r} missing from:\n{message}"
    assert run.resources == [], f"{case}: resources were registered before the error"
    assert run.invokes == [], f"{case}: AWS was called before the error"


def test_a_bad_retention_is_reported_once_not_again_against_cold_storage() -> None:
    overrides = {"coldStorageAfterDays": 30, "monthlyRetentionDays": 0}
    run = run_program("prod", overrides=overrides, raise_errors=False)
    assert run.error is not None
    assert "coldStorageAfterDays" not in str(run.error)


def test_every_problem_is_reported_at_once() -> None:
    run = run_program(
        "prod",
        overrides={
            "tier": "gold",
            "dailyRetentionDays": 0,
            "scheduleTimezone": "Mars/Base",
            "notificationEmails": ["nope"],
        },
        raise_errors=False,
    )
    message = str(run.error)
    assert "has 4 problems" in message
    for key in ("tier=", "dailyRetentionDays=", "scheduleTimezone=", "notificationEmails="):
        assert key in message


def test_unknown_key_is_rejected_with_the_closest_valid_key() -> None:
    run = run_program("prod", overrides={"dailyRetentionDay": 30}, raise_errors=False)
    assert 'dailyRetentionDay="30": is not a formkiq-backup setting; did you mean ' in str(
        run.error
    )
    assert "dailyRetentionDays?" in str(run.error)


def test_unknown_key_in_other_case_suggests_the_key() -> None:
    with pytest.raises(ConfigError, match="did you mean drRegion"):
        parse_settings({"tier": "basic", "appEnvironment": "prod", "drregion": "x"}, "us-east-1")


def test_unparseable_types_name_the_key() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings(
            {
                "tier": "basic",
                "appEnvironment": "prod",
                "dailyRetentionDays": "thirty",
                "protectBackups": "yes",
                "notificationEmails": "ops@example.com",
            },
            "us-east-1",
        )
    message = str(raised.value)
    assert 'dailyRetentionDays="thirty": must be a whole number' in message
    assert 'protectBackups="yes": must be true or false' in message
    assert 'notificationEmails="ops@example.com": must be a list of strings' in message


def test_minimal_config_takes_the_documented_defaults() -> None:
    settings = parse_settings({"tier": "standard", "appEnvironment": "prod"}, "us-east-1")
    assert settings.tier is Tier.STANDARD
    assert settings.backup_schedule.expression == "cron(0 5 * * ? *)"
    assert settings.schedule_timezone == "UTC"
    assert (settings.daily_retention_days, settings.monthly_retention_days) == (35, 365)
    assert settings.cold_storage_after_days is None
    assert settings.dr_region is None
    assert settings.protect_backups is True
    assert settings.remediate_posture is False
    assert settings.notification_emails == ()


def test_cold_storage_exactly_90_days_before_deletion_is_accepted() -> None:
    settings = parse_settings(
        {
            "tier": "standard",
            "appEnvironment": "prod",
            "coldStorageAfterDays": "30",
            "monthlyRetentionDays": "120",
        },
        "us-east-1",
    )
    assert (settings.cold_storage_after_days, settings.monthly_retention_days) == (30, 120)


def test_dr_region_in_another_partition_is_rejected() -> None:
    with pytest.raises(ConfigError, match="copies cannot cross partitions"):
        parse_settings(
            {"tier": "enhanced", "appEnvironment": "prod", "drRegion": "us-gov-west-1"},
            "us-east-1",
        )


def test_dr_region_typo_suggests_a_real_region() -> None:
    with pytest.raises(ConfigError, match='did you mean "eu-west-1"'):
        parse_settings(
            {"tier": "enhanced", "appEnvironment": "prod", "drRegion": "eu-wset-1"}, "us-east-1"
        )


def test_setting_table_has_unique_keys_and_typed_defaults() -> None:
    keys = [spec.key for spec in SETTINGS]
    assert len(keys) == len(set(keys))
    expected_types = {"string": str, "integer": int, "boolean": bool, "array": list}
    for spec in SETTINGS:
        assert spec.required or spec.default is not None, spec.key
        if spec.default is not None:
            assert isinstance(spec.default, expected_types[spec.kind]), spec.key
