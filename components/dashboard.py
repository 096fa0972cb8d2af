"""Dashboard: one CloudWatch dashboard of what a stack watches, laid out from plain data.

Components that publish or watch a metric describe it as a `Widget` next to the alarm they
raise on it, so the dashboard shows what the alarms judge and nothing is listed twice. The
dashboard lives in one region; a widget whose metrics live elsewhere (the DR region) names its
region, which a CloudWatch metric widget may (CloudWatch dashboard body structure, metric
widget `region`). Every alarm of the stack appears in an alarm status widget with its state.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

# PutDashboard DashboardName: "can contain only alphanumerics, dash (-), and underscore (_)",
# up to 255 characters (AmazonCloudWatch/latest/APIReference/API_PutDashboard.html).
_DASHBOARD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# Dashboard body structure: a dashboard holds at most 500 widgets, a metric widget at most 500
# metrics and an alarm status widget at most 100 alarms (CloudWatch-Dashboard-Body-Structure).
MAX_WIDGETS = 500
MAX_METRICS_PER_WIDGET = 500
MAX_ALARMS_PER_WIDGET = 100
GRID_WIDTH = 24
_WIDGET_WIDTH, _WIDGET_HEIGHT = 12, 6
# The console's address by partition: a dashboard's URL output opens it there.
_CONSOLE = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}

View = Literal["timeSeries", "singleValue"]


@dataclass(frozen=True)
class MetricLine:
    """One metric on a widget: what CloudWatch calls it, and the label a reader sees."""

    namespace: str
    metric_name: str
    dimensions: Mapping[str, pulumi.Input[str]]
    label: str
    stat: str = "Sum"


@dataclass(frozen=True)
class Widget:
    """A metric widget a component contributes, under a section heading of the dashboard."""

    section: str
    """The heading it goes under ("Posture checks", "Backup and restore jobs", ...)."""
    title: str
    metrics: Sequence[MetricLine]
    region: str | None = None
    """Where its metrics are published; None: the dashboard's own region."""
    period_seconds: int = 300
    view: View = "timeSeries"
    y_range: tuple[float, float] | None = None
    """Fixed left axis, e.g. (0, 1) for a check that publishes 1 (healthy) or 0."""

    def problems(self) -> list[str]:
        found = []
        if not self.metrics:
            found.append(f"widget {self.title!r} shows no metric")
        if len(self.metrics) > MAX_METRICS_PER_WIDGET:
            found.append(f"widget {self.title!r} has more than {MAX_METRICS_PER_WIDGET} metrics")
        if self.period_seconds < 60 or self.period_seconds % 60:
            found.append(f"widget {self.title!r}: period must be a multiple of 60 seconds")
        return found


@dataclass(frozen=True)
class DashboardArgs:
    """The dashboard's name and home region, its widgets and the alarms to show."""

    dashboard_name: str
    title: str
    """Markdown heading at the top of the dashboard."""
    region_name: str
    """The dashboard's region, named by metric widgets without a region of their own."""
    account_id: str
    partition: str
    widgets: Sequence[Widget] = ()
    alarms: Mapping[str, Sequence[pulumi.Input[str]]] = field(default_factory=dict)
    """Alarm names by the region they live in: one alarm status widget per region."""
    description: str = ""
    """Markdown under the heading: what to read first."""
    region: str | None = None
    """The `region` argument of the dashboard resource; None: the provider's region."""

    def problems(self) -> list[str]:
        """Argument errors, reported before any resource is registered."""
        found = []
        if not _DASHBOARD_NAME.match(self.dashboard_name):
            found.append(
                f"dashboard name {self.dashboard_name!r} must be 1..255 letters, digits, '-' or "
                "'_' (PutDashboard)"
            )
        for widget in self.widgets:
            found += widget.problems()
        count = len(layout(self, self.alarms))
        if count > MAX_WIDGETS:
            found.append(f"{count} widgets; a dashboard holds at most {MAX_WIDGETS}")
        return found

    @property
    def url(self) -> str:
        """The dashboard in the CloudWatch console of its partition."""
        console = _CONSOLE.get(self.partition, _CONSOLE["aws"])
        return (
            f"https://{self.region_name}.{console}/cloudwatch/home?region={self.region_name}"
            f"#dashboards/dashboard/{self.dashboard_name}"
        )


