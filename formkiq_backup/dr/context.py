"""What every `formkiq-dr` command shares: AWS clients, the discovered environment, errors.

Clients honour the standard AWS settings (profile, region, AWS_ENDPOINT_URL and friends, each
endpoint checked before the first client is made) and retry in botocore's adaptive mode, which
rate-limits itself under throttling instead of failing. The region is chosen as the AWS CLI v2
chooses it: `--region`, then `AWS_REGION`, then `AWS_DEFAULT_REGION`, then the profile (boto3
itself reads only the last two).
"""

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from formkiq_backup.discovery import Boto3Reader, DiscoveryError, discover
from formkiq_backup.formkiq import FormKiQEnvironment
from formkiq_backup.posture import PostureFinding

MAX_ATTEMPTS = 10
CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
    user_agent_extra="formkiq-dr",
)
# Failures to reach an endpoint at all (refused, timed out, cut off): botocore retries them.
UNREACHABLE = (BotoConnectionError, ConnectionClosedError, ReadTimeoutError)
# Region names: us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ap-southeast-5.
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_HTML = re.compile(r"^\s*<(!doctype\s+html|html)", re.IGNORECASE)
_HTML_TITLE = re.compile(r"<title>\s*(.*?)\s*</title>", re.IGNORECASE | re.DOTALL)
# Error codes that mean "you may not" or "who are you": the caller's setup, exit code 2. S3's
# HEAD requests carry no body, so their denial is the bare status "403" (botocore's code for it);
# HeadObject answers 403 for a missing key too when the caller lacks s3:ListBucket (Amazon S3 API
# Reference, HeadObject), a permission either way.
ACCESS_ERROR_CODES = frozenset(
    {
        "403",
        "Forbidden",
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
    }
)


class SetupError(RuntimeError):
    """The command cannot run: bad arguments, no access, or no FormKiQ where it looked."""


# The services formkiq-dr calls, by the identifier in their endpoint variable's name
# (AWS_ENDPOINT_URL_<SERVICE>; "Identifiers for service-specific endpoints", AWS SDKs and Tools
# Reference Guide: https://docs.aws.amazon.com/sdkref/latest/guide/ss-endpoints-table.html).
ENDPOINT_SERVICES = (
    "BACKUP",
    "CLOUDWATCH",
    "COGNITO_IDENTITY_PROVIDER",
    "DYNAMODB",
    "S3",
    "SSM",
    "STS",
)
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL", *(f"AWS_ENDPOINT_URL_{s}" for s in ENDPOINT_SERVICES))
_ENDPOINT_EXAMPLE = "such as http://127.0.0.1:4566 or https://dynamodb.eu-west-1.amazonaws.com"


def endpoint_problem(url: str) -> str | None:
    """What is wrong with an endpoint URL, or None.

    An endpoint is "a URL including the scheme and host", optionally a path ("Service-specific
    endpoints", AWS SDKs and Tools Reference Guide:
    https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html). botocore refuses
    one without a scheme only when it makes a client ("Invalid endpoint"), and sends requests to
    some it accepts (a leading space, `ftp://`) that can never be answered.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"not an endpoint URL: give the scheme and the host, {_ENDPOINT_EXAMPLE}"
    if any(character.isspace() for character in url):
        return "has white space in it"
    try:
        parts.port  # noqa: B018  # parsing the port is the check
    except ValueError:
        return f"its port is not a number from 0 to 65535, {_ENDPOINT_EXAMPLE}"
    return None


def check_endpoint_settings(session: boto3.session.Session) -> None:
    """Refuse, before any client is made, an endpoint URL from the environment or the profile's
    config that botocore would refuse or could never reach, naming where it was set."""
    core = session._session  # botocore's session: the config exactly as boto3 reads it
    if str(core.get_config_variable("ignore_configured_endpoint_urls")).lower() == "true":
        return  # AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: none of them is used
    given = [(variable, os.environ.get(variable, "")) for variable in ENDPOINT_VARIABLES]
    scoped = core.get_scoped_config()
    given.append(("the profile's endpoint_url (AWS config file)", scoped.get("endpoint_url", "")))
    section = scoped.get("services")
    if section:
        services = core.full_config.get("services", {}).get(section, {})
        given += [
            (f"endpoint_url of {service} in [services {section}] (AWS config file)", url)
            for service, settings in services.items()
            if isinstance(settings, dict) and (url := settings.get("endpoint_url"))
        ]
    for where, url in given:
        problem = endpoint_problem(url) if url else None
        if problem:
            raise SetupError(f"{where} {url!r}: {problem}")


def describe_error(error: BaseException) -> str:
    """A one-line account of an AWS error for a report; never a raw HTML page."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        operation = error.operation_name
        message = str(details.get("Message", ""))
        if _HTML.match(message):
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            message = f"HTTP {status}, {_html_summary(message)}"
        return f"{operation}: {details.get('Code', 'Error')}: {message}".strip()
    return str(error) or type(error).__name__


def _html_summary(body: str) -> str:
    title = _HTML_TITLE.search(body)
    page = f" ({title.group(1)[:80]})" if title else ""
    return f"an HTML page{page}, not an AWS API answer"


