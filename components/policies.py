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
