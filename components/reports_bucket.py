"""ReportsBucket: where AWS Backup Audit Manager delivers its reports, kept as evidence.

The exports bucket's security settings (components/exports_bucket.py): its own rotating KMS
key that only break-glass roles may delete or disable, versioning, SSE-KMS with a bucket key,
all public access blocked, ACLs off, plain HTTP denied, object versions deletable only by
break-glass roles, and bucket, key and policies retained. Beside them, the one writer:
AWS Backup's reports service-linked role.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.policies import deny_all_but, key_policy, policy_document, service_linked_role_arn
from formkiq_backup import aws_rules

# The service-linked role that writes the reports (aws-backup/latest/devguide, "Using
# service-linked roles for AWS Backup Audit Manager").
REPORTS_SERVICE = "reports.backup.amazonaws.com"
REPORTS_ROLE = "AWSServiceRoleForBackupReports"
NONCURRENT_DAYS = 30
ABORT_MULTIPART_DAYS = 7
_MAX_BUCKET_NAME = 63


@dataclass(frozen=True)
class ReportsBucketArgs:
    """Where reports go, how long they are kept, and who may still delete their versions."""

    bucket_name: str
    key_alias: str
    account_id: str
    partition: str
    retention_days: int
    report_prefix: str = "reports"
    other_prefixes: Sequence[str] = ()
    """Other writers' prefixes (AWS Config's delivery), kept as long as the reports."""
    break_glass_role_arns: Sequence[str] = ()
    protect: bool = True
    """Pulumi refuses to delete the bucket, its key and its policy while this is on."""
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = []
        name = self.bucket_name
        if not (3 <= len(name) <= _MAX_BUCKET_NAME) or name != name.lower() or "_" in name:
            found.append(
                f"bucket name {name!r} must be 3..63 lower-case letters, digits, dots or hyphens"
            )
        found += [
            f"retention_days={self.retention_days}: {rule}"
            for rule in aws_rules.lifecycle_problems(self.retention_days, None)
        ]
        found += [
            f"break-glass principal {arn!r} is not an IAM role ARN"
            for arn in self.break_glass_role_arns
            if not aws_rules.is_iam_role_arn(arn)
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
        kept = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=True)
        key = self._key(name, args, kept)
        bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            force_destroy=False,
            tags=dict(args.tags),
            region=args.region,
            opts=kept,
        )
        versioning = self._settings(name, args, bucket, key, kept)
        aws.s3.BucketPolicy(
            f"{name}-policy",
            bucket=bucket.id,
            policy=policy_document(self._policy_statements(bucket.arn, args)),
            region=args.region,
            opts=kept,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket.id,
            rules=[
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
            region=args.region,
            # A lower retention would delete older reports: every change stops and asks
            # while `protect` is on, as the exports bucket's lifecycle does.
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                retain_on_delete=True,
                replace_on_changes=["rules"],
                depends_on=[versioning],
            ),
        )
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        self.key_arn = key.arn
        self.register_outputs({"bucketName": bucket.bucket, "keyArn": key.arn})

    @staticmethod
    def _key(name: str, args: ReportsBucketArgs, kept: pulumi.ResourceOptions) -> aws.kms.Key:
        """The bucket's own key; AWS Backup's reports role may encrypt with it.

        The report plan guide asks a customer-managed key to allow kms:GenerateDataKey and
        kms:Encrypt to the reports role (aws-backup/latest/devguide, creating report plans:
        bucket policy). The role exists only once the first report plan is made, and a key
        policy naming a principal that does not exist is refused, so the grant names it by
        `aws:PrincipalArn` (and this account) rather than as its principal.
        """
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the audit reports in s3://{args.bucket_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=key_policy(
                args.partition,
                args.account_id,
                deny_all_but(
                    "OnlyBreakGlassDeletesKey",
                    ["kms:ScheduleKeyDeletion", "kms:DisableKey"],
                    "*",
                    args.break_glass_role_arns,
                ),
                {
                    "Sid": "BackupReportsEncrypt",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": ["kms:GenerateDataKey", "kms:Encrypt"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"aws:PrincipalAccount": args.account_id},
                        "ArnEquals": {"aws:PrincipalArn": args.writer_arn},
                    },
                },
            ),
            tags=dict(args.tags),
            region=args.region,
            opts=kept,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=args.key_alias,
            target_key_id=key.key_id,
            region=args.region,
            opts=pulumi.ResourceOptions(parent=kept.parent),
        )
        return key

    @staticmethod
    def _settings(
        name: str,
        args: ReportsBucketArgs,
        bucket: aws.s3.Bucket,
        key: aws.kms.Key,
        kept: pulumi.ResourceOptions,
    ) -> aws.s3.BucketVersioning:
        """Versioning, SSE-KMS with a bucket key, no public access, ACLs off."""
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            region=args.region,
            opts=kept,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key.arn,
                    },
                    "bucket_key_enabled": True,
                }
            ],
            region=args.region,
            opts=kept,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            region=args.region,
            opts=kept,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket.id,
            # ACLs off; the reports role's bucket-owner-full-control is the one ACL accepted.
            rule={"object_ownership": "BucketOwnerEnforced"},
            region=args.region,
            opts=pulumi.ResourceOptions(parent=kept.parent),
        )
        return versioning

    @staticmethod
    def _policy_statements(
        bucket_arn: pulumi.Output[str], args: ReportsBucketArgs
    ) -> list[dict[str, object]]:
        objects = bucket_arn.apply(lambda arn: f"{arn}/*")
        reports = bucket_arn.apply(lambda arn: f"{arn}/{args.report_prefix}/*")
        return [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, objects],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            deny_all_but(
                "OnlyBreakGlassDeletesVersions",
                ["s3:DeleteObjectVersion"],
                objects,
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
                "Resource": reports,
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
