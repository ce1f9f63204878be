"""Model text is untrusted: normalised once, where it enters the server, before the monitor sees it.

Two kinds of character cannot be stored the same way on both databases: NUL (PostgreSQL text and
JSONB refuse it) and lone UTF-16 surrogates (neither database can encode them as UTF-8). Each is
replaced by U+FFFD (the replacement character), so the monitor judges exactly the text that is
stored and the verdict is the same on SQLite and PostgreSQL. Callers log how many characters were
replaced (`normalised` on the event). Every other character is kept as written.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
MAX_DEPTH = 32  # nesting of JSON arguments (objects and lists) a tool call may use


class Unusable(ValueError):
    """A value that cannot be stored alike on both databases: nested deeper than MAX_DEPTH, or a
    number that is not finite (NaN, Infinity)."""


def clean_text(text: str) -> tuple[str, int]:
    """(text with NUL and lone surrogates replaced by U+FFFD, how many were replaced)."""
    if text.isascii() and "\x00" not in text:
        return text, 0
    return _UNSTORABLE.subn(REPLACEMENT, text)


def clean(value: Any, depth: int = 0) -> tuple[Any, int]:
    """Every string in a JSON-like value (dict keys too) cleaned; (clean value, replacements).
    Raises Unusable beyond MAX_DEPTH levels of nesting or for a number that is not finite."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise Unusable(f"{value} is not a finite number")
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise Unusable(f"arguments are nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        out, total = {}, 0
        for k, v in value.items():
            key, n1 = clean(k, depth + 1) if isinstance(k, str) else (k, 0)
            out[key], n2 = clean(v, depth + 1)
            total += n1 + n2
        return out, total
    if isinstance(value, list):
        items, total = [], 0
        for v in value:
            item, n = clean(v, depth + 1)
            items.append(item)
            total += n
        return items, total
    return value, 0


def decode(raw: bytes) -> tuple[str, int]:
    """Request bytes as clean text: invalid UTF-8 becomes U+FFFD (counted), then clean_text."""
    try:
        text, bad = raw.decode("utf-8"), 0
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        bad = text.count(REPLACEMENT) - raw.count(REPLACEMENT.encode())
    cleaned, n = clean_text(text)
    return cleaned, n + max(bad, 0)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Unusable(f"{text[:20]} is not a finite number")
    return value


def _no_constant(name: str) -> Any:
    raise Unusable(f"{name} is not a number JSON allows")


def loads(text: str) -> Any:
    """Strict JSON: NaN and Infinity refused; integers beyond Python's 4,300-digit limit and nesting
    too deep for the parser raise ValueError / RecursionError, which callers report as bad JSON."""
    return json.loads(text, parse_float=_finite, parse_constant=_no_constant)


def is_id(value: str) -> bool:
    """Whether a path segment can be an episode id at all (anything else is simply not found, and
    never reaches the database: PostgreSQL refuses NUL even in a lookup)."""
    return _ID.fullmatch(value) is not None