def alarm_arn(partition: str, region: str, account_id: str, name: str) -> str:
    return f"arn:{partition}:cloudwatch:{region}:{account_id}:alarm:{name}"


def layout(args: DashboardArgs, alarm_arns: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The dashboard's widgets, placed: heading, alarm states by region, then each section's
    metric widgets two to a row, in the order the sections were first contributed."""
    placed: list[dict[str, Any]] = []
    y = 0

    def put(widget: dict[str, Any], width: int, height: int, x: int = 0) -> None:
        placed.append({**widget, "x": x, "y": y, "width": width, "height": height})

    put(_text(f"# {args.title}\n{args.description}".strip()), GRID_WIDTH, 2)
    y += 2
    for region, arns in alarm_arns.items():
        for start in range(0, len(arns), MAX_ALARMS_PER_WIDGET):
            chunk = list(arns[start : start + MAX_ALARMS_PER_WIDGET])
            height = 2 + (len(chunk) + 3) // 4
            title = f"Alarms in {region} ({len(arns)})"
            put(_alarm_status(title, chunk), GRID_WIDTH, height)
            y += height
    sections: dict[str, list[Widget]] = {}
    for widget in args.widgets:
        sections.setdefault(widget.section, []).append(widget)
    for section, widgets in sections.items():
        put(_text(f"## {section}"), GRID_WIDTH, 1)
        y += 1
        for index, widget in enumerate(widgets):
            put(_metric(widget, args.region_name), _WIDGET_WIDTH, _WIDGET_HEIGHT, 12 * (index % 2))
            if index % 2 or index == len(widgets) - 1:
                y += _WIDGET_HEIGHT
    return placed


def _text(markdown: str) -> dict[str, Any]:
    return {"type": "text", "properties": {"markdown": markdown}}


def _alarm_status(title: str, arns: Sequence[Any]) -> dict[str, Any]:
    # Alarms in ALARM first, then those without data, then OK; each group newest change first.
    return {
        "type": "alarm",
        "properties": {"title": title, "alarms": list(arns), "sortBy": "stateUpdatedTimestamp"},
    }


def _metric(widget: Widget, home_region: str) -> dict[str, Any]:
    metrics: list[list[Any]] = []
    for line in widget.metrics:
        row: list[Any] = [line.namespace, line.metric_name]
        for name, value in line.dimensions.items():
            row += [name, value]
        row.append({"label": line.label, "stat": line.stat})
        metrics.append(row)
    properties: dict[str, Any] = {
        "title": widget.title,
        "region": widget.region or home_region,
        "view": widget.view,
        "period": widget.period_seconds,
        "metrics": metrics,
    }
    if widget.y_range is not None:
        low, high = widget.y_range
        properties["yAxis"] = {"left": {"min": low, "max": high}}
    return {"type": "metric", "properties": properties}


class Dashboard(pulumi.ComponentResource):
    """The stack's dashboard: alarm states first, then each capability's metrics."""

    dashboard_name: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self, name: str, args: DashboardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        problems = args.problems()
        if problems:
            raise ValueError(f"Dashboard {name!r}: " + "; ".join(problems))
        super().__init__("formkiq-backup:index:Dashboard", name, None, opts)
        arns = {
            region: [
                pulumi.Output.concat(alarm_arn(args.partition, region, args.account_id, ""), alarm)
                for alarm in names
            ]
            for region, names in args.alarms.items()
            if names
        }
        dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=args.dashboard_name,
            dashboard_body=pulumi.Output.json_dumps({"widgets": layout(args, arns)}),
            region=args.region,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.dashboard_name = dashboard.dashboard_name
        self.url = pulumi.Output.from_input(args.url)
        self.register_outputs({"dashboardName": dashboard.dashboard_name, "url": self.url})
