"""Pieces every Lambda of this package is made of: its code archive and its EventBridge trigger."""

import pulumi
import pulumi_aws as aws

from formkiq_backup.lambdas import LambdaBundle


def bundle_archive(bundle: LambdaBundle) -> pulumi.AssetArchive:
    """The function's code: the bundle's files at their import paths, and any service model
    it ships (formkiq_backup.lambdas.LambdaBundle.models)."""
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {
        path: pulumi.FileAsset(str(file)) for path, file in bundle.paths().items()
    }
    assets.update((path, pulumi.StringAsset(text)) for path, text in bundle.models().items())
    return pulumi.AssetArchive(assets)


def rule_invokes(
    name: str,
    *,
    rule: aws.cloudwatch.EventRule,
    function: aws.lambda_.Function,
    region: str | None,
    opts: pulumi.ResourceOptions,
) -> None:
    """The rule's target is the function, and EventBridge may invoke it for that rule only."""
    aws.cloudwatch.EventTarget(
        f"{name}-target", rule=rule.name, arn=function.arn, region=region, opts=opts
    )
    aws.lambda_.Permission(
        f"{name}-permission",
        action="lambda:InvokeFunction",
        function=function.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
        region=region,
        opts=opts,
    )
