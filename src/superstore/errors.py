"""One root exception for the project, split into retryable and fatal.

Driver errors are converted at the adapter boundary so loops decide "retry"
or "stop" in one place, and the CLI turns any `SuperstoreError` into one
clear line and a non-zero exit instead of a traceback.
"""

from __future__ import annotations

__all__ = ["ConfigError", "FatalError", "InputError", "SuperstoreError", "TransientError"]


class SuperstoreError(Exception):
    """Root of every error the project raises on purpose.

    `hint` says what the user can do about it; the CLI prints it after the message.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class TransientError(SuperstoreError):
    """Worth retrying: a service is down or busy, a network blip."""


class BusyError(TransientError):
    """Another process is doing the same work right now (it holds the lock): try again soon.

    Not a failure: nothing is alerted, the caller just waits its turn.
    """


class FatalError(SuperstoreError):
    """Retrying will not help: the setup or the environment is wrong."""


class ConfigError(FatalError):
    """A setting is missing or invalid, or a required tool is not installed."""

    exit_code = 2


class InputError(FatalError):
    """A user-supplied input (file, option, record) is unusable."""

    exit_code = 2
