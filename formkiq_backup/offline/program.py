"""Run the real Pulumi program offline: a stack's config, a sample FormKiQ, Pulumi's mocks.

No Pulumi CLI or engine is involved, so this does what the CLI would do first: read
`Pulumi.yaml` and `Pulumi.<stack>.yaml` as YAML 1.2, merge the project's defaults with the
stack's values and hand the program strings (lists as JSON). Because it reads the stack file,
it also finds what the CLI lets through unchecked and the program cannot see: keys of this
project that Pulumi.yaml does not declare, keys in a look-alike namespace, nulls.
"""

import asyncio
import json
import logging
import re
import runpy
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime.mocks import MockCallArgs

from formkiq_backup.config import (
    NULL,
    SETTINGS_BY_KEY,
    ConfigError,
    ConfigProblem,
    parse_settings,
    stack_key_problems,
    unknown_key_problems,
)
from formkiq_backup.lambdas import SOURCE_ROOT
from formkiq_backup.offline.mocks import FormKiQMocks, RecordingMonitor, RegisteredResource
from formkiq_backup.offline.samples import DEFAULT_VERSION, SampleFormKiQ, sample_formkiq

PROJECT_DIR = SOURCE_ROOT


class StackFileError(ValueError):
    """A project or stack file Pulumi would refuse to read; the message names file and key."""


# What a stack file may hold at its top level (Pulumi stack settings file reference,
# "Attributes"); Pulumi reads settings only from `config`.
STACK_FILE_ATTRIBUTES = (
    "secretsprovider",
    "encryptedkey",
    "encryptionsalt",
    "config",
    "environment",
)
# `pulumi config set --secret` writes a value as `{secure: <ciphertext>}`, decrypted by the CLI
# with the stack's secrets provider: an offline render has neither.
SECURE = "secure"
ENCRYPTED = "(encrypted: secure)"


