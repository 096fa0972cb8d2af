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

# One format, one implementation: the scheduled users-export Lambda writes the same lines.
from formkiq_backup.userexport import PAGE, READ_ONLY_ATTRIBUTES, export_users, open_lines

__all__ = ["ImportResult", "export_users", "import_users", "open_lines"]


@dataclass
class ImportResult:
    """What an import did, user by user."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    groups_created: list[str] = field(default_factory=list)
    memberships: int = 0

    @property
    def need_password_reset(self) -> list[str]:
        """Created users: their old passwords cannot be restored."""
        return list(self.created)


def import_users(
    cognito: Any, pool_id: str, lines: Iterable[str], on_user: Callable[[], None] | None = None
) -> ImportResult:
    """Recreate users (no invitation sent), their groups and memberships; skip existing users."""
    result = ImportResult()
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
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            result.failed[f"line {number}"] = f"not JSON: {error}"
            continue
        if not isinstance(record, dict):
            result.failed[f"line {number}"] = "not a JSON object (one user a line)"
            continue
        attributes = record.get("attributes", {})
        # Pools that sign in by e-mail give users a generated username: sign them up by e-mail.
        username = attributes.get("email") if by_email else record.get("username")
        if not username:
            needed = "an email attribute" if by_email else "a username"
            result.failed[f"line {number}"] = f"no user: this pool needs {needed}"
            continue
        label = username
        try:
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
            result.created.append(label)
        except cognito.exceptions.UsernameExistsException:
            result.existing.append(label)
        except cognito.exceptions.ClientError as error:
            result.failed[label] = str(error)
            continue
        for group in record.get("groups", []):
            if group not in existing_groups:
                cognito.create_group(UserPoolId=pool_id, GroupName=group)
                existing_groups.add(group)
                result.groups_created.append(group)
            cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
            result.memberships += 1
        if record.get("enabled") is False:
            cognito.admin_disable_user(UserPoolId=pool_id, Username=username)
        if on_user is not None:
            on_user()
    return result
