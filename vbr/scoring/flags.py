"""Review flags: send an answer to a person instead of trusting its score.

domain.md §3: an answer that is too short, off-topic, copied from the question or in a language the
scorer was not built for is *flagged for human review*, never quietly given a low score. Every flag
carries a ``reason`` in plain words a recruiter understands.

Per answer (:func:`answer_flags`): ``empty``, ``too_short``, ``too_long``, ``copied_question``,
``off_topic`` (TF-IDF cosine against the question, the rubric's values and the strong-answer key),
``not_english`` (a stop-word and script heuristic; no network, no model). Per score
(:func:`confidence_flags`): ``low_confidence``. Across a campaign (:func:`find_near_duplicates`,
:func:`near_duplicate_flags`): ``near_duplicate``, by MinHash over word shingles with LSH banding,
in numpy, built to handle 100,000 answers.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Hashable, Iterable, Mapping, Sequence

import numpy as np

from vbr.models import MAX_ANSWER_CHARS, FreeTextKey, Question, ReviewFlag, Rubric
from vbr.scoring.base import ValueScore
from vbr.scoring.evidence import stem

__all__ = [
    "FlagConfig",
    "answer_flags",
    "confidence_flags",
    "word_count",
    "topic_similarity",
    "english_signal",
    "copied_fraction",
    "NearDuplicates",
    "find_near_duplicates",
    "near_duplicate_flags",
    "minhash_signatures",
    "benchmark_near_duplicates",
]


@dataclass(frozen=True)
class FlagConfig:
    """Thresholds for every flag; a campaign may set its own."""

    min_words: int = 25                   # too_short below this many words
    max_chars: int = 10_000               # too_long above this (the scorers are built for ~50-1,000 words)
    copied_threshold: float = 0.6         # share of the answer's 3-word phrases found in the question
    off_topic_threshold: float = 0.05     # TF-IDF cosine to the question + rubric + key below this
    off_topic_min_words: int = 12         # shorter answers are too_short, not judged for topic
    not_english_min_words: int = 8
    low_confidence: float = 0.5           # a score's confidence below this
    near_duplicate_threshold: float = 0.7  # estimated Jaccard of word 3-gram sets
    near_duplicate_min_words: int = 10
    shingle_size: int = 3
    num_perm: int = 128
    bands: int = 32


DEFAULT = FlagConfig()

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def _words(text: str) -> list[str]:
    if not text:
        return []
    text = text.lower()
    if "’" in text:
        text = text.replace("’", "'")
    return _WORD.findall(text)


def word_count(text: str | None) -> int:
    return len(_WORD.findall(text or ""))


# --------------------------------------------------------------------------- copied question


def _shingles(words: Sequence[str], k: int) -> set[tuple[str, ...]]:
    if len(words) < k:
        return {tuple(words)} if words else set()
    return {tuple(words[i:i + k]) for i in range(len(words) - k + 1)}


def copied_fraction(answer: str, question_text: str, k: int = 3) -> float:
    """Share of the answer's k-word phrases that also occur in the question (0 to 1)."""
    a = _shingles(_words(answer), k)
    if not a:
        return 0.0
    q = _shingles(_words(question_text), k)
    return len(a & q) / len(a)


# --------------------------------------------------------------------------- off topic

