"""Lambda functions this package deploys, and exactly which source files each one ships."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The directory holding the formkiq_backup package: bundle paths are relative to it, so the
# archive's layout matches the handler's import path.
SOURCE_ROOT = Path(__file__).resolve().parent.parent.parent
# Where a bundle's AWS service models sit in its archive; Lambda unpacks the archive into
# LAMBDA_TASK_ROOT, /var/task (lambda/latest/dg/configuration-envvars.html).
MODELS_DIR = "botocore_models"
TASK_ROOT = "/var/task"


@dataclass(frozen=True)
class LambdaBundle:
    """A Lambda's handler and its files; the runtime provides boto3 and nothing else.

    `service_models` names AWS services whose API model ships with the code: the one the
    deploying machine's botocore has, its documentation removed (the backup model: about
    150 KB, 15 KB zipped, against some 25 MB for boto3 and botocore themselves). A runtime's
    bundled boto3 can predate an API (AWS Backup restore testing's guide: "PutRestoreValidation
    Result is not available through the Lambda SDK"); botocore searches the directories of
    AWS_DATA_PATH before its own models (botocore/loaders.py, "Search paths"), so the function's
    environment points there. Nothing else of the runtime's SDK changes.
    """

    handler: str
    files: tuple[str, ...]
    service_models: tuple[str, ...] = ()

    def paths(self) -> dict[str, Path]:
        """Archive path -> file on disk."""
        return {name: SOURCE_ROOT / name for name in self.files}

    def models(self) -> dict[str, str]:
        """Archive path -> JSON text of each shipped service model (service-2)."""
        import botocore.loaders

        loader = botocore.loaders.Loader()
        shipped = {}
        for service in self.service_models:
            version = loader.determine_latest_version(service, "service-2")
            model = loader.load_service_model(service, "service-2", version)
            path = f"{MODELS_DIR}/{service}/{version}/service-2.json"
            shipped[path] = json.dumps(_without_documentation(model), sort_keys=True)
        return shipped

    def environment(self) -> dict[str, str]:
        """Environment variables the function needs for what it ships."""
        return {"AWS_DATA_PATH": f"{TASK_ROOT}/{MODELS_DIR}"} if self.service_models else {}


def _without_documentation(value: Any) -> Any:
    """A model without its documentation strings, which botocore does not need to call."""
    if isinstance(value, dict):
        return {k: _without_documentation(v) for k, v in value.items() if k != "documentation"}
    if isinstance(value, list):
        return [_without_documentation(item) for item in value]
    return value


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

RESTORE_VALIDATION = LambdaBundle(
    handler="formkiq_backup.lambdas.restore_validation.handler",
    files=(
        "formkiq_backup/__init__.py",
        "formkiq_backup/items.py",
        "formkiq_backup/sites.py",
        "formkiq_backup/integrity.py",
        "formkiq_backup/lambdas/__init__.py",
        "formkiq_backup/lambdas/restore_validation.py",
    ),
    service_models=("backup",),
)
