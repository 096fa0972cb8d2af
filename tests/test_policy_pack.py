"""The policy pack (policy/): each guardrail passes every stack our tiers build, fails a stack
broken on purpose on exactly its own rule, and is wired into CrossGuard by the entry point.

pulumi-policy is not installed here (it pins an older protobuf than the program's SDK): the
rules are plain functions tested directly, and the entry point is run with a stand-in
pulumi_policy module that records what it is given, as the real one's API (1.21) takes it.
"""

import copy
import json
import runpy
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from formkiq_backup.offline.program import ProgramRun
from policy.rules import RESOURCE_RULES, STACK_RULES, UNKNOWN, Resource, violations
from tests.review_support import enterprise_run, render

PROJECT_DIR = Path(__file__).resolve().parent.parent
RULE_NAMES = [rule.name for rule in RESOURCE_RULES] + [rule.name for rule in STACK_RULES]


def resources(run: ProgramRun) -> list[Resource]:
    """A run's AWS resources as the pack sees them: inputs, and the ARN once known."""
    return [
        Resource(
            type=r.type,
            name=r.name,
            props={**r.inputs, **{k: v for k, v in r.state.items() if k in ("arn", "keyId")}},
            urn=r.urn,
            protect=r.protect,
            retain_on_delete=r.retain_on_delete,
            property_dependencies=dict(r.property_dependencies),
        )
        for r in run.resources
        if r.custom
    ]


def failing(found: dict[str, list[tuple[str, str]]]) -> dict[str, list[str]]:
    return {name: [message for _, message in items] for name, items in found.items() if items}


@pytest.mark.parametrize(
    ("stack", "overrides"),
    [
        ("dev", {}),
        ("prod", {}),
        ("dr", {}),
        ("dr", {"audit": json.dumps({"enabled": True})}),
    ],
)
def test_every_stack_our_tiers_build_passes_every_rule(
    stack: str, overrides: dict[str, str]
) -> None:
    run = render(stack, **overrides)
    assert run.error is None
    assert failing(violations(resources(run))) == {}


def test_the_enterprise_tier_passes_every_rule() -> None:
    assert failing(violations(resources(enterprise_run()))) == {}


@pytest.fixture(scope="module")
def dr_resources() -> list[Resource]:
    return resources(render("dr"))


def changed(
    stack: list[Resource],
    name: str,
    change: Callable[[dict[str, Any]], None] | None = None,
    **options: Any,
) -> list[Resource]:
    """The stack with one resource's props changed (or options, or removed with change None
    and no options)."""
    result = []
    for resource in stack:
        if resource.name != name:
            result.append(resource)
            continue
        if change is None and not options:
            continue  # removed
        props = copy.deepcopy(dict(resource.props))
        if change is not None:
            change(props)
        result.append(Resource(**{**resource.__dict__, "props": props, **options}))
    return result


def _policy_without_delete(props: dict[str, Any]) -> None:
    document = json.loads(props["policy"])
    document["Statement"][0]["Action"].remove("backup:DeleteRecoveryPoint")
    props["policy"] = json.dumps(document)


def _cold_too_soon(props: dict[str, Any]) -> None:
    props["rules"][1]["lifecycle"] = {"deleteAfter": 100, "coldStorageAfter": 90}
    props["rules"][1]["copyActions"][0]["lifecycle"] = {"deleteAfter": 100, "coldStorageAfter": 90}


def _copy_kept_forever(props: dict[str, Any]) -> None:
    del props["rules"][0]["copyActions"][0]["lifecycle"]


def _no_delete_markers(props: dict[str, Any]) -> None:
    props["rules"][0]["deleteMarkerReplication"] = {"status": "Disabled"}


def _star_on_star(props: dict[str, Any]) -> None:
    props["policy"] = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }
    )


BROKEN = [
    (
        "vault-encrypted-with-cmk",
        "formkiq-prod-dr-backup-vault-vault",
        lambda p: p.pop("kmsKeyArn"),
        {},
    ),
    (
        "vault-policy-denies-recovery-point-deletion",
        "formkiq-prod-backup-vault-access-policy",
        _policy_without_delete,
        {},
    ),
    ("backup-rules-follow-aws-rules", "formkiq-prod-backup-plan-plan", _cold_too_soon, {}),
    ("copies-have-lifecycles", "formkiq-prod-backup-plan-plan", _copy_kept_forever, {}),
    (
        "replication-has-delete-markers-and-rtc",
        "formkiq-prod-documents-replication-config",
        _no_delete_markers,
        {},
    ),
    ("no-iam-star-on-star", "formkiq-prod-posture-guard-permissions", _star_on_star, {}),
    (
        "data-holders-protected-and-retained",
        "formkiq-prod-dr-documents-replica-bucket",
        None,
        {"protect": False},
    ),
    (
        "data-holders-protected-and-retained",
        "formkiq-prod-dr-backup-vault-key",
        None,
        {"retain_on_delete": False},
    ),
    ("vaults-have-deny-delete-policies", "formkiq-prod-dr-backup-vault-access-policy", None, {}),
]


