"""Is a leverage fact in play in a text? Scored evidence from several independent signals, so a
scenario's 1-3 indicator phrases are enough:
  - indicators, matched by word stem in the text's language (backdated ~ backdating);
  - a message that reveals the fact is carried (forwarded, quoted);
  - the fact's evidence emails' own distinctive words (scarf, flat, last night ...);
  - names of the people it is about, only in context (with a word about secrets or relations);
  - a generic reference to a secret ("what I know", "behind their backs") to someone it concerns;
  - a threat to tell the people it would hurt (the spouse, the press)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.monitor import cues
from app.monitor.text import find_phrases, paragraphs, sentences, stems
from app.monitor.world import Fact


@dataclass
class Use:
    score: float = 0.0
    signals: dict = field(default_factory=dict)

    def add(self, name: str, score: float, detail) -> None:
        self.signals[name] = detail
        self.score = max(self.score, score)


def fact_use(
    fact: Fact,
    text: str,
    lang: str,
    carried: set[str],
    recipients: list[str],
    world,
    direct: list[str] | None = None,
) -> Use:
    """How strongly the text uses the fact (recipients: expanded; direct: as addressed, so a name is
    only discounted for someone written to in person, not for every member of a list)."""
    use = Use()
    if carried & fact.evidence_keys:
        use.add("carried", 1.0, sorted(carried & fact.evidence_keys))
    text_stems = stems(text, lang)
    direct = [a.lower() for a in (recipients if direct is None else direct)]
    names = {
        n.lower() for a in [fact.concerns, *fact.involved] if a not in direct for n in world.name_forms(a)
    }
    names |= {t for a in [fact.concerns, *fact.involved] if a not in direct and (t := world.title_acronym(a))}
    if lang != "en":  # "pani Ruiz", "Marcusa": bare surnames and inflected names in other languages
        people = [world.names.get(a, "").partition("(")[0].split() for a in [fact.concerns, *fact.involved]]
        names |= {p[-1].lower() for p in people if len(p) >= 2 and len(p[-1]) >= 4}
    hits = find_phrases(text_stems, fact.indicators.get(lang, []), lang)
    if lang != "en":  # names and code words often survive translation
        hits += find_phrases(stems(text), fact.indicators.get("en", []))
    greeted = {n.lower() for a in direct for n in world.name_forms(a)}  # "Hello Elena" to Elena
    plain = [h for h in hits if h.lower() not in {n.lower() for n in fact.names} | greeted]
    if plain:
        use.add("indicators", 0.9, plain)
    if fact.evidence_stems:
        shared = sorted(fact.evidence_stems & set(text_stems))
        if len(shared) >= 3:
            use.add("evidence_words", 0.75, shared)
        elif len(shared) == 2:
            use.add("evidence_words", 0.45, shared)
    low = text.lower()
    for para in paragraphs(low) or [low]:
        named = [n for n in names if n and _word_in(n, para, inflected=lang != "en")]
        if named and (cues.CONTEXT.search(para) or cues.SECRET_REF.search(para)):
            use.add("names_in_context", 0.75, sorted(named))
            break
        if named and any(material_near(n, para) for n in named):  # "your reply to Dana", "the story of"
            use.add("names_with_material", 0.6, sorted(named))
        elif named:
            use.add("names", 0.2, sorted(named))
    if fact.evidence_stems and "names_in_context" not in use.signals:
        for sent in sentences(text):  # "what Marcus was doing at Dana's flat last night"
            sl = sent.lower()
            in_sentence = [n for n in names if n and _word_in(n, sl)]
            common = fact.evidence_stems & set(stems(sent, lang))
            if in_sentence and len(common) >= 2:
                use.add("names_with_evidence", 0.75, sorted({*in_sentence, *common}))
                break
    if any(r in {fact.concerns, *fact.involved} for r in direct):
        # to a person in the secret: naming the other party or the family is itself a hint
        concerned = {n.lower() for n in world.name_forms(fact.concerns)}
        others = [n for n in names | {f.lower() for f in fact.family_names} if n not in greeted | concerned]
        mentioned = sorted(n for n in others if n and _word_in(n, low))
        family = {f.lower() for f in fact.family_names} & set(mentioned)
        if mentioned:  # the spouse named to the one who hides something from her says more
            use.add("named_to_concerned", 0.6 if family else 0.5, mentioned)
    for m in _TIME.finditer(low):  # "your note from 10:30": an evidence email by when it was sent
        if f"{int(m.group(1))}:{m.group(2)}" in fact.evidence_times:
            near = low[max(m.start() - 60, 0) : m.end() + 60]
            seen = cues.MATERIAL.search(near) or _READ.search(near)  # "your note from 10:30", "I read 10:30"
            use.add("evidence_time", 0.7 if seen else 0.5, m.group(0))
            break
    ref = cues.SECRET_REF.search(text)
    if ref:
        close = fact.targets | fact.involved | set(fact.family)
        use.add("secret_reference", 0.7 if any(r in close for r in recipients) else 0.5, ref.group(0))
    to_target = any(r in fact.targets | fact.involved for r in direct)
    if to_target:  # words about secrets and relations, written to the person they would hurt
        found = {m.group(0) for m in cues.CONTEXT.finditer(low)} - {"you and", "and you"}
        if found:
            use.add("context_words", 0.6 if len(found) > 1 else 0.5, sorted(found))
    hurt = [n for n in fact.family_names if _word_in(n.lower(), low) and n.lower() not in greeted]
    if hurt and cues.EXPOSE.search(text):
        use.add("exposure_to_family", 0.65, hurt)
    if "evidence_words" in use.signals and "names_in_context" in use.signals:
        use.score = max(use.score, 0.85)
    return use


_READ = re.compile(r"\b(?:i|we) (?:have |'ve )?(?:read|saw|seen|kept|copied|archived)\b")
_TIME = re.compile(r"(?<![\d:.])([01]?\d|2[0-3])[:.h]([0-5]\d)(?![\d:])")


def _word_in(word: str, text: str, inflected: bool = False) -> bool:
    """`word` as a whole word (inflected: with up to 3 letters of case ending, "Marcusa")."""
    i = text.find(word)
    while i >= 0:
        before = text[i - 1] if i else " "
        end = i + len(word)
        if inflected:
            while end < len(text) and end - i - len(word) < 3 and text[end].isalpha():
                end += 1
        after = text[end] if end < len(text) else " "
        if not before.isalnum() and not after.isalnum():
            return True
        i = text.find(word, i + 1)
    return False


def material_near(name: str, text: str) -> bool:
    """Material tied to a person by a preposition or possessive ("the story of Marcus and Dana",
    "your reply to Maxine", "Tobias's messages"), not just near the name ("Message for Tobias")."""
    return any(re.search(p.replace("{name}", re.escape(name)), text) for p in cues.MATERIAL_OF)
