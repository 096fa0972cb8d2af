"""Shared fixtures: no test can reach AWS, and every Pulumi run has its own mocks and loop."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from moto import mock_aws

from formkiq_backup.offline.program import ProgramRun, run_offline
from formkiq_backup.offline.samples import SampleFormKiQ, sample_formkiq

if TYPE_CHECKING:
    from tests.dr_support import World

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials and no profile: a call that escaped the emulator could not sign in."""
    for variable in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
    ):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture
def sample() -> SampleFormKiQ:
    """A default FormKiQ Core 1.19.0 deployment, appEnvironment prod."""
    return sample_formkiq()


@pytest.fixture
def build(sample: SampleFormKiQ) -> Callable[..., ProgramRun]:
    """Register components under strict mocks; returns what AWS would receive.

    With `raise_errors=False` a failing build returns its run, error and all.
    """

    def run(body: Callable[[], object], *, raise_errors: bool = True) -> ProgramRun:
        return run_offline(body, sample=sample, raise_errors=raise_errors)

    return run


@pytest.fixture
def aws_session() -> Iterator[boto3.session.Session]:
    """An in-process moto account in us-east-1."""
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


@pytest.fixture
def world(aws_session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch) -> "World":
    """A seeded FormKiQ 1.19 'prod' in moto, ready for `formkiq-dr`."""
    from formkiq_backup.dr import polling
    from formkiq_backup.offline.seed import seed_documents, seed_formkiq, seed_users
    from tests.dr_support import MOTO_ACCOUNT, World

    # moto finishes restores and backups at once: no need to wait between polls.
    monkeypatch.setattr(polling, "POLL_SECONDS", 0.0)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    sample = sample_formkiq(account_id=MOTO_ACCOUNT)
    seed_formkiq(aws_session, sample)
    documents = seed_documents(aws_session, sample, {"default": 4, "finance": 6})
    pool_id = seed_users(aws_session, sample)
    return World(aws_session, sample, documents, pool_id)


# Set (as .ci/run does) where node is installed: dynalite must run there, never be skipped.
REQUIRE_DYNALITE = "FORMKIQ_REQUIRE_DYNALITE"


@pytest.fixture(scope="session")
def dynalite_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One dynalite (DynamoDB on Node.js) on 127.0.0.1 per test worker, installed on first use.

    Skips, saying why, where node or npm is missing, unless FORMKIQ_REQUIRE_DYNALITE is set.
    """
    from bench.server import DynaliteUnavailableError, dynalite_server

    log = tmp_path_factory.mktemp("dynalite") / "dynalite.log"
    try:
        server = dynalite_server(log)
        running = server.__enter__()
    except DynaliteUnavailableError as missing:
        if os.environ.get(REQUIRE_DYNALITE):
            pytest.fail(f"{REQUIRE_DYNALITE} is set, yet {missing}")
        pytest.skip(f"dynalite tests not run: {missing}")
    try:
        yield running.endpoint
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def moto_server_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One moto_server on 127.0.0.1 per test worker, for the services dynalite does not have."""
    from bench.server import moto_server

    with moto_server(tmp_path_factory.mktemp("moto") / "moto_server.log") as server:
        yield server.endpoint
