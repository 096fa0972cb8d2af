"""BackupRegionSettings: the account's AWS Backup settings for one region."""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class BackupRegionSettingsArgs:
    """Resource types to opt in, and those to give AWS Backup full management of."""

    opt_in_resource_types: Sequence[str] = ("DynamoDB", "S3")
    """Tag-based selections honour opt-in; explicit ARNs back up regardless (RULES A1)."""
    full_management_resource_types: Sequence[str] = ("DynamoDB",)
    """Advanced DynamoDB backup: vault-key encryption, cold storage, cross-region copies."""
    region: str | None = None
    """Region of every regional child (pulumi-aws 7 `region`); None: the provider's region.
    A plain string: changing it replaces the resources."""


class BackupRegionSettings(pulumi.ComponentResource):
    """Opt-in and advanced DynamoDB backup for this account and region.

    These settings are a per-account, per-region singleton that other stacks may rely on, so
    only the listed types are set (the API leaves the others as they are) and the resource is
    retained, never reset, when it leaves the program.
    """

    def __init__(
        self, name: str, args: BackupRegionSettingsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("formkiq-backup:index:BackupRegionSettings", name, None, opts)
        aws.backup.RegionSettings(
            f"{name}-settings",
            resource_type_opt_in_preference=dict.fromkeys(args.opt_in_resource_types, True),
            resource_type_management_preference=dict.fromkeys(
                args.full_management_resource_types, True
            ),
            region=args.region,
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        self.register_outputs({})