@dataclass(frozen=True)
class StackConfig:
    """A stack's configuration as the CLI passes it to the program: full keys, string values."""

    project: str
    stack: str
    values: Mapping[str, str]
    problems: tuple[ConfigProblem, ...] = ()
    """What the stack file says that Pulumi would pass on but no one would read as meant."""
    notices: tuple[str, ...] = ()
    """What the render shows other than as written (encrypted values it cannot decrypt)."""
    shadowed: frozenset[str] = frozenset()
    """Full keys the file gives only where nothing reads them: reported once, not as missing."""
    stack_keys: frozenset[str] = frozenset()
    """Full keys the stack file (or an override) sets; the rest come from Pulumi.yaml."""

    @classmethod
    def load(
        cls,
        stack: str,
        overrides: Mapping[str, object] | None = None,
        project_dir: Path = PROJECT_DIR,
    ) -> "StackConfig":
        """`Pulumi.yaml` defaults, then `Pulumi.<stack>.yaml`, then `overrides`.

        Override keys without a namespace belong to the project; a value of None removes a key.
        Raises FileNotFoundError or StackFileError.
        """
        project_file = project_dir / "Pulumi.yaml"
        project = _mapping(read_yaml(project_file), project_file.name, "the file")
        name = project.get("name")
        if not isinstance(name, str) or not name:
            raise StackFileError(f"{project_file.name}: `name` must be the project's name")
        declared = _mapping(project.get("config"), project_file.name, "config")
        values: dict[str, object] = {
            key if ":" in key else f"{name}:{key}": _cli_string(entry["default"])
            for key, entry in declared.items()
            if isinstance(entry, dict) and "default" in entry
        }
        stack_file = project_dir / f"Pulumi.{stack}.yaml"
        if not stack_file.exists():
            raise FileNotFoundError(f"no stack file {stack_file.name} in {project_dir.name}/")
        document = read_yaml(stack_file, literal_config=True)
        settings = _mapping(document, stack_file.name, "the file")
        misplaced, shadowed = _misplaced_keys(settings, stack_file, name)
        stack_values = _mapping(settings.get("config"), stack_file.name, "config")
        offline = _OfflineValues.of(stack_values, name)
        values.update((key, _cli_string(value)) for key, value in offline.values.items())
        stack_keys = set(offline.values)
        for key, value in (overrides or {}).items():
            full_key = key if ":" in key else f"{name}:{key}"
            if value is None:
                values.pop(full_key, None)
                stack_keys.discard(full_key)
            else:
                values[full_key] = _cli_string(value)
                stack_keys.add(full_key)
        return cls(
            project=name,
            stack=stack,
            values={key: str(value) for key, value in values.items() if value is not NULL},
            problems=(*misplaced, *offline.problems, *stack_key_problems(values)),
            notices=offline.notices,
            shadowed=shadowed,
            stack_keys=frozenset(stack_keys),
        )

    def get(self, key: str) -> str | None:
        """A project key's value, if set."""
        return self.values.get(self._full_key(key))

    def _full_key(self, key: str) -> str:
        return key if ":" in key else f"{self.project}:{key}"

    def project_values(self) -> dict[str, str]:
        """The project's keys, namespace stripped, as parse_settings takes them."""
        prefix = f"{self.project}:"
        return {k[len(prefix) :]: v for k, v in self.values.items() if k.startswith(prefix)}

    def rejection(self) -> ConfigError | None:
        """What the stack file holds that the program cannot see, with every other problem.

        The CLI passes undeclared keys of the project to the program unchecked (it validates
        only those Pulumi.yaml declares) and the SDK cannot list keys, so only a reader of the
        stack file finds them: here, before the program runs.
        """
        values = self.project_values()
        found = [*self.problems, *unknown_key_problems(values)]
        if not found:
            return None
        declared = {key: value for key, value in values.items() if key in SETTINGS_BY_KEY}
        try:
            warnings = parse_settings(declared, self.get("aws:region")).warnings
        except ConfigError as error:
            # A key reported for the stack file (a null, one in the wrong place, one encrypted)
            # is not reported again as missing or invalid.
            reported = {problem.values[0][0] for problem in self.problems} | self.shadowed
            found.extend(
                problem
                for problem in error.problems
                if self._full_key(problem.values[0][0]) not in reported
            )
            warnings = error.warnings
        return ConfigError(found, warnings=warnings)


def _misplaced_keys(
    settings: Mapping[str, object], stack_file: Path, project: str
) -> tuple[list[ConfigProblem], frozenset[str]]:
    """Top-level keys Pulumi does not read: a setting written without its `config:` wrapper
    (or indented under nothing) is silently ignored, and the stack then lacks it."""
    lines = _top_level_lines(stack_file)
    problems: list[ConfigProblem] = []
    shadowed: set[str] = set()
    for key, value in settings.items():
        if key in STACK_FILE_ATTRIBUTES:
            continue
        where = f"at the top level of {stack_file.name} (line {lines.get(key, '?')})"
        setting_like = ":" in key or key in SETTINGS_BY_KEY or key in (project, "aws", "pulumi")
        if isinstance(value, dict) and ":" not in key:
            shadowed.update(f"{key}:{name}" for name in value)
            fix = f"write each as {key}:<name>: <value>, indented under config:"
        else:
            shadowed.add(key if ":" in key else f"{project}:{key}")
            fix = "indent it under config:"
        rule = (
            f"is {where}, not under `config:`: Pulumi reads stack settings only from the "
            f"config mapping, so nothing reads it; {fix}"
            if setting_like
            else f"is {where}, which holds only {', '.join(STACK_FILE_ATTRIBUTES)}: nothing "
            "reads it"
        )
        problems.append(ConfigProblem(((key, _shown(value)),), rule))
    return problems, frozenset(shadowed)


def _top_level_lines(path: Path) -> dict[str, int]:
    """The line each top-level key of a (readable) YAML file starts on."""
    root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return {}
    return {
        str(key.value): key.start_mark.line + 1
        for key, _ in root.value
        if isinstance(key, yaml.ScalarNode)
    }


