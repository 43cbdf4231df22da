"""String rules of the probes: answer normalisation, alias and name matching, letters,
judge verdicts."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

_NON_WORD = re.compile(r"[^0-9a-z]+")
_ARTICLES = {"a", "an", "the"}
#: "answer is (B)", "answer is: B", "answer is B." (the last one in a reply counts).
_ANSWER_IS = re.compile(r"answer is\s*:?\s*(?:\(([A-J])\)|([A-J])(?![A-Za-z]))")
_PAREN_LETTER = re.compile(r"\(([A-J])\)")
#: A letter alone, or opening the reply as "B)", "B." or "B:" (not the word "I").
_LEADING_LETTER = re.compile(r"^\s*\(?([A-J])(?:\)|[.:]|\s*$)")
#: "Comment (A)", "The answer is: \"B\"", "Option B" (the letter itself case-sensitive).
_CHOICE_WORDS = re.compile(r"(?i:comment|answer(?:\s+is)?|option|verdict)\W{0,4}([AB])(?![A-Za-z])")
_LEADING_CHOICE = re.compile(r"^\W*\(?([AB])(?![A-Za-z])")
_TIE = re.compile(r"\b(?:tie|equal(?:ly)?|neither|same)\b", re.IGNORECASE)
_YES_NO = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)


def normalise(text: str) -> str:
    """Lower case, accents and punctuation removed, articles (a, an, the) dropped, spaces
    collapsed: ``"The Peter Principle!"`` -> ``"peter principle"``."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    words = [w for w in _NON_WORD.sub(" ", plain).split() if w not in _ARTICLES]
    return " ".join(words)


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether normalised ``phrase`` occurs in normalised ``text`` as whole words."""
    needle = normalise(phrase)
    return bool(needle) and f" {needle} " in f" {normalise(text)} "


def aliases(base: dict[str, Any]) -> list[str]:
    """The accepted answers of an item: ``base.answer`` and ``base.correct_answers`` (a list
    or one string each) and ``base.correct_answer``, blanks dropped, each once."""
    found: list[str] = []
    values: list[Any] = []
    for key in ("answer", "correct_answers", "correct_answer"):
        value = base.get(key)
        values += value if isinstance(value, list) else [value]
    for value in values:
        if isinstance(value, str | int | float) and str(value).strip():
            text = str(value).strip()
            if text not in found:
                found.append(text)
    return found


def mentions_any(text: str, names: Iterable[str]) -> bool:
    """Whether ``text`` contains any of ``names`` (see :func:`contains_phrase`)."""
    return any(contains_phrase(text, n) for n in names)


def mentions_person(text: str, name: str) -> bool:
    """Whether ``text`` names a person: the full name or the last name, as whole words,
    case, accents and punctuation ignored (``"Frost"`` counts for ``"Robert Frost"``)."""
    words = normalise(name).split()
    if not words:
        return False
    return contains_phrase(text, " ".join(words)) or contains_phrase(text, words[-1])


def answer_letter(text: str) -> str | None:
    """The multiple-choice letter of a reply: the last ``answer is (X)`` / ``answer is X``,
    else the first ``(X)``, else a letter that opens the reply; ``None`` when there is none."""
    found = _ANSWER_IS.findall(text)
    if found:
        paren, bare = found[-1]
        return paren or bare
    for pattern in (_PAREN_LETTER, _LEADING_LETTER):
        m = pattern.search(text)
        if m:
            return m.group(1)
    return None


def judge_choice(text: str) -> str | None:
    """A positivity verdict: ``"A"``, ``"B"``, ``"tie"`` (a tie or equal), or ``None``
    (unreadable). Read: a letter that opens the reply, else "comment (X)" / "answer is X" /
    "option X", else tie words."""
    m = _LEADING_CHOICE.search(text) or _CHOICE_WORDS.search(text)
    if m:
        return m.group(1).upper()
    return "tie" if _TIE.search(text) else None


def judge_yes(text: str) -> bool | None:
    """A yes / no verdict: the first word; ``None`` when it is neither."""
    m = _YES_NO.search(text)
    return None if m is None else m.group(1).lower() == "yes"


def admits_by_phrase(text: str, phrases: Iterable[str]) -> bool:
    """Whether a reply contains one of ``phrases`` (case-insensitive substring)."""
    low = text.lower().replace("\u2019", "'")
    return any(str(p).lower() in low for p in phrases)
