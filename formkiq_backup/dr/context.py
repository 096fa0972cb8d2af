"""What every `formkiq-dr` command shares: AWS clients, the discovered environment, errors.

Clients honour the standard AWS settings (profile, region, AWS_ENDPOINT_URL and friends) and
retry in botocore's adaptive mode, which rate-limits itself under throttling instead of failing.
"""

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from formkiq_backup.discovery import Boto3Reader, DiscoveryError, discover
from formkiq_backup.formkiq import FormKiQEnvironment
from formkiq_backup.posture import PostureFinding

CLIENT_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 10},
    user_agent_extra="formkiq-dr",
)
# Error codes that mean "you may not" or "who are you": the caller's setup, exit code 2.
ACCESS_ERROR_CODES = frozenset(
    {
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


def describe_error(error: BaseException) -> str:
    """A one-line account of an AWS error for a report."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        operation = error.operation_name
        return f"{operation}: {details.get('Code', 'Error')}: {details.get('Message', '')}".strip()
    return str(error) or type(error).__name__


def is_access_error(error: BaseException) -> bool:
    """Whether an AWS error is about credentials or permissions rather than the data."""
    if isinstance(error, NoCredentialsError | NoRegionError):
        return True
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code") in ACCESS_ERROR_CODES
    return False


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

    @classmethod
    def create(
        cls, app_environment: str, profile: str | None = None, region: str | None = None
    ) -> "DrContext":
        try:
            session = boto3.session.Session(profile_name=profile, region_name=region)
        except BotoCoreError as error:
            raise SetupError(describe_error(error)) from error
        if session.region_name is None:
            raise SetupError("no AWS region: pass --region or set AWS_REGION")
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
            try:
                self._environment = discover(
                    Boto3Reader(self.session, CLIENT_CONFIG), self.app_environment
                )
            except DiscoveryError as error:
                raise SetupError(str(error)) from error
            except (ClientError, BotoCoreError) as error:
                raise SetupError(f"discovering FormKiQ: {describe_error(error)}") from error
        return self._environment
