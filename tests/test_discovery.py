"""Discovery of a deployed FormKiQ, by layout version, through Pulumi invokes and boto3 alike."""

from dataclasses import replace

import boto3
import pytest

from formkiq_backup.discovery import Boto3Reader, DiscoveryError, PulumiInvokeReader, discover
from formkiq_backup.formkiq import FormKiQEnvironment, TableRole
from formkiq_backup.offline.mocks import UnansweredInvokeError
from formkiq_backup.offline.program import run_offline, run_program
from formkiq_backup.offline.samples import SAMPLE_VERSIONS, SampleFormKiQ, sample_formkiq
from formkiq_backup.offline.seed import seed_formkiq

MOTO_ACCOUNT = "123456789012"


def discover_with_pulumi(sample: SampleFormKiQ, app_environment: str) -> FormKiQEnvironment:
    found: list[FormKiQEnvironment] = []
    run_offline(
        lambda: found.append(discover(PulumiInvokeReader(), app_environment)), sample=sample
    )
    return found[0]


# (version, protected table roles, excluded table roles, Application tag value)
LAYOUTS = {
    "1.9.0": ({TableRole.DOCUMENTS}, {TableRole.CACHE}, "FormKiQ core"),
    "1.15.0": (
        {TableRole.DOCUMENTS, TableRole.DOCUMENT_SYNCS},
        {TableRole.CACHE, TableRole.WEB_CONNECTIONS},
        "FormKiQ core",
    ),
    "1.17.1": (
        {TableRole.DOCUMENTS, TableRole.DOCUMENT_SYNCS},
        {TableRole.CACHE, TableRole.WEB_CONNECTIONS},
        "FormKiQ",
    ),
    "1.18.2": ({TableRole.DOCUMENTS, TableRole.DOCUMENT_SYNCS}, {TableRole.CACHE}, "FormKiQ"),
    "1.19.0": ({TableRole.DOCUMENTS, TableRole.DOCUMENT_SYNCS}, {TableRole.CACHE}, "FormKiQ"),
}


def test_every_sample_version_has_a_layout_expectation() -> None:
    assert set(LAYOUTS) == set(SAMPLE_VERSIONS)


@pytest.mark.parametrize("version", list(LAYOUTS))
def test_protects_documents_and_documentsyncs_never_cache_or_websocket(version: str) -> None:
    protected_roles, excluded_roles, application_tag = LAYOUTS[version]
    sample = sample_formkiq(version=version)

    environment = discover_with_pulumi(sample, "prod")

    assert {table.role for table in environment.protected_tables} == protected_roles
    assert {table.role for table in environment.excluded_tables} == excluded_roles
    assert [b.name for b in environment.protected_buckets] == [
        "formkiq-core-prod-documents-111122223333"
    ]
    assert environment.documents_table.tags["Application"] == application_tag
    assert environment.version == version


def test_documents_table_facts_come_from_aws(sample: SampleFormKiQ) -> None:
    environment = discover_with_pulumi(sample, "prod")
    documents = environment.documents_table
    assert documents.name == "formkiq-core-prod-documents"
    assert documents.arn == (
        "arn:aws:dynamodb:us-east-1:111122223333:table/formkiq-core-prod-documents"
    )
    assert documents.stream_view_type == "NEW_AND_OLD_IMAGES"
    assert (documents.pitr_enabled, documents.pitr_recovery_period_days) == (True, 35)
    assert environment.user_pool_id == "us-east-1_Ab12Cd34E"
    assert (environment.account_id, environment.region, environment.partition) == (
        "111122223333",
        "us-east-1",
        "aws",
    )


def test_documentsyncs_without_pitr_is_still_protected() -> None:
    """v1.10-1.15 shipped DocumentSyncs without PITR: protect it; the guard alarms on it."""
    environment = discover_with_pulumi(sample_formkiq(version="1.15.0"), "prod")
    syncs = environment.document_syncs_table
    assert syncs is not None
    assert syncs.pitr_enabled is False
    assert syncs in environment.protected_tables


