"""NotificationTopic: encrypted, publishable only by the services that alert, e-mails subscribed."""

import json
from collections.abc import Callable

import pulumi_aws as aws

from components import NotificationTopic, NotificationTopicArgs
from formkiq_backup.offline.program import ProgramRun

Build = Callable[..., ProgramRun]


def topic_args(**changes: object) -> NotificationTopicArgs:
    base = {
        "account_id": "111122223333",
        "partition": "aws",
        "key_alias": "alias/formkiq-prod-backup-alerts",
        "publishing_services": ["events.amazonaws.com", "cloudwatch.amazonaws.com"],
        "email_addresses": ["ops@example.com"],
    }
    return NotificationTopicArgs(**{**base, **changes})  # type: ignore[arg-type]


def test_topic_is_encrypted_with_its_own_rotating_key(build: Build) -> None:
    run = build(lambda: NotificationTopic("alerts", topic_args()))

    key = run.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    topic = run.one("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == key.state["arn"]
    assert run.one("aws:kms/alias:Alias").inputs["name"] == "alias/formkiq-prod-backup-alerts"


def _statements(document: str) -> dict[str, dict[str, object]]:
    return {statement["Sid"]: statement for statement in json.loads(document)["Statement"]}


def test_each_publisher_is_granted_in_the_form_its_requests_match(build: Build) -> None:
    """CloudWatch says which account it acts for: limited to this one. EventBridge supports no
    condition (EventBridge user guide, resource-based policies, SNS; SNS guide, key
    management): a conditioned grant would drop every job alert. AWS Backup: no page says its
    requests carry aws:SourceAccount, so AWS's own example form, without a condition."""
    run = build(
        lambda: NotificationTopic(
            "alerts",
            topic_args(
                publishing_services=[
                    "events.amazonaws.com",
                    "cloudwatch.amazonaws.com",
                    "backup.amazonaws.com",
                ]
            ),
        )
    )
    topic_arn = run.one("aws:sns/topic:Topic").state["arn"]

    statements = _statements(run.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    assert statements == {
        "ServicesPublishForThisAccount": {
            "Sid": "ServicesPublishForThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": ["cloudwatch.amazonaws.com"]},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}},
        },
        "AwsBackupPublish": {
            "Sid": "AwsBackupPublish",
            "Effect": "Allow",
            "Principal": {"Service": ["backup.amazonaws.com"]},
            "Action": "sns:Publish",
            "Resource": topic_arn,
        },
        "EventBridgePublish": {
            "Sid": "EventBridgePublish",
            "Effect": "Allow",
            "Principal": {"Service": ["events.amazonaws.com"]},
            "Action": "sns:Publish",
            "Resource": topic_arn,
        },
        "DenyInsecureTransport": {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    }
    key = _statements(run.one("aws:kms/key:Key").inputs["policy"])
    assert set(key) == {
        "AccountAdministersKey",
        "ServicesEncryptMessagesForThisAccount",
        "AwsBackupEncryptMessages",
        "EventBridgeEncryptMessages",
    }
    assert "Condition" not in key["AwsBackupEncryptMessages"]


def test_the_key_is_scoped_to_this_account_where_the_service_says_so(build: Build) -> None:
    run = build(
        lambda: NotificationTopic(
            "alerts",
            topic_args(publishing_services=["events.amazonaws.com", "cloudwatch.amazonaws.com"]),
        )
    )

    statements = _statements(run.one("aws:kms/key:Key").inputs["policy"])
    assert statements["ServicesEncryptMessagesForThisAccount"] == {
        "Sid": "ServicesEncryptMessagesForThisAccount",
        "Effect": "Allow",
        "Principal": {"Service": ["cloudwatch.amazonaws.com"]},
        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}},
    }
    assert statements["EventBridgeEncryptMessages"] == {
        "Sid": "EventBridgeEncryptMessages",
        "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com"]},
        "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
        "Resource": "*",
    }


def test_a_publisher_without_a_known_form_of_grant_is_refused(build: Build) -> None:
    """A service whose requests nobody looked up could be granted in a form they never match:
    its alerts would be dropped without a word."""
    run = build(
        lambda: NotificationTopic("alerts", topic_args(publishing_services=["s3.amazonaws.com"])),
        raise_errors=False,
    )

    assert "publishing service 's3.amazonaws.com' has no known form of grant" in str(run.error)
    assert run.resources == []


def test_basic_topic_admits_cloudwatch_alone_for_this_account(build: Build) -> None:
    run = build(
        lambda: NotificationTopic(
            "alerts", topic_args(publishing_services=["cloudwatch.amazonaws.com"])
        )
    )
    statements = _statements(run.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    assert set(statements) == {"ServicesPublishForThisAccount", "DenyInsecureTransport"}
    key = _statements(run.one("aws:kms/key:Key").inputs["policy"])
    assert set(key) == {"AccountAdministersKey", "ServicesEncryptMessagesForThisAccount"}


def test_the_topic_policy_is_exposed_for_publishers_to_wait_for(build: Build) -> None:
    topics: list[NotificationTopic] = []
    run = build(lambda: topics.append(NotificationTopic("alerts", topic_args())))

    assert isinstance(topics[0].topic_policy, aws.sns.TopicPolicy)
    assert run.one("aws:sns/topicPolicy:TopicPolicy").name == "alerts-topic-policy"


def test_each_address_gets_an_email_subscription_named_after_it(build: Build) -> None:
    run = build(
        lambda: NotificationTopic(
            "alerts", topic_args(email_addresses=["ops@example.com", "Sec.Team@Example.com"])
        )
    )

    subscriptions = {
        r.name: r.inputs for r in run.of_type("aws:sns/topicSubscription:TopicSubscription")
    }
    assert set(subscriptions) == {
        "alerts-email-ops-example-com",
        "alerts-email-sec-team-example-com",
    }
    assert {s["endpoint"] for s in subscriptions.values()} == {
        "ops@example.com",
        "Sec.Team@Example.com",
    }
    assert {s["protocol"] for s in subscriptions.values()} == {"email"}


def test_no_addresses_no_subscriptions(build: Build) -> None:
    run = build(lambda: NotificationTopic("alerts", topic_args(email_addresses=[])))
    assert run.of_type("aws:sns/topicSubscription:TopicSubscription") == []
