"""Tier definitions (`tiers.definitions`, plain data) and the builder (`tiers.builder`, Pulumi).

Importing this package loads only the definitions, so tools that only read what a tier
promises need not load Pulumi.
"""

from tiers.definitions import TIERS, Capability, DataClass, RecoveryObjective, RuleKind, TierSpec

__all__ = ["TIERS", "Capability", "DataClass", "RecoveryObjective", "RuleKind", "TierSpec"]
