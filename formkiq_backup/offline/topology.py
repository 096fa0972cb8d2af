"""A render's DR topology as a Mermaid flowchart: regions, vaults, buckets, table replicas, and
the backup, copy and replication arrows between them (for `make review FORMAT=markdown`)."""

import re
from collections.abc import Mapping, Sequence
from typing import Any

_VAULTS = (
    "aws:backup/vault:Vault",
    "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault",
)
Entry = Mapping[str, Any]


def _node(text: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", text)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def mermaid(document: Mapping[str, Any]) -> str:
    """The flowchart text (without the ```mermaid fence)."""
    primary = document["regions"]["primary"]
    resources = [entry for entry in document["resources"] if entry["custom"]]
    outputs = document.get("outputs", {})
    sources = [*outputs.get("protectedTables", []), *outputs.get("protectedBuckets", [])]
    regions = _nodes(resources, primary, outputs)
    edges = _edges(resources, sources)
    lines = ["flowchart LR"]
    ordered = sorted(regions.items(), key=lambda item: item[0] != primary)
    for index, (region, nodes) in enumerate(ordered):
        role = "primary" if region == primary else "DR"
        lines.append(f"  subgraph region{index}[{_quoted(region + ' (' + role + ')')}]")
        lines += [f"    {node}" for node in dict.fromkeys(nodes)]
        lines.append("  end")
    lines += [f"  {edge}" for edge in dict.fromkeys(edges)]
    return "\n".join(lines)


def _nodes(
    resources: Sequence[Entry], primary: str, outputs: Mapping[str, Any]
) -> dict[str, list[str]]:
    """Each region's nodes: FormKiQ's tables and bucket, vaults, buckets, table replicas."""
    regions: dict[str, list[str]] = {primary: []}
    for table in outputs.get("protectedTables", []):
        regions[primary].append(f"{_node(table)}[({_quoted('FormKiQ table ' + table)})]")
    for bucket in outputs.get("protectedBuckets", []):
        regions[primary].append(f"{_node(bucket)}[{_quoted('FormKiQ bucket ' + bucket)}]")
    for entry in resources:
        region, inputs = entry["region"] or primary, entry["inputs"]
        if entry["type"] in _VAULTS:
            name = str(inputs.get("name"))
            kind = "air-gapped vault" if "logically" in entry["type"] else "vault"
            regions.setdefault(region, []).append(f"{_node(name)}[({_quoted(kind + ' ' + name)})]")
        elif entry["type"] == "aws:s3/bucket:Bucket":
            name = str(inputs.get("bucket"))
            regions.setdefault(region, []).append(f"{_node(name)}[{_quoted('bucket ' + name)}]")
        elif entry["type"] == "aws:dynamodb/tableReplica:TableReplica":
            table = str(inputs.get("globalTableArn", "")).rsplit("/", 1)[-1]
            regions.setdefault(region, []).append(
                f"{_node(table + '@' + region)}[({_quoted('table replica ' + table)})]"
            )
    return regions


def _edges(resources: Sequence[Entry], sources: Sequence[str]) -> list[str]:
    """Backups into vaults, copies between vaults, bucket replication, table replicas."""
    vaults = {
        str(entry["inputs"].get("name")): entry.get("arn")
        for entry in resources
        if entry["type"] in _VAULTS
    }
    by_arn = {arn: _node(name) for name, arn in vaults.items() if arn}
    edges: list[str] = []
    for entry in resources:
        inputs = entry["inputs"]
        if entry["type"] == "aws:backup/plan:Plan":
            for rule in inputs.get("rules", []):
                vault = str(rule.get("targetVaultName"))
                if vault not in vaults:
                    continue
                label = _quoted(str(rule.get("ruleName")))
                edges += [f"{_node(source)} -. {label} .-> {_node(vault)}" for source in sources]
                edges += [
                    f"{_node(vault)} -- {_quoted('copy: ' + str(rule.get('ruleName')))} --> "
                    f"{by_arn[copy['destinationVaultArn']]}"
                    for copy in rule.get("copyActions", [])
                    if copy.get("destinationVaultArn") in by_arn
                ]
        elif entry["type"] == "aws:s3/bucketReplicationConfig:BucketReplicationConfig":
            for rule in inputs.get("rules", []):
                destination = rule.get("destination", {})
                target = str(destination.get("bucket", "")).split(":::")[-1]
                rtc = destination.get("replicationTime", {}).get("status") == "Enabled"
                label = _quoted("replication + RTC" if rtc else "replication")
                edges.append(f"{_node(str(inputs.get('bucket')))} == {label} ==> {_node(target)}")
        elif entry["type"] == "aws:dynamodb/tableReplica:TableReplica":
            table = str(inputs.get("globalTableArn", "")).rsplit("/", 1)[-1]
            edges.append(
                f"{_node(table)} -- global table --> {_node(table + '@' + entry['region'])}"
            )
    return edges
