"""The URNs the Pulumi engine would give an offline run's resources, and the aliases it matches.

Pulumi's mock monitor builds a URN from the immediate parent's type alone (prefixing a top-level
resource with the root stack's type) and resolves no alias. The engine's URN carries the type
of every ancestor but the root stack (`StandardBackup$BackupVault$aws:backup/vault:Vault`), and
the engine looks each resource up in the previous state by its URN, then by each alias: its own,
collapsed to a URN, then those inherited from a parent that was itself found through an alias.
This module computes both from a run's recorded registrations, following the engine's step
generator (pulumi/pulumi, pkg/resource/deploy/step_generator.go: generateURN, generateAliases,
collapseAliasToUrn, inheritedChildAlias), so tests can say which resource of a previous state
each new registration would update and which would be deleted.

What it cannot show: that a real engine agrees. It restates the engine's rules for the alias
forms this package uses (a name, a type, no parent, a parent URN); tests built on it prove the
aliases are there and aimed right, not the engine.
"""

from collections.abc import Collection, Mapping, Sequence

from formkiq_backup.offline.mocks import AliasSpec, RegisteredResource

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def parts(urn: str) -> tuple[str, str, str, str]:
    """`urn:pulumi:<stack>::<project>::<qualified type>::<name>` as its four parts."""
    head, project, qualified_type, *name = urn.split("::")
    return head.removeprefix("urn:pulumi:"), project, qualified_type, "::".join(name)


def make_urn(stack: str, project: str, qualified_type: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{project}::{qualified_type}::{name}"


def engine_urns(resources: Sequence[RegisteredResource]) -> dict[str, str]:
    """Each resource's mock URN -> the URN the engine would give it."""
    by_mock_urn = {resource.urn: resource for resource in resources}

    def qualified(resource: RegisteredResource) -> str:
        parent = by_mock_urn.get(resource.parent_urn)
        return resource.type if parent is None else f"{qualified(parent)}${resource.type}"

    urns = {}
    for resource in resources:
        stack, project, _, _ = parts(resource.urn)
        urns[resource.urn] = make_urn(stack, project, qualified(resource), resource.name)
    return urns


def matches(
    previous: Collection[str], resources: Sequence[RegisteredResource]
) -> dict[str, str | None]:
    """For each resource, by engine URN: the URN of `previous` the engine would update with it
    (its own URN, else the first of its aliases found there), or None where it is new.

    `resources` in registration order: a parent registers before its children.
    """
    resolver = _Resolver(engine_urns(resources))
    matched: dict[str, str | None] = {}
    for resource in resources:
        urn = resolver.urns[resource.urn]
        candidates = [urn, *resolver.aliases(resource)]
        found = next((candidate for candidate in candidates if candidate in previous), None)
        if found is not None and found != urn:
            resolver.found_through_alias[urn] = found
        matched[urn] = found
    return matched


class _Resolver:
    """The step generator's alias rules, over one run's engine URNs."""

    def __init__(self, urns: Mapping[str, str]) -> None:
        self.urns = urns
        self.found_through_alias: dict[str, str] = {}
        """Engine URN -> the previous URN it was found under (sg.aliases)."""

    def aliases(self, resource: RegisteredResource) -> list[str]:
        """generateAliases: the resource's own aliases, then those its parent's alias implies."""
        parent = self.urns.get(resource.parent_urn)
        own = [self._collapse(alias, resource) for alias in resource.aliases]
        aliases = list(own)
        if parent is not None and parent in self.found_through_alias:
            parent_alias, parent_name = self.found_through_alias[parent], parts(parent)[3]
            aliases.append(_inherited(resource.type, resource.name, parent_name, parent_alias))
            for alias in own:
                _, _, qualified_type, name = parts(alias)
                child_type = qualified_type.split("$")[-1]
                aliases.append(_inherited(child_type, name, parent_name, parent_alias))
        return list(dict.fromkeys(aliases))

    def _collapse(self, alias: AliasSpec, resource: RegisteredResource) -> str:
        """collapseAliasToUrn: an alias spec as the URN it names."""
        if alias.urn:
            return alias.urn
        stack, project, _, _ = parts(self.urns[resource.urn])
        parent = self.urns.get(resource.parent_urn)
        if alias.no_parent:
            parent = None
        elif alias.parent_urn:
            named = self.urns.get(alias.parent_urn, alias.parent_urn)
            parent = self.found_through_alias.get(named, named)
        if parent is not None and parts(parent)[2] == ROOT_STACK_TYPE:
            parent = None
        qualified_type = alias.type or resource.type
        if parent is not None:
            qualified_type = f"{parts(parent)[2]}${qualified_type}"
        return make_urn(stack, project, qualified_type, alias.name or resource.name)


def _inherited(child_type: str, child_name: str, parent_name: str, parent_alias: str) -> str:
    """inheritedChildAlias: the child's URN under its parent's old URN (and old name, where
    the child's name starts with the parent's)."""
    stack, project, parent_type, old_parent_name = parts(parent_alias)
    name = child_name
    if child_name.startswith(parent_name):
        name = old_parent_name + child_name[len(parent_name) :]
    return make_urn(stack, project, f"{parent_type}${child_type}", name)
