"""The README is the front door: its configuration reference must match the contract."""

from pathlib import Path

from formkiq_backup.config import SETTINGS
from tiers.outputs import OUTPUTS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
CONFIGURATION = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
OUTPUTS_SECTION = README.split("## Outputs", 1)[1].split("\n## ", 1)[0]


def test_readme_configuration_table_is_the_declared_settings_in_order() -> None:
    """Name, type, default, tiers and rule of every key come from its one declaration."""
    rows = [line for line in CONFIGURATION.splitlines() if line.startswith("| `")]
    assert rows == [row for spec in SETTINGS for row in spec.readme_rows()]


def test_readme_table_says_which_tiers_use_a_key() -> None:
    rows = {spec.key: spec.readme_rows()[0] for spec in SETTINGS}
    assert "| required | all |" in rows["tier"]
    assert "| `cron(0 5 * * ? *)` | standard+ |" in rows["backupSchedule"]
    assert '| `""` (none) | enhanced+ |' in rows["drRegion"]


def test_readme_names_the_two_commands() -> None:
    assert "make test " in README
    assert "make preview STACK=prod" in README


def test_readme_outputs_table_is_the_declared_outputs_in_order() -> None:
    """Name, tiers and meaning of every output come from its one declaration."""
    rows = [line for line in OUTPUTS_SECTION.splitlines() if line.startswith("| `")]
    assert rows == [spec.readme_row() for spec in OUTPUTS]
    assert "| `drAlarmTopicArn` | enhanced+ |" in OUTPUTS_SECTION
    assert "| `backupVaultArn` | standard+ |" in OUTPUTS_SECTION
