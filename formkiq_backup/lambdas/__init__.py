"""Lambda functions this package deploys, and exactly which source files each one ships."""

from dataclasses import dataclass
from pathlib import Path

# The directory holding the formkiq_backup package: bundle paths are relative to it, so the
# archive's layout matches the handler's import path.
SOURCE_ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class LambdaBundle:
    """A Lambda's handler and its files; the runtime provides boto3 and nothing else."""

    handler: str
    files: tuple[str, ...]

    def paths(self) -> dict[str, Path]:
        """Archive path -> file on disk."""
        return {name: SOURCE_ROOT / name for name in self.files}


POSTURE_GUARD = LambdaBundle(
    handler="formkiq_backup.lambdas.posture_guard.handler",
    files=(
        "formkiq_backup/__init__.py",
        "formkiq_backup/posture.py",
        "formkiq_backup/lambdas/__init__.py",
        "formkiq_backup/lambdas/posture_guard.py",
    ),
)

USERS_EXPORT = LambdaBundle(
    handler="formkiq_backup.lambdas.cognito_export.handler",
    files=(
        "formkiq_backup/__init__.py",
        "formkiq_backup/exports.py",
        "formkiq_backup/userexport.py",
        "formkiq_backup/lambdas/__init__.py",
        "formkiq_backup/lambdas/cognito_export.py",
    ),
)

INFRASTRUCTURE_EXPORT = LambdaBundle(
    handler="formkiq_backup.lambdas.infrastructure_export.handler",
    files=(
        "formkiq_backup/__init__.py",
        "formkiq_backup/exports.py",
        "formkiq_backup/lambdas/__init__.py",
        "formkiq_backup/lambdas/infrastructure_export.py",
    ),
)

EXPORT_MONITOR = LambdaBundle(
    handler="formkiq_backup.lambdas.export_monitor.handler",
    files=(
        "formkiq_backup/__init__.py",
        "formkiq_backup/exports.py",
        "formkiq_backup/lambdas/__init__.py",
        "formkiq_backup/lambdas/export_monitor.py",
    ),
)