def endpoint_of(url: str) -> str:
    """`scheme://host[:port]` of a request URL: where the request went, without the path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def summarise_html_errors(http_response: Any, parsed: Any, **_: Any) -> None:
    """botocore `after-call` hook: an HTML error page (an emulator's, a proxy's, a wrong
    endpoint's) becomes its status code and endpoint instead of the page itself."""
    error = parsed.get("Error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict) or not _HTML.match(str(error.get("Message", ""))):
        return
    status = getattr(http_response, "status_code", "?")
    where = endpoint_of(str(getattr(http_response, "url", "")))
    error["Message"] = f"HTTP {status} from {where}: {_html_summary(str(error['Message']))}"


class UnreachableNotice:
    """botocore `needs-retry` hook: says at once that an endpoint cannot be reached, while
    botocore goes on retrying, instead of a silent wait of a minute or more. Once per endpoint."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.told: set[str] = set()

    def __call__(self, caught_exception: BaseException | None = None, **_: Any) -> None:
        if not isinstance(caught_exception, UNREACHABLE):
            return
        url = str(getattr(caught_exception, "kwargs", {}).get("endpoint_url", "") or "")
        where = endpoint_of(url) if url else "the AWS endpoint"
        if where in self.told:
            return
        self.told.add(where)
        self.say(
            f"cannot reach {where} ({caught_exception}); retrying, up to {MAX_ATTEMPTS} "
            "attempts in all"
        )


def is_access_error(error: BaseException) -> bool:
    """Whether an AWS error is about credentials, permissions or reaching AWS at all, rather
    than about the data: the caller's setup (exit code 2)."""
    if isinstance(error, (NoCredentialsError, NoRegionError, *UNREACHABLE)):
        return True
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code") in ACCESS_ERROR_CODES
    return False


def is_region_name(text: str) -> bool:
    """Whether `text` is shaped like an AWS region name (us-east-1, us-gov-west-1)."""
    return _REGION.match(text) is not None


def region_source(region: str | None) -> str:
    """Where the region came from, to name it in an error."""
    if region:
        return "--region"
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if os.environ.get(variable):
            return variable
    return "the profile's region"


def resolve_region(region: str | None) -> str | None:
    """`--region`, then AWS_REGION; None leaves AWS_DEFAULT_REGION and the profile to boto3."""
    return region or os.environ.get("AWS_REGION") or None


def require_access(finding: PostureFinding) -> PostureFinding:
    """A shared posture check turns errors into findings; a denied one is an access error here."""
    if not finding.checked and finding.error_code in ACCESS_ERROR_CODES:
        reason = finding.observed.removeprefix("check failed: ")
        check = f"{finding.check.value} on {finding.resource}"
        raise SetupError(f"no access to check {check}: {reason}")
    return finding


@dataclass
class DrContext:
    """An AWS session for one FormKiQ environment, with its clients and discovery."""

    session: boto3.session.Session
    app_environment: str
    _clients: dict[tuple[str, str | None], Any] = field(default_factory=dict)
    _environment: FormKiQEnvironment | None = None
    discovery_region: str | None = None
    """Where FormKiQ is discovered, when not the session's region (failover-check runs in the
    DR region and discovers FormKiQ in the primary one)."""

    @classmethod
    def create(
        cls,
        app_environment: str,
        profile: str | None = None,
        region: str | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> "DrContext":
        """A session as the AWS CLI v2 would pick it (see the module docstring).

        Hooks registered on the session reach every client made from it, discovery's too.
        """
        try:
            session = boto3.session.Session(
                profile_name=profile, region_name=resolve_region(region)
            )
        except BotoCoreError as error:
            raise SetupError(describe_error(error)) from error
        if session.region_name is None:
            raise SetupError(
                "no AWS region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), "
                "or give the profile a region"
            )
        if not is_region_name(session.region_name):
            raise SetupError(
                f"{region_source(region)} {session.region_name!r} is not an AWS region name "
                "such as us-east-1"
            )
        check_endpoint_settings(session)
        session.events.register("after-call", summarise_html_errors)
        if on_notice is not None:
            session.events.register("needs-retry", UnreachableNotice(on_notice))
        return cls(session=session, app_environment=app_environment)

    def client(self, service: str, region: str | None = None) -> Any:
        """A client with adaptive retries; one per service and region."""
        cache_key = (service, region)
        if cache_key not in self._clients:
            self._clients[cache_key] = self.session.client(
                service,
                region_name=region,
                config=CLIENT_CONFIG,  # type: ignore[call-overload]
            )
        return self._clients[cache_key]

    @property
    def region(self) -> str:
        return str(self.session.region_name)

    @property
    def environment(self) -> FormKiQEnvironment:
        """The FormKiQ environment, discovered exactly as the Pulumi program discovers it."""
        if self._environment is None:
            where = self.discovery_region or self.region
            reader = Boto3Reader(self.session, CLIENT_CONFIG, region=self.discovery_region)
            try:
                self._environment = discover(reader, self.app_environment)
            except DiscoveryError as error:
                raise SetupError(f"{error} (region {where})") from error
            except (ClientError, BotoCoreError) as error:
                problem = describe_error(error)
                raise SetupError(f"discovering FormKiQ in {where}: {problem}") from error
        return self._environment
