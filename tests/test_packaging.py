"""`pip install .` gives a working package: the tier components, formkiq-dr and the Lambda
sources the components deploy, with the runtime dependencies they import.

The wheel is built offline (pip, the setuptools of the test environment, no index) from a copy
of the sources, and its file list and metadata are read; installing it would need every
dependency again, which the file list already answers for.
"""

import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from formkiq_backup.lambdas import (
    EXPORT_MONITOR,
    INFRASTRUCTURE_EXPORT,
    POSTURE_GUARD,
    RESTORE_VALIDATION,
    USERS_EXPORT,
)
from tiers.component_base import VERSION

PROJECT_DIR = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())


def requirement_lines(path: Path) -> list[str]:
    return [
        line.strip()
        for line in path.read_text().splitlines()
        if line.strip() and not line.startswith(("#", "-r"))
    ]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_DIR / name, source / name)
    for package in ("formkiq_backup", "components", "tiers"):
        shutil.copytree(
            PROJECT_DIR / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    built = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--wheel-dir",
            str(built),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = built.glob("formkiq_backup-*.whl")
    return zipfile.ZipFile(path)


def test_pyproject_declares_the_runtime_dependencies_requirements_txt_pins() -> None:
    assert PYPROJECT["project"]["dependencies"] == requirement_lines(
        PROJECT_DIR / "requirements.txt"
    )


def test_the_package_version_is_the_one_the_schema_and_plugin_announce() -> None:
    assert PYPROJECT["project"]["version"] == VERSION


def test_the_wheel_holds_the_components_the_cli_and_every_lambda_source(
    wheel: zipfile.ZipFile,
) -> None:
    files = set(wheel.namelist())
    for bundle in (
        POSTURE_GUARD,
        USERS_EXPORT,
        INFRASTRUCTURE_EXPORT,
        EXPORT_MONITOR,
        RESTORE_VALIDATION,
    ):
        # Bundles are read from the installed package, next to formkiq_backup (SOURCE_ROOT).
        assert set(bundle.files) <= files, bundle.handler
    assert {
        "tiers/components.py",
        "tiers/component_base.py",
        "tiers/outputs.py",
        "tiers/provider.py",
        "tiers/capabilities/__init__.py",
        "components/backup_vault.py",
        "formkiq_backup/dr/cli.py",
        "formkiq_backup/py.typed",
    } <= files
    assert not [name for name in files if name.startswith("tests/")]


def test_the_wheel_installs_formkiq_dr_and_requires_the_runtime_dependencies(
    wheel: zipfile.ZipFile,
) -> None:
    info = f"formkiq_backup-{VERSION}.dist-info"
    entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert "formkiq-dr = formkiq_backup.dr.cli:main" in entry_points
    metadata = Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
    required = [Requirement(value) for value in metadata.get_all("Requires-Dist") or []]
    declared = [Requirement(line) for line in PYPROJECT["project"]["dependencies"]]
    assert {r.name: r.specifier for r in required} == {r.name: r.specifier for r in declared}
