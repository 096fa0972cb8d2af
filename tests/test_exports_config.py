"""exportSchedule and exportRetentionDays; Lambda bundles; region threading of the components."""

import ast
import sys
from collections.abc import Callable
from datetime import timedelta

import pytest

from components import ExportsBucket, TableExports
from formkiq_backup.aws_rules import ScheduleError, parse_export_schedule
from formkiq_backup.config import ConfigError, parse_settings
from formkiq_backup.lambdas import EXPORT_MONITOR, INFRASTRUCTURE_EXPORT, USERS_EXPORT, LambdaBundle
from formkiq_backup.offline.program import ProgramRun
from tests.test_exports_components import bucket_args, job, table_args
from tiers.builder import recovery_objectives
from tiers.definitions import TIERS, DataClass, Tier

Build = Callable[..., ProgramRun]
BASE = {"tier": "standard", "appEnvironment": "prod"}


def problems(**raw: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings({**BASE, **raw}, "us-east-1")
    return str(caught.value)


def test_defaults_are_monthly_exports_kept_a_year() -> None:
    settings = parse_settings(BASE, "us-east-1")

    assert settings.export_schedule.expression == "cron(0 6 1 * ? *)"
    assert settings.export_schedule.longest_gap == timedelta(days=31)
    assert settings.export_retention_days == 365


@pytest.mark.parametrize("days", ["60", "30", "0", "-5"])
def test_retention_must_outlast_the_glacier_ir_transition(days: str) -> None:
    message = problems(exportRetentionDays=days)

    assert f"exportRetentionDays={days}: must be more than 60 days" in message
    assert "Glacier Instant Retrieval after 60 days" in message
    assert "expiry must come after the transition" in message


def test_retention_must_outlast_the_gap_between_two_exports() -> None:
    message = problems(exportRetentionDays="90", exportSchedule="cron(0 6 1 1 ? *)")

    assert 'exportRetentionDays=90 and exportSchedule="cron(0 6 1 1 ? *)"' in message
    assert "longest gap (366 days)" in message


@pytest.mark.parametrize(
    ("expression", "rule"),
    [
        ("cron(0 6 1 * *)", "has 5 fields; EventBridge Scheduler cron takes 6"),
        ("cron(0 6 1 * * *)", "exactly one of day-of-month and day-of-week must be '?'"),
        ("cron(0 25 1 * ? *)", "hours field '25' is outside 0-23"),
        ("at(2027-01-01T06:00:00)", "exports recur"),
        ("rate(0 days)", "positive value with a matching unit"),
        ("rate(1 days)", "positive value with a matching unit"),
        ("monthly", "must be a cron() or rate() expression"),
        ("cron(0 6 1 * ? 2020)", "does not run at least twice in the next two years"),
    ],
)
def test_invalid_export_schedules_name_the_key_value_and_rule(expression: str, rule: str) -> None:
    message = problems(exportSchedule=expression)

    assert f'exportSchedule="{expression}"' in message
    assert rule in message


@pytest.mark.parametrize(
    ("expression", "gap"),
    [
        ("cron(0 6 1 * ? *)", timedelta(days=31)),
        ("cron(0 6 ? * MON *)", timedelta(days=7)),
        ("cron(0 6 1 1,4,7,10 ? *)", timedelta(days=92)),
        ("cron(0 6 ? * 2#1 *)", timedelta(days=35)),
        ("cron(30 2 * * ? *)", timedelta(days=1)),
        ("rate(7 days)", timedelta(days=7)),
        ("rate(1 day)", timedelta(days=1)),
    ],
)
def test_schedule_gaps_drive_how_old_an_export_may_be(expression: str, gap: timedelta) -> None:
    assert parse_export_schedule(expression).longest_gap == gap


def test_schedule_errors_are_schedule_errors() -> None:
    with pytest.raises(ScheduleError):
        parse_export_schedule("cron(0 6 32 * ? *)")


@pytest.mark.parametrize("bundle", [USERS_EXPORT, INFRASTRUCTURE_EXPORT, EXPORT_MONITOR])
def test_export_bundles_import_only_the_standard_library_boto3_and_themselves(
    bundle: LambdaBundle,
) -> None:
    """The Lambda runtime has boto3 and nothing else we depend on (no Pulumi, no rich)."""
    bundled = {
        name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        for name in bundle.files
    }
    allowed_roots = set(sys.stdlib_module_names) | {"boto3", "botocore"}
    for archive_path, path in bundle.paths().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                assert module in bundled or module.split(".")[0] in allowed_roots, (
                    f"{archive_path} imports {module}, which the Lambda package does not ship"
                )
    assert bundle.handler.rsplit(".", 1)[0] in bundled


# IAM is global: roles and their policies take no region (pulumi-aws 7).
GLOBAL_TYPES = {"aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"}


@pytest.mark.parametrize("component", ["bucket", "tables", "function"])
def test_every_regional_child_gets_the_region_and_none_is_sent_without_one(
    build: Build, component: str
) -> None:
    def registered(region: str | None) -> ProgramRun:
        if component == "bucket":
            return build(lambda: ExportsBucket("exports", bucket_args(region=region)))
        if component == "tables":
            return build(lambda: TableExports("tables", table_args(region=region)))
        return job(build, region=region)

    elsewhere = [r for r in registered("eu-west-1").resources if r.custom]
    assert elsewhere
    for resource in elsewhere:
        if resource.type in GLOBAL_TYPES:
            assert "region" not in resource.inputs, resource.name
        else:
            assert resource.inputs.get("region") == "eu-west-1", resource.name
    for resource in registered(None).resources:
        assert "region" not in resource.inputs, resource.name


# --- how often, and how many ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "rule"),
    [
        ("rate(1 minute)", "runs every 1 minute: exports run at most once a day"),
        ("rate(12 hours)", "runs every 12 hours: exports run at most once a day"),
        ("cron(* * * * ? *)", "runs 1440 times on each day it matches"),
        ("cron(0 6,18 * * ? *)", "runs 2 times on each day it matches"),
        ("cron(0/30 9 ? * MON *)", "runs 2 times on each day it matches"),
    ],
)
def test_exports_more_often_than_daily_are_refused(expression: str, rule: str) -> None:
    """Users and the stack keep one export a day (a second run writes over the first), and the
    tables' recovery point comes from PITR: a full export every minute cannot be meant."""
    message = problems(exportSchedule=expression)

    assert f'exportSchedule="{expression}"' in message
    assert rule in message
    assert "e.g. " in message


