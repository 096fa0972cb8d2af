"""The configuration contract: every bad value is rejected, with its key, value and rule,
before the program registers a resource or calls AWS."""

import json
import runpy
import shutil
from pathlib import Path

import pulumi
import pytest

from formkiq_backup.config import SETTINGS, ConfigError, parse_settings
from formkiq_backup.offline.program import (
    ProgramRun,
    StackConfig,
    StackFileError,
    read_yaml,
    run_offline,
    run_program,
)
from formkiq_backup.offline.samples import sample_formkiq
from tiers.definitions import Tier

PROJECT_DIR = Path(__file__).resolve().parent.parent

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
        ['notificationEmails="ops-at-example.com"', "is not an e-mail address"],
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


def assert_refused_before_anything(case: str, run: ProgramRun, fragments: list[str]) -> None:
    """The run stopped with every fragment in its message, before any resource or AWS call."""
    assert run.error is not None, f"{case}: the program accepted it"
    message = str(run.error)
    for fragment in fragments:
        assert fragment in message, f"{case}: {fragment!r} missing from:\n{message}"
    assert run.resources == [], f"{case}: resources were registered before the error"
    assert run.invokes == [], f"{case}: AWS was called before the error"


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_is_rejected_before_any_resource_or_aws_call(case: str) -> None:
    overrides, fragments = BAD_INPUTS[case]
    run = run_program("prod", overrides=overrides, raise_errors=False)

    assert_refused_before_anything(case, run, fragments)


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
    expected_types = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict}
    for spec in SETTINGS:
        assert spec.required or spec.default is not None, spec.key
        if spec.default is not None:
            assert isinstance(spec.default, expected_types[spec.kind]), spec.key
        for sub in spec.fields:
            assert isinstance(sub.default, expected_types[sub.kind]), f"{spec.key}.{sub.key}"
            assert isinstance(spec.default, dict) and spec.default[sub.key] == sub.default


# --- stack files as Pulumi reads them -------------------------------------------------------

BASE = (
    "aws:region: us-east-1",
    "formkiq-backup:tier: standard",
    "formkiq-backup:appEnvironment: prod",
)


def stack_file(*lines: str, base: tuple[str, ...] = BASE) -> str:
    """A stack file: the base keys (unless replaced) and `lines`, under `config:`."""
    return "config:\n" + "".join(f"  {line}\n" for line in (*base, *lines))


def project_with(tmp_path: Path, text: str | bytes, stack: str = "bad") -> Path:
    """A project directory holding this Pulumi.yaml and program, and Pulumi.<stack>.yaml."""
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    path = tmp_path / f"Pulumi.{stack}.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return tmp_path


# Files Pulumi itself would refuse to read: (file content, what the message must say).
UNREADABLE_STACK_FILES: dict[str, tuple[str | bytes, list[str]]] = {
    "not YAML": (
        "config:\n  aws:region: [us-east-1\n",
        ["Pulumi.bad.yaml, line", "not valid YAML"],
    ),
    "tab indentation": (
        "config:\n\taws:region: us-east-1\n",
        ["Pulumi.bad.yaml", "not valid YAML"],
    ),
    "a key given twice": (
        stack_file("formkiq-backup:tier: basic"),
        [
            "Pulumi.bad.yaml, line 5: key formkiq-backup:tier is given twice (first on line 3)",
            "duplicate key",
        ],
    ),
    "config given twice": (
        stack_file() + "config:\n  aws:region: us-west-2\n",
        ["key config is given twice (first on line 1)"],
    ),
    "config is a list": (
        "config:\n  - formkiq-backup:tier\n",
        ["Pulumi.bad.yaml: config must be a mapping of key: value, not a list"],
    ),
    "config is a string": (
        "config: standard\n",
        ['Pulumi.bad.yaml: config must be a mapping of key: value, not the value "standard"'],
    ),
    "the file is a list": ("- config\n", ["Pulumi.bad.yaml: the file must be a mapping"]),
    "a key that is a number": (
        "config:\n  1: standard\n",
        ["Pulumi.bad.yaml: config has the key 1; keys are namespace:name strings"],
    ),
    "not UTF-8 text": (b"config:\n  aws:region: \xff\xfe\n", ["Pulumi.bad.yaml: not a UTF-8"]),
}


