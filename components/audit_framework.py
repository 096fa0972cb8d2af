"""AuditFramework: a Backup Audit Manager framework and the daily reports that evidence it.

The framework holds the controls the capabilities contributed (components/audit_controls.py);
report plans deliver, every day, the backup, copy and restore jobs of the previous 24 hours and
the framework's control compliance to the reports bucket (aws-backup/latest/devguide,
"Choosing your report template"; API_ReportSetting: FrameworkArns for compliance reports).
Controls evaluate only what AWS Config records: see the README's AWS Config prerequisite.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.audit_controls import AuditControl, framework_problems
from formkiq_backup import aws_rules

# ReportSetting.ReportTemplate: one report plan each (the suffix names the plan).
JOB_REPORTS = {
    "backup_jobs": "BACKUP_JOB_REPORT",
    "copy_jobs": "COPY_JOB_REPORT",
    "restore_jobs": "RESTORE_JOB_REPORT",
}
COMPLIANCE_REPORT = ("control_compliance", "CONTROL_COMPLIANCE_REPORT")
REPORT_FORMATS = ("CSV", "JSON")


@dataclass(frozen=True)
class AuditFrameworkArgs:
    """The framework's name and controls, and where its reports go."""

    framework_name: str
    description: str
    controls: Sequence[AuditControl]
    report_bucket_name: pulumi.Input[str]
    report_prefix: str
    report_plan_prefix: str
    """Report plans are named `<prefix>_<report>`: letters, digits, underscores."""
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = aws_rules.framework_name_problems("framework", self.framework_name)
        found += [
            problem
            for plan in self.report_plan_names()
            for problem in aws_rules.framework_name_problems("report plan", plan)
        ]
        found += framework_problems(self.controls)
        if len(self.description) > 1_024:
            found.append("description is longer than 1,024 characters (CreateFramework)")
        return found

    def report_plan_names(self) -> list[str]:
        return [
            f"{self.report_plan_prefix}_{suffix}" for suffix in (*JOB_REPORTS, COMPLIANCE_REPORT[0])
        ]


class AuditFramework(pulumi.ComponentResource):
    """The framework and its four report plans."""

    framework_arn: pulumi.Output[str]
    report_plan_arns: list[pulumi.Output[str]]

    def __init__(
        self, name: str, args: AuditFrameworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"AuditFramework {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:AuditFramework", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        framework = aws.backup.Framework(
            f"{name}-framework",
            name=args.framework_name,
            description=args.description,
            controls=[_control(control) for control in args.controls],
            tags=dict(args.tags),
            region=args.region,
            opts=child,
        )
        delivery: aws.backup.ReportPlanReportDeliveryChannelArgsDict = {
            "s3_bucket_name": args.report_bucket_name,
            "s3_key_prefix": args.report_prefix,
            "formats": list(REPORT_FORMATS),
        }
        settings: dict[str, aws.backup.ReportPlanReportSettingArgsDict] = {
            suffix: {"report_template": template} for suffix, template in JOB_REPORTS.items()
        }
        suffix, template = COMPLIANCE_REPORT
        settings[suffix] = {"report_template": template, "framework_arns": [framework.arn]}
        self.report_plan_arns = [
            aws.backup.ReportPlan(
                f"{name}-{suffix.replace('_', '-')}",
                name=f"{args.report_plan_prefix}_{suffix}",
                description=f"Daily {template.lower().replace('_', ' ')} (CSV and JSON)",
                report_delivery_channel=delivery,
                report_setting=setting,
                tags=dict(args.tags),
                region=args.region,
                opts=child,
            ).arn
            for suffix, setting in settings.items()
        ]
        self.framework_arn = framework.arn
        self.register_outputs({"frameworkArn": framework.arn})


def _control(control: AuditControl) -> aws.backup.FrameworkControlArgsDict:
    """A control as the provider takes it; the scope only where the control has one."""
    made: aws.backup.FrameworkControlArgsDict = {
        "name": control.name,
        "input_parameters": [
            {"name": name, "value": value} for name, value in sorted(control.parameters.items())
        ],
    }
    scope: aws.backup.FrameworkControlScopeArgsDict = {}
    if control.resource_types:
        scope["compliance_resource_types"] = list(control.resource_types)
    if control.tags:
        scope["tags"] = dict(control.tags)
    if scope:
        made["scope"] = scope
    return made