@pytest.mark.parametrize("expression", ["rate(1 day)", "rate(24 hours)", "cron(0 6 * * ? *)"])
def test_daily_exports_are_accepted(expression: str) -> None:
    settings = parse_settings({**BASE, "exportSchedule": expression}, "us-east-1")

    assert settings.export_schedule.longest_gap == timedelta(days=1)


def warnings(**raw: str) -> list[str]:
    return [str(w) for w in parse_settings({**BASE, **raw}, "us-east-1").warnings]


def test_retention_under_150_days_warns_that_glacier_ir_bills_90_days() -> None:
    """Exports move at 60 days; Glacier IR bills 90 days at least, so 120 is paid as 150."""
    (warning,) = warnings(exportRetentionDays="120")

    assert warning.startswith('exportRetentionDays=120 and exportSchedule="cron(0 6 1 * ? *)"')
    assert "expire 60 days later" in warning
    assert "paid as if kept 150 days" in warning
    assert warnings(exportRetentionDays="150") == []


def test_a_schedule_keeping_more_than_100_full_exports_warns() -> None:
    (warning,) = warnings(exportSchedule="cron(0 6 * * ? *)", exportRetentionDays="365")

    assert "keeps up to 365 full exports of every table at once" in warning
    assert "a run every 1 day, each kept 365 days" in warning
    assert warnings(exportSchedule="rate(2 days)", exportRetentionDays="200") == []
    assert warnings(exportSchedule="rate(7 days)", exportRetentionDays="365") == []


@pytest.mark.parametrize("days", ["36501", "99999999999"])
def test_a_retention_past_100_years_is_refused_naming_the_key(days: str) -> None:
    message = problems(exportRetentionDays=days)

    assert f"exportRetentionDays={days}: must be at most 36500 days" in message


@pytest.mark.parametrize(
    ("expression", "rpo"),
    [("cron(0 6 1 * ? *)", "31 days"), ("rate(7 days)", "7 days"), ("cron(0 6 * * ? *)", "1 day")],
)
def test_users_and_configuration_rpo_is_the_export_schedules_longest_gap(
    expression: str, rpo: str
) -> None:
    settings = parse_settings({**BASE, "exportSchedule": expression}, "us-east-1")

    objectives = recovery_objectives(TIERS[Tier.STANDARD], settings)

    for data_class in (DataClass.USER_DIRECTORY, DataClass.SYSTEM_CONFIGURATION):
        output = objectives[data_class].as_output()
        assert output["rpo"] == rpo
        assert output["rpoMinutes"] == settings.export_schedule.longest_gap // timedelta(minutes=1)
    assert objectives[DataClass.DOCUMENT_METADATA].as_output()["rpo"] == "5 minutes"


def test_the_stack_outputs_the_derived_rpo() -> None:
    from formkiq_backup.offline.program import run_program

    objectives = run_program("prod", overrides={"exportSchedule": "rate(7 days)"}).outputs[
        "recoveryObjectives"
    ]

    assert (
        objectives["userDirectory"]["rpo"] == objectives["systemConfiguration"]["rpo"] == "7 days"
    )