@pytest.mark.parametrize("case", list(UNREADABLE_STACK_FILES), ids=list(UNREADABLE_STACK_FILES))
def test_a_stack_file_pulumi_cannot_read_is_a_clear_error(tmp_path: Path, case: str) -> None:
    text, fragments = UNREADABLE_STACK_FILES[case]
    project = project_with(tmp_path, text)

    with pytest.raises(StackFileError) as raised:
        run_program("bad", project_dir=project, raise_errors=False)

    for fragment in fragments:
        assert fragment in str(raised.value), f"{case}: {fragment!r} not in {raised.value}"


# Files Pulumi reads, whose configuration cannot work: (file content, what the user must see).
BAD_STACK_FILES: dict[str, tuple[str, list[str]]] = {
    # YAML 1.2: these are strings, and the program must judge them as such.
    "protectBackups: yes": (
        stack_file("formkiq-backup:protectBackups: yes"),
        ['protectBackups="yes": must be true or false'],
    ),
    "remediatePosture: on": (
        stack_file("formkiq-backup:remediatePosture: on"),
        ['remediatePosture="on": must be true or false'],
    ),
    "dailyRetentionDays: 1:00": (
        stack_file("formkiq-backup:dailyRetentionDays: 1:00"),
        ['dailyRetentionDays="1:00": must be a whole number'],
    ),
    "dailyRetentionDays: 35.0": (
        stack_file("formkiq-backup:dailyRetentionDays: 35.0"),
        ['dailyRetentionDays="35.0": must be a whole number'],
    ),
    "dailyRetentionDays: 0x23": (
        stack_file("formkiq-backup:dailyRetentionDays: 0x23"),
        ['dailyRetentionDays="0x23": must be a whole number'],
    ),
    "tier: yes": (
        stack_file("formkiq-backup:tier: yes", base=BASE[::2]),
        ['tier="yes": must be one of basic, standard, enhanced, enterprise'],
    ),
    "notificationEmails a scalar": (
        stack_file("formkiq-backup:notificationEmails: ops@example.com"),
        ['notificationEmails="ops@example.com": must be a list of strings'],
    ),
    "notificationEmails of numbers": (
        stack_file("formkiq-backup:notificationEmails: [1, 2]"),
        ["notificationEmails=[1, 2]: must be a list of strings"],
    ),
    # Nulls: neither a value nor clearly the default.
    "tier: ~": (
        stack_file("formkiq-backup:tier: ~", base=BASE[::2]),
        ["formkiq-backup:tier=null: is null: give it a value"],
    ),
    "dailyRetentionDays: null": (
        stack_file("formkiq-backup:dailyRetentionDays: null"),
        [
            "formkiq-backup:dailyRetentionDays=null: is null: "
            "remove the line to take the default (35)"
        ],
    ),
    "aws:region empty": (
        stack_file("aws:region:", base=BASE[1:]),
        ["aws:region=null: is null"],
    ),
    # The region.
    "no aws:region": (stack_file(base=BASE[1:]), ["aws:region=(not set): is required"]),
    "aws:region not a region": (
        stack_file("aws:region: us-east-9", base=BASE[1:]),
        ['aws:region="us-east-9": is not an AWS region'],
    ),
    "aws:region misspelt": (
        stack_file("aws:region: eu-wset-1", base=BASE[1:]),
        ['aws:region="eu-wset-1"', 'did you mean "eu-west-1"'],
    ),
    "aws:region in upper case": (
        stack_file("aws:region: US-EAST-1", base=BASE[1:]),
        ['aws:region="US-EAST-1": is not an AWS region', 'did you mean "us-east-1"'],
    ),
    "drRegion in upper case": (
        stack_file("formkiq-backup:drRegion: US-WEST-2"),
        ['drRegion="US-WEST-2": is not an AWS region', 'did you mean "us-west-2"'],
    ),
    # What a careful user tries next.
    "appEnvironment empty": (
        stack_file('formkiq-backup:appEnvironment: ""', base=BASE[:2]),
        ["appEnvironment=(empty): must match FormKiQ's AppEnvironment pattern"],
    ),
    "tier with a trailing space": (
        stack_file('formkiq-backup:tier: "standard "', base=BASE[::2]),
        ['tier="standard ": must be one of', 'did you mean "standard"'],
    ),
    "tier as a list": (
        stack_file("formkiq-backup:tier: [standard]", base=BASE[::2]),
        ['tier=["standard"]: must be one value, not a list or mapping'],
    ),
    "negative retention": (
        stack_file("formkiq-backup:monthlyRetentionDays: -1"),
        ["monthlyRetentionDays=-1: must be 1..36500 days"],
    ),
    # Look-alike namespaces and keys: nothing would read them.
    "formkiq_backup namespace": (
        stack_file("formkiq_backup:protectBackups: false"),
        [
            'formkiq_backup:protectBackups="false": namespace formkiq_backup is not '
            "formkiq-backup, so nothing reads this key: did you mean formkiq-backup:protectBackups?"
        ],
    ),
    "formkiqbackup namespace": (
        stack_file("formkiqbackup:dailyRetentionDays: 10"),
        ["namespace formkiqbackup is not formkiq-backup"],
    ),
    "formkiq-backups namespace": (
        stack_file("formkiq-backups:monthlyRetention: 10"),
        ["namespace formkiq-backups is not formkiq-backup", "formkiq-backup:monthlyRetentionDays?"],
    ),
    "Formkiq-Backup namespace": (
        stack_file("Formkiq-Backup:tier: basic"),
        ["namespace Formkiq-Backup is not formkiq-backup"],
    ),
    "a key without namespace": (
        stack_file("dailyRetentionDays: 10"),
        [
            'dailyRetentionDays="10": has no namespace',
            "did you mean formkiq-backup:dailyRetentionDays?",
        ],
    ),
    "an undeclared key": (
        stack_file("formkiq-backup:retentionDays: 10"),
        ['retentionDays="10": is not a formkiq-backup setting; did you mean'],
    ),
    # Values that parse but cannot work.
    "a schedule for the 30th of February": (
        stack_file('formkiq-backup:backupSchedule: "cron(0 5 30 2 ? *)"'),
        ["never starts a job: day-of-month 30 does not occur in FEB"],
    ),
    "a schedule for the 31st of April only": (
        stack_file("formkiq-backup:backupSchedule: cron(0 5 31 4 ? *)"),
        ["never starts a job: day-of-month 31 does not occur in APR"],
    ),
    "a schedule only in past years": (
        stack_file("formkiq-backup:backupSchedule: cron(0 5 * * ? 2020-2024)"),
        ["never starts a job: every year it names is before"],
    ),
    "an address twice, in another case": (
        stack_file("formkiq-backup:notificationEmails: [ops@example.com, OPS@Example.com]"),
        ['notificationEmails="OPS@Example.com": is listed twice (as "ops@example.com" too)'],
    ),
    "a break-glass role of another partition": (
        stack_file('formkiq-backup:breakGlassRoleArns: ["arn:aws-cn:iam::111122223333:role/X"]'),
        [
            'breakGlassRoleArns="arn:aws-cn:iam::111122223333:role/X" and aws:region="us-east-1"',
            "partition aws-cn can never act in aws",
        ],
    ),
    "drRegion in another partition": (
        stack_file(
            "formkiq-backup:tier: enhanced", "formkiq-backup:drRegion: cn-north-1", base=BASE[::2]
        ),
        ["copies cannot cross partitions (aws to aws-cn)"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_STACK_FILES), ids=list(BAD_STACK_FILES))
def test_a_bad_stack_file_is_rejected_naming_key_value_and_rule(tmp_path: Path, case: str) -> None:
    text, fragments = BAD_STACK_FILES[case]
    run = run_program("bad", project_dir=project_with(tmp_path, text), raise_errors=False)

    assert run.error is not None, f"{case}: the program accepted it"
    message = str(run.error)
    for fragment in fragments:
        assert fragment in message, f"{case}: {fragment!r} missing from:\n{message}"
    assert "None" not in message
    assert run.resources == [], f"{case}: resources were registered before the error"
    assert run.invokes == [], f"{case}: AWS was called before the error"


def test_a_null_is_reported_once_not_also_as_a_missing_key(tmp_path: Path) -> None:
    text = stack_file("formkiq-backup:tier: ~", base=BASE[::2])
    run = run_program("bad", project_dir=project_with(tmp_path, text), raise_errors=False)
    assert isinstance(run.error, ConfigError)
    assert len(run.error.problems) == 1, run.error


def test_stack_file_problems_come_with_every_value_problem_at_once(tmp_path: Path) -> None:
    text = stack_file(
        "formkiq_backup:tier: basic",
        "formkiq-backup:dailyRetentionDays: 0",
        "formkiq-backup:protectBackups: yes",
    )
    run = run_program("bad", project_dir=project_with(tmp_path, text), raise_errors=False)
    assert isinstance(run.error, ConfigError)
    assert "has 3 problems" in str(run.error)


def test_yaml_12_plain_values_keep_their_meaning(tmp_path: Path) -> None:
    """Quoted or not, `true` is true and 35 is 35; YAML 1.1's yes/no/on/off are just strings."""
    text = stack_file(
        "formkiq-backup:protectBackups: True",
        'formkiq-backup:dailyRetentionDays: "35"',
        "formkiq-backup:monthlyRetentionDays: 400",
        "formkiq-backup:notificationEmails: [ops@example.com]",
    )
    project = project_with(tmp_path, text)
    config = StackConfig.load("bad", project_dir=project)
    assert config.get("protectBackups") == "True"
    assert config.get("notificationEmails") == '["ops@example.com"]'
    assert run_program("bad", project_dir=project).outputs["tier"] == "standard"
    assert read_yaml(project / "Pulumi.bad.yaml") == {
        "config": {
            "aws:region": "us-east-1",
            "formkiq-backup:tier": "standard",
            "formkiq-backup:appEnvironment": "prod",
            "formkiq-backup:protectBackups": True,
            "formkiq-backup:dailyRetentionDays": "35",
            "formkiq-backup:monthlyRetentionDays": 400,
            "formkiq-backup:notificationEmails": ["ops@example.com"],
        }
    }


# --- warnings: valid, probably not meant, never silent ---------------------------------------

WARNED_STACK_FILES: dict[str, tuple[str, str]] = {
    "backupSchedule on basic": (
        stack_file(
            "formkiq-backup:tier: basic",
            "formkiq-backup:backupSchedule: cron(0 6 * * ? *)",
            base=BASE[::2],
        ),
        'backupSchedule="cron(0 6 * * ? *)": tier basic ignores it (only tiers standard+ use it)',
    ),
    "protectBackups false on basic": (
        stack_file(
            "formkiq-backup:tier: basic", "formkiq-backup:protectBackups: false", base=BASE[::2]
        ),
        "protectBackups=false: tier basic ignores it (only tiers standard+ use it)",
    ),
    "drRegion on standard": (
        stack_file("formkiq-backup:drRegion: us-west-2"),
        'drRegion="us-west-2": tier standard ignores it (only tiers enhanced+ use it)',
    ),
    "dailies kept longer than monthlies": (
        stack_file(
            "formkiq-backup:dailyRetentionDays: 400", "formkiq-backup:monthlyRetentionDays: 365"
        ),
        "dailyRetentionDays=400 and monthlyRetentionDays=365: daily recovery points are kept "
        "longer than monthly ones",
    ),
}


@pytest.mark.parametrize("case", list(WARNED_STACK_FILES), ids=list(WARNED_STACK_FILES))
def test_a_questionable_stack_is_built_and_warned_about_through_pulumi_log(
    tmp_path: Path, case: str
) -> None:
    text, warning = WARNED_STACK_FILES[case]
    run = run_program("bad", project_dir=project_with(tmp_path, text))

    warned = [message for severity, message in run.diagnostics if severity == "warning"]
    assert len(warned) == 1, warned
    assert warned[0].startswith(f"formkiq-backup configuration: {warning}"), warned
    assert run.resources


def test_a_default_spelled_out_on_a_tier_that_ignores_it_is_not_warned_about() -> None:
    run = run_program("dev", overrides={"backupSchedule": "cron(0 5 * * ? *)"})
    assert not [message for severity, message in run.diagnostics if severity == "warning"]


def test_warnings_come_with_the_problems_when_a_stack_is_rejected() -> None:
    run = run_program(
        "dev",
        overrides={"backupSchedule": "cron(0 6 * * ? *)", "dailyRetentionDays": "x"},
        raise_errors=False,
    )
    assert (
        'dailyRetentionDays="x": must be a whole number\nand warnings:\n  - backupSchedule='
        in str(run.error)
    )


def test_example_stacks_have_no_warnings() -> None:
    for stack in ("dev", "prod"):
        run = run_program(stack)
        assert not [m for severity, m in run.diagnostics if severity == "warning"], stack


def under_pulumi_up(
    monkeypatch: pytest.MonkeyPatch, overrides: dict[str, object]
) -> tuple[ProgramRun, ProgramRun]:
    """The prod stack with `overrides`, run twice: as `make preview` reads it (the stack file),
    and as `pulumi up` runs the program, with the whole configuration in PULUMI_CONFIG (JSON of
    full keys and string values, project defaults merged: what the language host sets)."""
    preview = run_program("prod", overrides=overrides, raise_errors=False)
    values = dict(StackConfig.load("prod").values)
    values.update(
        (key if ":" in key else f"formkiq-backup:{key}", str(value))
        for key, value in overrides.items()
    )
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(values))
    up = run_offline(
        lambda: runpy.run_path(str(PROJECT_DIR / "__main__.py"), run_name="__main__"),
        sample=sample_formkiq(),
        stack="prod",
        config={},  # nothing set in-process: every key comes from PULUMI_CONFIG
        raise_errors=False,
    )
    return preview, up


