"""The README is the front door: its configuration reference must match the contract."""

import json
import re
from pathlib import Path

from formkiq_backup.config import SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
CONFIGURATION = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]


def as_written(default: object) -> str:
    """A default as a stack file would spell it: cron(0 5 * * ? *), 35, true, "", []."""
    if isinstance(default, str) and default:
        return default
    return json.dumps(default)


def test_readme_configuration_table_lists_every_key_with_its_default() -> None:
    row = re.compile(r"^\| `(\w+)` \| ([^|]+) \| ([^|]+) \|", re.MULTILINE)
    rows = {
        match.group(1): (match.group(2), match.group(3)) for match in row.finditer(CONFIGURATION)
    }
    for spec in SETTINGS:
        assert spec.key in rows, f"README does not document {spec.key}"
        _, default = rows[spec.key]
        if spec.required:
            assert default.strip() == "required", spec.key
        else:
            assert default.strip().startswith(f"`{as_written(spec.default)}`"), (spec.key, default)


def test_readme_names_the_two_commands() -> None:
    assert "make test " in README
    assert "make preview STACK=prod" in README
