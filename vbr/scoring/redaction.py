"""Redaction: personal data in an answer becomes a typed placeholder before any scorer sees it.

Why: a scorer must never see who the candidate is (Equality Act 2010; UK GDPR data
minimisation). Names are the strongest proxy for ethnicity and sex, so every name a redactor can
find is *removed*; nothing here ever classifies a name or guesses anything about the person.
Titles go with the name ("Mrs Okafor" becomes ``[NAME]``, not ``Mrs [NAME]``) because a title
says sex and marital status.

Each redactor is an object with ``id``, ``order`` and ``redact(text, names) -> Redaction``; they
run in ascending ``order`` (see :func:`redact_answer`). The caller keeps the original text.

Placeholders: ``[NAME]``, ``[EMAIL]``, ``[PHONE]``, ``[NHS_NUMBER]``, ``[POSTCODE]``,
``[ADDRESS]``. A possessive keeps its ``'s`` outside the placeholder (``[NAME]'s``).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from vbr.scoring.base import Redaction, Redactor

__all__ = [
    "PLACEHOLDERS",
    "EmailRedactor",
    "CandidateNameRedactor",
    "NhsNumberRedactor",
    "PhoneRedactor",
    "AddressRedactor",
    "PostcodeRedactor",
    "TitledNameRedactor",
    "CuedNameRedactor",
    "default_redactors",
    "redact_answer",
    "nhs_number_is_valid",
]

PLACEHOLDERS = {
    "NAME": "[NAME]",
    "EMAIL": "[EMAIL]",
    "PHONE": "[PHONE]",
    "NHS_NUMBER": "[NHS_NUMBER]",
    "POSTCODE": "[POSTCODE]",
    "ADDRESS": "[ADDRESS]",
}

# A letter, digit or combining mark (so decomposed Vietnamese or Yoruba diacritics stay in a word).
_W = r"[\w\u0300-\u036f]"
_NOT_W_BEFORE = r"(?<![\w\u0300-\u036f])"
_NOT_W_AFTER = r"(?![\w\u0300-\u036f])"
_POSSESSIVE = r"(?P<poss>['’]s?)?"

# Name parts that are also ordinary English words (or name particles) are matched only when
# written with a capital letter, so a candidate called Will Hope does not lose "will" and "hope"
# from every sentence. The full name is always matched whatever its case.
_COMMON_WORDS = frozenset(
    """
    a an and are as at be been but by can care do does for from had has have he her here him his
    how i if in into is it its me my no not of on or our out she so than that the their them then
    there these they this those to up us was we were what when where which who why will with would
    you your all also am any both each few more most new now off once only other over own same
    some such too very just may june april august mark grace hope faith joy patience rose lily
    violet ivy holly daisy amber ruby pearl dawn summer autumn sky rain river brook stone wood
    wells hall king page cook baker bell green white black brown gray grey young long short
    little rich sharp strong love angel bishop read reading bill sue rob pat mat art guy jack
    nick drew chase grant miles dean frank gene ray bob carol ali may sunny noble prince
    van von der den de da di del della la le du dos das bin bint binti ibn ben al el ul abu st
    """.split()
)

_TITLES = (
    "Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Professor", "Sir", "Dame", "Lady", "Lord",
    "Rev", "Revd", "Reverend", "Father", "Sister", "Nurse", "Matron", "Doctor", "Dr.", "Mr.",
    "Mrs.", "Ms.", "Prof.", "Rev.", "Staff Nurse", "Charge Nurse", "Ward Manager", "Ward Sister",
    "Nurse Practitioner", "Healthcare Assistant", "Senior Nurse", "Midwife", "Consultant",
)
# Titles that are also ordinary words in a hospital; the name after them must not be a role word.
_AMBIGUOUS_TITLES = frozenset({"Sister", "Nurse", "Matron", "Doctor", "Father", "Lady", "Lord", "Staff Nurse",
                               "Charge Nurse", "Ward Manager", "Ward Sister", "Nurse Practitioner",
                               "Healthcare Assistant", "Senior Nurse", "Midwife", "Consultant"})
_ROLE_WORDS = frozenset(
    """
    practitioner practitioners manager managers associate associates assistant assistants
    specialist specialists consultant consultants in charge ward wards team teams unit units
    educator lead leads director directors registrar registrars trainee trainees station
    anaesthetist anesthetist surgeon surgeons physician physicians paediatrician pediatrician
    psychiatrist radiologist cardiologist obstetrician gynaecologist geriatrician oncologist
    midwife midwives physiotherapist pharmacist therapist paramedic nurse nurses doctor doctors
    sister matron hca healthcare support worker workers on call
    """.split()
)
_PARTICLES = frozenset(
    "van von der den de da di del della la le du dos das bin bint binti ibn ben al el ul abu ó ní nic uí ua mac".split()
)
_NOT_NAMES = frozenset(
    """
    i the a an he she they we it his her their my our your this that there then when if but and
    or so on in at to for of with by from as is was were be been am are do did not no yes ok
    monday tuesday wednesday thursday friday saturday sunday january february march april may
    june july august september october november december nhs ae a&e icu itu gp uk english
    band ward wards sister nurse nurses care carer plan team unit charge doctor doctors matron
    manager staff bank agency night nights day days shift shifts hospital trust home practice
    surgery clinic department consultant registrar student mental health social service services
    patient patients resident residents community acute emergency theatre theatres maternity
    """.split()
)

_NAME_TOKEN = re.compile(rf"\[NAME\]|{_W}+(?:['’\-]{_W}+)*")


def _fold(s: str) -> str:
    """Strip accents: "Zoë Nguyễn" -> "Zoe Nguyen" (a candidate may type either)."""
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


@dataclass
class _Collector:
    kind: str
    found: list[tuple[str, str]]

    def sub(self, pattern: re.Pattern, text: str, check: Callable[[re.Match], bool] | None = None,
            keep_possessive: bool = False) -> str:
        def repl(m: re.Match) -> str:
            if check is not None and not check(m):
                return m.group(0)
            whole = m.group(0)
            poss = m.groupdict().get("poss") if keep_possessive else None
            original = whole[: len(whole) - len(poss)] if poss else whole
            self.found.append((self.kind, original))
            return PLACEHOLDERS[self.kind] + (poss or "")

        return pattern.sub(repl, text)


_JOINERS = "-\u2010\u2011'\u2019"  # hyphens and apostrophes inside one name: Al-Rashid, O'Neill
_NAME_RUN = re.compile(rf"\[NAME\](?:(?:[ \t]+|[{_JOINERS}])\[NAME\])+")
_NAME_JOINED = re.compile(rf"(?:\b([^\W\d_]\w*)([{_JOINERS}]))?\[NAME\](?:([{_JOINERS}])([^\W\d_]\w*)\b)?")


def _collapse_names(text: str) -> str:
    """One placeholder per name, however it was found.

    "[NAME] [NAME]" (a name matched part by part) becomes "[NAME]"; so do "[NAME]-Rashid" and
    "Al-[NAME]": when one part of a double-barrelled name is also part of the candidate's name
    ("Al-Rashid" beside a candidate called "Al-Sayed"), the rest of it goes too, so the text is
    the same as for any other name. Only capitalised parts are taken: "[NAME]'s" and
    "[NAME]-led" keep their endings.
    """
    def absorb(m: re.Match) -> str:
        before, j1, j2, after = m.groups()
        head = f"{before}{j1}" if before is not None and not before[0].isupper() else ""
        tail = f"{j2}{after}" if after is not None and not after[0].isupper() else ""
        return f"{head}[NAME]{tail}"

    for _ in range(3):  # absorbing can bring two placeholders together, and the other way round
        collapsed = _NAME_JOINED.sub(absorb, _NAME_RUN.sub("[NAME]", text))
        if collapsed == text:
            break
        text = collapsed
    return text


# --------------------------------------------------------------------------- emails


class EmailRedactor:
    id = "email"
    order = 10
    _re = re.compile(
        r"(?<![\w.+-])[A-Za-z0-9._%+'-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![\w-])"
    )

    def redact(self, text: str, names: Sequence[str] = ()) -> Redaction:
        found: list[tuple[str, str]] = []
        out = _Collector("EMAIL", found).sub(self._re, text)
        return Redaction(out, tuple(found))


# --------------------------------------------------------------------------- candidate's own name


def _name_variants(names: Iterable[str]) -> tuple[list[str], list[str]]:
    """(always-match variants, capitalised-only variants) from the names the ATS passed."""
    always: set[str] = set()
    capital_only: set[str] = set()
    for raw in names:
        if not raw or not raw.strip():
            continue
        for full in {raw.strip(), _fold(raw.strip())}:
            full = re.sub(r"\s+", " ", full)
            parts = full.split(" ")
            if len(full) >= 2:
                if all(p.lower().strip(".,") in _COMMON_WORDS for p in parts):
                    capital_only.add(" ".join(p[:1].upper() + p[1:] for p in parts))
                else:
                    always.add(full)
            subparts = []
            for p in parts:
                p = p.strip(".,;:()\"")
                subparts.append(p)
                if "-" in p or "'" in p or "’" in p:
                    subparts.extend(x for x in re.split(r"[-'’]", p))
            for p in subparts:
                if len(p) < 2:  # initials are not redacted on their own
                    continue
                if p.lower() in _COMMON_WORDS:
                    capital_only.add(p[0].upper() + p[1:])
                else:
                    always.add(p)
    return sorted(always, key=len, reverse=True), sorted(capital_only, key=len, reverse=True)


def _alternation(variants: list[str]) -> str:
    return "|".join(re.escape(v).replace(r"\ ", r"\s+") for v in variants)


@functools.lru_cache(maxsize=4096)
def _name_patterns(names: tuple[str, ...]) -> tuple[re.Pattern | None, re.Pattern | None]:
    always, capital_only = _name_variants(names)
    a = re.compile(rf"{_NOT_W_BEFORE}(?:{_alternation(always)}){_NOT_W_AFTER}{_POSSESSIVE}", re.I) \
        if always else None
    c = re.compile(rf"{_NOT_W_BEFORE}(?:{_alternation(capital_only)}){_NOT_W_AFTER}{_POSSESSIVE}") \
        if capital_only else None
    return a, c


class CandidateNameRedactor:
    """The candidate's own name(s), passed separately by the ATS: full name and each part."""

    id = "candidate_name"
    order = 20

    def redact(self, text: str, names: Sequence[str] = ()) -> Redaction:
        found: list[tuple[str, str]] = []
        col = _Collector("NAME", found)
        for pat in _name_patterns(tuple(n for n in names if n)):
            if pat is not None:
                text = col.sub(pat, text, keep_possessive=True)
        if found:
            text = _collapse_names(text)
        return Redaction(text, tuple(found))