@pytest.mark.parametrize(
    "overrides",
    [
        {"tierr": "basic"},
        {"retentionDays": 10, "dailyRetentionDays": 0},
        {"formkiq_backup:tier": "basic"},
    ],
    ids=["unknown key", "unknown key and a bad value", "look-alike namespace"],
)
def test_pulumi_up_refuses_what_make_preview_refuses_with_the_same_message(
    monkeypatch: pytest.MonkeyPatch, overrides: dict[str, object]
) -> None:
    preview, up = under_pulumi_up(monkeypatch, overrides)

    assert isinstance(preview.error, ConfigError)
    assert isinstance(up.error, pulumi.RunError)
    assert str(up.error) == str(preview.error)
    assert str(up.error).startswith("formkiq-backup configuration has ")
    assert up.resources == []


def test_pulumi_up_names_the_unknown_key_and_the_closest_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, up = under_pulumi_up(monkeypatch, {"tierr": "basic"})
    assert str(up.error) == (
        "formkiq-backup configuration has 1 problem:\n"
        '  - tierr="basic": is not a formkiq-backup setting; did you mean tier?'
    )


def test_pulumi_up_reads_the_stacks_keys_from_pulumi_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, up = under_pulumi_up(monkeypatch, {"dailyRetentionDays": 14})
    assert up.error is None
    rules = {rule["ruleName"] for rule in up.one("aws:backup/plan:Plan").inputs["rules"]}
    assert rules == {"daily_kept_14_days", "monthly_kept_400_days"}


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        (
            "mailto:ops@example.com",
            'is a mailto: link: give the bare address, e.g. "ops@example.com"',
        ),
        (
            "<ops@example.com>",
            'has a display name or <>: give the bare address, e.g. "ops@example.com"',
        ),
        ("On-call <ops@example.com>", 'give the bare address, e.g. "ops@example.com"'),
        ("ops@example.com ", "has spaces around it"),
        ("ops@localhost", "has a domain (after @) that is not a host name with a dot"),
        ("ops@example..com", "has a domain (after @)"),
        ("ops@-example.com", "has a domain (after @)"),
        ("ops@10.0.0.1", "has a domain (after @)"),
        ("o..ps@example.com", "has a local part (before @)"),
        (".ops@example.com", "has a local part (before @)"),
        ('"o ps"@example.com', "has a local part (before @)"),
        ("opé@example.com", "has characters other than ASCII"),
        ("ops@", "has a domain (after @)"),
        ("@example.com", "is not an e-mail address"),
        (f"{'o' * 65}@example.com", "at most 64 characters"),
    ],
)
def test_only_a_bare_address_sns_can_subscribe_is_accepted(address: str, rule: str) -> None:
    """SNS's e-mail endpoint "is an email address" (Subscribe, Endpoint): not a link, not a
    display name, not a host without a domain."""
    with pytest.raises(ConfigError) as caught:
        parse_settings(
            {
                "tier": "basic",
                "appEnvironment": "prod",
                "notificationEmails": json.dumps([address]),
            },
            "us-east-1",
        )

    message = str(caught.value)
    assert "notificationEmails=" in message
    assert rule in message


