"""BackupRegionSettings: the account's AWS Backup settings for one region."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from formkiq_backup import aws_rules


@dataclass(frozen=True)
class BackupRegionSettingsArgs:
    """Resource types to opt in, and those to give AWS Backup full management of."""

    opt_in_resource_types: Sequence[str] = ("DynamoDB", "S3")
    """Tag-based selections honour opt-in; explicit ARNs back up regardless
    (aws-backup/latest/devguide/assigning-resources.html)."""
    full_management_resource_types: Sequence[str] = ("DynamoDB",)
    """Advanced DynamoDB backup: vault-key encryption, cold storage, cross-region copies."""
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region.
    A plain string: changing it replaces the resources."""

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        return [
            f"resource type {kind!r} is not one AWS Backup knows (known: "
            f"{', '.join(sorted(aws_rules.BACKUP_RESOURCE_TYPES))})"
            for kind in [*self.opt_in_resource_types, *self.full_management_resource_types]
            if kind not in aws_rules.BACKUP_RESOURCE_TYPES
        ]


# UpdateRegionSettings changes only the types it is given (API_UpdateRegionSettings), but the
# provider reads every type back, so a map naming two of them differs from the state on every
# preview (hashicorp/terraform-provider-aws#22744, open). Both maps are therefore applied when
# the resource is created and never diffed again: a perpetual diff would hide real changes, and
# declaring every type would switch other teams' types on or off.
IGNORED_AFTER_CREATE = ("resourceTypeOptInPreference", "resourceTypeManagementPreference")


class BackupRegionSettings(pulumi.ComponentResource):
    """Opt-in and advanced DynamoDB backup for this account and region.

    These settings are a per-account, per-region singleton that other stacks may rely on, so
    only the listed types are set, only ever to true (the API leaves the others as they are),
    the maps are not compared again after creation (IGNORED_AFTER_CREATE), and the resource
    is retained, never reset, when it leaves the program. To apply them again (someone switched
    one off), replace the resource: `pulumi up --target-replace <its URN>`.
    """

    def __init__(
        self, name: str, args: BackupRegionSettingsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"BackupRegionSettings {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:BackupRegionSettings", name, None, opts)
        aws.backup.RegionSettings(
            f"{name}-settings",
            resource_type_opt_in_preference=dict.fromkeys(args.opt_in_resource_types, True),
            resource_type_management_preference=dict.fromkeys(
                args.full_management_resource_types, True
            ),
            region=args.region,
            opts=pulumi.ResourceOptions(
                parent=self, retain_on_delete=True, ignore_changes=list(IGNORED_AFTER_CREATE)
            ),
        )
        self.register_outputs({})
