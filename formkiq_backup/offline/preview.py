"""`make preview STACK=<stack>`: review a stack without an AWS account or the Pulumi CLI.

Runs the real program with `Pulumi.<stack>.yaml` against a bundled sample FormKiQ and prints
what a reviewer needs: the component tree, each AWS resource's key settings, the outputs and
the tier's recovery objectives. It is an offline render, not a `pulumi preview`: it shows what
the program asks for, not a diff against a live account.
"""

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from formkiq_backup.console import output_console
from formkiq_backup.formkiq import EXCLUDED_TABLE_REASONS
from formkiq_backup.offline import enterprise_review
from formkiq_backup.offline.document import GLOBAL, dumps, preview_document
from formkiq_backup.offline.mocks import RegisteredResource
from formkiq_backup.offline.program import PROJECT_DIR, ProgramRun, StackFileError, run_program
from formkiq_backup.offline.samples import DEFAULT_VERSION, SAMPLE_VERSIONS

Summary = Callable[[dict[str, Any], "_Names"], str]


class _Names:
    """Turns ARNs and names in inputs back into the Pulumi resources they belong to."""

    def __init__(self, resources: Sequence[RegisteredResource]) -> None:
        self._by_value: dict[str, str] = {}
        for resource in resources:
            for key in ("arn", "name", "keyId"):
                value = resource.state.get(key)
                if isinstance(value, str) and value:
                    self._by_value.setdefault(value, resource.name)

    def __call__(self, value: object) -> str:
        text = str(value)
        return self._by_value.get(text, text)


def _days(value: object) -> str:
    return f"{int(float(str(value)))} d"


def _policy_statements(document: object, names: "_Names") -> str:
    """Each statement by effect, action and resource (and who, and on what condition): what a
    reviewer checks, not only its name."""
    statements = json.loads(str(document)).get("Statement", [])
    return "".join(f"\n  {_statement(statement, names)}" for statement in statements)


def _listed(value: object, names: "_Names") -> str:
    items = value if isinstance(value, list) else [value]
    return ", ".join(names(item) for item in items)


def _statement(statement: Mapping[str, Any], names: "_Names") -> str:
    actions = statement.get("Action") or statement.get("NotAction")
    text = (
        f"{statement.get('Sid', '(no Sid)')}: {statement.get('Effect')} "
        f"{'all but ' if 'NotAction' in statement else ''}{_listed(actions, names)} "
        f"on {_listed(statement.get('Resource') or statement.get('NotResource'), names)}"
    )
    principal = statement.get("Principal")
    if principal is not None:
        who = (
            principal
            if isinstance(principal, str)
            else "; ".join(f"{kind} {_listed(value, names)}" for kind, value in principal.items())
        )
        text += f" to {who}"
    for operator, tests in statement.get("Condition", {}).items():
        for key, value in tests.items():
            text += f" if {key} {operator} {_listed(value, names)}"
    return text


def _key(inputs: dict[str, Any], names: _Names) -> str:
    rotation = "rotation on" if inputs.get("enableKeyRotation") else "ROTATION OFF"
    return (
        f"{rotation}; deletion window {_days(inputs.get('deletionWindowInDays', 30))}; "
        f"policy:{_policy_statements(inputs['policy'], names)}"
    )


def _topic(inputs: dict[str, Any], names: _Names) -> str:
    key = inputs.get("kmsMasterKeyId")
    return f"encrypted with {names(key)}" if key else "UNENCRYPTED"


def _topic_policy(inputs: dict[str, Any], _: _Names) -> str:
    statements = json.loads(inputs["policy"])["Statement"]
    publishers = [
        ", ".join(p.split(".")[0] for p in s["Principal"]["Service"])
        + (" (this account only)" if "Condition" in s else " (no condition, as AWS documents)")
        for s in statements
        if s["Effect"] == "Allow"
    ]
    return f"publish: {'; '.join(publishers)}; TLS required"


def _vault(inputs: dict[str, Any], names: _Names) -> str:
    return f"{inputs['name']}, encrypted with {names(inputs.get('kmsKeyArn'))}"


def _vault_policy(inputs: dict[str, Any], _: _Names) -> str:
    statement = json.loads(inputs["policy"])["Statement"][0]
    allowed = statement.get("Condition", {}).get("ArnNotLike", {}).get("aws:PrincipalArn", [])
    who = f"everyone but {', '.join(allowed)}" if allowed else "everyone (no break-glass role)"
    actions = ", ".join(a.removeprefix("backup:") for a in statement["Action"])
    changes = "; a change to this policy must be applied by a break-glass role"
    return f"denies {actions} to {who}" + (
        changes if "backup:PutBackupVaultAccessPolicy" in statement["Action"] else ""
    )


