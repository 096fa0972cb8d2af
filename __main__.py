"""formkiq-backup: tiered backup and disaster recovery around an existing FormKiQ stack.

Parse the stack's config, discover FormKiQ, build the tier, export what it promises.
"""

import pulumi

from formkiq_backup.config import ConfigError, read_pulumi_config
from formkiq_backup.discovery import DiscoveryError, PulumiInvokeReader, discover
from tiers.builder import TierNotBuildableError, build_tier, ensure_buildable
from tiers.definitions import TIERS

try:
    settings = read_pulumi_config()
    spec = TIERS[settings.tier]
    ensure_buildable(spec)
    environment = discover(PulumiInvokeReader(), settings.app_environment)
except (ConfigError, TierNotBuildableError) as error:
    # RunError prints the message alone: these are the user's to fix, not stack traces.
    raise pulumi.RunError(str(error)) from error
except DiscoveryError as error:
    # Pulumi reports a failed invoke (a missing table) ahead of this error, so say what it
    # means as a diagnostic too; the CLI always shows those.
    pulumi.log.error(str(error))
    raise pulumi.RunError(str(error)) from error

deployment = build_tier(spec, settings, environment)
for output_name, value in deployment.outputs().items():
    pulumi.export(output_name, value)
