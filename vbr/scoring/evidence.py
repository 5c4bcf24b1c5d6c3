"""The evidence (indicator) scorer: vbr's explainable cold-start default.

How it scores one redacted answer for one value:

1. split the answer into sentences, keeping character offsets;
2. in each sentence, look for every phrase of the value's positive and negative indicators
   (case-insensitive, whole words, light stemming so "listened", "listening" and "listens" all
   match "listen"; the content words of a multi-word phrase must appear in order, with at most
   two other words between them);
3. decide whether each match is negated ("I would not ignore", "never dismiss", "didn't blame",
   "rather than blaming", "blaming others is never acceptable"). A negated negative indicator is
   not counted against the candidate and counts as mild positive evidence; a negated positive is
   not counted for them;
4. count *distinct* indicators, never repetitions, so saying the same thing five times, or at
   great length, earns nothing extra (non-native speakers write shorter answers; domain.md §1);
5. map the balance onto the rubric scale with diminishing returns, and report a confidence that
   falls when there is little evidence, when evidence conflicts, or when the balance sits near a
   cut-point between two levels.

Every point is backed by :class:`vbr.models.EvidenceSpan` objects whose ``start:end`` are offsets
into the text the scorer was given, so a page can highlight them.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from vbr.models import EvidenceSpan, Indicator, Polarity, Question, Rubric, Value
from vbr.scoring.base import ValueScore

__all__ = [
    "EvidenceScorer",
    "evidence_features",
    "evidence_feature_names",
    "analyse_value",
    "ValueAnalysis",
    "split_sentences",
    "stem",
    "tokenize",
]

VERSION = "1.0.0"

# --------------------------------------------------------------------------- text handling

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'’”)\]]*\s+|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)|\n")
_TOKEN = re.compile(r"\[[A-Z_]+\]|[^\W_]+(?:['’][^\W_]+)*")
_CLAUSE_BREAK = re.compile(r"[,;:()—–]|\s-\s")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of each sentence of ``text`` (whitespace trimmed)."""
    spans = []
    pos = 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


_STEM_CACHE: dict[str, str] = {}
_NO_STEM = frozenset({"always", "news", "this", "his", "is", "was", "has", "does", "yes", "us",
                      "as", "its", "thus", "less", "unless", "bus", "plus", "ourselves",
                      "themselves", "yourself"})


_VOWELS = frozenset("aeiou")


def _restore_e(s: str) -> str:
    """The rest of a word once "-ing"/"-ed" is cut: a doubled final consonant is undone
    ("referr" -> "refer"); a bare consonant-vowel-consonant of three letters was a word ending
    in "e" ("car" of caring -> "care", "hop" of hoping -> "hope"), since "e" is only dropped
    from stems longer than that."""
    if len(s) >= 4 and s[-1] == s[-2] and s[-1] not in "lsz":
        return s[:-1]
    if (len(s) == 3 and s[0] not in _VOWELS and s[1] in _VOWELS and s[2] not in _VOWELS
            and s[2] not in "wxy"):
        return s + "e"
    return s


def stem(word: str) -> str:
    """A light, predictable English stemmer (not Porter): strips -s, -es, -ed, -ing, final -e.

    listen/listens/listened/listening -> "listen"; care/cares/cared/caring -> "care" (a stem
    is never cut to three letters by dropping an "e", and a three-letter consonant-vowel-
    consonant rest of "-ing"/"-ed" gets its "e" back, so "car" stays a different word);
    apologise/apologize/apologised -> "apologis"; carried/carries -> "carry".
    """
    w = word.lower().replace("’", "'")
    cached = _STEM_CACHE.get(w)
    if cached is not None:
        return cached
    s = w
    if s.endswith("'s"):
        s = s[:-2]
    if s in _NO_STEM or len(s) <= 3 or "'" in s:
        out = s
    else:
        if s.endswith("ies") and len(s) > 4:
            s = s[:-3] + "y"
        elif s.endswith("ied") and len(s) > 4:
            s = s[:-3] + "y"
        elif s.endswith("ing") and len(s) - 3 >= 3 and re.search(r"[aeiouy]", s[:-3]):
            s = _restore_e(s[:-3])
        elif s.endswith("ed") and len(s) - 2 >= 3 and re.search(r"[aeiouy]", s[:-2]):
            s = _restore_e(s[:-2])
        elif s.endswith("es") and len(s) > 4 and s[-3] in "sxz" or s.endswith(("ches", "shes")):
            s = s[:-2]
            if s[-1] in "sz":  # "cases" -> "case" as "case" is kept, "boxes" -> "box"
                s = _restore_e(s)
        elif s.endswith("s") and not s.endswith(("ss", "us", "is")) and len(s) > 3:
            s = s[:-1]
        if s.endswith("e") and len(s) > 4:
            s = s[:-1]
        if s.endswith(("iz", "yz")):
            s = s[:-1] + "s"
        out = s
    if len(_STEM_CACHE) < 200_000:
        _STEM_CACHE[w] = out
    return out


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    raw: str  # lower-cased
    stem: str


