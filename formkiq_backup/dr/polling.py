"""The one wait loop of `formkiq-dr`: restores, backups and backup jobs are polled alike.

AWS restores and backups take minutes to hours, and none of the APIs waits for them; one poll
interval for all keeps the request rate (and the tests' patch) in one place.
"""

import time
from collections.abc import Callable
from typing import TypeVar

# Seconds between two looks at something in progress.
POLL_SECONDS = 10.0

State = TypeVar("State")


def poll_until(
    read_state: Callable[[], State],
    done: Callable[[State], bool],
    *,
    timeout_seconds: float,
    what: str,
) -> State:
    """Read the state every POLL_SECONDS until `done`; TimeoutError naming `what` after that."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        state = read_state()
        if done(state):
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} still {state} after {timeout_seconds:.0f}s")
        time.sleep(POLL_SECONDS)