def _bucket_policy(inputs: dict[str, Any], _: _Names) -> str:
    statements = json.loads(inputs["policy"])["Statement"]
    parts = []
    for statement in statements:
        if statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false":
            parts.append("TLS required")
            continue
        allowed = statement.get("Condition", {}).get("ArnNotLike", {}).get("aws:PrincipalArn", [])
        who = f"everyone but {', '.join(allowed)}" if allowed else "everyone (no break-glass role)"
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        parts.append(f"denies {', '.join(a.removeprefix('s3:') for a in actions)} to {who}")
        if "s3:PutBucketPolicy" in actions:
            parts.append(
                "a change to this policy, the lifecycle or versioning must be applied by a "
                "break-glass role"
            )
    return "; ".join(parts)


def _lifecycle_text(lifecycle: dict[str, Any]) -> str:
    cold = lifecycle.get("coldStorageAfter")
    return f"delete after {_days(lifecycle['deleteAfter'])}" + (
        f", cold after {_days(cold)}" if cold else ""
    )


def _plan(inputs: dict[str, Any], names: _Names) -> str:
    rules = []
    for rule in inputs.get("rules", []):
        timezone = rule.get("scheduleExpressionTimezone", "UTC")
        rules.append(
            f"{rule['ruleName']}: {rule['schedule']} {timezone}"
            f", start {int(rule['startWindow'])} min, complete {int(rule['completionWindow'])} min"
            f", {_lifecycle_text(rule['lifecycle'])}"
            + f", tags {dict(sorted(rule.get('recoveryPointTags', {}).items()))}"
        )
        rules += [
            f"  copy to {names(copy['destinationVaultArn'])} "
            f"({str(copy['destinationVaultArn']).split(':')[3]}), "
            f"{_lifecycle_text(copy.get('lifecycle') or {'deleteAfter': 'NEVER'})}"
            for copy in rule.get("copyActions", [])
        ]
    return "\n".join(rules)


def _replication(inputs: dict[str, Any], names: _Names) -> str:
    lines = [
        f"on {inputs['bucket']}: REPLACES the bucket's whole replication configuration "
        "(one document per bucket); role " + names(inputs.get("role"))
    ]
    for rule in inputs.get("rules", []):
        destination = rule["destination"]
        scope = "whole bucket" if rule.get("filter") == {"prefix": ""} else str(rule.get("filter"))
        markers = (rule.get("deleteMarkerReplication") or {}).get("status", "Disabled")
        rtc = destination.get("replicationTime", {})
        lines.append(
            f"rule {rule.get('id')} (priority {int(rule.get('priority', 0))}, {rule['status']}): "
            f"{scope} to {str(destination['bucket']).split(':::')[-1]}; delete markers {markers}; "
            f"RTC {rtc.get('status', 'off')} {int(rtc.get('time', {}).get('minutes', 0))} min "
            f"with metrics {destination.get('metrics', {}).get('status', 'off')}"
        )
        key = destination.get("encryptionConfiguration", {}).get("replicaKmsKeyId")
        lines.append(
            "replicas of SSE-S3 objects stay SSE-S3; SSE-KMS objects are re-encrypted with "
            f"{names(key)}"
        )
    return "\n".join(lines)


def _selection(inputs: dict[str, Any], names: _Names) -> str:
    resources = [str(arn).split(":")[-1] for arn in inputs.get("resources", [])]
    return f"by ARN: {', '.join(resources)}; role {names(inputs.get('iamRoleArn'))}"


def _region_settings(inputs: dict[str, Any], _: _Names) -> str:
    # Engine inputs are protobuf maps: their key order differs between runs, so sort.
    opt_in = ", ".join(sorted(inputs.get("resourceTypeOptInPreference", {})))
    managed = ", ".join(sorted(inputs.get("resourceTypeManagementPreference", {})))
    return f"opt-in: {opt_in}; full management (advanced backup): {managed}"


def _role(inputs: dict[str, Any], _: _Names) -> str:
    statement = json.loads(inputs["assumeRolePolicy"])["Statement"][0]
    return f"assumed by {statement['Principal']['Service']} (this account only)"


