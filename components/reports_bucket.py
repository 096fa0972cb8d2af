"""ReportsBucket: where AWS Backup Audit Manager delivers its reports, kept as evidence.

A private bucket as the exports bucket is (components/private_bucket.py): its own rotating KMS
key that only break-glass roles may delete, disable or re-policy, versioning, SSE-KMS with a
bucket key, all public access blocked, ACLs off, plain HTTP denied, and every resource retained.
Its policy lets only break-glass roles delete object versions; beside them, the one writer:
AWS Backup's reports service-linked role.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.policies import Statement, deny_all_but, service_linked_role_arn
from components.private_bucket import (
    BucketSettings,
    PrivateBucket,
    PrivateBucketArgs,
    insecure_transport_denied,
    objects_of,
)
from formkiq_backup import aws_rules

# The service-linked role that writes the reports (aws-backup/latest/devguide, "Using
# service-linked roles for AWS Backup Audit Manager").
REPORTS_SERVICE = "reports.backup.amazonaws.com"
REPORTS_ROLE = "AWSServiceRoleForBackupReports"
NONCURRENT_DAYS = 30
ABORT_MULTIPART_DAYS = 7


@dataclass(frozen=True, kw_only=True)
class ReportsBucketArgs(BucketSettings):
    """Where reports go, how long they are kept, and who may still delete their versions (the
    break-glass roles)."""

    retention_days: int
    report_prefix: str = "reports"
    other_prefixes: Sequence[str] = ()
    """Other writers' prefixes (AWS Config's delivery), kept as long as the reports."""

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = self.bucket_problems()
        found += [
            f"retention_days={self.retention_days}: {rule}"
            for rule in aws_rules.lifecycle_problems(self.retention_days, None)
        ]
        for prefix in (self.report_prefix, *self.other_prefixes):
            if not prefix or prefix.startswith("/") or prefix.endswith("/"):
                found.append(f"prefix {prefix!r} must be a key prefix such as 'reports'")
        return found

    @property
    def writer_arn(self) -> str:
        return service_linked_role_arn(
            self.partition, self.account_id, REPORTS_SERVICE, REPORTS_ROLE
        )


class ReportsBucket(pulumi.ComponentResource):
    """Audit reports nobody but break-glass roles can delete early."""

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    key_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: ReportsBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"ReportsBucket {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:ReportsBucket", name, None, opts)
        private = PrivateBucket(
            name,
            args,
            PrivateBucketArgs(
                key_description=f"Encrypts the audit reports in s3://{args.bucket_name}",
                lifecycle_rules=[
                    *(
                        _kept(prefix, args.retention_days)
                        for prefix in (args.report_prefix, *args.other_prefixes)
                    ),
                    {
                        # ExpiredObjectDeleteMarker cannot share a rule with Days (S3 API,
                        # LifecycleExpiration): a rule of its own over the whole bucket.
                        "id": "tidy-delete-markers-and-uploads",
                        "status": "Enabled",
                        "filter": {"prefix": ""},
                        "expiration": {"expired_object_delete_marker": True},
                        "abort_incomplete_multipart_upload": {
                            "days_after_initiation": ABORT_MULTIPART_DAYS
                        },
                    },
                ],
                policy_statements=lambda arn: _policy_statements(arn, args),
                key_statements=[_reports_encrypt(args)],
            ),
            parent=self,
        )
        self.bucket_name = private.bucket.bucket
        self.bucket_arn = private.bucket.arn
        self.key_arn = private.key.arn
        self.register_outputs(private.outputs)


def _reports_encrypt(args: ReportsBucketArgs) -> Statement:
    """AWS Backup's reports role may encrypt with the bucket's key.

    The report plan guide asks a customer-managed key to allow kms:GenerateDataKey and
    kms:Encrypt to the reports role (aws-backup/latest/devguide, creating report plans: bucket
    policy). The role exists only once the first report plan is made, and a key policy naming a
    principal that does not exist is refused, so the grant names it by `aws:PrincipalArn` (and
    this account) rather than as its principal.
    """
    return {
        "Sid": "BackupReportsEncrypt",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["kms:GenerateDataKey", "kms:Encrypt"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:PrincipalAccount": args.account_id},
            "ArnEquals": {"aws:PrincipalArn": args.writer_arn},
        },
    }


def _policy_statements(
    bucket_arn: pulumi.Output[str], args: ReportsBucketArgs
) -> list[dict[str, object]]:
    """TLS only; object versions deleted by break-glass roles only; the reports role writes."""
    return [
        insecure_transport_denied(bucket_arn),
        deny_all_but(
            "OnlyBreakGlassDeletesVersions",
            ["s3:DeleteObjectVersion"],
            objects_of(bucket_arn),
            args.break_glass_role_arns,
        ),
        {
            # The report plan guide's statement (s3:PutObject with bucket-owner-full-control
            # for AWSServiceRoleForBackupReports), naming the role by aws:PrincipalArn: the
            # role does not exist before the first report plan, and S3 refuses a policy whose
            # principal does not exist ("Invalid principal"). aws:PrincipalAccount keeps the
            # statement non-public for Block Public Access (AmazonS3 userguide,
            # access-control-block-public-access, "The meaning of public").
            "Sid": "BackupReportsDelivery",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "s3:PutObject",
            "Resource": objects_of(bucket_arn, f"{args.report_prefix}/"),
            "Condition": {
                "StringEquals": {
                    "aws:PrincipalAccount": args.account_id,
                    "s3:x-amz-acl": "bucket-owner-full-control",
                },
                "ArnEquals": {"aws:PrincipalArn": args.writer_arn},
            },
        },
    ]


def _kept(prefix: str, days: int) -> aws.s3.BucketLifecycleConfigurationRuleArgsDict:
    """Objects under `prefix` kept `days` days; replaced versions 30 more."""
    return {
        "id": f"keep-{prefix}-{days}-days",
        "status": "Enabled",
        "filter": {"prefix": f"{prefix}/"},
        "expiration": {"days": days},
        "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_DAYS},
    }