# --------------------------------------------------------------------------- NHS numbers


def nhs_number_is_valid(digits: str) -> bool:
    """Modulus-11 check of a 10-digit NHS number (weights 10..2; check 10 is never issued)."""
    digits = re.sub(r"[\s-]", "", digits)
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return False
    return check == int(digits[9])


class NhsNumberRedactor:
    id = "nhs_number"
    order = 30
    _re = re.compile(r"(?<![\d+])(\d{3})([ -]?)(\d{3})\2(\d{4})(?![\d])")

    def redact(self, text: str, names: Sequence[str] = ()) -> Redaction:
        found: list[tuple[str, str]] = []
        out = _Collector("NHS_NUMBER", found).sub(
            self._re, text, check=lambda m: nhs_number_is_valid(m.group(1) + m.group(3) + m.group(4))
        )
        return Redaction(out, tuple(found))


# --------------------------------------------------------------------------- phone numbers

# After the trunk 0 (or +44) a UK number has 9 or 10 digits in a few customary groupings.
_SEP = r"[ \-]?"
_NATIONAL = (
    rf"(?:\d{{2}}\)?{_SEP}\d{{4}}{_SEP}\d{{4}}"   # 020 7946 0958
    rf"|\d{{3}}\)?{_SEP}\d{{3}}{_SEP}\d{{4}}"       # 0161 496 0958, 0800 123 4567
    rf"|\d{{4}}\)?{_SEP}\d{{3}}{_SEP}\d{{3,4}}"     # 07700 900 123
    rf"|\d{{4}}\)?{_SEP}\d{{5,6}}"                  # 07700 900123, 01632 960001
    rf"|\d{{3}}\)?{_SEP}\d{{6,7}}"                  # 0161 4960958
    rf"|\d{{5}}\)?{_SEP}\d{{4,5}})"                 # 016977 3456
)