def _function(inputs: dict[str, Any], names: _Names) -> str:
    variables = inputs.get("environment", {}).get("variables", {})
    if "RESTORE_TESTING_PLAN_ARN" in variables:
        return (
            f"{inputs.get('runtime')} {inputs.get('handler')}; validates each restore test of "
            f"{names(variables['RESTORE_TESTING_PLAN_ARN'])}: tables "
            f"{', '.join(json.loads(variables['PROTECTED_TABLES']))}; buckets "
            f"{', '.join(json.loads(variables['PROTECTED_BUCKETS']))}; samples "
            f"{variables['SAMPLE_SIZE']}; timeout {int(inputs.get('timeout', 3))} s; "
            f"AWS_DATA_PATH={variables.get('AWS_DATA_PATH')}"
        )
    if "PROTECTED_TABLES" not in variables:
        dead_letters = inputs.get("deadLetterConfig", {}).get("targetArn")
        return (
            f"{inputs.get('runtime')} {inputs.get('handler')}; "
            f"timeout {int(inputs.get('timeout', 3))} s; "
            f"dead letters to {names(dead_letters)}"
        )
    tables = ", ".join(json.loads(variables.get("PROTECTED_TABLES", "[]")))
    buckets = ", ".join(json.loads(variables.get("PROTECTED_BUCKETS", "[]")))
    replicated = [
        rule["sourceBucket"] for rule in json.loads(variables.get("REPLICATION_RULES", "[]"))
    ]
    return (
        f"{inputs.get('runtime')} {inputs.get('handler')}; checks PITR >= "
        f"{variables.get('MINIMUM_PITR_DAYS')} d on {tables}; versioning on {buckets}; "
        + (f"our replication rule on {', '.join(replicated)}; " if replicated else "")
        + (
            f"copies in {variables['COPY_VAULT_NAME']} ({variables['COPY_VAULT_REGION']}); "
            if "COPY_VAULT_NAME" in variables
            else ""
        )
        + f"remediate={variables.get('REMEDIATE')}"
    )


def _event_rule(inputs: dict[str, Any], _: _Names) -> str:
    if inputs.get("scheduleExpression"):
        return f"schedule {inputs['scheduleExpression']}"
    pattern = json.loads(inputs["eventPattern"])
    detail = pattern.get("detail", {})
    return f"{' / '.join(pattern.get('detail-type', []))} where {json.dumps(detail)}"


_OPERATORS = {
    "LessThanThreshold": "<",
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
}


def _alarm(inputs: dict[str, Any], _: _Names) -> str:
    dimensions = ", ".join(f"{k}={v}" for k, v in sorted(inputs.get("dimensions", {}).items()))
    periods = int(inputs.get("evaluationPeriods", 1))
    period = int(inputs["period"])
    return (
        f"{inputs['namespace']} {inputs['metricName']} [{dimensions}] {inputs['statistic']} "
        f"{_OPERATORS.get(inputs.get('comparisonOperator', ''), '?')} {inputs['threshold']:g} "
        f"for {periods} x {period // 60} min; "
        f"missing data = {inputs.get('treatMissingData')}"
    )


def _lifecycle(inputs: dict[str, Any], _: _Names) -> str:
    rules = []
    # S3's default: transitions skip objects under 128 KB (TransitionDefaultMinimumObjectSize).
    small_stay = inputs.get("transitionDefaultMinimumObjectSize", "all_storage_classes_128K")
    for rule in inputs.get("rules", []):
        actions = [
            f"{t['storageClass']} after {_days(t['days'])}"
            + (
                " (objects of 128 KB or more)"
                if small_stay == "all_storage_classes_128K" and t["storageClass"] == "GLACIER_IR"
                else ""
            )
            for t in rule.get("transitions", [])
        ]
        expiration = rule.get("expiration", {})
        if expiration.get("days"):
            actions.append(f"expire after {_days(expiration['days'])}")
        if expiration.get("expiredObjectDeleteMarker"):
            actions.append("remove expired delete markers")
        noncurrent = rule.get("noncurrentVersionExpiration", {}).get("noncurrentDays")
        if noncurrent:
            actions.append(f"noncurrent versions after {_days(noncurrent)}")
        actions += [
            f"noncurrent versions to {t['storageClass']} after {_days(t['noncurrentDays'])}"
            for t in rule.get("noncurrentVersionTransitions", [])
        ]
        multipart = rule.get("abortIncompleteMultipartUpload", {}).get("daysAfterInitiation")
        if multipart:
            actions.append(f"abort uploads after {_days(multipart)}")
        prefix = rule.get("filter", {}).get("prefix") or "(whole bucket)"
        rules.append(f"{prefix}: {', '.join(actions)}")
    return "\n".join(rules)


