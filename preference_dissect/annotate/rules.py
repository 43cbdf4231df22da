"""The ``rules`` annotator: offline, measurable attributes of each response's text.

No model is called. Every value is a heuristic count or ratio from regular expressions
(attribute definitions in ``annotators/rules/annotator.yaml``). Token counts come from
a simple regex tokenizer and only approximate a model tokenizer. Phrase lists are English.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from preference_dissect.annotate.attribute_sets import AttributeSet, load_attribute_set
from preference_dissect.annotate.base import Annotator, RowBuffer, to_raw
from preference_dissect.annotate.kinds import ANNOTATOR_KINDS
from preference_dissect.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from preference_dissect.llm import LLMEngine

_FLAGS = re.IGNORECASE

FENCED_CODE = re.compile(r"(?ms)^[ \t]*(```|~~~).*?(?:^[ \t]*\1[^\n]*$|\Z)")
WORD_CHUNK = re.compile(r"\S*[^\W_]\S*")
TOKEN = re.compile(r"\w+|[^\w\s]")
HEADER = re.compile(r"(?m)^[ \t]{0,3}#{1,6}[ \t]+\S")
LIST_ITEM = re.compile(r"(?m)^[ \t]*(?:\d{1,3}[.)]|[-*+•])[ \t]+\S")
BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
TABLE_SEPARATOR = re.compile(
    r"(?m)^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*(?:\|[ \t]*:?-{3,}:?[ \t]*)+\|?[ \t]*$"
)
LINK = re.compile(
    r"\[[^\]\n]+\]\([^)\s]+\)"  # markdown link
    r"|https?://[^\s)\]>]+|www\.[^\s)\]>]+"  # bare URL
    r"|\[\d+(?:\s*[,–-]\s*\d+)*\]"  # [1], [2, 3]
    # (Smith, 2020), (Smith et al., 2020), (Smith and Jones 2020)
    r"|\([A-Z][A-Za-z'-]+(?: et al\.?| (?:and|&) [A-Z][A-Za-z'-]+)?,? (?:19|20)\d{2}[a-z]?\)"
)
QUESTION = re.compile(r"\?+(?=[\s\"')\]*_]|$)")
URL = re.compile(r"https?://\S+|www\.\S+")

_NOT_HELP = (
    r"(?:help|assist|provide|do (?:that|this|it)|answer|give|tell|share|support|engage|"
    r"participate|comply|recommend|encourage|condone|write|create|generate|offer|discuss|"
    r"talk about|go along)"
)
REFUSAL = re.compile(
    r"\bI(?: a|')m (?:not (?:able|going|comfortable|willing)|unable) to\b"
    r"|\bI (?:can(?:no|')?t|won't|will not|would not|wouldn't|am not able to|am unable to) "
    + _NOT_HELP
    + r"\b"
    r"|\bI (?:must|have to|need to|will have to|'ll have to) (?:decline|refuse)\b"
    r"|\bI (?:refuse|decline) to\b"
    r"|\bI(?: do not|'d rather not| don't) "
    r"(?:feel comfortable|think I should|want to (?:help|encourage))\b"
    r"|\b(?:not|isn't|is not|wouldn't be|would not be) (?:appropriate|ethical|something I can)\b"
    r"|\bI(?: can(?:no|')?t| won't) (?:in good conscience|condone|support)\b",
    _FLAGS,
)
LIMITATION = re.compile(
    r"\bas an? (?:AI|artificial intelligence|(?:large )?language model|assistant|chatbot|bot)\b"
    r"|\bI(?:'m| am) (?:just |only )?(?:an? )?(?:AI|language model|computer program|bot|chatbot)\b"
    r"|\bI(?:'m| am) not (?:sure|certain|an expert|(?:really |very )?familiar"
    r"|a (?:doctor|lawyer|professional|medical professional))\b"
    r"|\bI (?:don't|do not) (?:know|have "
    r"(?:access|information|the ability|personal|enough|any (?:way|information)))\b"
    r"|\bI (?:may|might|could) be (?:wrong|mistaken)\b"
    r"|\bI can(?:no|')?t be (?:sure|certain)\b"
    r"|\bmy (?:knowledge|training data|information) (?:is|may be|might be|only|cutoff)\b"
    r"|\bI(?:'m| am) (?:not able|unable) to (?:browse|access|verify|see|know)\b",
    _FLAGS,
)
APOLOGY = re.compile(r"\b(?:sorry|apologi[sz]e[sd]?|apologies|apologizing|apologising)\b", _FLAGS)
EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000026ff\U00002700-\U000027bf\U0001f1e6-\U0001f1ff]"
    r"|(?<![\w)])[:;=8][-']?[)(DPp3*](?![\w(])|<3\b|\^_\^|\bxD\b"
)
INFORMAL = re.compile(
    r"\b(?:lol|lmao|rofl|haha\w*|hehe\w*|gonna|wanna|gotta|kinda|sorta|dunno|yeah|yep|yup|nope|nah|"
    r"hey|dude|bro|cool|awesome|btw|omg|tbh|imo|imho|idk|fyi|y'all|ain't|wow|whoa|oops|ugh|meh|"
    r"cuz|gimme|lemme|ya'll)\b"
    r"|[!?]{2,}"
    r"|\b[a-z]*([a-z])\1{2,}[a-z]*\b",
    _FLAGS,
)
LETTER_WORD = re.compile(r"[^\W\d_]+")
WORD = re.compile(r"\w+")
SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
HAS_WORD = re.compile(r"\w")

TTR_WINDOW = 100
MAX_RAW_MATCHES = 5


def _normalise(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'")


def word_count(text: str) -> int:
    """Number of whitespace-separated chunks that hold a letter or digit (GAIR's ``lengthy``)."""
    return len(WORD_CHUNK.findall(text))


def repetition_share(words: Sequence[str], n: int = 3) -> float:
    """Share of word n-grams that repeat an earlier n-gram of the same text (0 when none)."""
    total = len(words) - n + 1
    if total <= 0:
        return 0.0
    grams = [tuple(words[i : i + n]) for i in range(total)]
    return (total - len(set(grams))) / total


def measure(text: str) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Measure one response; return ``(values, matched_phrases)``.

    ``values`` has one entry per attribute of ``rules.yaml``; ``matched_phrases`` holds the
    first few matches of the phrase-based attributes (written to the ``raw`` column).
    """
    text = _normalise(text or "")
    code_blocks = len(FENCED_CODE.findall(text))
    prose = FENCED_CODE.sub("\n", text) if code_blocks else text
    words = WORD.findall(prose.lower())
    letter_words = LETTER_WORD.findall(prose)
    sentences = [s for s in SENTENCE_SPLIT.split(prose) if HAS_WORD.search(s)]
    refusals = REFUSAL.findall(prose)
    limits = LIMITATION.findall(prose)
    apologies = APOLOGY.findall(prose)
    informal = [m.group(0) for m in INFORMAL.finditer(URL.sub(" ", prose))]
    first = words[:TTR_WINDOW]
    n_words = word_count(text)
    values = {
        "words": float(n_words),
        "tokens": float(len(TOKEN.findall(text))),
        "headers": float(len(HEADER.findall(prose))),
        "list_items": float(len(LIST_ITEM.findall(prose))),
        "bold": float(len(BOLD.findall(prose))),
        "code_blocks": float(code_blocks),
        "tables": float(len(TABLE_SEPARATOR.findall(prose))),
        "links": float(len(LINK.findall(prose))),
        "questions_to_user": float(len(QUESTION.findall(prose))),
        "refusal": float(len(refusals)),
        "limitations": float(len(limits)),
        "apologies": float(len(apologies)),
        "emoji": float(len(EMOJI.findall(prose))),
        "informal": float(len(informal)),
        "exclamations": float(prose.count("!")),
        "repetition": repetition_share(words),
        "mean_word_length": float(np.mean([len(w) for w in letter_words])) if letter_words else 0.0,
        "type_token_ratio": len(set(first)) / len(first) if first else 0.0,
        "mean_sentence_length": (
            sum(len(WORD.findall(s)) for s in sentences) / len(sentences) if sentences else 0.0
        ),
    }
    phrases = {
        "refusal": refusals[:MAX_RAW_MATCHES],
        "limitations": limits[:MAX_RAW_MATCHES],
        "apologies": apologies[:MAX_RAW_MATCHES],
        "informal": informal[:MAX_RAW_MATCHES],
    }
    return values, phrases


def measure_many(texts: Sequence[str]) -> tuple[pd.DataFrame, list[dict[str, list[str]]]]:
    """Measure many texts; one row per text, one column per attribute."""
    rows, phrases = [], []
    for t in texts:
        v, p = measure(t)
        rows.append(v)
        phrases.append(p)
    return pd.DataFrame(rows), phrases


@ANNOTATOR_KINDS.register("rules")
class RulesAnnotator(Annotator):
    """Offline text heuristics (``annotators/rules``); the default of ``prefdissect run``
    offline. A ``mode: rules`` YAML may use a subset of the measured attributes."""

    needs_llm = False
    templates = ()

    def __init__(self, attribute_set: AttributeSet | None = None) -> None:
        super().__init__(attribute_set or load_attribute_set("rules"))
        measured = measure("")[0]
        for row, name in enumerate(self.attribute_set.names, start=1):
            if name not in measured:
                raise InputError(
                    f"rules sets can only use the measured attributes ({', '.join(measured)}), "
                    f"not {name!r}",
                    file=self.attribute_set.file,
                    row=row,
                    field="name",
                )

    def annotate(self, pairs: pd.DataFrame, engine: LLMEngine | None = None) -> pd.DataFrame:
        """Measure both responses of every pair (``engine`` is ignored)."""
        ids = pairs["pair_id"].tolist()
        buf = RowBuffer()
        for side in ("a", "b"):
            values, phrases = measure_many(pairs[f"response_{side}"].tolist())
            for attr in self.attribute_set.names:
                col = values[attr].to_numpy() if len(values) else np.array([])
                if attr in ("refusal", "limitations", "apologies", "informal"):
                    for pid, v, p in zip(ids, col, phrases, strict=True):
                        buf.add(pid, attr, side, v, raw=_phrases_raw(p[attr]))
                else:
                    buf.add_many(ids, attr, side, col)
        return buf.frame(self.name)


def _phrases_raw(matches: list[Any]) -> str:
    if not matches:
        return "{}"
    flat = [m if isinstance(m, str) else " ".join(x for x in m if x) for m in matches]
    return to_raw({"matches": flat})