class PhoneRedactor:
    id = "phone"
    order = 40
    _re = re.compile(
        rf"(?<![\w+/.:])(?:\+\s?44{_SEP}(?:\(0\){_SEP})?|\(?0)(?=[1-9])({_NATIONAL})(?![\d/.:]\d|\d)"
    )

    @staticmethod
    def _ok(m: re.Match) -> bool:
        n = len(re.sub(r"\D", "", m.group(1)))
        return n in (9, 10)

    def redact(self, text: str, names: Sequence[str] = ()) -> Redaction:
        found: list[tuple[str, str]] = []
        out = _Collector("PHONE", found).sub(self._re, text, check=self._ok)
        return Redaction(out, tuple(found))


# --------------------------------------------------------------------------- street addresses

_STREET_TYPES = (
    "Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Close|Cl|Drive|Dr|Way|Court|Ct|Crescent|Cres|Place|Pl|"
    "Gardens|Gdns|Grove|Gr|Terrace|Terr|Hill|Park|Square|Sq|Mews|View|Row|Walk|Green|Rise|Parade|"
    "Gate|Vale|Boulevard|Embankment|Wharf|Yard|Fields|Croft|Meadow|Meadows|Heights|Approach"
)
_CAP = r"[A-Z][A-Za-z'’\-]*"
_UNIT = r"(?:(?:Flat|Apartment|Apt|Unit|Room|Suite|Floor)\s+\d{1,4}[A-Za-z]?,?\s+)"
_HOUSE = r"\d{1,4}[A-Za-z]?(?:\s*-\s*\d{1,4})?,?\s+"


