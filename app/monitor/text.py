"""Text primitives the detectors share: words, stems, phrase matching by stem, paragraphs, language."""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

import snowballstemmer

_WORD = re.compile(r"[^\W_]+(?:[:.,'’-][^\W_]+)*", re.U)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n\s*\n")
_PARAGRAPH = re.compile(r"\n\s*\n")
_STEMMERS = {"en": "english", "de": "german", "es": "spanish", "fr": "french", "it": "italian",
             "nl": "dutch", "pt": "portuguese"}  # fmt: skip
SUPPORTED = ("en",)  # languages the rule detectors' structure words cover

_EN = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "this",
        "that",
        "you",
        "your",
        "i",
        "we",
        "my",
        "our",
        "with",
        "as",
        "at",
        "by",
        "from",
        "have",
        "has",
        "had",
        "will",
        "would",
        "should",
        "not",
        "no",
        "if",
        "but",
        "so",
        "me",
        "us",
        "they",
        "them",
        "he",
        "she",
        "his",
        "her",
        "what",
        "which",
        "who",
        "about",
        "can",
        "could",
        "do",
        "does",
        "did",
        "than",
        "then",
        "there",
        "their",
        "just",
    ]
)
_FOREIGN = frozenset(
    [
        "der",
        "die",
        "das",
        "und",
        "ist",
        "nicht",
        "ich",
        "sie",
        "wir",
        "ihr",
        "sich",
        "mit",
        "von",
        "zu",
        "den",
        "dem",
        "ein",
        "eine",
        "wenn",
        "oder",
        "auch",
        "auf",
        "el",
        "la",
        "los",
        "las",
        "y",
        "es",
        "no",
        "yo",
        "que",
        "con",
        "por",
        "para",
        "una",
        "un",
        "si",
        "pero",
        "su",
        "sus",
        "del",
        "lo",
        "se",
        "nos",
        "le",
        "les",
        "et",
        "le",
        "les",
        "est",
        "pas",
        "je",
        "vous",
        "nous",
        "avec",
        "pour",
        "une",
        "des",
        "du",
        "que",
        "qui",
        "dans",
        "sur",
        "il",
        "elle",
        "di",
        "che",
        "non",
        "il",
        "per",
        "con",
        "una",
        "sono",
        "della",
        "het",
        "een",
        "niet",
        "ik",
        "je",
        "wij",
        "zijn",
        "voor",
        "dat",
        "met",
        # Dutch, Portuguese, Polish, Swedish, Italian function words
        "er",
        "bij",
        "niemand",
        "hoeft",
        "geen",
        "wordt",
        "uit",
        "te",
        "naar",
        "maar",
        "ook",
        "nog",
        "om",
        "deze",
        "hun",
        "uw",
        "alsjeblieft",
        "niets",
        "não",
        "você",
        "com",
        "uma",
        "os",
        "mas",
        "nós",
        "está",
        "são",
        "muito",
        "isso",
        "nie",
        "jest",
        "się",
        "że",
        "na",
        "jak",
        "ale",
        "czy",
        "och",
        "att",
        "det",
        "är",
        "inte",
        "jag",
        "för",
        "på",
        "som",
        "ett",
        "gli",
        "nel",
        "alla",
        "questo",
        "anche",
        "è",
    ]
)


_GENERIC = [
    "also",
    "just",
    "very",
    "really",
    "still",
    "even",
    "much",
    "more",
    "most",
    "some",
    "any",
    "all",
    "each",
    "every",
    "other",
    "another",
    "such",
    "only",
    "own",
    "same",
    "into",
    "over",
    "under",
    "again",
    "further",
    "once",
    "here",
    "there",
    "when",
    "where",
    "why",
    "how",
    "both",
    "few",
    "nor",
    "too",
    "can",
    "will",
    "just",
    "now",
    "please",
    "thanks",
    "thank",
    "dear",
    "regards",
    "best",
    "hi",
    "hello",
    "today",
    "tomorrow",
    "tonight",
    "yesterday",
    "week",
    "day",
    "time",
    "know",
    "think",
    "want",
    "need",
    "keep",
    "make",
    "get",
    "go",
    "going",
    "see",
    "look",
    "let",
    "take",
    "give",
    "tell",
    "say",
    "said",
    "one",
    "two",
    "three",
    "new",
    "good",
    "well",
    "way",
    "thing",
    "things",
    "work",
    "message",
    "email",
    "mail",
    "note",
    "like",
    "sure",
    "could",
    "would",
    "should",
    "might",
    "must",
    "shall",
    "may",
    "yes",
    "ok",
    "okay",
    "before",
    "after",
    "while",
    "during",
    "since",
    "until",
    "about",
    "above",
    "below",
    "off",
    "out",
    "up",
    "down",
    "back",
    "being",
    "having",
    "doing",
    "because",
    "against",
    "between",
    "through",
    "its",
    "it's",
    "i'm",
    "i'll",
    "you're",
    "we're",
    "don't",
    "won't",
    "can't",
    "didn't",
    "isn't",
    "am",
]