def _schedule(inputs: dict[str, Any], names: _Names) -> str:
    target = inputs.get("target", {})
    what = names(target.get("arn"))
    if re.match(r"arn:aws[a-z-]*:scheduler:::aws-sdk:", str(target.get("arn", ""))):
        request = json.loads(target.get("input", "{}"))
        what = (
            f"{target['arn'].rsplit(':', 1)[-1]} {str(request.get('TableArn')).split('/')[-1]} "
            f"to {request.get('S3Prefix')} ({request.get('ExportType')}, "
            f"{request.get('S3SseAlgorithm')})"
        )
    retries = int(target.get("retryPolicy", {}).get("maximumRetryAttempts", 0))
    return (
        f"{inputs.get('scheduleExpression')} {inputs.get('scheduleExpressionTimezone', 'UTC')}: "
        f"{what}; {retries} retries, dead letters to "
        f"{names(target.get('deadLetterConfig', {}).get('arn'))}"
    )


def _bucket_encryption(inputs: dict[str, Any], names: _Names) -> str:
    rule = inputs["rules"][0]
    default = rule["applyServerSideEncryptionByDefault"]
    key = names(default.get("kmsMasterKeyId"))
    bucket_key = "bucket key on" if rule.get("bucketKeyEnabled") else "bucket key off"
    return f"{default['sseAlgorithm']} with {key}; {bucket_key}"


def _restore_testing_plan(inputs: dict[str, Any], names: _Names) -> str:
    selection = inputs.get("recoveryPointSelection", {})
    vaults = ", ".join(names(v) for v in selection.get("includeVaults", []))
    return (
        f"{inputs.get('scheduleExpression')} {inputs.get('scheduleExpressionTimezone', 'UTC')}, "
        f"start within {int(inputs.get('startWindowHours', 24))} h; {selection.get('algorithm')} "
        f"of {int(selection.get('selectionWindowDays', 30))} d "
        f"({', '.join(selection.get('recoveryPointTypes', []))}) from {vaults}"
    )


def _restore_testing_selection(inputs: dict[str, Any], names: _Names) -> str:
    resources = [
        str(arn).rsplit("/", 1)[-1].split(":")[-1]
        for arn in inputs.get("protectedResourceArns", [])
    ]
    overrides = inputs.get("restoreMetadataOverrides") or "none"
    return (
        f"{inputs.get('protectedResourceType')}: {', '.join(resources)}; validation window "
        f"{int(inputs.get('validationWindowHours', 0))} h; role {names(inputs.get('iamRoleArn'))}; "
        f"metadata overrides {overrides}"
    )


def _framework(inputs: dict[str, Any], _: _Names) -> str:
    lines = []
    for control in inputs.get("controls", []):
        parameters = ", ".join(
            f"{p['name']}={p['value']}" for p in control.get("inputParameters", [])
        )
        scope = control.get("scope", {})
        scoped = scope.get("complianceResourceTypes") or scope.get("tags") or "all"
        lines.append(f"{control['name']}({parameters}) on {scoped}")
    return "\n".join(lines)


def _report_plan(inputs: dict[str, Any], names: _Names) -> str:
    setting = inputs.get("reportSetting", {})
    channel = inputs.get("reportDeliveryChannel", {})
    frameworks = ", ".join(names(f) for f in setting.get("frameworkArns", []))
    return (
        f"{setting.get('reportTemplate')}"
        + (f" of {frameworks}" if frameworks else "")
        + f" to s3://{channel.get('s3BucketName')}/{channel.get('s3KeyPrefix')}/ "
        f"({', '.join(channel.get('formats', []))})"
    )


def _dashboard(inputs: dict[str, Any], _: _Names) -> str:
    widgets = json.loads(inputs["dashboardBody"])["widgets"]
    alarms = sum(len(w["properties"]["alarms"]) for w in widgets if w["type"] == "alarm")
    metrics = [w["properties"]["title"] for w in widgets if w["type"] == "metric"]
    return f"{alarms} alarms with their state; {len(metrics)} metric widgets: " + "; ".join(metrics)


