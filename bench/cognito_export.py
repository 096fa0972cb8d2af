"""Benchmark the scheduled Cognito users export against `aws cognito-idp list-users`.

`python -m bench.cognito_export` starts one `moto_server -H 127.0.0.1 -p <free port>`, seeds
FormKiQ-shaped user pools (e-mail sign-in, users in site groups, every fifth in none) and
measures, in the same server:

1. Speed on the largest pool (default 10,000 users): the export the Lambda runs
   (formkiq_backup.userexport.write_gzip: ListUsers pages of 60, memberships from
   ListUsersInGroup, gzipped JSON Lines into a spooled file, sha256) beside
   `aws cognito-idp list-users --page-size 60` auto-paginated into a file (users only, no
   groups, no gzip: the floor any export pays), and the same reads done with the CLI
   (list-users, list-groups, then list-users-in-group per group), its fair hand-made
   counterpart. Median of the repetitions; users/s and the ratios. Each result is checked: the
   export holds every user once with the right groups, and the CLI listed every user.
2. Memory, in a fresh process per pool size (default 1,000 and 10,000 users): peak RSS growth
   of the export (VmHWM reset just before it, as bench/probe.py explains).

Prints Markdown tables and writes reports/cognito-export.json. Only 127.0.0.1 is contacted,
with fake credentials; the server is stopped at the end, also on failure.
"""

import argparse
import gc
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import boto3

from bench.server import (
    FAKE_CREDENTIALS,
    REGION,
    moto_server,
    offline_environment,
    venv_tool,
)
from formkiq_backup.userexport import spool, write_gzip

LAYOUTS: tuple[tuple[str, ...], ...] = (
    ("default",),
    ("finance", "default_read"),
    ("finance_read",),
    ("Admins", "default"),
    (),
)
GROUPS = sorted({group for layout in LAYOUTS for group in layout})
STATUS = Path("/proc/self/status")


def cognito_client(endpoint: str) -> Any:
    return boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )


def expected_groups(number: int) -> list[str]:
    return sorted(LAYOUTS[number % len(LAYOUTS)])


def seed_pool(cognito: Any, users: int) -> str:
    """A FormKiQ-shaped pool of `users` users: user<n>@example.com in LAYOUTS' groups."""
    pool = cognito.create_user_pool(PoolName=f"bench-{users}", UsernameAttributes=["email"])[
        "UserPool"
    ]["Id"]
    for group in GROUPS:
        cognito.create_group(UserPoolId=pool, GroupName=group)
    for number in range(users):
        email = f"user{number:06d}@example.com"
        username = cognito.admin_create_user(
            UserPoolId=pool,
            Username=email,
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": email}],
        )["User"]["Username"]
        for group in expected_groups(number):
            cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=group)
    return str(pool)


def run_export(cognito: Any, pool: str, users: int | None = None) -> dict[str, Any]:
    """The Lambda's export into a spooled file, timed; with `users`, its content is checked
    afterwards (outside the timing), one line at a time."""
    with spool() as buffer:
        started = time.perf_counter()
        export = write_gzip(cognito, pool, buffer)
        seconds = time.perf_counter() - started
        if users is not None:
            buffer.seek(0)
            with gzip.GzipFile(fileobj=buffer, mode="rb") as lines:
                check_export(lines, users)
    return {"seconds": seconds, "count": export.count, "bytes": export.size}


def check_export(lines: Iterable[bytes], users: int) -> None:
    """Every user once, each with the groups it was seeded with."""
    seen = 0
    emails: set[str] = set()
    for line in lines:
        record = json.loads(line)
        email = record["attributes"]["email"]
        number = int(email.removeprefix("user").split("@")[0])
        if record["groups"] != expected_groups(number):
            raise AssertionError(f"user {number} exported with the wrong groups")
        emails.add(email)
        seen += 1
    if seen != users or len(emails) != users:
        raise AssertionError(f"export holds {seen} lines ({len(emails)} users) for {users} users")


def _aws(endpoint: str, *arguments: str, out: Path) -> None:
    with out.open("wb") as sink:
        subprocess.run(
            [
                venv_tool("aws"),
                "cognito-idp",
                *arguments,
                "--endpoint-url",
                endpoint,
                "--region",
                REGION,
                "--output",
                "json",
            ],
            stdout=sink,
            env=offline_environment(),
            check=True,
        )


def run_cli(endpoint: str, pool: str, scratch: Path, *, with_groups: bool) -> float:
    """`aws cognito-idp list-users` auto-paginated into a file (and, `with_groups`, the same
    reads our export makes: list-groups, then list-users-in-group per group); wall time."""
    started = time.perf_counter()
    _aws(endpoint, "list-users", "--user-pool-id", pool, "--page-size", "60", out=scratch / "u")
    if with_groups:
        _aws(endpoint, "list-groups", "--user-pool-id", pool, out=scratch / "g")
        for group in json.loads((scratch / "g").read_text())["Groups"]:
            _aws(
                endpoint,
                "list-users-in-group",
                "--user-pool-id",
                pool,
                "--group-name",
                group["GroupName"],
                "--page-size",
                "60",
                out=scratch / f"m-{group['GroupName']}",
            )
    return time.perf_counter() - started


