"""Domain errors, raised by services and mapped once: to HTTP statuses (app.api) and to one-line
CLI failures (app.cli)."""

from __future__ import annotations


class DomainError(Exception):
    """Base: the message is one line, fit to show a user."""

    status = 400


class NotFound(DomainError, LookupError):
    status = 404


class Conflict(DomainError):
    """The request clashes with the current state (e.g. deciding an action that is already decided)."""

    status = 409


class InvalidRequest(DomainError, ValueError):
    """Input that cannot be used as given (unknown scenario, variable value, mode...)."""

    status = 422


class ConfigError(DomainError):
    """A setting (environment variable or option) that cannot be used: the database URL, the data
    folder, a port. The message names the setting; the CLI prints it as one line and exits 2."""

    status = 500