@pytest.mark.parametrize(
    "address", ["ops@example.com", "first.last+backup@corp.example.co.uk", "x@xn--bcher-kva.ch"]
)
def test_plain_addresses_are_accepted(address: str) -> None:
    settings = parse_settings(
        {"tier": "basic", "appEnvironment": "prod", "notificationEmails": f'["{address}"]'},
        "us-east-1",
    )
    assert settings.notification_emails == (address,)


INTEGER_KEYS = [spec.key for spec in SETTINGS if spec.kind == "integer"]


@pytest.mark.parametrize("key", INTEGER_KEYS)
@pytest.mark.parametrize("value", ["1" + "0" * 30, "9" * 5000, "-" + "9" * 5000, "999999999999"])
def test_a_huge_number_names_the_key_and_its_rule_never_a_python_message(
    key: str, value: str
) -> None:
    """Python reads no number of more than 4,300 digits and timedelta none past 999,999,999
    days: every integer key reports its own rule instead."""
    with pytest.raises(ConfigError) as caught:
        parse_settings({"tier": "standard", "appEnvironment": "prod", key: value}, "us-east-1")

    message = str(caught.value)
    assert f"{key}=" in message
    assert any(rule in message for rule in ("1..36500", "at most 36500", "whole number of days"))
    for python in ("Exceeds the limit", "magnitude", "OverflowError", "int_max_str_digits"):
        assert python not in message
    assert max(len(line) for line in message.splitlines()) < 400