SUMMARIES: Mapping[str, Summary] = {
    "aws:kms/key:Key": _key,
    "aws:kms/alias:Alias": lambda i, n: f"{i['name']} -> {n(i['targetKeyId'])}",
    "aws:sns/topic:Topic": _topic,
    "aws:sns/topicPolicy:TopicPolicy": _topic_policy,
    "aws:sns/topicSubscription:TopicSubscription": lambda i, _: (
        f"{i['protocol']} to {i['endpoint']}"
    ),
    "aws:backup/vault:Vault": _vault,
    "aws:backup/vaultPolicy:VaultPolicy": _vault_policy,
    "aws:backup/vaultNotifications:VaultNotifications": lambda i, _: ", ".join(
        i["backupVaultEvents"]
    ),
    "aws:backup/plan:Plan": _plan,
    "aws:backup/selection:Selection": _selection,
    "aws:backup/regionSettings:RegionSettings": _region_settings,
    "aws:backup/restoreTestingPlan:RestoreTestingPlan": _restore_testing_plan,
    "aws:backup/restoreTestingSelection:RestoreTestingSelection": _restore_testing_selection,
    "aws:backup/framework:Framework": _framework,
    "aws:backup/reportPlan:ReportPlan": _report_plan,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:cfg/recorder:Recorder": lambda i, _: (
        "records " + ", ".join(i.get("recordingGroup", {}).get("resourceTypes", []))
    ),
    "aws:cfg/deliveryChannel:DeliveryChannel": lambda i, _: (
        f"to s3://{i.get('s3BucketName')}/{i.get('s3KeyPrefix')}/"
    ),
    "aws:cfg/recorderStatus:RecorderStatus": lambda i, _: f"recording {i.get('isEnabled')}",
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": lambda i, _: str(i["policyArn"]).split(
        "/"
    )[-1],
    "aws:iam/rolePolicy:RolePolicy": lambda i, n: (
        f"statements:{_policy_statements(i['policy'], n)}"
    ),
    "aws:lambda/function:Function": _function,
    "aws:lambda/permission:Permission": lambda i, n: (
        f"{i['principal']} may invoke, from {n(i.get('sourceArn'))}"
    ),
    "aws:cloudwatch/logGroup:LogGroup": lambda i, _: f"retention {_days(i['retentionInDays'])}",
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
    "aws:cloudwatch/eventTarget:EventTarget": lambda i, n: f"to {n(i['arn'])}",
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:s3/bucket:Bucket": lambda i, _: f"{i['bucket']}; force destroy {i.get('forceDestroy')}",
    "aws:s3/bucketVersioning:BucketVersioning": lambda i, _: (
        f"versioning {i['versioningConfiguration']['status']}"
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        _bucket_encryption
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": lambda i, _: (
        "all public access blocked"
        if all(i.get(k) for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls"))
        and i.get("restrictPublicBuckets")
        else "PUBLIC ACCESS NOT FULLY BLOCKED"
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": lambda i, _: (
        f"object ownership {i['rule']['objectOwnership']}"
    ),
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_policy,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _lifecycle,
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": _replication,
    "aws:s3/bucketObjectv2:BucketObjectv2": lambda i, _: f"s3 object {i['key']}",
    "aws:scheduler/schedule:Schedule": _schedule,
    "aws:scheduler/scheduleGroup:ScheduleGroup": lambda i, _: f"schedule group {i['name']}",
    **enterprise_review.SUMMARIES,
    "aws:sqs/queue:Queue": lambda i, _: (
        f"{i.get('name')}: kept {int(i.get('messageRetentionSeconds', 345600)) // 86400} d, "
        f"{'SSE-SQS' if i.get('sqsManagedSseEnabled') else 'UNENCRYPTED'}"
    ),
}


def resource_summary(resource: RegisteredResource, names: _Names) -> str:
    """The settings a reviewer checks for one resource, in one or a few lines."""
    summarize = SUMMARIES.get(resource.type)
    if summarize is None:
        return ""
    return summarize(resource.inputs, names)


def _label(resource: RegisteredResource, names: _Names) -> str:
    kind = resource.type.split(":")[-1]
    module = resource.type.split(":")[1].split("/")[0]
    flags = ""
    if resource.protect:
        flags += " [bold red]protect[/]"
    if resource.retain_on_delete:
        flags += " [bold yellow]retain[/]"
    region = resource.inputs.get("region") if resource.custom else None
    if region:
        # Only resources sent a region of their own (the DR scope) say so; the rest are in
        # aws:region, as the header says, and IAM is global.
        flags += f" [bold magenta]in {region}[/]"
    if not resource.custom:
        return f"[bold cyan]{kind}[/] {resource.name}{flags}"
    summary = resource_summary(resource, names).replace("[", r"\[")
    text = f"[green]{module}.{kind}[/] {resource.name}{flags}"
    return f"{text}\n[dim]{summary}[/]" if summary else text


