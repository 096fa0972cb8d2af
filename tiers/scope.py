"""Region scopes: where a capability's resources live, and what they are called there.

A stack has a primary scope (FormKiQ's region, `aws:region`) and, for tiers that keep copies or
replicas elsewhere, a DR scope (`drRegion`). Each scope has its own naming and its own alert topic:
CloudWatch alarm actions notify SNS topics in the alarm's own region, and a topic in the region it
watches keeps a regional outage from silencing the other region's alerts.

Resources reach their region through pulumi-aws 7's per-resource `region` argument, not a second
provider. The primary scope sends no `region` at all (the provider's `aws:region` applies, so
existing stacks keep their resources as they are); the DR scope sends `drRegion` as a plain
string, because a change of `region` replaces the resource.
"""

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

from formkiq_backup import aws_rules


class ScopeRole(StrEnum):
    """Which of a stack's regions a scope is."""

    PRIMARY = "primary"
    DR = "dr"


# FormKiQ's AppEnvironment can be 27 characters long (its documents bucket name,
# `formkiq-core-<env>-documents-<account>`, must stay within S3's 63). AWS names built from it
# must fit the tightest limit they meet: backup vault names allow 50 characters
# (API_CreateBackupVault), selections 50; so the environment part is capped and, when cut,
# made unique again with a digest of the whole value.
_MAX_SLUG = {ScopeRole.PRIMARY: 27, ScopeRole.DR: 24}


@dataclass(frozen=True)
class Naming:
    """Logical and AWS names for one FormKiQ environment in one region scope.

    Logical names carry the scope (`formkiq-prod` in the primary region, `formkiq-prod-dr` in
    the DR region), so a second vault or topic never collides with the first.
    """

    prefix: str

    @classmethod
    def for_environment(cls, app_environment: str, role: ScopeRole = ScopeRole.PRIMARY) -> "Naming":
        """`formkiq-<env>` (primary) or `formkiq-<env>-dr`, safe for AWS's name rules."""
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", app_environment).strip("-") or "env"
        limit = _MAX_SLUG[role]
        if len(slug) > limit:
            digest = hashlib.sha256(app_environment.encode()).hexdigest()[:6]
            slug = f"{slug[: limit - 7]}-{digest}"
        suffix = "" if role is ScopeRole.PRIMARY else f"-{role.value}"
        return cls(prefix=f"formkiq-{slug}{suffix}")

    def resource(self, concern: str) -> str:
        """The logical (and, where AWS names it, the AWS) name of one concern's resources."""
        return f"{self.prefix}-{concern}"

    def key_alias(self, purpose: str) -> str:
        return f"alias/{self.prefix}-backup-{purpose}"

    def backup_vault(self) -> str:
        """The vault's name; also what the posture guard looks for recovery points in."""
        return f"{self.prefix}-backup-vault"

    def air_gapped_vault(self) -> str:
        """The logically air-gapped vault's name (50 characters at most, like any vault's)."""
        return f"{self.prefix}-airgap-vault"

    def function(self, purpose: str) -> str:
        """A Lambda function name (64 characters at most)."""
        return self._checked("lambda function", f"{self.prefix}-{purpose}")

    def role(self, purpose: str) -> str:
        """An IAM role name (64 characters at most)."""
        return self._checked("iam role", f"{self.prefix}-{purpose}")

    def event_rule(self, purpose: str) -> str:
        """An EventBridge rule name (64 characters at most)."""
        return self._checked("event rule", f"{self.prefix}-{purpose}")

    def underscored(self, purpose: str) -> str:
        """`formkiq_prod_restore_tests`: for names that take letters, digits and underscores
        only (restore testing plans, audit frameworks and report plans); purposes are
        underscored too."""
        return f"{self.prefix}_{purpose}".replace("-", "_")

    @staticmethod
    def bucket(purpose: str, app_environment: str, account_id: str) -> str:
        """`formkiq-<env>-<purpose>-<account>`: S3 names are global, lower case, <= 63.

        FormKiQ's AppEnvironment may hold capitals, dots and underscores: lowered and dashed,
        and cut (with a digest of the whole) like the prefix when longer than 27 characters.
        """
        slug = re.sub(r"[^a-z0-9-]+", "-", app_environment.lower()).strip("-") or "env"
        limit = _MAX_SLUG[ScopeRole.PRIMARY]
        if len(slug) > limit:
            slug = f"{slug[: limit - 7]}-{hashlib.sha256(app_environment.encode()).hexdigest()[:6]}"
        return f"formkiq-{slug}-{purpose}-{account_id}"

    @staticmethod
    def _checked(kind: str, name: str) -> str:
        """`name`, or an error naming AWS's rule it breaks, before anything is registered.

        With the prefix capped at 35 characters ('formkiq-' and 27, or 24 and '-dr') the names
        built here fit; the check keeps a longer purpose from slipping through.
        """
        problems = aws_rules.resource_name_problems(kind, name)
        if problems:
            raise ValueError("; ".join(problems))
        return name


@dataclass(frozen=True)
class RegionScope:
    """One region a stack builds in: its role, its region and its names."""

    role: ScopeRole
    region_name: str
    """The AWS region, as shown in previews and outputs."""
    naming: Naming
    send_region: bool
    """Whether resources name their region explicitly (the DR scope) or take the provider's."""

    @property
    def region(self) -> str | None:
        """The value for a resource's `region` argument: None sends no `region` key."""
        return self.region_name if self.send_region else None

    @classmethod
    def primary(cls, app_environment: str, region_name: str) -> "RegionScope":
        return cls(
            ScopeRole.PRIMARY,
            region_name,
            Naming.for_environment(app_environment, ScopeRole.PRIMARY),
            send_region=False,
        )

    @classmethod
    def disaster_recovery(cls, app_environment: str, region_name: str) -> "RegionScope":
        return cls(
            ScopeRole.DR,
            region_name,
            Naming.for_environment(app_environment, ScopeRole.DR),
            send_region=True,
        )
