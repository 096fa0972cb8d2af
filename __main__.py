"""formkiq-backup: tiered backup and disaster recovery around an existing FormKiQ stack.

Read the stack's config, build the tier's component (`StandardBackup prod`, named after the
FormKiQ environment it protects), export what it promises.
"""

import pulumi

from formkiq_backup.config import ConfigError, read_pulumi_config
from formkiq_backup.discovery import DiscoveryError
from tiers.builder import TierNotBuildableError
from tiers.component_base import ArgumentNaming, naming_arguments
from tiers.components import TIER_COMPONENTS

try:
    stack = read_pulumi_config()
    with naming_arguments(ArgumentNaming.STACK):
        backup = TIER_COMPONENTS[stack.settings.tier](
            stack.settings.app_environment, stack.arguments
        )
except (ConfigError, TierNotBuildableError) as error:
    # RunError prints the message alone: these are the user's to fix, not stack traces.
    raise pulumi.RunError(str(error)) from error
except DiscoveryError as error:
    # Pulumi reports a failed invoke (a missing table) ahead of this error, so say what it
    # means as a diagnostic too; the CLI always shows those.
    pulumi.log.error(str(error))
    raise pulumi.RunError(str(error)) from error

for output_name, value in backup.stack_outputs().items():
    pulumi.export(output_name, value)