_EN_STOP = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself
    just me more most my myself no nor not now of off on once only or other our ours ourselves out
    over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours yourself yourselves i'm i've i'd i'll it's
    don't didn't wasn't couldn't wouldn't can't won't isn't also get got make made one us may might
    must shall upon well yes still even much many really""".split()
)


def _topic_terms(text: str) -> list[str]:
    return [stem(w) for w in _words(text) if w not in _EN_STOP and len(w) > 1 and not w.isdigit()]


@dataclass
class _TopicModel:
    idf: dict[str, float]
    oov_idf: float
    refs: dict[str, dict[str, float]]  # question id -> normalised reference vector


_TOPIC_CACHE: dict[int, tuple[Rubric, _TopicModel]] = {}


def _vector(terms: Iterable[str], idf: Mapping[str, float], oov: float) -> dict[str, float]:
    tf = Counter(terms)
    v = {t: (1.0 + math.log(c)) * idf.get(t, oov) for t, c in tf.items()}
    norm = math.sqrt(sum(x * x for x in v.values()))
    return {t: x / norm for t, x in v.items()} if norm else {}


def _value_text(rubric: Rubric, value_id: str) -> str:
    v = rubric.value(value_id)
    return " ".join([v.name, v.description] + [i.text + " " + " ".join(i.phrases) for i in v.indicators])


def _question_text(q: Question) -> str:
    parts = [q.text, q.strong_answer_notes]
    if isinstance(q.key, FreeTextKey):
        parts.append(q.key.strong_answer)
    if q.options:
        parts.extend(q.options.values())
    return " ".join(parts)


def _topic_model(rubric: Rubric) -> _TopicModel:
    got = _TOPIC_CACHE.get(id(rubric))
    if got is not None and got[0] is rubric:
        return got[1]
    docs = [_topic_terms(_value_text(rubric, v.id)) for v in rubric.values]
    docs += [_topic_terms(_question_text(q)) for q in rubric.questions]
    n = len(docs)
    df = Counter(t for d in docs for t in set(d))
    idf = {t: math.log((1 + n) / (1 + c)) + 1.0 for t, c in df.items()}
    model = _TopicModel(idf, math.log(1 + n) + 1.0, {})
    if len(_TOPIC_CACHE) > 32:
        _TOPIC_CACHE.clear()
    _TOPIC_CACHE[id(rubric)] = (rubric, model)
    return model


def topic_similarity(text: str, question: Question, rubric: Rubric) -> float:
    """TF-IDF cosine between the answer and the question, its key and the rubric's values.

    IDF comes from the rubric itself (each value and each question is a document); words the
    rubric never uses get the highest IDF, so an answer full of unrelated words scores near 0.
    """
    model = _topic_model(rubric)
    ref = model.refs.get(question.id)
    if ref is None:
        # the question (twice: it matters most) plus the whole rubric: an answer that shows any of
        # the rubric's values is on topic here; whether it shows the asked-for value is the
        # scorer's job, not this flag's
        ref_text = " ".join([_question_text(question)] * 2 + [_value_text(rubric, v) for v in question.values]
                            + [_value_text(rubric, v.id) for v in rubric.values]
                            + [_question_text(q) for q in rubric.questions])
        ref = _vector(_topic_terms(ref_text), model.idf, model.oov_idf)
        model.refs[question.id] = ref
    ans = _vector(_topic_terms(text), model.idf, model.oov_idf)
    return float(sum(x * ref.get(t, 0.0) for t, x in ans.items()))


# --------------------------------------------------------------------------- not English

_OTHER_STOP = frozenset(
    """el la los las del que y en un una por con para es lo se su al como pero más muy está
    le les des est et une pour dans pas qui sur avec ce sont nous vous mais ou très être
    der die das und ist nicht ich sie mit den dem ein eine zu auf für von sich auch
    il di che è non per una sono della alla gli anche come questo
    não em os uma com para mas foi ao seu sua são muito também
    i w z na się nie że jest do to jak ale od po tak jego już może przez
    și în cu nu pe că este sunt mai la din pentru ce o fost
    het een van en dat niet op zijn ook voor met maar
    và của là không có tôi một những được cho với người này đã
    iyo waa ku ka oo ah ayaa uu ay waxaan aan
    ve bir bu da için ile çok ama gibi olarak""".split()
) - _EN_STOP


_LETTER = re.compile(r"[^\W\d_]")
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")


def english_signal(text: str) -> dict[str, float]:
    """Share of English function words, other-language function words and Latin-script letters."""
    words = _words(text)
    n_letters = len(_LETTER.findall(text))
    latin = len(_LATIN.findall(text)) / n_letters if n_letters else 1.0
    n = len(words) or 1
    return {
        "letters": float(n_letters),
        "words": float(len(words)),
        "english": sum(w in _EN_STOP for w in words) / n,
        "other": sum(w in _OTHER_STOP for w in words) / n,
        "latin": latin,
    }


def _looks_not_english(text: str, cfg: FlagConfig) -> tuple[bool, dict[str, float]]:
    sig = english_signal(text)
    letters = sig["letters"]
    if letters >= 20 and sig["latin"] < 0.5:
        return True, sig
    if sig["words"] < cfg.not_english_min_words:
        return False, sig
    # a list of English keywords has few function words of any language: not flagged
    if sig["english"] < 0.12 and sig["other"] >= 0.08 and sig["other"] > sig["english"]:
        return True, sig
    if letters >= 20 and sig["latin"] < 0.8 and sig["english"] < 0.12:
        return True, sig  # Latin script heavy with diacritics (Vietnamese, Yoruba...) and little English
    return False, sig


# --------------------------------------------------------------------------- per answer


def answer_flags(text: str | None, question: Question | None = None, rubric: Rubric | None = None,
                 config: FlagConfig | None = None) -> list[ReviewFlag]:
    """Flags for one answer. ``question`` and ``rubric`` enable copied_question and off_topic."""
    cfg = config or DEFAULT
    text = text or ""
    if not text.strip():
        return [ReviewFlag(code="empty", reason="The answer is empty. Nothing was scored; a person "
                                                "should check whether the candidate meant to answer.")]
    flags: list[ReviewFlag] = []
    n = word_count(text)
    if len(text) > cfg.max_chars:
        flags.append(ReviewFlag(code="too_long", reason=(
            f"The answer is {len(text):,} characters long, more than the {cfg.max_chars:,} the scorer "
            f"is designed for; a person should read it in full.")))
    if n < cfg.min_words:
        flags.append(ReviewFlag(code="too_short", reason=(
            f"The answer has only {n} word{'s' if n != 1 else ''} (fewer than {cfg.min_words}); there "
            f"is too little to score fairly, so a person should look at it rather than trust a low score.")))
    if question is not None:
        frac = copied_fraction(text, question.text, 3 if n >= 3 else 1)
        if frac >= cfg.copied_threshold:
            flags.append(ReviewFlag(code="copied_question", reason=(
                f"About {round(frac * 100)}% of the answer repeats the wording of the question itself, "
                f"so the score may not reflect the candidate's own answer.")))
    not_en, sig = _looks_not_english(text, cfg)
    if not_en:
        flags.append(ReviewFlag(code="not_english", reason=(
            "The answer does not look like it is written in English (few common English words"
            + (" and mostly non-Latin letters" if sig["latin"] < 0.5 else "")
            + "). The scorer only reads English, so a person should read it or arrange a translation; "
            "it has not been marked down for this.")))
    if question is not None and rubric is not None and not not_en and n >= cfg.off_topic_min_words:
        sim = topic_similarity(text, question, rubric)
        if sim < cfg.off_topic_threshold:
            flags.append(ReviewFlag(code="off_topic", reason=(
                f"The answer shares very few words with the question and the values it asks about "
                f"(similarity {sim:.2f}, below {cfg.off_topic_threshold:.2f}). It may answer a "
                f"different question; a person should check it.")))
    return flags


def confidence_flags(scores: Iterable[ValueScore], rubric: Rubric | None = None,
                     config: FlagConfig | None = None) -> dict[str, ReviewFlag]:
    """``low_confidence`` flags by value id for scores whose confidence is below the threshold."""
    cfg = config or DEFAULT
    out = {}
    for s in scores:
        if s.confidence < cfg.low_confidence:
            name = s.value_id
            if rubric is not None:
                try:
                    name = rubric.value(s.value_id).name
                except KeyError:
                    pass
            why = ("no rubric indicator was found in the answer" if not s.evidence
                   else "the evidence is thin, mixed, or sits between two levels")
            out[s.value_id] = ReviewFlag(code="low_confidence", reason=(
                f"The scorer is unsure about {name} (level {s.level}, confidence {s.confidence:.2f}, "
                f"below {cfg.low_confidence:.2f}): {why}. A person should mark this value."))
    return out


# --------------------------------------------------------------------------- near duplicates

# Everything below runs in uint32 numpy arithmetic (it wraps modulo 2**32): on two cores a
# uint64 multiply is several times slower, and 32-bit hashes are plenty for shingle sets of
# answers (a false shingle collision has probability about 2**-32 per pair of shingles).

_WORD_BYTE = np.zeros(256, dtype=bool)
_WORD_BYTE[ord("0"):ord("9") + 1] = True
_WORD_BYTE[ord("a"):ord("z") + 1] = True
_WORD_BYTE[128:] = True  # any non-ASCII character counts as part of a word
_MAX_POS = 64
_POW = (np.uint32(0x01000193) ** np.arange(_MAX_POS, dtype=np.uint32)).astype(np.uint32)


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, vectorised."""
    h = h ^ (h >> np.uint32(16))
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def _token_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every word of every text (lower-cased runs of letters and digits), and the
    number of words per text. Vectorised over the UTF-8 bytes of the whole batch: no per-word Python."""
    joined = "\x00".join((t or "").replace("\x00", " ") for t in texts).lower()
    b = np.frombuffer(joined.encode("utf-8", "replace"), dtype=np.uint8)
    if not len(b):
        return np.zeros(0, np.uint32), np.zeros(len(texts), np.int64)
    is_w = _WORD_BYTE[b]
    prev = np.empty_like(is_w)
    prev[0] = False
    prev[1:] = is_w[:-1]
    start_mask = is_w & ~prev
    starts = np.flatnonzero(start_mask)
    if not len(starts):
        return np.zeros(0, np.uint32), np.zeros(len(texts), np.int64)
    wc = np.flatnonzero(is_w)
    word_of_char = np.cumsum(start_mask)[wc] - 1
    pos = wc - starts[word_of_char]
    vals = b[wc].astype(np.uint32) * _POW[np.minimum(pos, _MAX_POS - 1)]
    first_char = np.flatnonzero(np.r_[True, word_of_char[1:] != word_of_char[:-1]])
    h = np.add.reduceat(vals, first_char)
    lens = np.diff(np.r_[first_char, len(wc)]).astype(np.uint32)
    h = _fmix32(h ^ (lens * np.uint32(0x9E3779B1)))
    seps = np.flatnonzero(b == 0)
    doc_of_word = np.searchsorted(seps, starts)
    counts = np.bincount(doc_of_word, minlength=len(texts)).astype(np.int64)
    return h, counts


def _shingle_hashes(token_hashes: np.ndarray, lengths: np.ndarray, k: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every k-word shingle and the document index of each (docs in input order);
    a document shorter than k words gets one shingle of all its words."""
    n_docs = len(lengths)
    doc_of = np.repeat(np.arange(n_docs), lengths)
    T = token_hashes
    m = max(0, len(T) - k + 1)
    h = np.zeros(m, dtype=np.uint32)
    for j in range(k):
        h = _fmix32(h * np.uint32(0x01000193) + T[j:j + m] + np.uint32(j + 1))
    if m:
        valid = doc_of[:m] == doc_of[k - 1:k - 1 + m]
        h, docs = h[valid], doc_of[:m][valid]
    else:
        docs = np.zeros(0, dtype=np.int64)
    short = np.flatnonzero((lengths > 0) & (lengths < k))
    if len(short):
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        extra = np.zeros(len(short), dtype=np.uint32)
        for j in range(k - 1):
            has = lengths[short] > j
            tok = np.where(has, T[np.minimum(offsets[short] + j, len(T) - 1)], np.uint32(0))
            extra = _fmix32(extra * np.uint32(0x01000193) + tok + np.uint32(j + 1))
        h = np.concatenate([h, extra])
        docs = np.concatenate([docs, short])
        order = np.argsort(docs, kind="stable")
        h, docs = h[order], docs[order]
    return h, docs