def probe(endpoint: str, pool: str) -> dict[str, Any]:
    """One export in this (fresh) process: its peak RSS growth over the warmed-up client."""
    cognito = cognito_client(endpoint)
    cognito.list_users(UserPoolId=pool, Limit=1)
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    baseline = _status_kib("VmHWM")
    result = run_export(cognito, pool)  # not checked here: a check would hold the lines
    peak = _status_kib("VmHWM")
    return {
        "peakReset": reset,
        "baselineKiB": baseline,
        "peakKiB": peak,
        "growthKiB": peak - baseline,
        "users": result["count"],
        "seconds": result["seconds"],
    }


def _status_kib(field: str) -> int:
    for line in STATUS.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def measure_memory(endpoint: str, pool: str) -> dict[str, Any]:
    answer = subprocess.run(
        [sys.executable, "-m", "bench.cognito_export", "--probe", pool, "--endpoint", endpoint],
        capture_output=True,
        text=True,
        env=offline_environment(),
        check=True,
    )
    return dict(json.loads(answer.stdout))


def benchmark(users: int, memory_sizes: Sequence[int], repetitions: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-cognito-") as scratch,
        moto_server(Path(scratch) / "moto.log") as server,
    ):
        cognito = cognito_client(server.endpoint)
        sizes = sorted({users, *memory_sizes})
        started = time.perf_counter()
        pools = {size: seed_pool(cognito, size) for size in sizes}
        seeding = time.perf_counter() - started
        ours, cli, cli_groups = [], [], []
        for _ in range(repetitions):
            ours.append(run_export(cognito, pools[users], users)["seconds"])
            cli.append(run_cli(server.endpoint, pools[users], Path(scratch), with_groups=False))
            listed = len(json.loads((Path(scratch) / "u").read_text())["Users"])
            if listed != users:
                raise AssertionError(f"aws cognito-idp list-users listed {listed} of {users}")
            cli_groups.append(
                run_cli(server.endpoint, pools[users], Path(scratch), with_groups=True)
            )
        memory = [
            {"size": size, **measure_memory(server.endpoint, pools[size])} for size in memory_sizes
        ]
    ours_s, cli_s = statistics.median(ours), statistics.median(cli)
    groups_s = statistics.median(cli_groups)
    return {
        "users": users,
        "repetitions": repetitions,
        "seedingSeconds": round(seeding, 1),
        "export": {"seconds": ours_s, "usersPerSecond": users / ours_s, "runs": ours},
        "cli": {"seconds": cli_s, "usersPerSecond": users / cli_s, "runs": cli},
        "cliWithGroups": {
            "seconds": groups_s,
            "usersPerSecond": users / groups_s,
            "runs": cli_groups,
        },
        "ratio": cli_s / ours_s,
        "ratioWithGroups": groups_s / ours_s,
        "memory": memory,
    }


def render(figures: dict[str, Any]) -> str:
    export, cli = figures["export"], figures["cli"]
    lines = [
        f"| {figures['users']:,} users | wall (median of {figures['repetitions']}) | users/s |",
        "|---|---:|---:|",
        f"| export (with groups, gzip, sha256) | {export['seconds']:.1f} s | "
        f"{export['usersPerSecond']:,.0f} |",
        f"| `aws cognito-idp list-users` (users only) | {cli['seconds']:.1f} s | "
        f"{cli['usersPerSecond']:,.0f} |",
        f"| the same reads with the CLI (list-users, list-groups, list-users-in-group) | "
        f"{figures['cliWithGroups']['seconds']:.1f} s | "
        f"{figures['cliWithGroups']['usersPerSecond']:,.0f} |",
        f"| ratio (list-users time / export time) | {figures['ratio']:.2f} | |",
        f"| ratio (the same reads with the CLI / export time) | "
        f"{figures['ratioWithGroups']:.2f} | |",
        "",
        "| pool | export peak RSS growth |",
        "|---:|---:|",
    ]
    lines += [
        f"| {m['size']:,} users | {m['growthKiB'] / 1024:.1f} MiB |" for m in figures["memory"]
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--memory-sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--output", type=Path, default=Path("reports/cognito-export.json"))
    parser.add_argument("--probe", metavar="POOL", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        if not str(args.endpoint).startswith("http://127.0.0.1:"):
            parser.error("the probe only talks to a moto_server on 127.0.0.1")
        print(json.dumps(probe(args.endpoint, args.probe)))
        return 0
    figures = benchmark(args.users, args.memory_sizes, args.repetitions)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2))
    print(render(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
