"""A KMS key guarding backup data: only break-glass roles may delete, disable or re-policy it."""

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.policies import (
    break_glass_only,
    bypasses_lockout_check,
    key_policy,
    protected_key_actions,
)


def guarded_key(
    resource_name: str,
    *,
    description: str,
    partition: str,
    account_id: str,
    break_glass_role_arns: Sequence[str],
    extra_statements: Sequence[Mapping[str, object]] = (),
    tags: Mapping[str, str],
    region: str | None,
    opts: pulumi.ResourceOptions,
) -> aws.kms.Key:
    """A rotating key whose policy denies deleting or disabling it (and, with break-glass
    roles, changing its policy) to everyone but the break-glass roles; a 30-day deletion window
    leaves time to cancel a scheduled deletion (CancelKeyDeletion). `extra_statements` grant
    its use (roles copying into a vault)."""
    return aws.kms.Key(
        resource_name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=key_policy(
            partition,
            account_id,
            break_glass_only(
                "OnlyBreakGlassDeletesKey",
                protected_key_actions(break_glass_role_arns),
                "*",
                break_glass_role_arns,
            ),
            *extra_statements,
        ),
        bypass_policy_lockout_safety_check=bypasses_lockout_check(break_glass_role_arns),
        tags=dict(tags),
        region=region,
        opts=opts,
    )