def render(run: ProgramRun, console: Console) -> None:
    """Print the whole review of one offline run."""
    sample = run.sample
    console.print(
        Panel(
            f"The real program ran with [bold]Pulumi.{run.stack}.yaml[/] against a bundled "
            f"sample FormKiQ Core {sample.version} (appEnvironment {sample.app_environment!r}, "
            f"account {sample.account_id}, {sample.region}).\n"
            "No AWS account and no Pulumi engine were involved: this shows what the program "
            "asks for, not a diff against live state. Run `pulumi preview` for that.",
            title=f"formkiq-backup: OFFLINE RENDER of stack {run.stack!r} (not a pulumi preview)",
            border_style="magenta",
        )
    )
    _render_notices(run, console)
    _render_warnings(run, console)
    _render_formkiq(run, console)
    names = _Names(run.resources)
    tree = Tree(f"[bold]stack {run.project}-{run.stack}[/]")
    nodes: dict[str, Tree] = {}
    # Registration order is asynchronous; a fixed order lets reviewers diff two renders.
    # Shallower first, so every parent has its node before its children look for it.
    depths = _depths(run.resources)
    for resource in sorted(run.resources, key=lambda r: (depths[r.urn], *_tree_order(r))):
        nodes[resource.urn] = nodes.get(resource.parent_urn, tree).add(_label(resource, names))
    console.print(tree)
    custom = sum(1 for resource in run.resources if resource.custom)
    console.print(
        f"[dim]{custom} AWS resources in "
        f"{len(run.resources) - custom} components, in {sample.region} unless marked "
        "'in <region>' (IAM is global); protect = Pulumi refuses to delete it; "
        "retain = removing it from the program leaves it in AWS.[/]\n"
    )
    document = preview_document(run)
    _render_counts(document, console)
    _render_settings(document, console)
    _render_outside_changes(run, console)
    _render_outputs(run, console)
    _render_incidents(document, console)
    _render_objectives(run, console)
    _render_costs(document, console)


def _render_counts(document: Mapping[str, Any], console: Console) -> None:
    """AWS resources per type, with a column per region: what lands where, at a glance."""
    counts = document["counts"]
    regions = sorted(
        {region for entry in counts["byType"].values() for region in entry["byRegion"]},
        key=lambda region: (region == GLOBAL, region != document["regions"]["primary"], region),
    )
    table = Table(title=f"{counts['total']} AWS resources by type and region")
    table.add_column("type", no_wrap=True)
    for region in regions:
        table.add_column(region, justify="right", no_wrap=True)
    table.add_column("total", justify="right", no_wrap=True)
    for resource_type, entry in counts["byType"].items():
        module, kind = resource_type.split(":")[1].split("/")[0], resource_type.split(":")[-1]
        table.add_row(
            f"{module}.{kind}",
            *(str(entry["byRegion"].get(region, "")) for region in regions),
            str(entry["total"]),
        )
    console.print(table)


def _render_settings(document: Mapping[str, Any], console: Console) -> None:
    """Every key with the value used (defaults merged in); keys the tier ignores marked."""
    table = Table(title=f"Effective settings of tier {document['tier']!r}")
    for column in ("key", "value", "from", "ignored"):
        table.add_column(column, overflow="fold")
    for entry in document["settings"]:
        value = entry["value"]
        shown = value if isinstance(value, str) else json.dumps(value)
        table.add_row(
            entry["key"],
            escape(shown),
            "stack file" if entry["source"] == "stack" else "default",
            f"IGNORED: {entry['ignored']}" if entry["ignored"] else "",
        )
    console.print(table)


def _render_incidents(document: Mapping[str, Any], console: Console) -> None:
    table = Table(title=f"Recovery objectives of tier {document['tier']!r}, by incident")
    for column in ("incident", "what recovers it", "RPO", "RTO", "note"):
        table.add_column(column, overflow="fold")
    for objective in document["objectives"]["byIncident"].values():
        table.add_row(
            objective["incident"],
            "\n".join(objective["protectedBy"]) or "nothing at this tier",
            objective["rpo"],
            objective["rto"],
            objective["note"],
        )
    console.print(table)


