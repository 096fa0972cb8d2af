"""NotificationTopic: encrypted, publishable only by the services that alert, e-mails subscribed."""

import json
from collections.abc import Callable

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


def test_only_the_listed_services_may_publish_and_only_for_this_account(build: Build) -> None:
    run = build(lambda: NotificationTopic("alerts", topic_args()))

    policy = json.loads(run.one("aws:sns/topicPolicy:TopicPolicy").inputs["policy"])
    allow, deny = policy["Statement"]
    assert allow["Effect"] == "Allow"
    assert allow["Principal"] == {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]}
    assert allow["Action"] == "sns:Publish"
    assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": "111122223333"}}
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    key_policy = json.loads(run.one("aws:kms/key:Key").inputs["policy"])
    services = next(
        s for s in key_policy["Statement"] if s["Sid"] == "PublishingServicesEncryptMessages"
    )
    assert services["Principal"]["Service"] == allow["Principal"]["Service"]
    assert services["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]


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
