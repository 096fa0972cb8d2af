"""The emulators a benchmark run (and the request tests) talk to, on loopback only.

Two engines answer DynamoDB: `moto_server` (Python, every AWS service the project uses) and
`dynalite` (Node.js, DynamoDB only, an independent implementation that refuses what DynamoDB
refuses and answers a scan far faster). Each runs as its own process, bound to 127.0.0.1 on a
free port, and is stopped on the way out whatever happens. dynalite is installed from npm, at
the version pinned in bench/dynalite/package-lock.json, into bench/dynalite/node_modules (not
committed) on first use. Nothing here contacts any other address: every client is given the
endpoint explicitly and fake credentials, and the environment handed to child processes (the
AWS CLI, the memory probes) says the same.
"""

import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
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
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
    ):
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
class Server:
    """A running emulator: which engine, where it listens and which process it is."""

    endpoint: str
    pid: int
    engine: str = "moto"

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
def moto_server(log_path: Path) -> Iterator[Server]:
    """Start `moto_server -H 127.0.0.1 -p <free port>`; yields the running server.

    The server's output goes to `log_path`. It is terminated (then killed, if it lingers) when
    the block exits, normally or not.
    """
    port = free_port()
    command = [venv_tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    with _serving(command, "moto", port, "/moto-api/data.json", log_path) as server:
        yield server


@contextmanager
def dynalite_server(log_path: Path) -> Iterator[Server]:
    """Start dynalite on 127.0.0.1 (installing it first if needed); yields the running server.

    Tables are ACTIVE at once (`--createTableMs 0`, ...), data in memory. Raises
    DynaliteUnavailableError, naming what is missing, where node or npm is not installed.
    """
    cli = install_dynalite()
    port = free_port()
    command = [
        _node(),
        str(cli),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--createTableMs",
        "0",
        "--deleteTableMs",
        "0",
        "--updateTableMs",
        "0",
    ]
    with _serving(command, "dynalite", port, "/", log_path) as server:
        yield server


@contextmanager
def _serving(
    command: Sequence[str], engine: str, port: int, health_path: str, log_path: Path
) -> Iterator[Server]:
    endpoint = f"http://127.0.0.1:{port}"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command), stdout=log, stderr=subprocess.STDOUT, env=offline_environment()
        )
        try:
            _wait_until_serving(process, engine, f"{endpoint}{health_path}")
            yield Server(endpoint, process.pid, engine)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_serving(process: "subprocess.Popen[bytes]", engine: str, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{engine} exited with {process.returncode} before serving")
        try:
            with _NO_PROXY.open(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered: serving, whatever it thinks of a bare GET
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{engine} not serving at {url} after {START_TIMEOUT_SECONDS}s"
                ) from None
            time.sleep(0.2)


DYNALITE_DIR = Path(__file__).resolve().parent / "dynalite"
NODE_MAJOR_MINIMUM = 20  # dynalite 4's package.json: "engines": {"node": ">=20"}


class DynaliteUnavailableError(RuntimeError):
    """dynalite cannot run here: node or npm missing or too old. The message says which."""


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise DynaliteUnavailableError("node is not on PATH: dynalite (Node.js) cannot run")
    return node


def _pinned_version() -> str:
    lock = json.loads((DYNALITE_DIR / "package-lock.json").read_text())
    return str(lock["packages"]["node_modules/dynalite"]["version"])


def installed_dynalite_version() -> str | None:
    try:
        manifest = json.loads((DYNALITE_DIR / "node_modules/dynalite/package.json").read_text())
    except (OSError, ValueError):
        return None
    return str(manifest.get("version"))


def install_dynalite() -> Path:
    """dynalite's cli.js, installed with `npm ci` from the lock file unless already there.

    A file lock keeps parallel test workers from installing at the same time. Install scripts
    are not run: the only one builds LevelDB bindings, and the servers here keep data in memory.
    """
    node = _node()
    found = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    match = re.match(r"v(\d+)\.", found.stdout.strip())
    if not match or int(match.group(1)) < NODE_MAJOR_MINIMUM:
        raise DynaliteUnavailableError(
            f"node {found.stdout.strip() or '?'} is older than {NODE_MAJOR_MINIMUM}, which "
            "dynalite needs"
        )
    cli = DYNALITE_DIR / "node_modules" / "dynalite" / "cli.js"
    pinned = _pinned_version()
    with (DYNALITE_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed_dynalite_version() == pinned and cli.exists():
            return cli
        npm = shutil.which("npm")
        if npm is None:
            raise DynaliteUnavailableError("npm is not on PATH: dynalite cannot be installed")
        completed = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=DYNALITE_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0 or installed_dynalite_version() != pinned:
            raise RuntimeError(
                f"npm ci in {DYNALITE_DIR.name} failed ({completed.returncode}): "
                f"{completed.stderr.strip()[-2000:]}"
            )
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bench.server install-dynalite`: the setup step of `make test` and `make bench`.

    Where node or npm is missing it says what will not run and succeeds: those tests skip.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments != ["install-dynalite"]:
        print("usage: python -m bench.server install-dynalite", file=sys.stderr)
        return 2
    try:
        cli = install_dynalite()
    except DynaliteUnavailableError as missing:
        print(
            f"dynalite not installed: {missing}. The DynamoDB request tests against dynalite "
            "will be skipped and `make bench` measures moto_server only.",
            file=sys.stderr,
        )
        return 0
    where = cli.relative_to(DYNALITE_DIR.parent.parent)
    print(f"dynalite {installed_dynalite_version()} ready: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