class AddressRedactor:
    """A street address: optional "Flat 3," then a house number, capitalised words and a street type."""

    id = "address"
    order = 50
    _re = re.compile(
        rf"(?<![\w£$€])(?:{_UNIT}?{_HOUSE}(?:{_CAP}\s+){{1,4}}(?:{_STREET_TYPES})\b\.?"
        rf"|(?:Flat|Apartment|Apt)\.?\s+\d{{1,4}}[A-Za-z]?(?=,?\s+[A-Z]))"
    )
    # "Flat 3" before a house or block name is part of an address; "Room 12" or "Unit 4" alone is
    # hospital talk and stays.

    def redact(self, text: str, names: Sequence[str] = ()) -> Redaction:
        found: list[tuple[str, str]] = []
        out = _Collector("ADDRESS", found).sub(self._re, text)
        out = re.sub(r"\[ADDRESS\](?:\s*,?\s*\[ADDRESS\])+", "[ADDRESS]", out)
        return Redaction(out, tuple(found))


# --------------------------------------------------------------------------- postcodes


class PostcodeRedactor:
    """A full UK postcode (outward + inward code), any case, space optional: "LS1 4AB", "sw1a 1aa"."""

    id = "postcode"
    order = 60
    _re = re.compile(
        r"(?<![\w-])(?:GIR ?0AA|[A-PR-UWYZ](?:\d[A-HJKPSTUW\d]?|[A-HK-Y]\d[ABEHMNPRVWXY\d]?)"
        r"\s?\d[ABD-HJLNP-UW-Z]{2})(?![\w-])",
        re.I,
    )

    def redact(self, text: str, names: Sequence[str] = ()) -> Redaction:
        found: list[tuple[str, str]] = []
        out = _Collector("POSTCODE", found).sub(self._re, text)
        return Redaction(out, tuple(found))


# --------------------------------------------------------------------------- other people's names


def _is_name_token(tok: str) -> bool:
    if tok == "[NAME]":
        return True
    if len(tok) < 2 or not tok[0].isupper() or tok.isupper() and len(tok) <= 3:
        return False  # "I", "A", "ICU", "GP"
    return tok.lower() not in _NOT_NAMES


def _take_name(text: str, pos: int, max_tokens: int = 4, ambiguous: bool = False) -> int | None:
    """End offset of a person's name starting at ``pos`` (after a title or cue), or None.

    Accepts up to ``max_tokens`` capitalised words, name particles ("van der", "bin", "al-")
    only when a capitalised word follows them, and an already redacted ``[NAME]``.
    """
    end = None
    cap_particle_end = None
    i = pos
    for n in range(max_tokens):
        j = i if n == 0 else re.compile(r"[ \t]*").match(text, i).end()
        t = _NAME_TOKEN.match(text, j)
        if not t:
            break
        tok = t.group(0)
        poss = tok.endswith(("'s", "’s")) and len(tok) > 3
        if poss:
            tok = tok[:-2]
        low = tok.lower()
        if poss and _is_name_token(tok) and low not in _ROLE_WORDS:
            return t.end() - 2  # "Dr Patel's": the name ends before the possessive
        if low in _PARTICLES:
            i = t.end()  # pending: counts only if a name follows ...
            # ... or if it is capitalised and ends the name ("Sister Le", "Shanice Le")
            cap_particle_end = t.end() if tok[:1].isupper() else None
            continue
        pieces = re.split(r"[-'’]", tok)
        if len(pieces) > 1 and all(p.lower() in _PARTICLES or p.lower() in ("o", "d") for p in pieces[:-1]) \
                and pieces[-1][:1].isupper():
            end = i = t.end()  # "al-Hassan", "van-der-Berg", "d'Souza"
            continue
        if not _is_name_token(tok) or low in _ROLE_WORDS:
            if ambiguous and n == 0:
                return None
            break
        end = i = t.end()
        cap_particle_end = None
    return cap_particle_end if cap_particle_end is not None else end


