"""The one price table the preview's cost drivers are computed from: AWS list prices, dated.

These are the public on-demand list prices of one region on one date, each with the AWS pricing
page it comes from. They are not a quote: prices change, differ by region, and free tiers,
discounts and taxes are left out. Check the cited page before budgeting, and update the table
(all of it, and the date) when a price moves.
"""

from dataclasses import dataclass
from types import MappingProxyType

PRICES_AS_OF = "2026-12-01"
PRICES_REGION = "us-east-1"

_KMS = "https://aws.amazon.com/kms/pricing/"
_CLOUDWATCH = "https://aws.amazon.com/cloudwatch/pricing/"
_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_EVENTBRIDGE = "https://aws.amazon.com/eventbridge/pricing/"
_BACKUP = "https://aws.amazon.com/backup/pricing/"
_S3 = "https://aws.amazon.com/s3/pricing/"
_DYNAMODB = "https://aws.amazon.com/dynamodb/pricing/on-demand/"


@dataclass(frozen=True)
class Price:
    """One list price: USD per unit, what it is charged for, and where AWS publishes it."""

    usd: float
    unit: str
    charged_for: str
    source: str


PRICES = MappingProxyType(
    {
        # "Each AWS KMS key that you create in KMS costs $1/month"; "If you enable automatic
        # key rotation, each newly generated backing key costs an additional $1/month" (the
        # first two rotations; later ones are free).
        "kmsKey": Price(1.00, "key-month", "a customer managed KMS key", _KMS),
        "kmsKeyRotation": Price(
            1.00, "rotation-month", "each of a rotated key's first two rotations", _KMS
        ),
        "alarm": Price(
            0.10, "alarm-month", "a standard-resolution CloudWatch alarm on one metric", _CLOUDWATCH
        ),
        "dashboard": Price(
            3.00,
            "dashboard-month",
            "a CloudWatch dashboard (the first 3 per account are free)",
            _CLOUDWATCH,
        ),
        "lambdaArmGbSecond": Price(0.0000133334, "GB-second", "Lambda compute on arm64", _LAMBDA),
        "lambdaRequest": Price(0.20, "million requests", "Lambda invocations", _LAMBDA),
        "schedulerInvocation": Price(
            1.00,
            "million invocations",
            "EventBridge Scheduler invocations beyond 14 million a month free",
            _EVENTBRIDGE,
        ),
        "backupWarmDynamoDB": Price(
            0.10, "GB-month", "AWS Backup warm storage of DynamoDB recovery points", _BACKUP
        ),
        "backupColdDynamoDB": Price(
            0.03,
            "GB-month",
            "AWS Backup cold storage of DynamoDB recovery points (advanced backup; 90 days "
            "minimum)",
            _BACKUP,
        ),
        "backupWarmS3": Price(
            0.05, "GB-month", "AWS Backup storage of S3 recovery points", _BACKUP
        ),
        "backupCrossRegionTransfer": Price(
            0.02, "GB", "AWS Backup data copied to another region", _BACKUP
        ),
        "s3InterRegionTransfer": Price(
            0.02, "GB", "S3 cross-region replication: data transferred out to another region", _S3
        ),
        "s3ReplicationTimeControl": Price(0.015, "GB", "S3 Replication Time Control", _S3),
        "s3Standard": Price(0.023, "GB-month", "S3 Standard storage (first 50 TB)", _S3),
        "s3GlacierInstantRetrieval": Price(
            0.004, "GB-month", "S3 Glacier Instant Retrieval storage (90 days minimum)", _S3
        ),
        "dynamodbExport": Price(
            0.10, "GB", "DynamoDB export to S3 (full export), per GB of table size", _DYNAMODB
        ),
        "dynamodbStorage": Price(
            0.25, "GB-month", "DynamoDB Standard table storage, each replica", _DYNAMODB
        ),
        "dynamodbReplicatedWrite": Price(
            0.625, "million writes", "DynamoDB on-demand replicated writes, each replica", _DYNAMODB
        ),
    }
)

# Charged, but by usage this table does not model: restore tests (AWS Backup bills each
# restore test and the restore itself), restores, KMS and S3 requests.
NOT_PRICED = (
    f"restore tests: each test is charged, plus the restore it runs ({_BACKUP}, Restore testing)",
    f"restores: per GB restored ({_BACKUP})",
    f"KMS requests beyond 20,000 a month free ({_KMS})",
    f"S3 requests, and S3 backups' GET requests ({_S3}, {_BACKUP})",
)
