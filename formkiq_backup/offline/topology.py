"""A render's DR topology as a Mermaid flowchart: regions, vaults, buckets, table replicas, and
the backup, copy and replication arrows between them (for `make review FORMAT=markdown`)."""

import re
from collections.abc import Mapping
from typing import Any

_VAULTS = (
    "aws:backup/vault:Vault",
    "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault",
)


def _node(text: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", text)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def mermaid(document: Mapping[str, Any]) -> str:
    """The flowchart text (without the ```mermaid fence)."""
    primary = document["regions"]["primary"]
    regions: dict[str, list[str]] = {primary: []}
    edges: list[str] = []
    resources = [entry for entry in document["resources"] if entry["custom"]]
    outputs = document.get("outputs", {})
    tables = outputs.get("protectedTables", [])
    buckets = outputs.get("protectedBuckets", [])
    for table in tables:
        regions[primary].append(f"{_node(table)}[({_quoted('FormKiQ table ' + table)})]")
    for bucket in buckets:
        regions[primary].append(f"{_node(bucket)}[{_quoted('FormKiQ bucket ' + bucket)}]")
    vaults_by_arn: dict[str, str] = {}
    vaults_by_name: dict[str, str] = {}
    for entry in resources:
        region = entry["region"] or primary
        inputs = entry["inputs"]
        if entry["type"] in _VAULTS:
            name = str(inputs.get("name"))
            kind = "air-gapped vault" if "logically" in entry["type"] else "vault"
            regions.setdefault(region, []).append(
                f"{_node(name)}[({_quoted(kind + ' ' + name)})]"
            )
            vaults_by_name[name] = _node(name)
            if entry.get("arn"):
                vaults_by_arn[entry["arn"]] = _node(name)
        elif entry["type"] == "aws:s3/bucket:Bucket":
            name = str(inputs.get("bucket"))
            regions.setdefault(region, []).append(f"{_node(name)}[{_quoted('bucket ' + name)}]")
        elif entry["type"] == "aws:dynamodb/tableReplica:TableReplica":
            table = str(inputs.get("globalTableArn", "")).rsplit("/", 1)[-1]
            replica = f"{table}@{region}"
            regions.setdefault(region, []).append(
                f"{_node(replica)}[({_quoted('table replica ' + table)})]"
            )
            edges.append(f"{_node(table)} -- global table --> {_node(replica)}")
    for entry in resources:
        inputs = entry["inputs"]
        if entry["type"] == "aws:backup/plan:Plan":
            for rule in inputs.get("rules", []):
                source = vaults_by_name.get(str(rule.get("targetVaultName")))
                for copy in rule.get("copyActions", []):
                    target = vaults_by_arn.get(copy.get("destinationVaultArn"))
                    if source and target:
                        edges.append(
                            f"{source} -- {_quoted('copy: ' + str(rule.get('ruleName')))} --> {target}"
                        )
                if source:
                    for item in [*tables, *buckets]:
                        edges.append(f"{_node(item)} -. {_quoted(str(rule.get('ruleName')))} .-> {source}")
        elif entry["type"] == "aws:s3/bucketReplicationConfig:BucketReplicationConfig":
            for rule in inputs.get("rules", []):
                destination = str(rule.get("destination", {}).get("bucket", "")).split(":::")[-1]
                rtc = rule.get("destination", {}).get("replicationTime", {}).get("status")
                label = "replication + RTC" if rtc == "Enabled" else "replication"
                edges.append(f"{_node(str(inputs.get('bucket')))} == {_quoted(label)} ==> {_node(destination)}")
    lines = ["flowchart LR"]
    for index, (region, nodes) in enumerate(sorted(regions.items(), key=lambda item: item[0] != primary)):
        role = "primary" if region == primary else "DR"
        lines.append(f"  subgraph region{index}[{_quoted(region + ' (' + role + ')')}]")
        lines += [f"    {node}" for node in dict.fromkeys(nodes)]
        lines.append("  end")
    lines += [f"  {edge}" for edge in dict.fromkeys(edges)]
    return "\n".join(lines)
