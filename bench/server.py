"""A moto_server on loopback for one benchmark run, and the fake credentials it takes.

The server runs as its own process (as a developer or CI would run it), bound to 127.0.0.1 on a
free port, and is stopped on the way out whatever happens. Nothing here contacts any other
address: every client is given the endpoint explicitly and fake credentials, and the
environment handed to child processes (the AWS CLI, the memory probes) says the same.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
START_TIMEOUT_SECONDS = 30.0
# Loopback only: never through a proxy, whatever the environment says.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def offline_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's) with fake credentials and no way to reach AWS.

    No profile or config file is read, the instance metadata service is never asked, and
    loopback bypasses any proxy.
    """
    environment = dict(os.environ if base is None else base)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        environment.pop(name, None)
    environment.update(FAKE_CREDENTIALS)
    environment.update(
        {
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return environment


def dynamodb_client(endpoint: str) -> Any:
    """A low-level DynamoDB client for `endpoint` with fake credentials."""
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


def venv_tool(name: str) -> str:
    """A console script installed next to this interpreter, else one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is neither beside {sys.executable} nor on PATH")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class MotoServer:
    """A running moto_server: where it listens and which process it is."""

    endpoint: str
    pid: int

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time the server has used so far (Linux /proc), else None."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # After the command name: state is field 3, utime 14 and stime 15 (proc(5)).
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def moto_server(log_path: Path) -> Iterator[MotoServer]:
    """Start `moto_server -H 127.0.0.1 -p <free port>`; yields the running server.

    The server's output goes to `log_path`. It is terminated (then killed, if it lingers) when
    the block exits, normally or not.
    """
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [venv_tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=offline_environment(),
        )
        try:
            _wait_until_serving(process, endpoint)
            yield MotoServer(endpoint, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_serving(process: "subprocess.Popen[bytes]", endpoint: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with {process.returncode} before serving")
        try:
            with _NO_PROXY.open(f"{endpoint}/moto-api/data.json", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"moto_server not serving at {endpoint} after {START_TIMEOUT_SECONDS}s"
                ) from None
            time.sleep(0.2)
