"""NotificationTopic: the KMS-encrypted SNS topic every alarm and backup alert goes to."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.policies import key_policy, policy_document


@dataclass(frozen=True)
class NotificationTopicArgs:
    """Who may publish and who is told."""

    account_id: str
    partition: str
    key_alias: str
    """KMS alias for the topic's key, e.g. alias/formkiq-backup/prod/alerts."""
    publishing_services: Sequence[str] = ("cloudwatch.amazonaws.com",)
    """Service principals allowed to publish (and to use the key to do so); nothing else is."""
    email_addresses: Sequence[str] = ()
    display_name: str = "FormKiQ backup alerts"
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region.
    A plain string: changing it replaces the resources."""
    tags: Mapping[str, str] = field(default_factory=dict)


class NotificationTopic(pulumi.ComponentResource):
    """An SNS topic encrypted with its own key, publishable only by the listed services.

    The key is customer-managed because AWS services cannot publish to a topic encrypted with
    the AWS-managed SNS key (its policy cannot be changed to let them use it).
    """

    topic_arn: pulumi.Output[str]
    """ARN of the alarm topic."""
    key_arn: pulumi.Output[str]
    """ARN of the KMS key encrypting it; publishers need kms:GenerateDataKey* on it."""

    def __init__(
        self, name: str, args: NotificationTopicArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("formkiq-backup:index:NotificationTopic", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        services = sorted(set(args.publishing_services))

        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts {args.display_name} (SNS)",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=key_policy(
                args.partition,
                args.account_id,
                {
                    "Sid": "PublishingServicesEncryptMessages",
                    "Effect": "Allow",
                    "Principal": {"Service": services},
                    "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                    "Resource": "*",
                },
            ),
            tags=dict(args.tags),
            region=args.region,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=args.key_alias,
            target_key_id=key.key_id,
            region=args.region,
            opts=child,
        )
        topic = aws.sns.Topic(
            f"{name}-topic",
            display_name=args.display_name,
            kms_master_key_id=key.arn,
            tags=dict(args.tags),
            region=args.region,
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=policy_document(
                [
                    {
                        "Sid": "PublishingServicesOnly",
                        "Effect": "Allow",
                        "Principal": {"Service": services},
                        "Action": "sns:Publish",
                        "Resource": topic.arn,
                        "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
                    },
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "sns:Publish",
                        "Resource": topic.arn,
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                ]
            ),
            region=args.region,
            opts=child,
        )
        for address in args.email_addresses:
            # Named after the address, so reordering the list changes nothing.
            aws.sns.TopicSubscription(
                f"{name}-email-{re.sub(r'[^a-z0-9]+', '-', address.lower()).strip('-')}",
                topic=topic.arn,
                protocol="email",
                endpoint=address,
                region=args.region,
                opts=child,
            )

        self.topic_arn = topic.arn
        self.key_arn = key.arn
        self.register_outputs({"topicArn": topic.arn, "keyArn": key.arn})