def tokenize(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    end = len(text) if end is None else end
    out = []
    for m in _TOKEN.finditer(text, start, end):
        raw = m.group(0)
        if raw.startswith("["):
            out.append(Token(m.start(), m.end(), raw, "<" + raw[1:-1].lower() + ">"))
        else:
            low = raw.lower().replace("’", "'")
            out.append(Token(m.start(), m.end(), low, stem(low)))
    return out


# Words that do not have to appear for a multi-word phrase to match ("took the time to listen"
# matches "took time to listen"). Negation words are never dropped.
_STOP = frozenset(
    """a an the to of in on at for with and or their his her its my our your them they he she
    it i we you me us this that these those be is am are was were been being would will can
    could should shall may might must do does did have has had just really also very so""".split()
)

_NEGATORS = frozenset(
    """not no never nor neither nobody nothing none cannot cant dont didnt doesnt wont wouldnt
    shouldnt couldnt isnt wasnt arent werent havent hasnt hadnt without avoid avoided avoiding
    refuse refused refusing""".split()
)
_NEGATOR_PAIRS = (("rather", "than"), ("instead", "of"), ("far", "from"))
_CLAUSE_WORDS = frozenset({"but", "and", "although", "though", "however", "because", "so",
                           "then", "while", "whereas", "yet", "which", "who", "when", "if"})
_NOT_NEGATION_AFTER = frozenset({"only", "just", "matter", "doubt", "least"})  # "not only", "no matter"
_POST_NEG_VERBS = frozenset({"is", "was", "are", "were", "be", "been", "seems", "feels"})
_POST_NEG_TARGETS = frozenset({"acceptable", "ok", "okay", "right", "appropriate", "fair",
                               "professional", "helpful", "answer", "way", "option", "tolerated",
                               "justified", "excusable", "safe"})


def _is_negator(raw: str) -> bool:
    r = raw.replace("'", "")
    return r in _NEGATORS or r.endswith("nt") and raw.endswith("n't")


# --------------------------------------------------------------------------- compiled rubric


@dataclass(frozen=True)
class _Phrase:
    indicator: Indicator
    text: str
    stems: tuple[str, ...]  # content stems in order
    prefix: str | None      # the last word as typed: also matches it plus an English ending
    has_negator: bool = False  # "not my job": the negation is part of the indicator


PREFIX_MIN = 4  # "escalat" matches "escalated"/"escalation"; "pain" matches "painful"

# What may follow a phrase's last word for a longer word to count as the same word: English
# inflections and derivations (chains included). "-less" is left out on purpose: "careless" and
# "painless" say the opposite of "care" and "pain".
_SUFFIXES = frozenset("""
    s es e ed d ing ings ingly edly r rs er ers or ors ion ions ation ations ational ment ments
    ness nesses ful fully fulness ly ally ic ics ical ically ive ives ively iveness ity ities
    ise ised ises ising isation ize ized izes izing ization y ies ied iness able ably ability
    ance ances ence ences ancy ency ant ants ent ents al als ally ist ists ism etic etically ous
    ously ure ures ured uring ate ated ates ating ative atively ee ees ial ially iate iated
    iating ory ories ary aries ship ships hood
""".split())
_E_KEPT_BEFORE = ("able", "ably", "ous", "ously")  # "noticeable", "courageous"


def _derives(prefix: str, word: str) -> bool:
    """Is ``word`` the phrase word ``prefix`` plus an English ending? "escalat" -> "escalation",
    "upset" -> "upsetting", "care" -> "carer", "careful"; but not "care" -> "career" (a vowel
    ending drops the "e": "carer"), "pain" -> "painting", "gentle" -> "gentleman" or
    "care" -> "careless"."""
    rest = word[len(prefix):]
    if not rest:
        return True
    if rest[0] in "aeiouy" and prefix.endswith("e") and not rest.startswith(_E_KEPT_BEFORE):
        return False
    if rest in _SUFFIXES:
        return True
    # a doubled final consonant before a vowel ending: "upset" -> "upsetting"
    return (len(rest) > 1 and rest[0] == prefix[-1] and rest[0] not in "aeiouy"
            and rest[1] in "aeiouy" and rest[1:] in _SUFFIXES)


def _phrase_parts(phrase: str) -> tuple[tuple[str, ...], str | None]:
    toks = [t for t in tokenize(phrase)]
    content = [t for t in toks if t.raw not in _STOP or _is_negator(t.raw)]
    if len(content) < 2:  # "the routine is" must not shrink to "routine"
        content = toks
    if not content:
        return (), None
    last = content[-1].raw
    prefix = last if len(last) >= PREFIX_MIN and "'" not in last and not last.startswith("[") else None
    return tuple(t.stem for t in content), prefix


@dataclass
class _ValueMatcher:
    phrases: list[_Phrase]
    by_first: dict[str, list[int]]   # first content stem -> phrase numbers
    by_prefix: dict[str, list[int]]  # one-word phrases: the word as typed -> phrase numbers


_COMPILED: dict[int, tuple[Rubric, dict[str, _ValueMatcher]]] = {}
_LOCK = threading.Lock()


def _compiled(rubric: Rubric) -> dict[str, _ValueMatcher]:
    with _LOCK:
        got = _COMPILED.get(id(rubric))
        if got is not None and got[0] is rubric:
            return got[1]
        out: dict[str, _ValueMatcher] = {}
        for value in rubric.values:
            phrases: list[_Phrase] = []
            by_first: dict[str, list[int]] = {}
            by_prefix: dict[str, list[int]] = {}
            for ind in value.indicators:
                for p in ind.phrases:
                    stems, prefix = _phrase_parts(p)
                    if not stems:
                        continue
                    n = len(phrases)
                    phrases.append(_Phrase(ind, p, stems, prefix, any(_is_negator(x) for x in stems)))
                    by_first.setdefault(stems[0], []).append(n)
                    if prefix is not None and len(stems) == 1:
                        by_prefix.setdefault(prefix, []).append(n)
            out[value.id] = _ValueMatcher(phrases, by_first, by_prefix)
        if len(_COMPILED) > 64:
            _COMPILED.clear()
        _COMPILED[id(rubric)] = (rubric, out)
        return out


# --------------------------------------------------------------------------- matching

MAX_GAP = 2  # other words allowed between two content words of one phrase
MAX_SPANS_PER_INDICATOR = 5  # evidence kept per indicator (counting uses distinct indicators)


class _SentenceIndex:
    """Where each stem, and each word beginning with a given prefix, occurs in one sentence."""

    def __init__(self, toks: list[Token]):
        self.by_stem: dict[str, list[int]] = {}
        by_raw: dict[str, list[int]] = {}
        for i, t in enumerate(toks):
            self.by_stem.setdefault(t.stem, []).append(i)
            by_raw.setdefault(t.raw, []).append(i)
        self.by_raw = by_raw
        self.raws = sorted(by_raw)
        self.prefixes = {r[:k] for r in by_raw for k in range(PREFIX_MIN, len(r) + 1)}

    def positions(self, stem_: str, prefix: str | None) -> list[int]:
        found = self.by_stem.get(stem_, [])
        if prefix is None:
            return found
        extra = []
        k = bisect.bisect_left(self.raws, prefix)
        while k < len(self.raws) and self.raws[k].startswith(prefix):
            if _derives(prefix, self.raws[k]):
                extra.extend(self.by_raw[self.raws[k]])
            k += 1
        if not extra:
            return found
        return sorted(set(found).union(extra))


def _match_phrase(p: "_Phrase", idx: _SentenceIndex) -> list[tuple[int, int]]:
    """Token ranges ``(first, last)`` where the phrase matches in this sentence."""
    n = len(p.stems)
    cands = [idx.positions(s, p.prefix if k == n - 1 else None) for k, s in enumerate(p.stems)]
    if any(not c for c in cands):
        return []
    out = []
    for first in cands[0]:
        pos = first
        ok = True
        for c in cands[1:]:
            nxt = None
            for cand in c:
                if pos < cand <= pos + 1 + MAX_GAP:
                    nxt = cand
                    break
            if nxt is None:
                ok = False
                break
            pos = nxt
        if ok:
            out.append((first, pos))
    return out


def _negated(text: str, toks: list[Token], first: int, last: int, phrase_has_negator: bool) -> bool:
    """Is the match at tokens ``first..last`` negated within its clause?"""
    if phrase_has_negator:
        return False  # "did not report" is itself the indicator
    # look back up to 4 tokens, stopping at a clause boundary
    i = first - 1
    steps = 0
    while i >= 0 and steps < 4:
        between = text[toks[i].end:toks[i + 1].start]
        if _CLAUSE_BREAK.search(between) or re.search(r"[.!?]", between):
            break
        raw = toks[i].raw
        if raw in _CLAUSE_WORDS:
            break
        if _is_negator(raw):
            after = toks[i + 1].raw if i + 1 < len(toks) else ""
            if after not in _NOT_NEGATION_AFTER:
                return True
        if i >= 1 and (toks[i - 1].raw, raw) in _NEGATOR_PAIRS:
            return True
        i -= 1
        steps += 1
    # "blaming others is never acceptable", "ignoring him was not the answer"
    j = last + 1
    window = toks[j:j + 6]
    for k, t in enumerate(window):
        between = text[toks[j + k - 1].end:t.start]
        if re.search(r"[.!?;]", between):
            break
        if t.raw in _POST_NEG_VERBS and k + 1 < len(window) and _is_negator(window[k + 1].raw):
            rest = {w.raw for w in window[k + 2:k + 5]}
            if rest & _POST_NEG_TARGETS:
                return True
    return False


@dataclass(frozen=True)
class ValueAnalysis:
    """What the evidence scorer found for one value in one answer."""

    value_id: str
    positive: frozenset[str]          # distinct positive indicators, not negated
    negative: frozenset[str]          # distinct negative indicators, not negated
    negated_negative: frozenset[str]  # negative indicators only ever found negated
    negated_positive: frozenset[str]  # positive indicators only ever found negated
    evidence: tuple[EvidenceSpan, ...]
    strength: float
    level: int
    confidence: float

    @property
    def n_negated(self) -> int:
        return len(self.negated_negative) + len(self.negated_positive)


_Prepared = list[tuple[list[Token], _SentenceIndex]]


def _prepare(text: str, sentences: list[tuple[int, int]] | None = None) -> _Prepared:
    """Tokenise and index each sentence once; every value's indicators are matched against it."""
    out = []
    for s_start, s_end in sentences if sentences is not None else split_sentences(text):
        toks = tokenize(text, s_start, s_end)
        if toks:
            out.append((toks, _SentenceIndex(toks)))
    return out


def _find(text: str, matcher: _ValueMatcher, prepared: _Prepared) -> list[tuple[_Phrase, int, int, bool]]:
    """All matches ``(phrase, start, end, negated)`` of one value's phrases in ``text``."""
    found = []
    for toks, idx in prepared:
        cands: set[int] = set()
        for st in idx.by_stem.keys() & matcher.by_first.keys():
            cands.update(matcher.by_first[st])
        for pre in idx.prefixes & matcher.by_prefix.keys():
            cands.update(matcher.by_prefix[pre])
        for n in sorted(cands):
            p = matcher.phrases[n]
            for first, last in _match_phrase(p, idx):
                neg = _negated(text, toks, first, last, p.has_negator)
                found.append((p, toks[first].start, toks[last].end, neg))
    return found


# Balance -> level. Each further distinct positive indicator adds a little less (x DECAY).
DECAY = 0.8
NEGATED_NEGATIVE_CREDIT = 0.5  # "I would never dismiss her" is mild positive evidence
MAX_NEGATED_CREDIT = 1.0
NEGATIVE_WEIGHT = 1.0
FULL_MARKS_AT = 4  # distinct positive indicators that earn the top of the scale


def _strength(n_pos: int) -> float:
    return sum(DECAY ** k for k in range(n_pos))


def _level_and_confidence(value: Value, lo: int, hi: int, n_pos: int, n_neg: int, n_negneg: int
                          ) -> tuple[float, int, float]:
    s = _strength(n_pos) + min(NEGATED_NEGATIVE_CREDIT * n_negneg, MAX_NEGATED_CREDIT)
    s -= NEGATIVE_WEIGHT * n_neg
    available = max(1, min(FULL_MARKS_AT, len(value.positive) or FULL_MARKS_AT))
    full = _strength(available)
    x = max(0.0, min(1.0, s / full)) * (hi - lo)
    level = lo + int(math.floor(x + 0.5))
    n_any = n_pos + n_neg + n_negneg
    if n_any == 0:
        return s, level, 0.3  # absence of evidence is weak evidence: route to review
    margin = 1.0 if x in (0.0, float(hi - lo)) else 1.0 - 2.0 * abs(x - math.floor(x + 0.5))
    amount = 1.0 - 0.6 ** n_any
    conflict = min(n_pos, n_neg) / max(n_pos, n_neg) if n_pos and n_neg else 0.0
    conf = 0.25 + 0.45 * amount + 0.2 * margin - 0.25 * conflict
    return s, level, round(max(0.05, min(0.95, conf)), 3)


def analyse_value(rubric: Rubric, value_id: str, text: str, prepared: _Prepared | None = None
                  ) -> ValueAnalysis:
    """Match one value's indicators in ``text`` and score the balance."""
    value = rubric.value(value_id)
    matcher = _compiled(rubric)[value_id]
    matches = _find(text, matcher, prepared if prepared is not None else _prepare(text))
    pos, neg, negneg, negpos = set(), set(), set(), set()
    spans: list[EvidenceSpan] = []
    per_ind: dict[str, int] = {}
    seen: set[tuple[int, int, str]] = set()
    for p, start, end, negated in sorted(matches, key=lambda m: (m[1], m[2], m[0].indicator.id, m[0].text)):
        ind = p.indicator
        if ind.polarity is Polarity.positive:
            (negpos if negated else pos).add(ind.id)
        else:
            (negneg if negated else neg).add(ind.id)
        key = (start, end, ind.id)
        if key in seen or per_ind.get(ind.id, 0) >= MAX_SPANS_PER_INDICATOR:
            continue
        seen.add(key)
        per_ind[ind.id] = per_ind.get(ind.id, 0) + 1
        spans.append(EvidenceSpan(start=start, end=end, text=text[start:end], indicator_id=ind.id,
                                  polarity=ind.polarity, negated=negated))
    negneg -= neg
    negpos -= pos
    lo, hi = rubric.scale.min, rubric.scale.max
    s, level, conf = _level_and_confidence(value, lo, hi, len(pos), len(neg), len(negneg))
    return ValueAnalysis(value_id, frozenset(pos), frozenset(neg), frozenset(negneg),
                         frozenset(negpos), tuple(spans), s, level, conf)


class EvidenceScorer:
    """Scores free text by matching rubric indicators; every point carries its evidence."""

    id = "evidence"
    version = VERSION

    def score(self, rubric: Rubric, question: Question, text: str) -> list[ValueScore]:
        text = text or ""
        prepared = _prepare(text)
        out = []
        for value_id in question.values:
            a = analyse_value(rubric, value_id, text, prepared)
            out.append(ValueScore(value_id=value_id, level=a.level, confidence=a.confidence,
                                  evidence=a.evidence))
        return out

    def explain(self, rubric: Rubric, question: Question, text: str) -> list[ValueAnalysis]:
        """The full analysis per value (distinct indicators found, strength, level)."""
        prepared = _prepare(text or "")
        return [analyse_value(rubric, v, text or "", prepared) for v in question.values]


# --------------------------------------------------------------------------- features

FEATURES_PER_VALUE = ("n_positive", "n_negative", "n_negated", "level")


def evidence_feature_names(rubric: Rubric, value_ids: Sequence[str] | None = None) -> list[str]:
    ids = list(value_ids) if value_ids is not None else [v.id for v in rubric.values]
    return [f"{v}:{f}" for v in ids for f in FEATURES_PER_VALUE]


def evidence_features(rubric: Rubric, texts: Iterable[str], value_ids: Sequence[str] | None = None
                      ) -> np.ndarray:
    """Evidence features for a learned scorer: one row per text, 4 columns per value.

    Per value (rubric order, or ``value_ids``): distinct positive indicators, distinct negative
    indicators, distinct negated indicators, and the evidence scorer's level. Texts should be
    redacted already. See :func:`evidence_feature_names` for column names.
    """
    ids = list(value_ids) if value_ids is not None else [v.id for v in rubric.values]
    rows = []
    for text in texts:
        text = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
        prepared = _prepare(text)
        row = []
        for v in ids:
            a = analyse_value(rubric, v, text, prepared)
            row.extend((len(a.positive), len(a.negative), a.n_negated, a.level))
        rows.append(row)
    return np.asarray(rows, dtype=float).reshape(len(rows), 4 * len(ids))
