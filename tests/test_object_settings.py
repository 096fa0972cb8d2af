"""Object-valued settings (`restoreTesting`, `audit`): each key declared once, checked by its
own rule, refused when unknown, spelled as each caller spells it."""

import json
from pathlib import Path

import pytest

from formkiq_backup.config import (
    FIELD_NAMES,
    SETTINGS_BY_KEY,
    ConfigError,
    Spelling,
    parse_arguments,
    parse_settings,
)
from formkiq_backup.offline.program import StackConfig
from tests.test_config_validation import project_with, stack_file
from tiers.definitions import TIERS, Capability, Tier

ENHANCED = {"tier": "enhanced", "appEnvironment": "prod", "drRegion": "us-west-2"}
PYTHON = Spelling("EnhancedBackup('prod')", FIELD_NAMES, region="provider region")


def problems(raw: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as refused:
        parse_settings({**ENHANCED, **raw}, "us-east-1")
    return [str(problem) for problem in refused.value.problems]


def test_keys_left_out_of_an_object_take_their_defaults() -> None:
    settings = parse_settings({**ENHANCED, "restoreTesting": '{"sampleSize": 5}'}, "us-east-1")

    assert settings.restore_testing.sample_size == 5
    assert settings.restore_testing.enabled is True
    assert settings.restore_testing.schedule.expression == "cron(0 8 1 1,4,7,10 ? *)"
    assert settings.restore_testing.validation_window_hours == 24
    assert (settings.audit.enabled, settings.audit.config_recorder) == (False, False)


@pytest.mark.parametrize("hours", ["0", "169", "-1"])
def test_a_validation_window_outside_1_to_168_hours_is_refused(hours: str) -> None:
    assert problems({"restoreTesting": f'{{"validationWindowHours": {hours}}}'}) == [
        f"restoreTesting.validationWindowHours={hours}: must be 1..168 hours (restore "
        "testing's validation window)"
    ]


def test_each_key_of_an_object_is_typed_and_checked_by_its_own_rule() -> None:
    found = problems(
        {
            "restoreTesting": json.dumps(
                {"enabled": "yes", "schedule": "rate(90 days)", "sampleSize": 2.5}
            ),
            "audit": '{"reportRetentionDays": 0}',
        }
    )

    assert found == [
        'restoreTesting.enabled="yes": must be true or false',
        'restoreTesting.schedule="rate(90 days)": AWS Backup plans take cron() schedules only '
        "(rate() is not documented for backup rules), e.g. cron(0 5 * * ? *)",
        "restoreTesting.sampleSize=2.5: must be a whole number",
        "audit.reportRetentionDays=0: must be 1..36500 days (AWS Backup's lifecycle limit)",
    ]


def test_an_unknown_key_of_an_object_is_refused_with_the_closest_key() -> None:
    assert problems({"restoreTesting": '{"validationWindow": 48}'}) == [
        "restoreTesting.validationWindow=48: is not a key of restoreTesting; did you mean "
        "restoreTesting.validationWindowHours?"
    ]
    assert problems({"audit": '{"foo": 1}'}) == [
        "audit.foo=1: is not a key of audit; its keys are audit.enabled, audit.configRecorder, "
        "audit.reportRetentionDays"
    ]


def test_an_object_given_as_anything_but_a_mapping_is_refused() -> None:
    assert problems({"audit": "true"}) == [
        'audit="true": must be a mapping of keys to values, e.g. {enabled: false}'
    ]
    assert problems({"restoreTesting": '["enabled"]'}) == [
        'restoreTesting=["enabled"]: must be a mapping of keys to values, e.g. {enabled: false}'
    ]


def test_a_tier_component_names_an_objects_keys_as_python_spells_them() -> None:
    with pytest.raises(ConfigError) as refused:
        parse_arguments(
            Tier.ENHANCED,
            {
                "app_environment": "prod",
                "dr_region": "us-west-2",
                "restore_testing": {"validation_window_hours": 500, "sample": 3},
            },
            "us-east-1",
            PYTHON,
        )

    assert [str(p) for p in refused.value.problems] == [
        "restore_testing.sample=3: is not a key of restore_testing; did you mean "
        "restore_testing.sample_size?",
        "restore_testing.validation_window_hours=500: must be 1..168 hours (restore testing's "
        "validation window)",
    ]


def test_a_tier_component_takes_an_object_in_pythons_names() -> None:
    settings = parse_arguments(
        Tier.ENHANCED,
        {
            "app_environment": "prod",
            "dr_region": "us-west-2",
            "audit": {"enabled": True, "config_recorder": True},
        },
        "us-east-1",
        PYTHON,
    )

    assert (settings.audit.enabled, settings.audit.config_recorder) == (True, True)
    assert settings.switched_on >= {Capability.AUDIT}


def test_a_stack_file_writes_an_object_as_yaml_and_the_program_reads_it(tmp_path: Path) -> None:
    text = stack_file(
        "formkiq-backup:drRegion: us-west-2",
        "formkiq-backup:restoreTesting:",
        "    validationWindowHours: 48",
        "    schedule: cron(0 9 1 1,7 ? *)",
        base=(
            "aws:region: us-east-1",
            "formkiq-backup:tier: enhanced",
            "formkiq-backup:appEnvironment: prod",
        ),
    )
    config = StackConfig.load("bad", project_dir=project_with(tmp_path, text))

    settings = parse_settings(config.project_values(), config.get("aws:region"))

    # The CLI hands an object on as JSON; keys the stack leaves out keep the project default.
    assert json.loads(config.project_values()["restoreTesting"]) == {
        "validationWindowHours": 48,
        "schedule": "cron(0 9 1 1,7 ? *)",
    }
    assert settings.restore_testing.validation_window_hours == 48
    assert settings.restore_testing.sample_size == 20


def test_switching_off_what_the_tier_always_builds_is_a_warning_not_obeyed() -> None:
    settings = parse_settings(
        {**ENHANCED, "tier": "enterprise", "audit": '{"enabled": false}'}, "us-east-1"
    )

    assert [str(w) for w in settings.warnings] == [
        "audit.enabled=false: tier enterprise always builds AWS Backup Audit Manager framework "
        "and reports: ignored"
    ]


def test_restore_testing_may_be_switched_off_and_audit_on_where_the_tier_allows() -> None:
    settings = parse_settings(
        {**ENHANCED, "restoreTesting": '{"enabled": false}', "audit": '{"enabled": true}'},
        "us-east-1",
    )
    built = TIERS[Tier.ENHANCED].switched(settings.switched_on, settings.switched_off).capabilities
    assert Capability.RESTORE_TESTING not in built
    assert Capability.AUDIT in built


def test_an_object_key_on_a_tier_without_its_capability_is_an_ignored_key_warning() -> None:
    settings = parse_settings(
        {"tier": "standard", "appEnvironment": "prod", "restoreTesting": '{"sampleSize": 5}'},
        "us-east-1",
    )

    assert [str(w) for w in settings.warnings] == [
        'restoreTesting={"sampleSize": 5}: tier standard ignores it (only tiers enhanced+ use it)'
    ]


def test_an_object_is_declared_in_pulumi_yaml_by_its_default_and_no_type() -> None:
    """Pulumi's project schema types a key string, integer, boolean or array only."""
    entry = SETTINGS_BY_KEY["restoreTesting"].pulumi_yaml()

    assert "type" not in entry
    assert entry["default"] == {
        "enabled": True,
        "schedule": "cron(0 8 1 1,4,7,10 ? *)",
        "validationWindowHours": 24,
        "sampleSize": 20,
    }
