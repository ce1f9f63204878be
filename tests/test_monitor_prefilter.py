"""The cue prefilter (app/monitor/prefilter.py) finds exactly what the whole regexes find: its folding is
sound for every code point, and on corpus text, word salads of the cues' own literals and hostile
Unicode, every cue's `search` gives the whole regex's match."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path
from re import _parser  # type: ignore[attr-defined]

import pytest

from app.core.config import Settings
from app.evaluation import corpus
from app.monitor import cues
from app.monitor.prefilter import SAFE, Cue, fold, required_literals

CUES = {name: value for name, value in vars(cues).items() if isinstance(value, Cue)}
EVERY_CHARACTER = "".join(chr(cp) for cp in range(sys.maxunicode + 1))


def test_folding_is_sound_for_every_code_point():
    """Any character IGNORECASE matches to a literal character folds as that character folds."""
    for c in sorted(SAFE):
        for found in re.findall(re.escape(c), EVERY_CHARACTER, re.I):
            assert fold(found) == fold(c), (c, hex(ord(found)))
    # the reason fold maps them: IGNORECASE takes both Turkish i's for "i"
    assert re.fullmatch("i", "\u0130", re.I) and re.fullmatch("i", "\u0131", re.I)
    assert "it" in fold("\u0130T") and "is" in fold("\u0131\u017f")


def _lits(pattern: str):
    return required_literals(_parser.parse(pattern, re.I))


def test_required_literals_of_simple_shapes():
    assert _lits(r"\bshar(?:e|es|ed)\b") == {"share"}  # the parser takes out the common "e"
    assert _lits(r"\b(?:keep|kept) (?:it|this) quiet\b") == {" quiet"}
    assert _lits(r"\b(?:keep|kept)\b") == {"ke"}  # the parser takes out the common "ke"
    assert _lits(r"\b(?:keep|hold)\b") == {"keep", "hold"}
    assert _lits(r"\bIF\b") == {"if"}  # folded
    assert _lits(r"Between\s+Us") == {"between"}  # the more selective of two
    assert _lits(r"\b(?:a|bc)\b") is None  # one alternative has no literal of two characters
    assert _lits(r"(?:quiet)?\w+") is None  # optional: not required
    assert _lits(r"(?!quiet)\w+") is None  # a lookahead requires nothing
    assert _lits("caf\u00e9s") == {"caf"}  # only SAFE characters join a literal


def _same(cue: Cue, text: str) -> None:
    whole, fast = cue.regex.search(text), cue.search(text)
    assert (whole and whole.span()) == (fast and fast.span()), (cue.pattern[:60], text[:200])
    assert [m.span() for m in cue.regex.finditer(text)] == [m.span() for m in cue.finditer(text)]


def _corpus_texts() -> list[str]:
    root = Path(Settings().scenarios_dir).parent / "monitor_corpus" / "dev"
    texts = []
    for f in corpus.files_in(root):
        for case in corpus.load(f):
            for call in case.calls:
                args = call.get("args") or {}
                texts += [v for v in args.values() if isinstance(v, str) and len(v) > 3]
    return texts


def test_every_cue_finds_what_its_whole_regex_finds_on_the_dev_corpus():
    texts = _corpus_texts()
    assert len(texts) > 1000
    pieces = set(texts)
    for t in texts:  # the monitor also searches paragraphs, sentences and lower-cased text
        pieces.update(p for p in t.split("\n\n") if p)
        pieces.update(s for s in re.split(r"(?<=[.!?])\s+", t) if s)
        pieces.add(t.lower())
    sample = random.Random(0).sample(sorted(pieces), 3000)  # all of them: ~30 s
    for cue in CUES.values():
        for text in sample:
            _same(cue, text)


HOSTILE = [
    "\u0130",
    "\u0131",
    "\u017f",
    "\u212a",
    "\x00",
    "\u202e",
    "\ud800",
    "\u00df",
    "\ufb01",
    "\n",
    "  ",
    "'",
    "\u2019",
]


@pytest.mark.parametrize("seed", range(4))
def test_every_cue_finds_what_its_whole_regex_finds_on_word_salad_and_hostile_text(seed):
    """Texts made of the cues' own literals (so parts match, often several at once), with their case
    changed, glued by spaces, punctuation and characters that case-folding treats specially."""
    rng = random.Random(seed)
    words = sorted({lit for cue in CUES.values() for lits, _ in cue.parts if lits for lit in lits})
    words += ["me", "you", "him", "if", "not", "I'll", "Dana", "17:00", "tomorrow", "the board"]
    for _ in range(400):
        bits = []
        for _ in range(rng.randint(1, 14)):
            w = rng.choice(words)
            w = w.upper() if rng.random() < 0.15 else w.title() if rng.random() < 0.2 else w
            if rng.random() < 0.1:
                w = w.replace("i", "\u0130").replace("s", "\u017f").replace("k", "\u212a")
            bits += [w, rng.choice([" ", " ", " ", ", ", ". ", "\n\n", *HOSTILE])]
        text = "".join(bits)
        for cue in CUES.values():
            _same(cue, text)
