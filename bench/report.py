"""Figures of a benchmark run: medians, ratios against the targets, tables, JSON.

Tables are printed as Markdown, so what the terminal shows is what docs/benchmarks.md quotes.
"""

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One timed repetition of a case."""

    seconds: float
    client_cpu: float
    """CPU seconds of the benchmark process, or of the hand-made script's processes."""
    server_cpu: float | None
    """CPU seconds moto_server spent meanwhile (None where /proc is not available)."""


@dataclass
class CaseFigures:
    """All repetitions of one case, and the items it read."""

    name: str
    description: str
    items_scanned: int
    items_returned: int = 0
    samples: list[Sample] = field(default_factory=list)

    @property
    def median_seconds(self) -> float:
        return statistics.median(sample.seconds for sample in self.samples)

    @property
    def items_per_second(self) -> float:
        return self.items_scanned / self.median_seconds

    @property
    def median_client_cpu(self) -> float:
        return statistics.median(sample.client_cpu for sample in self.samples)

    @property
    def median_server_cpu(self) -> float | None:
        values = [s.server_cpu for s in self.samples if s.server_cpu is not None]
        return statistics.median(values) if values else None

    def as_json(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "seconds": [round(sample.seconds, 3) for sample in self.samples],
            "medianSeconds": round(self.median_seconds, 3),
            "itemsScanned": self.items_scanned,
            "itemsReturned": self.items_returned,
            "itemsPerSecond": round(self.items_per_second, 1),
            "medianClientCpuSeconds": round(self.median_client_cpu, 3),
            "medianServerCpuSeconds": (
                None if self.median_server_cpu is None else round(self.median_server_cpu, 3)
            ),
        }


@dataclass(frozen=True)
class Target:
    """One comparison: ours against a baseline, both as median wall seconds.

    `value` is baseline seconds / our seconds: our throughput relative to the ceiling's (target
    at least 0.8), or our speed-up over the hand-made pipeline (target at least 1.5).
    """

    name: str
    ours: str
    baseline: str
    minimum: float
    judged: bool
    """False for informational comparisons shown beside the judged one."""
    value: float

    @property
    def verdict(self) -> str:
        return "PASS" if self.value >= self.minimum else "MISS"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ours": self.ours,
            "baseline": self.baseline,
            "value": round(self.value, 3),
            "target": f">= {self.minimum}",
            "verdict": self.verdict,
            "judged": self.judged,
        }


@dataclass(frozen=True)
class MemoryFigures:
    """Peak RSS growth of one operation at each table size, and the slope first to last."""

    operation: str
    sizes: tuple[int, ...]
    growth_kib: tuple[int, ...]
    seconds: tuple[float, ...]
    ru_growth_kib: tuple[int, ...]
    """The same growth as plain ru_maxrss tells it: floored by the parent's peak (probe.py)."""
    judged: bool
    """False for the raw paginator, measured for contrast."""
    maximum_bytes_per_item: float = 100.0

    @property
    def bytes_per_item(self) -> float:
        growth = (self.growth_kib[-1] - self.growth_kib[0]) * 1024
        return growth / (self.sizes[-1] - self.sizes[0])

    @property
    def verdict(self) -> str:
        return "PASS" if self.bytes_per_item < self.maximum_bytes_per_item else "MISS"

    def as_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "items": list(self.sizes),
            "growthKiB": list(self.growth_kib),
            "ruMaxrssGrowthKiB": list(self.ru_growth_kib),
            "seconds": [round(seconds, 1) for seconds in self.seconds],
            "bytesPerItem": round(self.bytes_per_item, 1),
            "target": f"< {self.maximum_bytes_per_item}",
            "verdict": self.verdict,
            "judged": self.judged,
        }


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table with padded columns."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return (
            "| " + " | ".join(cell.ljust(w) for cell, w in zip(cells, widths, strict=True)) + " |"
        )

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def cases_table(cases: Sequence[CaseFigures]) -> str:
    rows = []
    for case in cases:
        server = case.median_server_cpu
        rows.append(
            [
                f"`{case.name}`",
                case.description,
                " / ".join(f"{sample.seconds:.2f}" for sample in case.samples),
                f"{case.median_seconds:.2f}",
                f"{case.items_per_second:,.0f}",
                f"{case.items_returned:,}",
                f"{case.median_client_cpu:.2f}",
                "n/a" if server is None else f"{server:.2f}",
            ]
        )
    return markdown_table(
        [
            "case",
            "what",
            "runs (s)",
            "median s",
            "items/s",
            "items returned",
            "client CPU s",
            "server CPU s",
        ],
        rows,
    )


def targets_table(targets: Sequence[Target]) -> str:
    rows = [
        [
            target.name + ("" if target.judged else " (informational)"),
            f"`{target.baseline}` / `{target.ours}`",
            f"{target.value:.2f}",
            f">= {target.minimum}",
            target.verdict,
        ]
        for target in targets
    ]
    return markdown_table(["comparison", "median s ratio", "value", "target", "verdict"], rows)


def memory_table(memory: Sequence[MemoryFigures]) -> str:
    if not memory:
        return ""
    sizes = memory[0].sizes
    rows = [
        [
            f"`{figures.operation}`" + ("" if figures.judged else " (contrast)"),
            *(
                f"{growth:,} KiB ({seconds:.0f} s)"
                for growth, seconds in zip(figures.growth_kib, figures.seconds, strict=True)
            ),
            f"{figures.bytes_per_item:.1f}",
            f"< {figures.maximum_bytes_per_item:.0f}",
            figures.verdict if figures.judged else f"({figures.verdict})",
            " / ".join(f"{growth:,}" for growth in figures.ru_growth_kib) + " KiB",
        ]
        for figures in memory
    ]
    return markdown_table(
        [
            "operation",
            *(f"growth at {size:,} items" for size in sizes),
            f"bytes/item {sizes[0]:,} to {sizes[-1]:,}",
            "target",
            "verdict",
            "plain ru_maxrss growth",
        ],
        rows,
    )


def side_by_side_table(by_engine: dict[str, Sequence[Target]]) -> str:
    """One row per comparison, one value and verdict column per engine."""
    engines = list(by_engine)
    names: dict[str, Target] = {}
    for found in by_engine.values():
        for target in found:
            names.setdefault(target.name, target)
    rows = []
    for name, first in names.items():
        row = [
            name + ("" if first.judged else " (informational)"),
            f"`{first.baseline}` / `{first.ours}`",
            f">= {first.minimum}",
        ]
        for engine in engines:
            match = next((t for t in by_engine[engine] if t.name == name), None)
            row.append("n/a" if match is None else f"{match.value:.2f} {match.verdict}")
        rows.append(row)
    return markdown_table(["comparison", "median s ratio", "target", *engines], rows)
