"""Policy documents as Pulumi outputs, built in Python rather than with getPolicyDocument.

Building JSON locally keeps previews free of extra invokes and lets tests read the exact
document AWS would receive.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi

Statement = Mapping[str, Any]


def policy_document(statements: Sequence[Statement]) -> pulumi.Output[str]:
    """A policy document whose statements may contain outputs (ARNs not known yet)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def service_trust_policy(service: str, account_id: str) -> pulumi.Output[str]:
    """A role trust policy for one AWS service, limited to calls made for this account.

    aws:SourceAccount stops the confused-deputy case where the service acts for another account.
    """
    return policy_document(
        [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ]
    )


def documented_trust_policy(service: str) -> pulumi.Output[str]:
    """A role trust policy for one AWS service exactly as AWS documents it, without conditions.

    For services whose role AWS documents without aws:SourceAccount (S3 replication, S3 Batch
    Operations: AmazonS3 userguide, setting-repl-config-perm-overview.html and
    batch-ops-iam-role-policies.html): whether they send the key is not documented, and a
    condition on a key never sent would keep the service from assuming the role at all. Such
    roles are limited by their permissions instead.
    """
    return policy_document(
        [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
    )


def key_policy(partition: str, account_id: str, *statements: Statement) -> pulumi.Output[str]:
    """A KMS key policy: the account administers the key, then `statements`.

    The account-root statement lets IAM policies grant use of the key; without it only the key
    policy could, and a mistake there locks everyone out of the key for good.
    """
    administers: Statement = {
        "Sid": "AccountAdministersKey",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return policy_document([administers, *statements])


# What a key guarding backup data denies to all but the break-glass roles: disabling it, or
# scheduling its deletion, would make everything it encrypts unreadable.
KEY_PROTECTED_ACTIONS = ("kms:ScheduleKeyDeletion", "kms:DisableKey")


def protected_key_actions(break_glass_role_arns: Sequence[str]) -> list[str]:
    """KEY_PROTECTED_ACTIONS, and kms:PutKeyPolicy when there are break-glass roles.

    Denying PutKeyPolicy stops anyone who may deploy from first lifting the other denies; with no
    break-glass role nobody could ever change the policy again, so it is denied only with one.
    The key must then be created with the lockout safety check bypassed (KMS API reference,
    CreateKey/PutKeyPolicy BypassPolicyLockoutSafetyCheck): see `bypasses_lockout_check`.
    """
    actions = list(KEY_PROTECTED_ACTIONS)
    if break_glass_role_arns:
        actions.append("kms:PutKeyPolicy")
    return actions


def bypasses_lockout_check(break_glass_role_arns: Sequence[str]) -> bool:
    """KMS refuses a policy that stops the caller from calling PutKeyPolicy again unless the
    lockout safety check is bypassed; denying it to the deployer is the point, and the
    break-glass roles keep it, so the key stays manageable."""
    return bool(break_glass_role_arns)


def break_glass_only(
    sid: str, actions: Sequence[str], resource: object, break_glass_role_arns: Sequence[str]
) -> dict[str, object]:
    """Deny `actions` to every principal except the break-glass roles (none: to all).

    aws:PrincipalArn of a role session is the role's ARN (IAM user guide, global condition
    keys), so the condition matches however the role was assumed.
    """
    statement: dict[str, object] = {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": list(actions),
        "Resource": resource,
    }
    if break_glass_role_arns:
        statement["Condition"] = {"ArnNotLike": {"aws:PrincipalArn": sorted(break_glass_role_arns)}}
    return statement


def managed_policy_arn(partition: str, path_and_name: str) -> str:
    """An AWS managed policy ARN; the path differs between policies, so it is given whole."""
    return f"arn:{partition}:iam::aws:policy/{path_and_name}"


def deny_all_but(
    sid: str, actions: Sequence[str], resource: object, allowed_role_arns: Sequence[str]
) -> dict[str, object]:
    """Deny `actions` to every principal except the listed roles (none listed: to all).

    `aws:PrincipalArn` of a role session is the role's ARN, so the exception holds for anyone
    acting as one of them (IAM user guide, aws:PrincipalArn).
    """
    statement: dict[str, object] = {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": list(actions),
        "Resource": resource,
    }
    if allowed_role_arns:
        statement["Condition"] = {"ArnNotLike": {"aws:PrincipalArn": sorted(allowed_role_arns)}}
    return statement


def service_linked_role_arn(partition: str, account_id: str, service: str, name: str) -> str:
    """A service-linked role's ARN: its path names the service (IAM user guide,
    using-service-linked-roles)."""
    return f"arn:{partition}:iam::{account_id}:role/aws-service-role/{service}/{name}"