_TITLE_RE = re.compile(
    r"(?<![\w\u0300-\u036f])(?P<title>"
    + "|".join(sorted({re.escape(t.rstrip(".")).replace(r"\ ", r"[ \t]+") for t in _TITLES}, key=len, reverse=True))
    + r")(?:\.|(?![\w\u0300-\u036f]))[ \t]+"
)


class TitledNameRedactor:
    """A title followed by a capitalised name: "Mrs Okafor", "Dr. Nguyen Van Anh", "Sister O'Neill"."""

    id = "titled_name"
    order = 70

    def redact(self, text: str, names: Sequence[str] = ()) -> Redaction:
        found: list[tuple[str, str]] = []
        out: list[str] = []
        last = 0
        for m in _TITLE_RE.finditer(text):
            if m.start() < last:
                continue
            end = _take_name(text, m.end(), ambiguous=m.group("title") in _AMBIGUOUS_TITLES)
            if end is None:
                continue
            out.append(text[last:m.start()])
            original = text[m.start():end]
            if original.replace(m.group(0), "", 1).strip() != "[NAME]":
                found.append(("NAME", original))
            out.append("[NAME]")
            last = end
        out.append(text[last:])
        result = "".join(out)
        return Redaction(_collapse_names(result) if found else result, tuple(found))


_CUE_RE = re.compile(
    # "a patient called Tomasz", "a lady named Grace" (tried first: it is the longer cue)
    r"(?<![\w])(?:(?:my|our|the|a|an|her|his|their)[ \t]+)?(?:man|woman|lady|gentleman|boy|girl|child|"
    r"baby|patient|resident|client|person|colleague|nurse|doctor|student|relative|friend|someone|"
    r"somebody|husband|wife|son|daughter)[ \t]+(?:called|named)[ \t]+"
    # "my colleague Aisha", "our patient, Mr Jones"
    r"|(?<![\w])(?:my|our|the|a|her|his|their)\s+(?:colleague|manager|mentor|supervisor|patient|"
    r"client|resident|friend|husband|wife|partner|son|daughter|mother|mum|father|dad|brother|"
    r"sister|neighbour|carer|team leader|line manager|preceptor|student)(?:s)?,?[ \t]+"
    # "her name was Adaeze"
    r"|(?<![\w])(?:my|his|her|their|whose|your)[ \t]+name[ \t]+(?:is|was)[ \t]+",
    re.I,
)


class CuedNameRedactor:
    """A capitalised name after a cue: "my colleague Aisha", "a patient called Mr Jones", "named Tom".

    A shape heuristic that only removes: it never labels or classifies a name.
    """

    id = "cued_name"
    order = 80

    def redact(self, text: str, names: Sequence[str] = ()) -> Redaction:
        found: list[tuple[str, str]] = []
        out: list[str] = []
        last = 0
        for m in _CUE_RE.finditer(text):
            if m.start() < last:
                continue
            end = _take_name(text, m.end(), max_tokens=3)
            if end is None or text[m.end():end] == "[NAME]":
                continue
            out.append(text[last:m.end()])
            found.append(("NAME", text[m.end():end]))
            out.append("[NAME]")
            last = end
        out.append(text[last:])
        result = "".join(out)
        return Redaction(_collapse_names(result) if found else result, tuple(found))


# --------------------------------------------------------------------------- running them


def default_redactors() -> list[Redactor]:
    """The built-in redactors, in the order they run."""
    return [
        EmailRedactor(), CandidateNameRedactor(), NhsNumberRedactor(), PhoneRedactor(),
        AddressRedactor(), PostcodeRedactor(), TitledNameRedactor(), CuedNameRedactor(),
    ]


def redact_answer(text: str, names: Sequence[str] = (), redactors: Iterable[Redactor] | None = None
                  ) -> Redaction:
    """Run every redactor in ascending ``order`` and return the text a scorer may see.

    ``names`` are the candidate's own name(s) from the ATS. ``redactors`` defaults to the
    built-ins. The original text is not kept here: the caller stores it apart.
    """
    chain = sorted(default_redactors() if redactors is None else list(redactors),
                   key=lambda r: (r.order, r.id))
    replacements: list[tuple[str, str]] = []
    current = text or ""
    for r in chain:
        result = r.redact(current, tuple(names or ()))
        current = result.text
        replacements.extend(result.replacements)
    return Redaction(current, tuple(replacements))