def _shown(value: object) -> object:
    """A value as a problem shows it: lists and mappings as the file wrote them."""
    return value if isinstance(value, str | int | float | bool | list | dict) else str(value)


@dataclass(frozen=True)
class _OfflineValues:
    """A stack file's `config` with its encrypted values handled as an offline render can."""

    values: Mapping[str, object]
    problems: tuple[ConfigProblem, ...]
    notices: tuple[str, ...]

    @classmethod
    def of(cls, stack_values: Mapping[str, object], project: str) -> "_OfflineValues":
        """A stand-in where the value only labels something (an e-mail endpoint); a problem
        where it shapes what is built (it cannot be shown without being decrypted); anything
        outside this project and `aws:region` is not read by the program at all."""
        values: dict[str, object] = {}
        problems: list[ConfigProblem] = []
        notices: list[str] = []
        for key, value in stack_values.items():
            if not _is_encrypted(value) and not (
                isinstance(value, list) and any(_is_encrypted(item) for item in value)
            ):
                values[key] = value
                continue
            namespace, _, name = key.partition(":")
            setting = SETTINGS_BY_KEY.get(name) if namespace == project else None
            if setting is not None and setting.labels_only:
                stand_ins = _stand_ins(value, name)
                values[key] = stand_ins
                notices.append(
                    f"{key} holds encrypted values (secure:) that an offline render cannot "
                    f"decrypt: shown as {', '.join(stand_ins)}, each .invalid address standing "
                    "in for one (names derived from them differ too); `pulumi preview` shows "
                    "the real ones"
                )
            elif setting is not None or key == "aws:region":
                problems.append(
                    ConfigProblem(
                        ((key, ENCRYPTED),),
                        "is encrypted (secure:), and an offline render cannot decrypt it; it "
                        "decides what is built, so no stand-in can show this stack: keep it in "
                        "plain text (it is not a secret), or review with `pulumi preview`",
                    )
                )
            else:
                values[key] = ENCRYPTED
                notices.append(
                    f"{key} is encrypted (secure:): the program does not read it, so the "
                    "offline render goes on without it"
                )
        return cls(values, tuple(problems), tuple(notices))


def _is_encrypted(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {SECURE}


def _stand_ins(value: object, key: str) -> list[str]:
    """Plain items kept, each encrypted one (or the whole encrypted list) a reserved address
    (`.invalid` never resolves: RFC 2606)."""
    items = value if isinstance(value, list) else [value]
    return [
        f"encrypted-{index}@{key.lower()}.invalid" if _is_encrypted(item) else str(item)
        for index, item in enumerate(items, start=1)
    ]


# --- YAML 1.2, as Pulumi reads its files ----------------------------------------------------

# The YAML 1.2 core schema's plain scalars (yaml.org/spec/1.2.2, 10.3.2). PyYAML resolves
# YAML 1.1 (`yes` a boolean, `1:00` the number 60), which Pulumi does not.
_CORE_NULL = re.compile(r"~|null|Null|NULL|")
_CORE_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_CORE_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_CORE_FLOAT = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.nan|\.NaN|\.NAN"
)


def read_yaml(path: Path, *, literal_config: bool = False) -> object:
    """A YAML file as Pulumi reads it: YAML 1.2 core schema, a key given twice an error.

    With `literal_config`, the scalars under `config:` stay as written (`yes`, `1:00`, `35.0`):
    the CLI hands a stack value's text to the program, which must then judge it.
    """
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise StackFileError(f"{path.name}{where}: not valid YAML ({problem})") from None
    except UnicodeDecodeError:
        raise StackFileError(f"{path.name}: not a UTF-8 text file") from None
    if root is None:
        return None
    if literal_config and isinstance(root, yaml.MappingNode):
        document = _typed(root, path.name)
        assert isinstance(document, dict)
        config_node = next(
            (v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "config"),
            None,
        )
        if isinstance(config_node, yaml.MappingNode):
            document["config"] = {
                _typed(key, path.name): _literal(value, path.name)
                for key, value in config_node.value
            }
        return document
    return _typed(root, path.name)


