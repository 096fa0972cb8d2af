"""The formkiq-backup CrossGuard pack: `pulumi preview --policy-pack policy` on any FormKiQ stack.

Only this entry point builds the PolicyPack (constructing one starts the analyzer's gRPC server
and blocks); the rules are plain functions in policy/rules.py, tested without pulumi-policy.
Runs in the pack's own virtualenv (policy/venv, from policy/requirements.txt), with this
repository on the path for formkiq_backup.aws_rules, whose checks the rules import.
"""

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ResourceValidationPolicy,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from policy.rules import (
    RESOURCE_RULES,
    STACK_RULES,
    UNKNOWN,
    Resource,
    ResourceRule,
    StackRule,
)


def plain(value: Any) -> Any:
    """Props as plain values: each one the engine does not know yet (pulumi-policy raises
    UnknownValueError on reading it) becomes UNKNOWN, which no rule fails on."""
    if isinstance(value, Mapping):
        found = {}
        for key in value:
            try:
                found[key] = plain(value[key])
            except UnknownValueError:
                found[key] = UNKNOWN
        return found
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = []
        for index in range(len(value)):
            try:
                items.append(plain(value[index]))
            except UnknownValueError:
                items.append(UNKNOWN)
        return items
    return value


def resource_of(args: Any) -> Resource:
    """A ResourceValidationArgs or a stack's PolicyResource as the rules take it."""
    dependencies = getattr(args, "property_dependencies", None) or {}
    return Resource(
        type=args.resource_type,
        name=args.name,
        props=plain(args.props),
        urn=args.urn,
        protect=bool(args.opts.protect),
        # CrossGuard shows no retainOnDelete (PolicyResourceOptions): not judged here.
        retain_on_delete=None,
        property_dependencies={
            key: tuple(resource.urn for resource in resources)
            for key, resources in dependencies.items()
        },
    )


def resource_policy(rule: ResourceRule) -> ResourceValidationPolicy:
    def validate(args: Any, report: Callable[..., None]) -> None:
        for message in rule.check(resource_of(args)):
            report(message)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


def stack_policy(rule: StackRule) -> StackValidationPolicy:
    def validate(args: Any, report: Callable[..., None]) -> None:
        for urn, message in rule.check([resource_of(resource) for resource in args.resources]):
            report(message, urn or None)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
    )


if __name__ == "__main__":
    PolicyPack(
        name="formkiq-backup",
        enforcement_level=EnforcementLevel.MANDATORY,
        policies=[
            *(resource_policy(rule) for rule in RESOURCE_RULES),
            *(stack_policy(rule) for rule in STACK_RULES),
        ],
    )