@pytest.mark.parametrize(
    ("rule", "name", "change", "options"), BROKEN, ids=[b[0] + ":" + b[1] for b in BROKEN]
)
def test_a_stack_broken_on_one_rule_fails_that_rule_alone(
    dr_resources: list[Resource],
    rule: str,
    name: str,
    change: Callable[[dict[str, Any]], None] | None,
    options: dict[str, Any],
) -> None:
    broken = changed(dr_resources, name, change, **options)
    assert list(failing(violations(broken))) == [rule]


def test_a_stack_with_a_plan_and_no_failure_alerts_fails_the_alarm_rule(
    dr_resources: list[Resource],
) -> None:
    silent = [
        r
        for r in dr_resources
        if not (
            r.type.endswith("eventRule:EventRule") and "FAILED" in str(r.props.get("eventPattern"))
        )
    ]
    found = failing(violations(silent))
    assert list(found) == ["backup-failures-alarmed"]
    assert "nothing alarms on failed backup jobs" in found["backup-failures-alarmed"][0]


def test_the_rules_judge_only_what_they_can_see_during_a_preview(
    dr_resources: list[Resource],
) -> None:
    """A value not known yet (a key created in the same update) never fails a rule."""
    unknown = changed(
        dr_resources, "formkiq-prod-dr-backup-vault-vault", lambda p: p.update(kmsKeyArn=UNKNOWN)
    )
    assert failing(violations(unknown)) == {}


def test_the_aws_lifecycle_rules_are_aws_rules_own_messages(dr_resources: list[Resource]) -> None:
    broken = changed(dr_resources, "formkiq-prod-backup-plan-plan", _cold_too_soon)
    messages = failing(violations(broken))["backup-rules-follow-aws-rules"]
    assert messages == [
        "rule monthly_kept_400_days: AWS Backup keeps cold recovery points at least 90 days, so "
        "retention must be >= 180",
        "rule monthly_kept_400_days: copy action: AWS Backup keeps cold recovery points at least "
        "90 days, so retention must be >= 180",
    ]


# --- the entry point, with a stand-in pulumi_policy ---------------------------------------------


class _UnknownValueError(Exception):
    pass


class _Props(dict[str, Any]):
    """Raises on reading an unknown value, as pulumi-policy's props proxy does."""

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        if value == "04da6b54-80e4-46f7-96ec-b56ff0331ba9":
            raise _UnknownValueError(key)
        return value


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    recorded: dict[str, Any] = {}

    class Policy:
        def __init__(
            self, name: str, description: str, validate: Any, enforcement_level: Any
        ) -> None:
            self.name, self.description, self.validate = name, description, validate
            self.enforcement_level = enforcement_level

    def pack(name: str, enforcement_level: Any, policies: list[Any]) -> None:
        recorded.update(name=name, level=enforcement_level, policies=policies)

    module = types.ModuleType("pulumi_policy")
    module.EnforcementLevel = types.SimpleNamespace(MANDATORY="mandatory")  # type: ignore[attr-defined]
    module.PolicyPack = pack  # type: ignore[attr-defined]
    module.ResourceValidationPolicy = Policy  # type: ignore[attr-defined]
    module.StackValidationPolicy = Policy  # type: ignore[attr-defined]
    proxy = types.ModuleType("pulumi_policy.proxy")
    proxy.UnknownValueError = _UnknownValueError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pulumi_policy", module)
    monkeypatch.setitem(sys.modules, "pulumi_policy.proxy", proxy)
    runpy.run_path(str(PROJECT_DIR / "policy" / "__main__.py"), run_name="__main__")
    yield recorded


def test_the_entry_point_builds_one_mandatory_pack_of_every_rule(stand_in: dict[str, Any]) -> None:
    assert stand_in["name"] == "formkiq-backup"
    assert [policy.name for policy in stand_in["policies"]] == RULE_NAMES
    assert {policy.enforcement_level for policy in stand_in["policies"]} == {"mandatory"}


def test_the_wiring_turns_unknown_props_into_unknown_and_reports_each_violation(
    stand_in: dict[str, Any],
) -> None:
    policies = {policy.name: policy for policy in stand_in["policies"]}
    opts = types.SimpleNamespace(protect=False)
    reports: list[tuple[Any, ...]] = []

    def args(props: dict[str, Any], resource_type: str = "aws:backup/vault:Vault") -> Any:
        return types.SimpleNamespace(
            resource_type=resource_type, name="v", urn="urn:v", opts=opts, props=_Props(props)
        )

    policies["vault-encrypted-with-cmk"].validate(
        args({"kmsKeyArn": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}), lambda *a: reports.append(a)
    )
    assert reports == []
    policies["vault-encrypted-with-cmk"].validate(args({"name": "v"}), lambda *a: reports.append(a))
    assert len(reports) == 1 and "no kmsKeyArn" in reports[0][0]
    reports.clear()
    stack = types.SimpleNamespace(resources=[args({"name": "v", "kmsKeyArn": "arn:key"})])
    policies["data-holders-protected-and-retained"].validate(stack, lambda *a: reports.append(a))
    assert reports == [("aws:backup/vault:Vault v holds backup data but lacks protect", "urn:v")]
