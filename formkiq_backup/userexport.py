"""One format for Cognito users: `formkiq-dr users export` and the scheduled Lambda both write it.

One JSON object a line (keys sorted): `username`, `attributes`, `enabled`, `status`,
`created`, `groups`. FormKiQ's groups are its permissions (a site id, `<site>_read`,
`Admins`), so every line carries the user's groups. The scheduled export gzips the same lines
(`cognito/<date>/users.jsonl.gz`) and `users import` reads either form. Passwords are not
exportable: Cognito never reveals them, so every imported user needs a new one.

Memory stays flat in the number of users: group memberships are indexed in a temporary SQLite
file, lines are streamed to the output, and the gzip goes to a spooled temporary file. This
module ships inside the users-export Lambda: standard library only (the caller passes boto3
clients).
"""

import gzip
import hashlib
import io
import json
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TextIO

FORMAT = "formkiq-backup/cognito-users/v1"
PASSWORDS_NOTE = (
    "passwords are not exportable: Cognito never reveals them; every imported user needs a "
    "new password"
)
# Attributes Cognito manages itself: exported for reference, never written back.
READ_ONLY_ATTRIBUTES = frozenset({"sub", "identities", "cognito:mfa_enabled"})
PAGE = 60  # ListUsers, ListGroups and ListUsersInGroup return at most 60 a page
_GZIP_MAGIC = b"\x1f\x8b"
# Up to this much of the gzip stays in memory; beyond it the spool moves to a temporary file
# (Lambda's /tmp), so memory does not grow with the pool.
SPOOL_BYTES = 1024 * 1024


def user_record(user: dict[str, Any], groups: list[str]) -> dict[str, Any]:
    """One line of the export, from a ListUsers entry and the user's groups."""
    created = user.get("UserCreateDate")
    return {
        "username": user["Username"],
        "attributes": {a["Name"]: a["Value"] for a in user.get("Attributes", [])},
        "enabled": user.get("Enabled", True),
        "status": user.get("UserStatus"),
        "created": created.isoformat() if created else None,
        "groups": sorted(groups),
    }


def user_lines(
    cognito: Any, pool_id: str, on_user: Callable[[], None] | None = None
) -> Iterator[str]:
    """Every user of the pool as one JSON line (newline included), with their groups.

    Memberships come from ListUsersInGroup, one listing per group: FormKiQ has a few groups
    (its sites) and many users, so this takes far fewer calls than AdminListGroupsForUser per
    user (10,000 users in 3 groups: about 170 listing calls instead of 10,000).
    """
    with _membership_index(cognito, pool_id) as groups_of:
        pages = cognito.get_paginator("list_users").paginate(
            UserPoolId=pool_id, PaginationConfig={"PageSize": PAGE}
        )
        for page in pages:
            for user in page["Users"]:
                record = user_record(user, groups_of(user["Username"]))
                yield json.dumps(record, sort_keys=True) + "\n"
                if on_user is not None:
                    on_user()


def export_users(
    cognito: Any, pool_id: str, out: TextIO, on_user: Callable[[], None] | None = None
) -> int:
    """Write one JSON line per user to `out`; returns the number of users."""
    count = 0
    for line in user_lines(cognito, pool_id, on_user):
        out.write(line)
        count += 1
    return count


@dataclass(frozen=True)
class GzipExport:
    """A finished gzipped export: how many users, and the sha256 of the compressed bytes."""

    count: int
    sha256: str
    size: int


def write_gzip(
    cognito: Any, pool_id: str, out: IO[bytes], on_user: Callable[[], None] | None = None
) -> GzipExport:
    """Stream the users, gzipped, into `out`; the digest is of exactly the bytes written."""
    hashing = _HashingWriter(out)
    count = 0
    # mtime=0: the same users give the same bytes, so two exports can be compared by digest.
    with gzip.GzipFile(fileobj=hashing, mode="wb", mtime=0) as zipped:
        for line in user_lines(cognito, pool_id, on_user):
            zipped.write(line.encode())
            count += 1
    return GzipExport(count, hashing.digest.hexdigest(), hashing.size)


def manifest(
    pool_id: str, export: GzipExport, object_key: str, exported_at: datetime
) -> dict[str, Any]:
    """What `formkiq-dr verify` checks the object against."""
    return {
        "format": FORMAT,
        "userPoolId": pool_id,
        "object": object_key,
        "count": export.count,
        "sha256": export.sha256,
        "bytes": export.size,
        "exportedAt": exported_at.astimezone(UTC).isoformat(),
        "passwords": PASSWORDS_NOTE,
    }


def spool() -> IO[bytes]:
    """Where the Lambda builds its gzip: memory up to SPOOL_BYTES, then /tmp."""
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)


@contextmanager
def open_lines(path: Path) -> Iterator[TextIO]:
    """The lines of an export, plain or gzipped (the scheduled export's .gz), by its bytes."""
    with path.open("rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
    if gzipped:
        with gzip.open(path, "rt", encoding="utf-8") as unzipped:
            yield unzipped
    else:
        with path.open(encoding="utf-8") as text:
            yield text


@contextmanager
def _membership_index(cognito: Any, pool_id: str) -> Iterator[Callable[[str], list[str]]]:
    """A username -> groups lookup kept in a temporary SQLite file, not in memory."""
    with tempfile.TemporaryDirectory(prefix="formkiq-users-") as directory:
        database = sqlite3.connect(Path(directory) / "memberships.sqlite")
        try:
            database.execute("CREATE TABLE member (username TEXT NOT NULL, grp TEXT NOT NULL)")
            groups = cognito.get_paginator("list_groups").paginate(
                UserPoolId=pool_id, PaginationConfig={"PageSize": PAGE}
            )
            for page in groups:
                for group in page["Groups"]:
                    name = group["GroupName"]
                    members = cognito.get_paginator("list_users_in_group").paginate(
                        UserPoolId=pool_id, GroupName=name, PaginationConfig={"PageSize": PAGE}
                    )
                    for member_page in members:
                        database.executemany(
                            "INSERT INTO member VALUES (?, ?)",
                            ((user["Username"], name) for user in member_page["Users"]),
                        )
            database.execute("CREATE INDEX member_by_user ON member (username)")
            database.commit()

            def groups_of(username: str) -> list[str]:
                rows = database.execute(
                    "SELECT grp FROM member WHERE username = ? ORDER BY grp", (username,)
                )
                return [row[0] for row in rows]

            yield groups_of
        finally:
            database.close()


class _HashingWriter(io.RawIOBase):
    """Passes bytes to `out`, keeping their sha256 and count."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._out.write(chunk)
        self.digest.update(chunk)
        self.size += len(chunk)
        return len(chunk)
