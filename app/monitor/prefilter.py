"""A literal prefilter for the large case-insensitive cue regexes: the same matches, found faster.

Python's `re` tries every alternative of a big alternation at every position of the text, so a cue of
a few hundred alternatives costs ~30-160 us per search even when nothing matches (most searches). Read
from each part's parse tree, `required_literals` gives a set of plain strings one of which every
match of the part must contain; `Cue` searches only the parts with one of them in the text, folded as
the regex's IGNORECASE folds it. A part with no such set is always searched.

Soundness rests on `fold`: a text character that IGNORECASE matches to a literal character must fold
to that character's fold. That holds for the characters literals are taken from (ASCII letters,
digits, spaces and punctuation; tests/test_monitor_prefilter.py checks every code point), once the
two Turkish i's are mapped to "i"; any other character breaks a literal run instead of joining it."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from functools import lru_cache
from re import _constants as C  # type: ignore[attr-defined]  # the parser `re` itself uses (3.11+)
from re import _parser as P  # type: ignore[attr-defined]

SAFE = frozenset(string.ascii_letters + string.digits + " !\"#$%&'()*+,-./:;<=>?@[]^_`{|}~")
_TURKISH_I = str.maketrans({"\u0130": "i", "\u0131": "i"})
_REPEATS = {C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT}


@lru_cache(maxsize=256)
def fold(text: str) -> str:
    """The text as IGNORECASE compares it, for the characters in SAFE (kept for the last few texts:
    one message is searched with many cues)."""
    return text.translate(_TURKISH_I).casefold()


def _best(options: list[frozenset[str]]) -> frozenset[str] | None:
    """Of several requirements all of which hold, the most selective: longest shortest string, then
    fewest strings (measured on the corpus's searches, better than preferring fewer strings)."""
    if not options:
        return None
    return max(options, key=lambda s: (min(map(len, s)), -len(s)))


def required_literals(items) -> frozenset[str] | None:
    """Strings (folded) one of which every match of the parsed sequence `items` contains: its longest
    literal run, or what a group, an alternation (each branch's) or a required repeat requires; None
    when no such set is known."""
    options: list[frozenset[str]] = []
    run = ""
    for op, av in items:
        if op is C.LITERAL and chr(av) in SAFE:
            run += chr(av)
            continue
        if len(run) >= 2:
            options.append(frozenset({fold(run)}))
        run = ""
        found: frozenset[str] | None = None
        if op is C.SUBPATTERN:
            found = required_literals(av[-1])
        elif op is C.ATOMIC_GROUP:
            found = required_literals(av)
        elif op is C.BRANCH:
            branches = [required_literals(b) for b in av[1]]
            if all(b is not None for b in branches):
                found = frozenset().union(*branches)  # type: ignore[arg-type]
        elif op in _REPEATS and av[0] >= 1:
            found = required_literals(av[2])
        if found:
            options.append(found)
    if len(run) >= 2:
        options.append(frozenset({fold(run)}))
    return _best(options)


def _literals(items) -> tuple[str, ...] | None:
    """A part's required literals as a tuple (iterated on every search: faster than a frozenset)."""
    found = required_literals(items)
    return None if found is None else tuple(sorted(found))


class Cue:
    """A case-insensitive alternation of parts (one cue: a regex of many phrasings) whose `search`
    gives the match the whole regex gives, faster: only the parts whose literals are in the text are
    searched, each on its own, and the leftmost match wins (on a tie the earlier part, as the
    alternation prefers it). Other methods use the whole regex, after the same prefilter."""

    def __init__(self, *parts: str, flags: int = re.I):
        self.regex = re.compile("|".join(f"(?:{p})" for p in parts), flags)
        self.pattern = self.regex.pattern
        self.parts = [(_literals(P.parse(p, flags)), re.compile(p, flags)) for p in parts]

    def _candidates(self, text: str) -> list[re.Pattern]:
        folded = fold(text)
        found = []
        for lits, rx in self.parts:  # a plain loop: a third faster than any() over a generator
            if lits is None:
                found.append(rx)
                continue
            for lit in lits:
                if lit in folded:
                    found.append(rx)
                    break
        return found

    def search(self, text: str) -> re.Match | None:
        best = None
        for rx in self._candidates(text):
            m = rx.search(text)  # the whole text: \b, $ and lookaheads see what the whole regex sees
            if m is not None and (best is None or m.start() < best.start()):
                best = m
        return best

    def finditer(self, text: str) -> Iterator[re.Match]:
        return self.regex.finditer(text) if self._candidates(text) else iter(())

    def fullmatch(self, text: str) -> re.Match | None:
        return self.regex.fullmatch(text)

    def sub(self, repl, text: str) -> str:
        return self.regex.sub(repl, text) if self._candidates(text) else text
