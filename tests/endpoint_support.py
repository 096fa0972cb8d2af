"""An AWS endpoint that goes away mid-command: a loopback forwarder to the worker's moto_server.

The moto_server is shared by every test of a worker (conftest), so it cannot be stopped; the
forwarder in front of it can. `cut()` closes its port and every connection through it, as a
network or an emulator that disappears: the next request is refused, the one in flight reset.
moto_server keeps its state, so a test can then look at what the command really left there.
"""

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from click.testing import CliRunner

from formkiq_backup.dr import context as dr_context
from formkiq_backup.dr.cli import cli
from formkiq_backup.offline.samples import SampleFormKiQ, sample_formkiq
from formkiq_backup.offline.seed import SeededDocument, seed_documents, seed_formkiq, seed_users
from tests.dr_support import MOTO_ACCOUNT, Outcome

_CHUNK = 65536


class CuttableEndpoint:
    """A TCP forwarder on 127.0.0.1 to `upstream` (http://127.0.0.1:PORT) that can be cut."""

    def __init__(self, upstream: str) -> None:
        self._upstream = ("127.0.0.1", int(upstream.rsplit(":", 1)[1]))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # cut
                return
            upstream = socket.create_connection(self._upstream)
            with self._lock:
                if self._cut:
                    client.close()
                    upstream.close()
                    return
                self._open += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(_CHUNK):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                _close(end)

    def cut(self) -> None:
        """From now on nothing answers here: the port is closed, open connections reset."""
        with self._lock:
            self._cut = True
            connections, self._open = self._open, []
        _close(self._listener)
        for connection in connections:
            _close(connection)


def _close(end: socket.socket) -> None:
    with suppress(OSError):
        end.shutdown(socket.SHUT_RDWR)
    end.close()


@dataclass
class ServerWorld:
    """A FormKiQ 1.19 in the worker's moto_server, in an app environment of its own, reached
    by formkiq-dr through `endpoint`; `session` talks to moto_server directly."""

    session: boto3.session.Session
    sample: SampleFormKiQ
    documents: list[SeededDocument]
    endpoint: CuttableEndpoint
    server: str

    @property
    def app_environment(self) -> str:
        return self.sample.app_environment

    def table(self, role: str) -> str:
        return next(t.name for t in self.sample.tables if t.name.endswith(f"-{role}"))

    @property
    def bucket(self) -> str:
        return next(b for b in self.sample.buckets if "-documents-" in b)

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.server)  # type: ignore[call-overload]

    def run(self, *args: str, as_json: bool = True) -> Outcome:
        """`formkiq-dr <args> --app-env <its env> [--json]`, in-process; text 200 columns wide."""
        arguments = [*args, "--app-env", self.app_environment, *(["--json"] if as_json else [])]
        result = CliRunner().invoke(cli, arguments, env={"COLUMNS": "200"})
        report = json.loads(result.stdout) if as_json and result.stdout.strip() else {}
        return Outcome(result.exit_code, report, result.stderr, result.stdout)

    def tables(self) -> set[str]:
        names = self.client("dynamodb").list_tables()["TableNames"]
        return {name for name in names if f"-{self.app_environment}-" in name}


@contextmanager
def server_world(
    moto_server_endpoint: str, monkeypatch: pytest.MonkeyPatch, sites: dict[str, int]
) -> Iterator[ServerWorld]:
    """Seed a FormKiQ into moto_server; formkiq-dr's clients go through a cuttable endpoint
    and give up after two attempts (botocore's standard retries), so a cut fails in seconds."""
    from formkiq_backup.dr import polling

    monkeypatch.setattr(polling, "POLL_SECONDS", 0.0)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server_endpoint)
    sample = sample_formkiq(app_environment=f"t{uuid.uuid4().hex[:8]}", account_id=MOTO_ACCOUNT)
    session = boto3.session.Session(region_name="us-east-1")
    seed_formkiq(session, sample)
    documents = seed_documents(session, sample, sites)
    seed_users(session, sample)
    endpoint = CuttableEndpoint(moto_server_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint.url)
    monkeypatch.setattr(
        dr_context, "CLIENT_CONFIG", Config(retries={"mode": "standard", "max_attempts": 2})
    )
    try:
        yield ServerWorld(session, sample, documents, endpoint, moto_server_endpoint)
    finally:
        endpoint.cut()
