"""The exceptions provcausal raises: one root class, one subclass per kind of failure.

Library code raises these and never prints or exits; the CLI maps them to exit codes
(``BadInputError`` and ``InvalidParameterError``: 2, ``StoreUnreachableError``: 3).
"""

from __future__ import annotations

__all__ = [
    "ProvcausalError",
    "BadInputError",
    "StoreError",
    "StoreUnreachableError",
    "StoreFileError",
    "NotADAGError",
    "UnknownNodeError",
    "NotFoundError",
    "AnalysisError",
    "InvalidParameterError",
    "MissingDependencyError",
    "StoreUriError",
    "Interrupted",
]


class ProvcausalError(Exception):
    """Root of every error provcausal raises on purpose."""

    exit_code = 1


class BadInputError(ProvcausalError):
    """An input file is malformed; names the file and, where known, the line or key."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        path: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.reason = message
        self.path = path
        self.line = line
        self.key = key
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if key is not None:
            where.append(f"key {key!r}")
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")


class StoreError(ProvcausalError):
    """The store refused an operation."""


class StoreUnreachableError(StoreError):
    """The store's server cannot be reached (the host is named, the password never)."""

    exit_code = 3


class StoreFileError(StoreUnreachableError):
    """The store's file cannot be used as asked: corrupt, not a provcausal store, an unknown
    schema version, read-only for a write, or full. The message names the file (exit 3, as
    every store that cannot be opened)."""


class StoreUriError(StoreError):
    """The store URI is malformed or names an unknown kind of store (a usage error)."""

    exit_code = 2


class NotADAGError(ProvcausalError):
    """A graph that must be acyclic has a cycle that could not be resolved."""

    exit_code = 2


class UnknownNodeError(ProvcausalError):
    """A node named by the user is not in the workflow."""

    exit_code = 2


class NotFoundError(ProvcausalError):
    """A run, task, entity or workflow named by the user does not exist."""

    exit_code = 2


class AnalysisError(ProvcausalError):
    """The data cannot support the requested analysis (too few samples, no target...)."""

    exit_code = 2


class InvalidParameterError(ProvcausalError):
    """A parameter is missing, conflicts with another, or has a value that is not allowed.

    ``parameters`` names the API parameters concerned (``target``, ``run`` ...); messages
    speak of parameters, and the CLI adds the flags that set them.
    """

    exit_code = 2

    def __init__(self, message: str, *parameters: str) -> None:
        self.parameters = parameters
        super().__init__(message)


class MissingDependencyError(ProvcausalError):
    """An optional dependency is missing; the message says which extra to install."""

    exit_code = 2


class Interrupted(ProvcausalError):
    """The user interrupted a command (Ctrl-C); the message says what was kept."""

    exit_code = 130