def test_a_sibling_environment_is_not_mistaken_for_ours() -> None:
    """/formkiq/prod must not match /formkiq/production/...: SSM paths are hierarchies."""
    production = sample_formkiq(app_environment="production")
    prod = sample_formkiq(app_environment="prod")
    both = replace(
        prod,
        parameters={**production.parameters, **prod.parameters},
        tables=prod.tables + production.tables,
        buckets=prod.buckets + production.buckets,
    )
    environment = discover_with_pulumi(both, "prod")
    assert environment.documents_table.name == "formkiq-core-prod-documents"


def test_missing_parameter_names_the_parameter_and_app_environment(sample: SampleFormKiQ) -> None:
    broken = replace(
        sample,
        parameters={
            name: value
            for name, value in sample.parameters.items()
            if name != "/formkiq/prod/dynamodb/DocumentsTableName"
        },
    )
    with pytest.raises(DiscoveryError) as raised:
        discover_with_pulumi(broken, "prod")
    message = str(raised.value)
    assert "/formkiq/prod/dynamodb/DocumentsTableName is missing" in message
    assert "appEnvironment 'prod'" in message


def test_unknown_app_environment_says_where_it_looked(sample: SampleFormKiQ) -> None:
    with pytest.raises(DiscoveryError, match=r"no FormKiQ parameters under /formkiq/staging/"):
        discover_with_pulumi(sample, "staging")


def test_table_named_in_ssm_but_missing_in_dynamodb(sample: SampleFormKiQ) -> None:
    """Pulumi re-raises the failed invoke, so the program also logs what it means."""
    broken = replace(
        sample, tables=tuple(t for t in sample.tables if t.role != TableRole.DOCUMENTS)
    )
    run = run_program("prod", sample=broken, raise_errors=False)

    assert "ResourceNotFoundException" in str(run.error)
    assert (
        "error",
        "table 'formkiq-core-prod-documents' named by /formkiq/prod/dynamodb/DocumentsTableName "
        "could not be read for appEnvironment 'prod' (account 111122223333, region us-east-1): "
        "reading DynamoDB Table (formkiq-core-prod-documents): ResourceNotFoundException: "
        "Requested resource not found",
    ) in run.diagnostics
    assert run.resources == []


def test_an_unanswered_invoke_fails_the_run(sample: SampleFormKiQ) -> None:
    """The offline mocks are strict: Pulumi's default would return empty fields silently."""
    import pulumi_aws as aws

    with pytest.raises(UnansweredInvokeError, match="aws:ec2/getVpc:getVpc"):
        run_offline(lambda: aws.ec2.get_vpc(default=True), sample=sample)


@pytest.mark.parametrize("version", list(LAYOUTS))
def test_boto3_and_pulumi_discovery_agree(version: str, aws_session: boto3.session.Session) -> None:
    """One discovery implementation: the CLI's boto3 reader sees what the program sees."""
    sample = sample_formkiq(version=version, account_id=MOTO_ACCOUNT)
    seed_formkiq(aws_session, sample)

    via_boto3 = discover(Boto3Reader(aws_session), "prod")
    via_pulumi = discover_with_pulumi(sample, "prod")

    assert via_boto3 == via_pulumi


def test_bucket_named_in_ssm_but_missing_in_s3(aws_session: boto3.session.Session) -> None:
    sample = sample_formkiq(account_id=MOTO_ACCOUNT)
    seed_formkiq(aws_session, sample)
    bucket = f"formkiq-core-prod-documents-{MOTO_ACCOUNT}"
    aws_session.client("s3").delete_bucket(Bucket=bucket)

    with pytest.raises(DiscoveryError) as raised:
        discover(Boto3Reader(aws_session), "prod")

    message = str(raised.value)
    assert message.startswith(
        f"bucket '{bucket}' named by /formkiq/prod/s3/DocumentsS3Bucket could not be read for "
        f"appEnvironment 'prod' (account {MOTO_ACCOUNT}, region us-east-1): "
    )
    assert "(NoSuchBucket)" in message