def _perm_params(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**32, size=num_perm, dtype=np.uint64).astype(np.uint32) | np.uint32(1)
    b = rng.integers(0, 2**32, size=num_perm, dtype=np.uint64).astype(np.uint32)
    return a, b


def minhash_signatures(texts: Sequence[str], *, k: int = 3, num_perm: int = 128, seed: int = 1,
                       min_words: int = 1, batch_docs: int = 5_000
                       ) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures ``(n, num_perm)`` (uint32) of each text's set of word k-shingles, and a
    mask of the texts that had at least ``min_words`` words (other rows are meaningless).

    Permutation i is ``x -> (a_i * x + b_i) mod 2**32`` (odd a_i, a bijection) applied to
    well-mixed 32-bit shingle hashes.
    """
    n = len(texts)
    sig = np.full((n, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    ok = np.zeros(n, dtype=bool)
    a, b = _perm_params(num_perm, seed)
    for d0 in range(0, n, batch_docs):
        batch = texts[d0:d0 + batch_docs]
        tokens, lengths = _token_hashes(batch)
        keep = lengths >= max(1, min_words)
        ok[d0:d0 + len(batch)] = keep
        if not keep.any():
            continue
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        if not keep.all():
            sel = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in np.flatnonzero(keep)])
            tokens = tokens[sel]
            lengths = np.where(keep, lengths, 0)
        sh, docs = _shingle_hashes(tokens, lengths, k)
        if not len(sh):
            continue
        doc_starts = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]])
        rows = d0 + docs[doc_starts]
        hv = np.empty_like(sh)
        for p in range(num_perm):  # one 1-D pass per permutation is far faster than a 2-D broadcast
            np.multiply(sh, a[p], out=hv)
            hv += b[p]
            sig[rows, p] = np.minimum.reduceat(hv, doc_starts)
    return sig, ok


@dataclass
class NearDuplicates:
    """Pairs and clusters of near-duplicate texts (indices into the input), with estimated Jaccard."""

    pairs: list[tuple[int, int, float]] = field(default_factory=list)
    clusters: list[tuple[int, ...]] = field(default_factory=list)
    cluster_jaccard: list[float] = field(default_factory=list)  # lowest verified pair in each cluster
    n_candidates: int = 0
    seconds: float = 0.0

    def cluster_of(self) -> dict[int, int]:
        return {i: c for c, members in enumerate(self.clusters) for i in members}


def _estimate(sig: np.ndarray, I: np.ndarray, J: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    out = np.empty(len(I), dtype=np.float64)
    for s in range(0, len(I), chunk):
        out[s:s + chunk] = (sig[I[s:s + chunk]] == sig[J[s:s + chunk]]).mean(axis=1)
    return out


def find_near_duplicates(texts: Sequence[str], *, threshold: float = 0.7, k: int = 3,
                         num_perm: int = 128, bands: int = 32, seed: int = 1, min_words: int = 10,
                         max_bucket_pairs: int = 50) -> NearDuplicates:
    """Find texts whose word k-shingle sets have estimated Jaccard >= ``threshold``.

    MinHash (``num_perm`` permutations) then LSH with ``bands`` bands of ``num_perm // bands`` rows:
    two texts become candidates if all rows of any band agree; candidates are then verified on the
    whole signature. With 128 × (32 bands of 4) a pair at Jaccard 0.7 is found with probability
    above 0.999 and a pair at 0.3 becomes a candidate with probability about 0.23 (then rejected).
    Buckets bigger than ``max_bucket_pairs`` members (mass copies) are joined as a star and a
    chain instead of every pair, so the cost stays linear.
    """
    t0 = time.perf_counter()
    n = len(texts)
    res = NearDuplicates()
    if n < 2:
        return res
    rows = num_perm // bands
    if rows < 1:
        raise ValueError("num_perm must be at least the number of bands")
    sig, ok = minhash_signatures(texts, k=k, num_perm=num_perm, seed=seed, min_words=min_words)
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        res.seconds = time.perf_counter() - t0
        return res
    S = sig[idx]
    mult = _fmix32(np.arange(1, rows + 1, dtype=np.uint32)) | np.uint32(1)
    cand_i: list[np.ndarray] = []
    cand_j: list[np.ndarray] = []
    for band in range(bands):
        block = S[:, band * rows:(band + 1) * rows]
        keys = _fmix32((block * mult[None, :]).sum(axis=1, dtype=np.uint32))
        keys = keys.astype(np.uint64) << np.uint64(32) | _fmix32(block[:, 0] ^ np.uint32(0x5BD1E995)).astype(np.uint64)
        order = np.argsort(keys, kind="stable")
        ks = keys[order]
        same = ks[1:] == ks[:-1]
        if not same.any():
            continue
        # runs of equal keys
        edges = np.flatnonzero(np.diff(np.r_[0, same.astype(np.int8), 0]))
        for s, e in zip(edges[::2], edges[1::2]):
            members = order[s:e + 1]
            m = len(members)
            if m <= max_bucket_pairs:
                a, b = np.triu_indices(m, 1)
                cand_i.append(members[a])
                cand_j.append(members[b])
            else:
                cand_i.append(np.r_[np.repeat(members[0], m - 1), members[1:-1]])
                cand_j.append(np.r_[members[1:], members[2:]])
    if not cand_i:
        res.seconds = time.perf_counter() - t0
        return res
    I = np.concatenate(cand_i)
    J = np.concatenate(cand_j)
    lo, hi = np.minimum(I, J), np.maximum(I, J)
    code = np.unique(lo.astype(np.int64) * len(idx) + hi)
    I, J = code // len(idx), code % len(idx)
    res.n_candidates = len(code)
    est = _estimate(S, I, J)
    keep = est >= threshold
    I, J, est = I[keep], J[keep], est[keep]
    res.pairs = [(int(idx[i]), int(idx[j]), round(float(e), 4)) for i, j, e in zip(I, J, est)]
    if len(I):
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        g = coo_matrix((np.ones(len(I)), (I, J)), shape=(len(idx), len(idx)))
        _, labels = connected_components(g, directed=False)
        involved = np.unique(np.r_[I, J])
        groups: dict[int, list[int]] = {}
        for node in involved:
            groups.setdefault(int(labels[node]), []).append(int(idx[node]))
        low: dict[int, float] = {}
        for i, e in zip(I, est):
            lab = int(labels[i])
            low[lab] = min(low.get(lab, 1.0), float(e))
        for lab in sorted(groups, key=lambda l: min(groups[l])):
            res.clusters.append(tuple(sorted(groups[lab])))
            res.cluster_jaccard.append(round(low[lab], 4))
    res.seconds = time.perf_counter() - t0
    return res


def near_duplicate_flags(keys: Sequence[Hashable], texts: Sequence[str], config: FlagConfig | None = None
                         ) -> tuple[dict[Hashable, ReviewFlag], NearDuplicates]:
    """``near_duplicate`` flags for texts (one campaign, one question) keyed by ``keys`` (for
    example application ids), and the underlying result."""
    cfg = config or DEFAULT
    found = find_near_duplicates(texts, threshold=cfg.near_duplicate_threshold, k=cfg.shingle_size,
                                 num_perm=cfg.num_perm, bands=cfg.bands, min_words=cfg.near_duplicate_min_words)
    best: dict[int, float] = {}
    for i, j, e in found.pairs:
        best[i] = max(best.get(i, 0.0), e)
        best[j] = max(best.get(j, 0.0), e)
    flags = {}
    for members in found.clusters:
        for m in members:
            others = [str(keys[o]) for o in members if o != m]
            shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
            flags[keys[m]] = ReviewFlag(code="near_duplicate", reason=(
                f"This answer is almost the same as {len(others)} other answer"
                f"{'s' if len(others) != 1 else ''} to this question in the campaign (about "
                f"{round(best.get(m, 0.0) * 100)}% of their three-word phrases are shared, estimated): "
                f"{shown}. It may be copied or shared; a person should compare them before relying on "
                f"the score."))
    return flags, found


# --------------------------------------------------------------------------- benchmark


def _synthetic_answers(n: int, words: int, seed: int, dup_every: int = 100) -> tuple[list[str], list[tuple[int, int]]]:
    """Synthetic answers from a 5,000-word vocabulary; every ``dup_every``-th is a lightly edited
    copy of an earlier one. Returns texts and the planted (original, copy) pairs."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(5000)])
    zipf = 1.0 / np.arange(1, 5001) ** 0.9
    zipf /= zipf.sum()
    lens = rng.integers(words // 2, words * 3 // 2 + 1, size=n)
    draws = rng.choice(5000, size=int(lens.sum()), p=zipf)
    texts, planted = [], []
    pos = 0
    for i in range(n):
        toks = vocab[draws[pos:pos + lens[i]]]
        pos += lens[i]
        if i % dup_every == dup_every - 1 and i > 0:
            src = int(rng.integers(0, i))
            toks = np.array(texts[src].split())
            edits = max(1, len(toks) // 50)  # ~2% of words replaced
            at = rng.choice(len(toks), size=edits, replace=False)
            toks[at] = vocab[rng.integers(0, 5000, size=edits)]
            planted.append((src, i))
        texts.append(" ".join(toks))
    return texts, planted


def benchmark_near_duplicates(n: int = 100_000, words: int = 200, seed: int = 0) -> dict:
    """Time near-duplicate detection on ``n`` synthetic answers of about ``words`` words.

    Not run by the tests at full size; call it by hand:
    ``python -c "from vbr.scoring.flags import benchmark_near_duplicates as b; print(b())"``.
    """
    t0 = time.perf_counter()
    texts, planted = _synthetic_answers(n, words, seed)
    t_gen = time.perf_counter() - t0
    cpu0 = time.process_time()
    res = find_near_duplicates(texts)
    cpu = time.process_time() - cpu0
    found = {(i, j) for i, j, _ in res.pairs}
    recall = sum((min(a, b), max(a, b)) in found for a, b in planted) / max(1, len(planted))
    try:
        import resource

        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except Exception:  # noqa: BLE001 - not available on every platform
        peak_mb = float("nan")
    return {
        "answers": n, "mean_words": words, "seconds": round(res.seconds, 2), "cpu_seconds": round(cpu, 2),
        "generate_seconds": round(t_gen, 2), "planted_pairs": len(planted), "pairs_found": len(res.pairs),
        "recall_of_planted": round(recall, 4), "clusters": len(res.clusters),
        "candidates_checked": res.n_candidates, "peak_rss_mb": round(peak_mb, 1),
    }