@cache
def stemmer(lang: str = "en"):
    return snowballstemmer.stemmer(_STEMMERS.get(lang, "english"))


def _stop() -> frozenset[str]:
    st = stemmer("en")
    return frozenset(st.stemWords([*_EN, *_GENERIC]))


def words(text: str) -> list[str]:
    return [w.strip(".,:'’-") for w in _WORD.findall(text.lower())]


@lru_cache(maxsize=65536)
def _stem(word: str, lang: str) -> str:
    return stemmer(lang).stemWord(word)


def stems(text: str, lang: str = "en") -> list[str]:
    return [_stem(w, lang) for w in words(text)]


@lru_cache(maxsize=8192)
def phrase_stems(phrase: str, lang: str = "en") -> tuple[str, ...]:
    return tuple(stems(phrase, lang))


def find_phrases(text_stems: list[str], phrases: list[str], lang: str = "en") -> list[str]:
    """The phrases whose word stems occur in sequence in the text (so backdated ~ backdating)."""
    present = set(text_stems)
    hits = []
    for p in phrases:
        ps = phrase_stems(p, lang)
        if not ps or ps[0] not in present or not all(s in present for s in ps):
            continue
        n = len(ps)
        if n == 1 or any(tuple(text_stems[i : i + n]) == ps for i in range(len(text_stems) - n + 1)):
            hits.append(p)
    return hits


_TYPOGRAPHIC = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"'})


# Chat spelling as the cues read it: contractions without apostrophes, common abbreviations.
_CHAT = {
    **{f"{w}nt": f"{w}n't" for w in ("do", "does", "did", "is", "are", "was", "were", "would", "should",
                                       "could", "has", "have", "had", "must", "need")},  # fmt: skip
    "dont": "don't", "cant": "can't", "wont": "won't", "im": "i'm", "ive": "i've", "youre": "you're",
    "youve": "you've", "youll": "you'll", "theyre": "they're", "thats": "that's", "whats": "what's",
    "theres": "there's", "hes": "he's", "shes": "she's", "u": "you", "ur": "your", "pls": "please",
    "plz": "please", "thx": "thanks", "b4": "before", "tmrw": "tomorrow", "tmr": "tomorrow",
    "abt": "about", "bc": "because", "cuz": "because", "coz": "because", "msg": "message",
    "msgs": "messages", "ppl": "people", "rn": "right now", "gonna": "going to", "wanna": "want to",
    "lemme": "let me", "gotta": "have to",
}  # fmt: skip
_CHAT_WORD = re.compile(r"(?<![\w'])(?:" + "|".join(re.escape(w) for w in _CHAT) + r")(?![\w'])|"
                        r"(?<![\w'])its(?= (?:a|an|the|just|not|all|only|over|fine|ok|okay|true|been)\b)",
                        re.I)  # fmt: skip
_EMOJI = re.compile("[\u2600-\u27bf\U0001f000-\U0001faff]")


def _emoji_name(m: re.Match) -> str:
    name = unicodedata.name(m.group(0), "")
    return f" {name.lower()} " if name and unicodedata.category(m.group(0)) == "So" else " "


def _chat_word(m: re.Match) -> str:
    w = m.group(0).lower()
    return "it's" if w == "its" else _CHAT[w]


def cue_text(text: str) -> str:
    """Text as the cues read it: typographic quotes made plain (I\u2019d = I'd), chat spelling made
    standard ("doesnt" = doesn't, "ur" = your), an emoji as its name (the zipper-mouth face), and
    line wrapping undone inside paragraphs (a cue may span a wrapped line); blank lines kept."""
    text = _EMOJI.sub(_emoji_name, text.translate(_TYPOGRAPHIC))
    text = _CHAT_WORD.sub(_chat_word, text).replace(" + ", " and ").replace(" & ", " and ")
    return "\n\n".join(paragraphs(text))


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs, each with its line wrapping undone."""
    return [" ".join(p.split()) for p in _PARAGRAPH.split(text) if p.strip()]


def sentences(text: str) -> list[str]:
    return [" ".join(s.split()) for s in _SENTENCE.split(text) if s.strip()]


@cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def language(text: str) -> str:
    """The text's language code ('en' when unsure): py3langid, checked against function words so a
    short English note is not mistaken for another language."""
    ws = words(text)
    if len(ws) < 3:
        return "en"
    lang, prob = _identifier().classify(text)
    if lang == "en":
        return "en"
    en = sum(w in _EN for w in ws)
    foreign = sum(w in _FOREIGN for w in ws)
    if (prob >= 0.6 and foreign >= en) or (prob >= 0.9 and en <= len(ws) * 0.15):
        return lang
    return "en"


STOP = _stop()
