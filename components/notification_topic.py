"""NotificationTopic: the KMS-encrypted SNS topic every alarm and backup alert goes to."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.policies import key_policy, policy_document
from formkiq_backup import aws_rules


@dataclass(frozen=True)
class NotificationTopicArgs:
    """Who may publish and who is told."""

    account_id: str
    partition: str
    key_alias: str
    """KMS alias for the topic's key, e.g. alias/formkiq-backup/prod/alerts."""
    publishing_services: Sequence[str] = ("cloudwatch.amazonaws.com",)
    """Service principals allowed to publish (and to use the key to do so); nothing else is.
    Each must be one of aws_rules.TOPIC_PUBLISHERS, whose form of grant is known."""
    email_addresses: Sequence[str] = ()
    display_name: str = "FormKiQ backup alerts"
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region.
    A plain string: changing it replaces the resources."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """A publisher whose requests we do not know how to match would be refused silently."""
        return [
            f"publishing service {service!r} has no known form of grant: add it to "
            "aws_rules.TOPIC_PUBLISHERS with the AWS page saying what its requests carry"
            for service in self.publishing_services
            if service not in aws_rules.TOPIC_PUBLISHERS
        ]


class NotificationTopic(pulumi.ComponentResource):
    """An SNS topic encrypted with its own key, publishable only by the listed services.

    The key is customer-managed because AWS services cannot publish to a topic encrypted with
    the AWS-managed SNS key (its policy cannot be changed to let them use it).
    """

    topic_arn: pulumi.Output[str]
    """ARN of the alarm topic."""
    key_arn: pulumi.Output[str]
    """ARN of the KMS key encrypting it; publishers need kms:GenerateDataKey* on it."""
    topic_policy: pulumi.Resource
    """The policy admitting the publishers: whatever publishes on creation must depend on it."""

    def __init__(
        self, name: str, args: NotificationTopicArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"NotificationTopic {name!r}: " + "; ".join(problems))
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
                *self._grants(
                    "EncryptMessages",
                    ["kms:GenerateDataKey*", "kms:Decrypt"],
                    "*",
                    services,
                    args.account_id,
                ),
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
        self.topic_policy = aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=policy_document(
                [
                    *self._grants("Publish", "sns:Publish", topic.arn, services, args.account_id),
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

    @staticmethod
    def _grants(
        purpose: str,
        actions: str | list[str],
        resource: pulumi.Input[str],
        services: list[str],
        account_id: str,
    ) -> list[dict[str, object]]:
        """One Allow for the services that say which account they act for, limited to this
        one; one each for those that do not (aws_rules.TOPIC_PUBLISHERS says which and why)."""
        publishers = aws_rules.TOPIC_PUBLISHERS
        conditioned = [s for s in services if publishers[s].says_its_account]
        grants: list[dict[str, object]] = []
        if conditioned:
            grants.append(
                {
                    "Sid": f"Services{purpose}ForThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": conditioned},
                    "Action": actions,
                    "Resource": resource,
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                }
            )
        grants.extend(
            {
                "Sid": f"{publishers[service].name}{purpose}",
                "Effect": "Allow",
                "Principal": {"Service": [service]},
                "Action": actions,
                "Resource": resource,
            }
            for service in services
            if not publishers[service].says_its_account
        )
        return grants