@pytest.mark.parametrize(
    ("expression", "gap"),
    [("cron(0 5 ? * MON-FRI *)", "3 days"), ("cron(0 5 ? * SUN *)", "7 days")],
)
def test_a_daily_rule_that_skips_days_is_refused(expression: str, gap: str) -> None:
    """The rule is named daily and the tier's alarms and verify expect a recovery point younger
    than 26 hours: a schedule skipping days would alarm on each day it skips."""
    with pytest.raises(ConfigError) as caught:
        parse_settings(
            {"tier": "standard", "appEnvironment": "prod", "backupSchedule": expression},
            "us-east-1",
        )

    message = str(caught.value)
    assert f'backupSchedule="{expression}": leaves up to {gap} between backups' in message
    assert "the daily rule must run every day" in message


def test_a_daily_rule_may_run_more_often() -> None:
    settings = parse_settings(
        {"tier": "standard", "appEnvironment": "prod", "backupSchedule": "cron(0 */6 * * ? *)"},
        "us-east-1",
    )
    assert settings.backup_schedule.hours == (0, 6, 12, 18)


# --- what real stack files hold: secrets, and keys in the wrong place ---------------------------

SECRET = "secure: AAABAGZha2VjaXBoZXJ0ZXh0"


def test_an_encrypted_address_is_rendered_with_a_stand_in_and_said_so(tmp_path: Path) -> None:
    """An e-mail address only names where alerts go: the render goes on with a reserved
    `.invalid` address in its place, and says so."""
    project = project_with(
        tmp_path,
        stack_file(
            "formkiq-backup:notificationEmails:",
            "  - ops@example.com",
            f"  - {SECRET}",
            "aws:secretKey:",
            f"  {SECRET}",
        ),
    )

    run = run_program("bad", project_dir=project)

    endpoints = {
        s.inputs["endpoint"] for s in run.of_type("aws:sns/topicSubscription:TopicSubscription")
    }
    assert endpoints == {"ops@example.com", "encrypted-2@notificationemails.invalid"}
    assert run.config is not None
    notices = "\n".join(run.config.notices)
    assert "formkiq-backup:notificationEmails holds encrypted values (secure:)" in notices
    assert "aws:secretKey is encrypted (secure:): the program does not read it" in notices


