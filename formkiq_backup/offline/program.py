"""Run the real Pulumi program offline: a stack's config, a sample FormKiQ, Pulumi's mocks.

No Pulumi CLI or engine is involved, so this does what the CLI would do first: merge the
`Pulumi.yaml` defaults with `Pulumi.<stack>.yaml` and hand the program strings (lists as JSON).
"""

import asyncio
import json
import logging
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.mocks import MockCallArgs

from formkiq_backup.lambdas import SOURCE_ROOT
from formkiq_backup.offline.mocks import FormKiQMocks, RecordingMonitor, RegisteredResource
from formkiq_backup.offline.samples import DEFAULT_VERSION, SampleFormKiQ, sample_formkiq

PROJECT_DIR = SOURCE_ROOT


@dataclass(frozen=True)
class StackConfig:
    """A stack's configuration as the CLI passes it to the program: full keys, string values."""

    project: str
    stack: str
    values: Mapping[str, str]

    @classmethod
    def load(
        cls,
        stack: str,
        overrides: Mapping[str, object] | None = None,
        project_dir: Path = PROJECT_DIR,
    ) -> "StackConfig":
        """`Pulumi.yaml` defaults, then `Pulumi.<stack>.yaml`, then `overrides`.

        Override keys without a namespace belong to the project; a value of None removes a key.
        """
        project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
        name = project["name"]
        values: dict[str, object] = {
            f"{name}:{key}": declared["default"]
            for key, declared in (project.get("config") or {}).items()
            if isinstance(declared, dict) and "default" in declared
        }
        stack_file = project_dir / f"Pulumi.{stack}.yaml"
        if not stack_file.exists():
            raise FileNotFoundError(f"no stack file {stack_file.name} in {project_dir.name}/")
        values.update((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {})
        for key, value in (overrides or {}).items():
            full_key = key if ":" in key else f"{name}:{key}"
            if value is None:
                values.pop(full_key, None)
            else:
                values[full_key] = value
        return cls(
            project=name,
            stack=stack,
            values={key: _as_cli_string(value) for key, value in values.items()},
        )

    def get(self, key: str) -> str | None:
        """A project key's value, if set."""
        return self.values.get(key if ":" in key else f"{self.project}:{key}")


@dataclass
class ProgramRun:
    """What one offline run registered and exported."""

    sample: SampleFormKiQ
    project: str
    stack: str
    config: StackConfig | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    resources: list[RegisteredResource] = field(default_factory=list)
    invokes: list[MockCallArgs] = field(default_factory=list)
    error: Exception | None = None
    """What the program raised, when run with raise_errors=False."""
    diagnostics: list[tuple[str, str]] = field(default_factory=list)
    """(severity, message) the program logged through pulumi.log."""

    def of_type(self, resource_type: str) -> list[RegisteredResource]:
        """Registered resources of one Pulumi type token, e.g. aws:backup/plan:Plan."""
        return [r for r in self.resources if r.type == resource_type]

    def one(self, resource_type: str) -> RegisteredResource:
        """The single resource of `resource_type`; fails if there are none or several."""
        found = self.of_type(resource_type)
        if len(found) != 1:
            raise AssertionError(f"expected one {resource_type}, found {len(found)}")
        return found[0]

    def named(self, name: str) -> RegisteredResource:
        """The resource registered under Pulumi name `name`."""
        return next(r for r in self.resources if r.name == name)


def run_program(
    stack: str,
    *,
    overrides: Mapping[str, object] | None = None,
    sample: SampleFormKiQ | None = None,
    version: str = DEFAULT_VERSION,
    project_dir: Path = PROJECT_DIR,
    raise_errors: bool = True,
) -> ProgramRun:
    """Run `__main__.py` for `stack` against a sample FormKiQ (default: one matching its config).

    Raises what the program raises, or with `raise_errors=False` keeps it in `run.error` so
    callers can see what was registered before it.
    """
    config = StackConfig.load(stack, overrides, project_dir)
    if sample is None:
        sample = sample_formkiq(
            version=version,
            app_environment=config.get("appEnvironment") or "prod",
            region=config.get("aws:region") or "us-east-1",
        )

    def program() -> None:
        runpy.run_path(str(project_dir / "__main__.py"), run_name="__main__")

    run = run_offline(
        program,
        sample=sample,
        project=config.project,
        stack=stack,
        config=config.values,
        raise_errors=raise_errors,
    )
    run.config = config
    return run


def run_offline(
    body: Callable[[], object],
    *,
    sample: SampleFormKiQ,
    project: str = "formkiq-backup",
    stack: str = "test",
    config: Mapping[str, str] | None = None,
    raise_errors: bool = True,
) -> ProgramRun:
    """Run `body` (a program, or a few components) under strict mocks answering from `sample`.

    Each run gets its own event loop, mocks and root stack, so runs never leak into each other.
    Returns once every registration has completed; stack exports land in `run.outputs`.
    """
    mocks = FormKiQMocks(sample)
    monitor = RecordingMonitor(mocks)
    run = ProgramRun(sample=sample, project=project, stack=stack)
    logger = _diagnostics_logger(run)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        pulumi.runtime.reset_options()
        pulumi.runtime.set_mocks(
            mocks, project=project, stack=stack, preview=False, monitor=monitor, logger=logger
        )
        pulumi.runtime.set_all_config(dict(config or {}))

        @pulumi.runtime.test  # type: ignore[untyped-decorator]
        def program() -> pulumi.Output[Any]:
            body()
            exports = pulumi.runtime.get_root_resource().outputs  # type: ignore[union-attr]
            keys = list(exports)
            return pulumi.Output.all(*(exports[key] for key in keys)).apply(
                lambda values: run.outputs.update(zip(keys, values, strict=True))
            )

        program()
    except Exception as error:
        if raise_errors:
            raise
        run.error = error
    finally:
        run.resources = monitor.registered()
        run.invokes = list(mocks.invokes)
        pulumi.runtime.reset_options()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)
    return run


class _DiagnosticsHandler(logging.Handler):
    def __init__(self, run: ProgramRun) -> None:
        super().__init__(logging.DEBUG)
        self.run = run

    def emit(self, record: logging.LogRecord) -> None:
        self.run.diagnostics.append((record.levelname.lower(), record.getMessage()))


def _diagnostics_logger(run: ProgramRun) -> logging.Logger:
    """A logger of this run alone: the mock engine writes pulumi.log messages to it."""
    logger = logging.getLogger(f"formkiq_backup.offline.run{id(run)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.handlers = [_DiagnosticsHandler(run)]
    return logger


def _as_cli_string(value: object) -> str:
    """How the Pulumi CLI hands a typed stack value to the program."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)
