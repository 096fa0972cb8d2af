"""`formkiq-dr users`: Cognito users and group memberships to and from JSON Lines.

FormKiQ's groups are its permissions (`<site>`, `<site>_read`, `Admins`, ...), so a user
without their groups is a user without access. Passwords cannot be exported (Cognito never
reveals them), so every user an import creates needs a new password; none is sent an invitation
until an administrator decides to. The format lives in `formkiq_backup.userexport`; import
reads it plain or gzipped (the scheduled export's `users.jsonl.gz`).
"""

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from formkiq_backup.dr.ledger import Ledger
from formkiq_backup.dr.report import Status

# One format, one implementation: the scheduled users-export Lambda writes the same lines.
from formkiq_backup.userexport import PAGE, READ_ONLY_ATTRIBUTES, export_users, open_lines

__all__ = ["ImportResult", "export_users", "import_users", "open_lines"]


@dataclass
class ImportResult:
    """What an import did, user by user; up to date at every step, so an import stopped
    part-way still says how far it got."""

    lines: int = 0
    """Lines that name something (blank lines do not count)."""
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    """Lines that could not be read, and why."""
    refused: list[str] = field(default_factory=list)
    """Users Cognito refused to create (their ledger records say why)."""
    groups_created: list[str] = field(default_factory=list)
    memberships: int = 0
    """Memberships added (those a user had already are not added again)."""
    disabled: int = 0
    """Users disabled, as the export said they were."""

    @property
    def need_password_reset(self) -> list[str]:
        """Created users: their old passwords cannot be restored."""
        return list(self.created)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.groups_created or self.memberships or self.disabled)


def import_users(
    cognito: Any,
    pool_id: str,
    lines: Iterable[str],
    *,
    ledger: Ledger,
    result: ImportResult,
    on_user: Callable[[], None] | None = None,
) -> None:
    """Recreate users (no invitation sent), their groups and memberships, into `result`;
    existing users are kept and given the groups they lack. Every user and group created is
    in `ledger` from before it is asked for."""
    pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    by_email = "email" in (pool.get("UsernameAttributes") or [])
    existing_groups = {
        group["GroupName"]
        for page in cognito.get_paginator("list_groups").paginate(
            UserPoolId=pool_id, PaginationConfig={"PageSize": PAGE}
        )
        for group in page["Groups"]
    }
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        result.lines += 1
        record = _read_line(line, by_email)
        if isinstance(record, str):
            result.failed[f"line {number}"] = record
            continue
        username, attributes, groups, enabled = record
        created = _create_user(cognito, pool_id, username, attributes, ledger=ledger, result=result)
        if created is None:
            continue
        for group in groups:
            if group not in existing_groups:
                made = ledger.ask("import", "group", group, "creation asked for, no answer yet")
                with made.sending():
                    cognito.create_group(UserPoolId=pool_id, GroupName=group)
                made.done("group created (a FormKiQ site or role)")
                existing_groups.add(group)
                result.groups_created.append(group)
        _add_memberships(cognito, pool_id, username, groups, result, new_user=created)
        if enabled is False and (
            created or cognito.admin_get_user(UserPoolId=pool_id, Username=username)["Enabled"]
        ):
            cognito.admin_disable_user(UserPoolId=pool_id, Username=username)
            result.disabled += 1
        if on_user is not None:
            on_user()


def _read_line(line: str, by_email: bool) -> tuple[str, dict[str, str], list[str], Any] | str:
    """(username, attributes, groups, enabled) of one exported line, or what is wrong with it."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return f"not JSON: {error}"
    if not isinstance(record, dict):
        return "not a JSON object (one user a line)"
    attributes = record.get("attributes", {})
    # Pools that sign in by e-mail give users a generated username: sign them up by e-mail.
    username = attributes.get("email") if by_email else record.get("username")
    if not username:
        return f"no user: this pool needs {'an email attribute' if by_email else 'a username'}"
    return username, attributes, list(record.get("groups", [])), record.get("enabled")


def _create_user(
    cognito: Any,
    pool_id: str,
    username: str,
    attributes: dict[str, str],
    *,
    ledger: Ledger,
    result: ImportResult,
) -> bool | None:
    """Create one user without an invitation: True when created, False when it was there
    already, None when Cognito refused it."""
    record = ledger.ask(
        "import", "user", username, "creation asked for, no answer yet: the user may exist"
    )
    try:
        with record.sending():
            cognito.admin_create_user(
                UserPoolId=pool_id,
                Username=username,
                UserAttributes=[
                    {"Name": name, "Value": value}
                    for name, value in sorted(attributes.items())
                    if name not in READ_ONLY_ATTRIBUTES
                ],
                MessageAction="SUPPRESS",
            )
    except cognito.exceptions.UsernameExistsException:
        ledger.discard(record)  # not made by this import: counted, not listed
        result.existing.append(username)
        return False
    except cognito.exceptions.ClientError:
        result.refused.append(username)
        return None
    record.done("created without a password: send an invitation or set one", status=Status.WARN)
    result.created.append(username)
    return True


def _add_memberships(
    cognito: Any,
    pool_id: str,
    username: str,
    groups: list[str],
    result: ImportResult,
    *,
    new_user: bool,
) -> None:
    """Add the user to each group they are not in yet (a new user is in none)."""
    member_of = (
        set()
        if new_user
        else {
            group["GroupName"]
            for page in cognito.get_paginator("admin_list_groups_for_user").paginate(
                UserPoolId=pool_id, Username=username, PaginationConfig={"PageSize": PAGE}
            )
            for group in page["Groups"]
        }
    )
    for group in groups:
        if group not in member_of:
            cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
            result.memberships += 1