def _typed(node: yaml.Node, file: str) -> object:
    if isinstance(node, yaml.ScalarNode):
        return _core_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return [_typed(item, file) for item in node.value]
    assert isinstance(node, yaml.MappingNode)
    result: dict[object, object] = {}
    lines: dict[object, int] = {}
    for key_node, value_node in node.value:
        key = _typed(key_node, file)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str | int | float | bool) or key is None:
            raise StackFileError(f"{file}, line {line}: a key must be a plain value")
        if key in lines:
            raise StackFileError(
                f"{file}, line {line}: key {key} is given twice (first on line {lines[key]}); "
                "Pulumi refuses a file with a duplicate key: keep one"
            )
        lines[key] = line
        result[key] = _typed(value_node, file)
    return result


def _literal(node: yaml.Node, file: str) -> object:
    """A stack value as the CLI hands it on: a scalar's text, null as NULL, else typed."""
    if isinstance(node, yaml.ScalarNode):
        return NULL if node.style is None and _CORE_NULL.fullmatch(node.value) else node.value
    return _typed(node, file)


def _core_scalar(node: yaml.ScalarNode) -> object:
    text = node.value
    if node.style is not None:  # quoted or block: always a string
        return text
    if _CORE_NULL.fullmatch(text):
        return None
    if _CORE_BOOL.fullmatch(text):
        return text.lower() == "true"
    if _CORE_INT.fullmatch(text):
        return int(text, 0) if text[:2] in ("0o", "0x") else int(text)
    if _CORE_FLOAT.fullmatch(text):
        return float(text.replace("inf", "Infinity").replace("Inf", "Infinity"))
    return text


def _mapping(value: object, file: str, where: str) -> dict[str, object]:
    """`where` of `file` as a mapping of string keys (absent or empty: no entries)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        kind = "a list" if isinstance(value, list) else f"the value {json.dumps(value)}"
        raise StackFileError(f"{file}: {where} must be a mapping of key: value, not {kind}")
    for key in value:
        if not isinstance(key, str):
            raise StackFileError(
                f"{file}: {where} has the key {json.dumps(key)}; keys are namespace:name strings"
            )
    return value


def _cli_string(value: object) -> object:
    """How the Pulumi CLI hands a typed value to the program: a string, lists as JSON."""
    if value is NULL or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


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
    callers can see what was registered before it. What only the stack file shows (an unknown
    key, a look-alike namespace, a null) is a ConfigError before the program runs; a file
    Pulumi could not read raises StackFileError (or FileNotFoundError) in either mode.
    """
    config = StackConfig.load(stack, overrides, project_dir)
    rejection = config.rejection()
    if rejection is not None:
        if raise_errors:
            raise rejection
        return ProgramRun(
            sample=sample or sample_formkiq(version=version),
            project=config.project,
            stack=stack,
            config=config,
            error=rejection,
        )
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
    # The mock monitor answers in the loop's default executor, and Pulumi's _sync_await gives
    # each of its threads an event loop that nothing closes. Left to the garbage collector at
    # interpreter exit, such a loop is finalized after its self-pipe ("Exception ignored in
    # BaseEventLoop.__del__ ... Invalid file descriptor"). So the threads get loops we close.
    thread_loops: list[asyncio.AbstractEventLoop] = []
    executor = ThreadPoolExecutor(
        thread_name_prefix="pulumi-mocks", initializer=_give_thread_a_loop, initargs=(thread_loops,)
    )
    loop.set_default_executor(executor)
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
        executor.shutdown(wait=True)
        for thread_loop in thread_loops:
            thread_loop.close()
        loop.close()
        asyncio.set_event_loop(None)
    return run


def _give_thread_a_loop(loops: list[asyncio.AbstractEventLoop]) -> None:
    """Executor thread initializer: the loop Pulumi's mocks will find there, closed by us."""
    thread_loop = asyncio.new_event_loop()
    asyncio.set_event_loop(thread_loop)
    loops.append(thread_loop)


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