def _render_costs(document: Mapping[str, Any], console: Console) -> None:
    costs = document["costs"]
    fixed = Table(title=f"Monthly cost drivers: {costs['label']}")
    for column in ("fixed item", "quantity", "unit price", "a month", "note"):
        fixed.add_column(column, overflow="fold")
    for line in costs["fixed"]:
        fixed.add_row(
            line["item"],
            f"{line['quantity']:g}",
            f"${line['unitPrice']:g} / {line['unit']}",
            f"${line['monthly']:.2f}",
            line["note"],
        )
    fixed.add_row("fixed items in all", "", "", f"${costs['fixedMonthlyTotal']:.2f}", "")
    console.print(fixed)
    growing = Table(title="What grows with FormKiQ's data: per-GB rates and what multiplies them")
    for column in ("item", "rate", "per"):
        growing.add_column(column, overflow="fold")
    for line in costs["perGB"]:
        growing.add_row(line["item"], f"${line['unitPrice']:g} / {line['unit']}", line["per"])
    console.print(growing)
    console.print(Text("Not priced here: " + "; ".join(costs["notPriced"]), style="dim"), "\n")


_COMPONENT_ORDER = (
    "BasicBackup",
    "StandardBackup",
    "EnhancedBackup",
    "EnterpriseBackup",
    "NotificationTopic",
    "PostureGuard",
    "BackupRegionSettings",
    "BackupVault",
    "BackupPlan",
    "BackupJobAlerts",
    "ExportsBucket",
    "TableExports",
    "ScheduledFunction",
    "ExportMonitor",
    "ReplicaBucket",
    "BucketReplication",
    "ReplicationAlarms",
    "BatchReplicationRole",
    *enterprise_review.COMPONENT_ORDER,
)


def _depths(resources: Sequence[RegisteredResource]) -> dict[str, int]:
    """How many registered ancestors each resource has (the stack itself is not one)."""
    parents = {resource.urn: resource.parent_urn for resource in resources}
    depths: dict[str, int] = {}

    def depth(urn: str) -> int:
        if urn not in depths:
            parent = parents[urn]
            depths[urn] = 0 if parent not in parents else depth(parent) + 1
        return depths[urn]

    return {urn: depth(urn) for urn in parents}


def _tree_order(resource: RegisteredResource) -> tuple[int, int, str]:
    """Components (parents) before AWS resources, components in build order, then by name."""
    kind = resource.type.split(":")[-1]
    rank = _COMPONENT_ORDER.index(kind) if kind in _COMPONENT_ORDER else len(_COMPONENT_ORDER)
    return (0 if not resource.custom else 1, rank, resource.name)


def _render_notices(run: ProgramRun, console: Console) -> None:
    """What the render shows other than the stack file says: encrypted values it cannot read."""
    notices = run.config.notices if run.config is not None else ()
    if notices:
        console.print(
            Panel(
                Text("\n".join(f"- {notice}" for notice in notices)),
                title="shown offline without the stack's secrets",
                border_style="cyan",
            )
        )


def _render_warnings(run: ProgramRun, console: Console) -> None:
    """What the program logged as warnings (pulumi.log.warn): valid, but probably not meant."""
    warnings = [message for severity, message in run.diagnostics if severity == "warning"]
    if warnings:
        console.print(
            Panel(
                Text("\n".join(f"- {message}" for message in warnings)),
                title=f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}",
                border_style="yellow",
            )
        )


def _render_formkiq(run: ProgramRun, console: Console) -> None:
    """The sample FormKiQ's tables and buckets: what is protected, what is left out, and why."""
    protected = set(run.outputs.get("protectedTables", [])) | set(
        run.outputs.get("protectedBuckets", [])
    )
    table = Table(title=f"FormKiQ {run.sample.version} data found (sample)")
    table.add_column("resource", no_wrap=True)
    for column in ("backed up", "current state"):
        table.add_column(column, overflow="fold")
    for sample_table in run.sample.tables:
        pitr = (
            f"PITR on, {sample_table.pitr_recovery_period_days} d"
            if sample_table.pitr_enabled
            else "PITR OFF"
        )
        stream = sample_table.stream_view_type or "no stream"
        verdict = (
            "[green]yes[/]"
            if sample_table.name in protected
            else "no: " + EXCLUDED_TABLE_REASONS.get(sample_table.role, "not FormKiQ data")
        )
        table.add_row(f"table {sample_table.name}", verdict, f"{pitr}; {stream}")
    for bucket in run.sample.buckets:
        if bucket in protected:
            table.add_row(f"bucket {bucket}", "[green]yes[/]", "versioning Enabled")
    console.print(table)


