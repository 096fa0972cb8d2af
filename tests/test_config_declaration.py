"""Each key is declared once, as a BackupSettings field; Pulumi.yaml and parsing follow."""

from dataclasses import fields
from pathlib import Path

from formkiq_backup.config import SETTINGS, BackupSettings, parse_settings
from formkiq_backup.offline.program import read_yaml
from tiers.definitions import SECOND_REGION_CAPABILITIES, TIERS, Capability, Tier

PROJECT_DIR = Path(__file__).resolve().parent.parent


def test_pulumi_yaml_declares_exactly_the_settings_with_type_description_and_default() -> None:
    project = read_yaml(PROJECT_DIR / "Pulumi.yaml")
    assert isinstance(project, dict)
    assert project["config"] == {spec.key: spec.pulumi_yaml() for spec in SETTINGS}
    assert list(project["config"]) == [spec.key for spec in SETTINGS]


def test_every_settings_field_but_the_region_and_warnings_is_a_declared_key() -> None:
    undeclared = [f.name for f in fields(BackupSettings) if "setting" not in f.metadata]
    assert undeclared == ["primary_region", "warnings"]
    assert len({spec.key for spec in SETTINGS}) == len(SETTINGS)


def test_defaults_parse_to_the_field_values_the_builder_reads() -> None:
    settings = parse_settings({"tier": "standard", "appEnvironment": "prod"}, "us-east-1")
    assert settings.tier is Tier.STANDARD
    assert settings.primary_region == "us-east-1"
    assert settings.dr_region is None
    assert settings.notification_emails == ()
    assert settings.backup_schedule.expression == "cron(0 5 * * ? *)"
    assert settings.schedule_timezone == "UTC"
    assert (settings.daily_retention_days, settings.monthly_retention_days) == (35, 365)
    assert settings.cold_storage_after_days is None
    assert settings.break_glass_role_arns == ()
    assert (settings.protect_backups, settings.remediate_posture) == (True, False)
    assert settings.warnings == ()


def test_the_tiers_needing_a_dr_region_follow_from_their_capabilities() -> None:
    needing = {tier for tier, spec in TIERS.items() if spec.needs_dr_region}
    assert needing == {Tier.ENHANCED, Tier.ENTERPRISE}
    assert {
        Capability.CROSS_REGION_COPIES,
        Capability.S3_REPLICATION,
        Capability.GLOBAL_TABLE_REPLICAS,
        Capability.AIR_GAPPED_VAULT,
    } == SECOND_REGION_CAPABILITIES


def test_tier_definitions_import_no_pulumi() -> None:
    """formkiq-dr reads what a tier promises without loading the Pulumi SDK."""
    source = (PROJECT_DIR / "tiers" / "definitions.py").read_text()
    assert "import pulumi" not in source
    assert "from pulumi" not in source
    assert "formkiq_backup" not in source
