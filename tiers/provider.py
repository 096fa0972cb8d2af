"""The tier components as a Pulumi plugin, for programs in any Pulumi language.

`pulumi package add <this repository>` runs provider/__main__.py (PulumiPlugin.yaml says so),
which calls `serve()`: Pulumi's component provider host infers the schema from
tiers/components.py (schema.json is its snapshot) and constructs a component whenever a
program in TypeScript, Go, C#, Java or YAML declares `formkiq-backup:index:<Tier>Backup`.
"""

from pulumi.provider.experimental import component_provider_host

from tiers.component_base import PACKAGE, VERSION, ArgumentNaming, name_arguments
from tiers.components import COMPONENTS


def serve() -> None:
    """Host the four tier components until the engine is done with them."""
    # The host hands arguments over under their Python names, but the caller wrote them in
    # camelCase (the schema's names): errors must name what the caller wrote.
    name_arguments(ArgumentNaming.SCHEMA)
    component_provider_host(list(COMPONENTS), name=PACKAGE, version=VERSION)
