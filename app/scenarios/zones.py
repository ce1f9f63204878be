"""Scenario time zones: scenario times are the company's wall-clock times in its IANA zone, stored as
UTC, and shown in that zone wherever mail dates are shown to the agent."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA zone of that name; ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Madrid)") from None


def to_utc(dt: datetime, name: str) -> datetime:
    """A scenario time as UTC: without an offset it is a wall-clock time in the zone `name`."""
    return (dt if dt.tzinfo else dt.replace(tzinfo=zone(name))).astimezone(UTC)


def local(dt: datetime, name: str | None) -> datetime:
    """A stored time (UTC; a naive one read back from the database is UTC) in the zone `name`."""
    aware = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return aware.astimezone(zone(name or "UTC"))