@pytest.mark.parametrize(
    "key", ["formkiq-backup:tier", "formkiq-backup:breakGlassRoleArns", "aws:region"]
)
def test_an_encrypted_value_that_shapes_the_stack_is_refused_naming_it(
    tmp_path: Path, key: str
) -> None:
    base = tuple(line for line in BASE if not line.startswith(f"{key}:"))
    project = project_with(tmp_path, stack_file(f"{key}:", f"  {SECRET}", base=base))

    run = run_program("bad", project_dir=project, raise_errors=False)

    message = str(run.error)
    assert f'{key}="(encrypted: secure)": is encrypted (secure:), and an offline render' in message
    assert "keep it in plain text (it is not a secret), or review with `pulumi preview`" in message
    assert "(not set)" not in message
    assert "must be" not in message
    assert run.resources == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "formkiq-backup:tier: standard\nconfig:\n  aws:region: us-east-1\n"
            "  formkiq-backup:appEnvironment: prod\n",
            'formkiq-backup:tier="standard": is at the top level of Pulumi.bad.yaml (line 1), '
            "not under `config:`: Pulumi reads stack settings only from the config mapping, so "
            "nothing reads it; indent it under config:",
        ),
        (
            "config:\n  aws:region: us-east-1\n  formkiq-backup:appEnvironment: prod\n"
            "formkiq-backup:\n  tier: standard\n",
            'formkiq-backup={"tier": "standard"}: is at the top level of Pulumi.bad.yaml '
            "(line 4), not under `config:`",
        ),
        (
            "aws:region: us-east-1\nformkiq-backup:tier: standard\n"
            "formkiq-backup:appEnvironment: prod\n",
            'aws:region="us-east-1": is at the top level of Pulumi.bad.yaml (line 1)',
        ),
    ],
    ids=["one key above config", "a namespace mapping", "no config wrapper at all"],
)
def test_a_setting_outside_config_is_reported_where_it_is_not_as_missing(
    tmp_path: Path, text: str, problem: str
) -> None:
    """Pulumi reads settings only from `config:`: a key beside it is ignored, and the stack
    would be told the key is not set."""
    run = run_program("bad", project_dir=project_with(tmp_path, text), raise_errors=False)

    message = str(run.error)
    assert problem in message
    assert "tier=(not set)" not in message
    assert run.resources == []


def test_a_top_level_key_that_is_not_a_stack_file_attribute_is_reported(tmp_path: Path) -> None:
    run = run_program(
        "bad",
        project_dir=project_with(tmp_path, "owner: platform\n" + stack_file()),
        raise_errors=False,
    )

    assert (
        'owner="platform": is at the top level of Pulumi.bad.yaml (line 1), which holds only '
        "secretsprovider, encryptedkey, encryptionsalt, config, environment: nothing reads it"
        in str(run.error)
    )


def test_pulumis_own_stack_file_attributes_are_read_as_pulumi_reads_them(tmp_path: Path) -> None:
    text = "secretsprovider: passphrase\nencryptionsalt: v1:abc\n" + stack_file()

    run = run_program("bad", project_dir=project_with(tmp_path, text))

    assert run.outputs["tier"] == "standard"
