"""A seeded FormKiQ in moto and a way to run `formkiq-dr` against it, for the CLI tests."""

import json
from dataclasses import dataclass
from typing import Any

import boto3
from click.testing import CliRunner

from formkiq_backup.dr.cli import cli
from formkiq_backup.offline.samples import SampleFormKiQ
from formkiq_backup.offline.seed import SeededDocument

MOTO_ACCOUNT = "123456789012"
DOCUMENTS = "formkiq-core-prod-documents"
SYNCS = "formkiq-core-prod-documentsyncs"
BUCKET = f"formkiq-core-prod-documents-{MOTO_ACCOUNT}"


@dataclass
class Outcome:
    """What one CLI run returned: its exit code and its --json report."""

    exit_code: int
    report: dict[str, Any]
    stderr: str

    def entries(self, section: str) -> list[dict[str, Any]]:
        return [entry for entry in self.report["entries"] if entry["section"] == section]

    def statuses(self, section: str) -> dict[str, str]:
        return {entry["subject"]: entry["status"] for entry in self.entries(section)}


@dataclass
class World:
    """A FormKiQ 1.19 'prod' in moto: documents in sites default and finance, users."""

    session: boto3.session.Session
    sample: SampleFormKiQ
    documents: list[SeededDocument]
    pool_id: str

    def client(self, service: str) -> Any:
        return self.session.client(service)

    def run(self, *args: str, app_env: str = "prod") -> Outcome:
        """`formkiq-dr <args> --app-env <env> --json`, in-process."""
        command, *rest = args
        argv = [command, *rest] if command != "users" else [command, rest[0], *rest[1:]]
        result = CliRunner().invoke(
            cli, [*argv, "--app-env", app_env, "--json"], catch_exceptions=False
        )
        report = json.loads(result.stdout) if result.stdout.strip() else {}
        return Outcome(result.exit_code, report, result.stderr)

    def finance(self) -> list[SeededDocument]:
        return [d for d in self.documents if d.site == "finance"]

    def default_site(self) -> list[SeededDocument]:
        return [d for d in self.documents if d.site == "default"]

    def item(self, table: str, pk: str, sk: str) -> dict[str, Any] | None:
        found = self.client("dynamodb").get_item(
            TableName=table, Key={"PK": {"S": pk}, "SK": {"S": sk}}
        )
        return found.get("Item")

    def tables(self) -> set[str]:
        return set(self.client("dynamodb").list_tables()["TableNames"])
