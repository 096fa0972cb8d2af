"""AirGappedVault: an AWS Backup logically air-gapped vault, optionally shared through AWS RAM.

What AWS says of it (AWS Backup developer guide, "Logically air-gapped vault"): it is always
locked in compliance mode, with the MinRetentionDays (at least 7) and MaxRetentionDays given at
creation; its backups are stored in an account AWS Backup owns; it is encrypted with an
AWS-owned key unless a customer-managed key is given (none here: a key in this account would
put the copies back within reach of whoever controls it); it can be shared with another account
through AWS RAM, from which its recovery points can be restored; and it "cannot be deleted
while it holds recovery points". It is a copy target: the plan's rules copy into it.

Retained and protected like every vault: leaving the program never deletes it (AWS would
refuse while it holds copies anyway).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from formkiq_backup import aws_rules


@dataclass(frozen=True)
class AirGappedVaultArgs:
    """The vault's name and retention bounds, and the account it is shared with."""

    vault_name: str
    min_retention_days: int
    max_retention_days: int
    share_with_account: str | None = None
    """A 12-digit account that may restore from the vault (AWS RAM); None: not shared."""
    protect: bool = True
    region: str | None = None
    """Region of the vault and its share (None: the provider's). A plain string."""
    tags: Mapping[str, str] = field(default_factory=dict)

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = aws_rules.vault_name_problems(self.vault_name)
        low = aws_rules.MIN_AIR_GAPPED_RETENTION_DAYS
        if not low <= self.min_retention_days <= aws_rules.MAX_LIFECYCLE_DAYS:
            found.append(f"minimum retention must be {low}..{aws_rules.MAX_LIFECYCLE_DAYS} days")
        if not self.min_retention_days <= self.max_retention_days <= aws_rules.MAX_LIFECYCLE_DAYS:
            found.append("maximum retention must be at least the minimum, at most 36500 days")
        if self.share_with_account is not None and not aws_rules.is_account_id(
            self.share_with_account
        ):
            found.append(f"share_with_account {self.share_with_account!r} is not an account id")
        if self.region is not None:
            found += aws_rules.air_gapped_region_problems(self.region)
        return found


class AirGappedVault(pulumi.ComponentResource):
    """A compliance-locked vault whose copies live in an account AWS Backup owns."""

    vault_name: pulumi.Output[str]
    vault_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: AirGappedVaultArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"AirGappedVault {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:AirGappedVault", name, None, opts)
        tags = dict(args.tags)
        vault = aws.backup.LogicallyAirGappedVault(
            f"{name}-vault",
            name=args.vault_name,
            min_retention_days=args.min_retention_days,
            max_retention_days=args.max_retention_days,
            tags=tags,
            region=args.region,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=True),
        )
        if args.share_with_account is not None:
            self._share(name, args, vault.arn, tags)
        self.vault_name = vault.name
        self.vault_arn = vault.arn
        self.register_outputs({"vaultArn": vault.arn})

    def _share(
        self,
        name: str,
        args: AirGappedVaultArgs,
        vault_arn: pulumi.Output[str],
        tags: dict[str, str],
    ) -> None:
        """The vault shared with one account. Sharing outside the organization needs external
        principals allowed; the invitation must be accepted there within 12 hours (AWS Backup
        developer guide, "Share a logically air-gapped vault")."""
        child = pulumi.ResourceOptions(parent=self)
        share = aws.ram.ResourceShare(
            f"{name}-share",
            name=f"{args.vault_name}-recovery",
            allow_external_principals=True,
            tags=tags,
            region=args.region,
            opts=child,
        )
        aws.ram.ResourceAssociation(
            f"{name}-share-vault",
            resource_arn=vault_arn,
            resource_share_arn=share.arn,
            region=args.region,
            opts=child,
        )
        aws.ram.PrincipalAssociation(
            f"{name}-share-account",
            principal=args.share_with_account,
            resource_share_arn=share.arn,
            region=args.region,
            opts=child,
        )
