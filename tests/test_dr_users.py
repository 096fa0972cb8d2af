"""`formkiq-dr users export` / `users import` against moto's Cognito."""

import json
from pathlib import Path

import pytest

from formkiq_backup.offline.samples import sample_formkiq
from formkiq_backup.offline.seed import USERS, seed_formkiq, seed_users
from tests.dr_support import MOTO_ACCOUNT, World


def read_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_export_writes_one_user_a_line_with_groups(world: World, tmp_path: Path) -> None:
    out = tmp_path / "users.jsonl"
    outcome = world.run("users", "export", "--out", str(out))

    assert outcome.exit_code == 0, outcome.report
    users = {line["attributes"]["email"]: line for line in read_lines(out)}  # type: ignore[index]
    assert set(users) == set(USERS)
    for email, groups in USERS.items():
        assert users[email]["groups"] == sorted(groups)
        assert users[email]["enabled"] is True
    assert outcome.report["summary"]["users"] == len(USERS)


@pytest.fixture
def dr_environment(world: World) -> str:
    """A second FormKiQ ('dr') with an empty user pool of its own: the restore target."""
    target = sample_formkiq(app_environment="dr", account_id=MOTO_ACCOUNT)
    seed_formkiq(world.session, target)
    return seed_users(world.session, target, users={})


def test_import_recreates_users_and_memberships_without_invitations(
    world: World, tmp_path: Path, dr_environment: str
) -> None:
    exported = tmp_path / "users.jsonl"
    world.run("users", "export", "--out", str(exported))
    world.client("cognito-idp").admin_disable_user(
        UserPoolId=world.pool_id, Username=_username(world, "bob@example.com")
    )
    world.run("users", "export", "--out", str(exported))

    outcome = world.run("users", "import", str(exported), app_env="dr")

    assert outcome.exit_code == 0, outcome.report
    assert sorted(outcome.report["summary"]["needPasswordReset"]) == sorted(USERS)
    cognito = world.client("cognito-idp")
    for email, groups in USERS.items():
        username = _username(world, email, pool=dr_environment)
        memberships = cognito.admin_list_groups_for_user(
            UserPoolId=dr_environment, Username=username
        )["Groups"]
        assert sorted(group["GroupName"] for group in memberships) == sorted(groups)
        user = cognito.admin_get_user(UserPoolId=dr_environment, Username=username)
        assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
        assert user["Enabled"] is (email != "bob@example.com")
    assert {e["status"] for e in outcome.entries("import")} == {"warn", "pass"}


def test_importing_twice_skips_existing_users(
    world: World, tmp_path: Path, dr_environment: str
) -> None:
    exported = tmp_path / "users.jsonl"
    world.run("users", "export", "--out", str(exported))
    world.run("users", "import", str(exported), app_env="dr")

    again = world.run("users", "import", str(exported), app_env="dr")

    assert again.exit_code == 0
    assert again.report["summary"]["created"] == 0
    assert again.report["summary"]["existing"] == len(USERS)


def test_import_reports_unreadable_lines_and_imports_the_rest(
    world: World, tmp_path: Path, dr_environment: str
) -> None:
    exported = tmp_path / "users.jsonl"
    world.run("users", "export", "--out", str(exported))
    lines = exported.read_text().splitlines()
    truncated, nameless = '{"username": "x", "attributes": {"email": ', '{"attributes": {}}'
    broken = [lines[0], truncated, nameless, '["a list"]', *lines[1:]]
    exported.write_text("\n".join(broken) + "\n")

    outcome = world.run("users", "import", str(exported), app_env="dr")

    assert outcome.exit_code == 1
    failed = {e["subject"]: e["detail"] for e in outcome.entries("import") if e["status"] == "fail"}
    assert failed.pop("line 2").startswith("not JSON: ")
    assert failed.pop("line 3") == "no user: this pool needs an email attribute"
    assert failed.pop("line 4") == "not a JSON object (one user a line)"
    assert set(failed) == {dr_environment}  # the pool's line: not every user came back
    assert outcome.report["summary"]["created"] == len(USERS)


def test_export_pages_through_large_pools(world: World, tmp_path: Path) -> None:
    """ListUsers returns at most 60 a page: 130 users take three pages."""
    cognito = world.client("cognito-idp")
    for number in range(126):
        cognito.admin_create_user(
            UserPoolId=world.pool_id,
            Username=f"user{number}@example.com",
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "email", "Value": f"user{number}@example.com"}],
        )
    out = tmp_path / "users.jsonl"
    outcome = world.run("users", "export", "--out", str(out))
    assert outcome.report["summary"]["users"] == 130
    assert len(read_lines(out)) == 130


def _username(world: World, email: str, pool: str | None = None) -> str:
    users = world.client("cognito-idp").list_users(
        UserPoolId=pool or world.pool_id, Filter=f'email = "{email}"'
    )["Users"]
    return str(users[0]["Username"])