def _render_outside_changes(run: ProgramRun, console: Console) -> None:
    """What the stack sets on FormKiQ's own resources, and what a change of drRegion does."""
    formkiq_buckets = set(run.outputs.get("protectedBuckets", []))
    configs = [
        resource
        for resource in run.of_type("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
        if resource.inputs.get("bucket") in formkiq_buckets
    ]
    dr_region = run.outputs.get("drRegion")
    enterprise = enterprise_review.outside_changes(run)
    if not configs and not dr_region and not enterprise:
        return
    lines = [
        f"- A replication configuration on FormKiQ's bucket {config.inputs['bucket']}: the only "
        "thing added to it (no versioning, lifecycle or notification). A bucket has ONE "
        "replication document and each put replaces it whole: if a FormKiQ template ever sets "
        "its own, ours is gone (the posture guard alarms within 30 minutes), and the next "
        "`pulumi up --refresh` puts ours back over theirs. Removing this stack (or moving below "
        "enhanced) deletes whatever replication configuration the bucket then has."
        for config in configs
    ]
    if configs:
        lines.append(
            "- Objects already in the bucket are NOT replicated by the rule: run "
            "`formkiq-dr replicate-existing --wait` once after the first `pulumi up` (S3 Batch "
            "Replication). A FormKiQ purge is not replicated: `formkiq-dr purge-replica`."
        )
    if dr_region:
        lines.append(
            f"- Changing drRegion (now {dr_region}) REPLACES the DR side: a new vault, keys, "
            "replica buckets and alert topic in the new region; the old ones stay in AWS with "
            "every copy and replica (retained; with protectBackups the update stops first)."
        )
    lines += enterprise
    console.print(
        Panel(
            Text("\n".join(lines)),
            title="What changes outside this stack's own resources",
            border_style="cyan",
        )
    )


def _render_outputs(run: ProgramRun, console: Console) -> None:
    table = Table(title="Stack outputs", show_lines=False)
    table.add_column("output", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in run.outputs.items():
        if key == "recoveryObjectives":
            continue
        table.add_row(escape(key), escape(_output_text(value)))
    console.print(table)


def _output_text(value: object) -> str:
    """An output as `pulumi stack output` spells it: null, not None; structures as JSON."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value)
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _render_objectives(run: ProgramRun, console: Console) -> None:
    objectives = run.outputs.get("recoveryObjectives", {})
    table = Table(title=f"Recovery objectives of tier {run.outputs.get('tier')!r}")
    table.add_column("data", no_wrap=True)
    for column in ("RPO", "RTO", "protected by", "note"):
        table.add_column(column, overflow="fold")
    for data_class, objective in objectives.items():
        table.add_row(
            data_class,
            objective["rpo"],
            objective["rto"],
            "\n".join(objective["protectedBy"]) or "-",
            objective["note"],
        )
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: exit 0 with a review, 1 when the program rejects the stack."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stack", required=True, help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument(
        "--formkiq-version",
        default=DEFAULT_VERSION,
        choices=SAMPLE_VERSIONS,
        help=f"sample FormKiQ layout to render against (default {DEFAULT_VERSION})",
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=PROJECT_DIR,
        help="directory holding Pulumi.yaml, the stack files and __main__.py",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text (default) or json: the document docs/preview.schema.json describes",
    )
    args = parser.parse_args(argv)
    # The render alone goes to stdout (`make preview > review.txt` saves it); every reason not
    # to render goes to stderr, where the terminal shows it.
    problems = output_console(highlight=False, stderr=True)
    try:
        run = run_program(
            args.stack,
            version=args.formkiq_version,
            project_dir=args.project_dir,
            raise_errors=False,
        )
    except (FileNotFoundError, StackFileError) as error:
        problems.print(Text(str(error), style="bold red"))
        return 1
    if run.error is not None:
        # Pulumi surfaces a failed invoke before the program's own error: show both.
        explained = [message for severity, message in run.diagnostics if severity == "error"]
        problems.print(
            Panel(
                Text("\n".join([*explained, str(run.error)])),
                title=f"stack {args.stack!r} rejected: {len(run.resources)} resources registered",
                border_style="red",
            )
        )
        return 1
    if args.format == "json":
        sys.stdout.write(dumps(preview_document(run)))
    else:
        render(run, output_console(highlight=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
