"""A learned scorer that an institution trains on its own double-marked answers.

:class:`LearnedScorer` is a scikit-learn estimator: ``fit(texts, levels)``, ``predict(texts)``
returns integer levels on the training scale, and it works in ``Pipeline``, ``cross_val_score``
and ``GridSearchCV``. How it works, in order:

1. **Features.** Word 1-2-gram (lightly stemmed: "ing", "ed", "ly", plural "s") and character
   2-5-gram TF-IDF, both hashed and counted with numpy in bulk (sublinear term frequency, each
   row of unit length, so repeating words or writing more does not raise a score by itself);
   similarity of the answer to the key text when one is given; similarity to the training
   answers of each level (to the level centroid and to the nearest few answers of that level);
   a handful of length-free lexical ratios; optional rubric evidence features from
   ``feature_hook``. Raw length is deliberately *not* a feature: a scorer must not reward
   fluency or verbosity for its own sake.
2. **Stacking.** Kernel ridge regressions (linear kernels on words and characters together,
   on words alone and on characters alone; targets: the level and one indicator per level)
   and a multinomial logistic regression on the word n-grams; and *presence* models on which
   word n-grams an answer uses (0/1, not normalised, so each distinct point made adds its
   own credit, as a marker counting key elements does, while repeating one adds nothing): a
   logistic and a ridge regression, and per cut-point an NB-SVM ("level k or above", each
   n-gram weighted by its log-count ratio); and extremely randomised trees (``trees``) on
   which word and character n-grams an answer uses, the one non-linear model: a tree can
   give credit for a *combination* of points ("names two of these three steps") and read a
   misspelt key word through its character n-grams, which no sum of per-n-gram weights
   does. All give out-of-fold predictions;
   those, with the similarity features (also computed out of fold, so an answer never sees
   itself or its own fold), feed a small linear meta-model (a ridge regression, strongly
   penalised: its inputs are many and closely related). The ridge models are solved in
   their dual form (an n x n kernel), which is what keeps training on thousands of answers
   within seconds, and are turned into ordinary weight vectors for prediction. The base
   models used for prediction are the *fold models themselves*, averaged (``fold_average``):
   the ridge weights are averaged, which costs nothing at prediction, and the classifiers'
   probabilities are averaged. So the meta-model sees at prediction time what it was
   trained on (predictions of models fitted on all folds but one), and the classifiers are
   bagged; refitting the base models on all answers instead scored lower in repeated
   cross-validation on training answers only.
3. **Cut-points.** The meta-model's continuous output is turned into levels by thresholds
   tuned for quadratic weighted kappa on out-of-fold predictions: tuned on each of
   ``cut_bags`` bootstrap resamples of those predictions and averaged, because thresholds
   tuned once follow the chance placement of the few answers that sit near each of them.
4. **Confidence.** How far an answer sits from the nearest cut-point, mapped through an
   isotonic calibration fitted on out-of-fold predictions to "how often was the level right",
   so a confidence of 0.8 means about 80 % of such answers were scored at the human level.

**Double-marked answers.** ``fit(X, y, second_rating=r2)`` also learns from a second rater's
levels (NaN or None for answers marked once): the regression targets (the kernel ridge level
and one-hot targets, the presence ridge, the meta-model) become the mean of each answer's
ratings; the classifiers (logistic, presence logistic, the NB-SVM cuts) learn both raters'
labels, an answer the raters disagree on counting as one row per label at half weight; and
the cut-points are tuned for QWK against both raters' marks. The fold split, the level
similarities, the confidence calibration and ``cv_qwk_`` still follow ``y``. Prediction is
the same code either way. Without ``second_rating`` the model is exactly the single-rater one.

Nothing is done in ``__init__``; every hyperparameter is a plain constructor argument with a
general default chosen for short free-text answers, not for any particular question.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, RegressorMixin, TransformerMixin
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import ThreadpoolController

from vbr.scoring.agreement import quadratic_weighted_kappa

__all__ = [
    "LearnedScorer",
    "CharNgramTfidf",
    "quadratic_weighted_kappa",
    "optimise_cutpoints",
    "apply_cutpoints",
]

# --------------------------------------------------------------------------- helpers


def apply_cutpoints(values: np.ndarray, cutpoints: np.ndarray, min_level: int) -> np.ndarray:
    """Level = ``min_level`` + number of cut-points at or below the value."""
    return (min_level + np.searchsorted(np.asarray(cutpoints), np.asarray(values), side="right")).astype(
        np.int64
    )


def optimise_cutpoints(values: np.ndarray, y: np.ndarray, levels: np.ndarray,
                       n_passes: int = 3, n_grid: int = 60) -> np.ndarray:
    """Thresholds on a continuous prediction that maximise QWK against ``y``.

    Starts at the midpoints between levels and moves one cut-point at a time over a grid of
    candidate positions between its neighbours (coordinate ascent), keeping them ordered. A
    candidate replaces the cut-point only if it raises QWK by more than 1e-9, the first such
    along the grid winning ties. All candidates of one cut-point are scored at once: moving
    cut-point j to c only lifts the answers valued c or more by one level, so each
    candidate's agreement table is the table without that cut-point plus counts of those
    answers (by level and mark), read off sorted values.
    """
    values = np.asarray(values, dtype=float)
    y = np.asarray(y, dtype=np.int64)
    lo, hi = int(levels[0]), int(levels[-1])
    cuts = levels[:-1].astype(float) + 0.5
    if len(cuts) == 0:
        return cuts
    k = hi - lo + 1
    best = quadratic_weighted_kappa(y, apply_cutpoints(values, cuts, lo), lo, hi)
    vmin, vmax = float(values.min()) - 1e-6, float(values.max()) + 1e-6
    idx = np.arange(k)
    w = ((idx[:, None] - idx[None, :]) ** 2).astype(float)
    truth = y - lo
    for _ in range(n_passes):
        improved = False
        for j in range(len(cuts)):
            left = cuts[j - 1] if j > 0 else min(vmin, cuts[j] - 1.0)
            right = cuts[j + 1] if j + 1 < len(cuts) else max(vmax, cuts[j] + 1.0)
            grid = np.linspace(left, right, n_grid + 2)[1:-1]
            scores = _qwk_moving_cut(values, truth, np.delete(cuts, j), grid, k, w)
            for c, q in zip(grid, scores):
                if q > best + 1e-9:
                    best, improved = float(q), True
                    cuts = cuts.copy()
                    cuts[j] = c
        if not improved:
            break
    return cuts


def _qwk_moving_cut(values: np.ndarray, truth: np.ndarray, others: np.ndarray, grid: np.ndarray,
                    k: int, w: np.ndarray) -> np.ndarray:
    """QWK (marks ``truth``, 0-based) of the levels given by cut-points ``others`` plus one
    more at each position in ``grid``, as ``quadratic_weighted_kappa`` computes it."""
    base = np.searchsorted(others, values, side="right")  # level without the moving cut
    code = base * k + truth
    n_codes = k * k
    table = np.bincount(code, minlength=n_codes).astype(float)
    # answers valued at or above each candidate, by (level without the cut, mark)
    order = np.lexsort((values, code))
    starts = np.searchsorted(code[order], np.arange(n_codes + 1))
    lifted = np.zeros((grid.size, n_codes))
    for c in np.flatnonzero(table):
        vs = values[order[starts[c]:starts[c + 1]]]
        lifted[:, c] = vs.size - np.searchsorted(vs, grid, side="left")
    # table[g, pred, mark]: each lifted answer leaves its level for the one above
    conf = np.broadcast_to(table.reshape(k, k), (grid.size, k, k)).copy()
    lifted = lifted.reshape(grid.size, k, k)
    conf -= lifted
    conf[:, 1:, :] += lifted[:, :-1, :]
    conf = conf.transpose(0, 2, 1)  # rows: marks, columns: levels, as quadratic_weighted_kappa
    total = conf[0].sum()
    expected = conf.sum(axis=2)[:, :, None] * conf.sum(axis=1)[:, None, :] / total
    num = np.array([float((w * t).sum()) for t in conf])
    den = np.array([float((w * e).sum()) for e in expected])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den == 0, np.where(num == 0, 1.0, 0.0), 1.0 - num / den)


# --------------------------------------------------------------------------- features

_N_SKETCH = 512
# the trees split only on n-grams this many of a fold's training answers use (the settings the
# cross-validation that chose the trees ran with: a rarer n-gram cannot be split on usefully)
_TREE_WORD_MIN_DF = 3
_TREE_CHAR_MIN_DF = 10
_WS = re.compile(r"\s+")
_WORD = re.compile(r"(?u)\b\w\w+\b")


def _normalise(text: str) -> str:
    return " " + _WS.sub(" ", text.lower()).strip() + " "


def _count_matrix(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> sp.csr_matrix:
    """CSR matrix of how often each (row, col) pair occurs, indices sorted. Built as the
    transpose and converted back (two linear passes) rather than sorting every row."""
    T = sp.csr_matrix((np.ones(rows.size), (cols, rows)), shape=(n_cols, n_rows))
    C = T.tocsc()  # column j of C lists row j's columns of the result, in increasing order
    mat = sp.csr_matrix((C.data, C.indices, C.indptr), shape=(n_rows, n_cols))
    mat.has_sorted_indices = True
    mat.sum_duplicates()
    return mat


def _no_nul(texts: Sequence[str]) -> list[str]:
    """Texts with any zero character made a space (a zero byte separates texts)."""
    return [t.replace("\x00", " ") if "\x00" in t else t for t in texts]


def _padded_buffer(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, int]:
    """UTF-8 bytes of every text as ``_normalise`` would give it (lowercase, each run of
    whitespace one space, one space before and after), texts separated by a zero byte, and
    the text each byte belongs to. Built for all texts at once rather than one by one."""
    texts = _no_nul(texts)
    n_docs = len(texts)
    if n_docs == 0:
        return np.zeros(0, np.uint8), np.zeros(0, np.int64), 0
    joined = (" " + " \x00 ".join(texts) + " ").lower()
    if not joined.isascii():  # unicode whitespace (e.g. no-break space) counts as a space
        joined = _WS.sub(" ", joined)
    buf = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
    space = (buf == 32) | ((buf >= 9) & (buf <= 13))
    keep = ~(space & np.concatenate([[False], space[:-1]]))
    buf = np.where(space, np.uint8(32), buf)[keep]
    doc_of = np.cumsum(buf == 0, dtype=np.int64)
    return buf, doc_of, n_docs


def _word_tokens(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lowercased UTF-8 bytes of the texts (zero byte after each), and the start, end and text
    of every word: a run of two or more letters, digits or underscores, where any non-ASCII
    byte counts as a letter (the ASCII reading of the pattern ``\\b\\w\\w+\\b``)."""
    n_docs = len(texts)
    if n_docs == 0:
        z = np.zeros(0, np.int64)
        return np.zeros(0, np.uint8), z, z, z
    buf = np.frombuffer(("\x00".join(texts) + "\x00").lower().encode("utf-8"), dtype=np.uint8)
    is_w = (((buf >= 97) & (buf <= 122)) | ((buf >= 48) & (buf <= 57)) | (buf >= 128)
            | (buf == 95))
    prev = np.concatenate([[False], is_w[:-1]])
    nxt = np.concatenate([is_w[1:], [False]])
    starts = np.flatnonzero(is_w & ~prev)
    ends = np.flatnonzero(is_w & ~nxt) + 1
    keep = (ends - starts) >= 2
    starts, ends = starts[keep], ends[keep]
    doc = np.cumsum(buf == 0, dtype=np.int64)[starts]
    return buf, starts, ends, doc


def _mix64(h: np.ndarray) -> np.ndarray:
    """A 64-bit finaliser (splitmix64): spreads a polynomial hash over all bits."""
    with np.errstate(over="ignore"):
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return h ^ (h >> np.uint64(31))


_SUFFIXES = (b"ing", b"ed", b"ly", b"s")


def _strip_suffixes(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A light stemmer: drop the first of "ing", "ed", "ly" or a plural "s" (not "ss") that
    ends a word, leaving at least three letters. Vectorised over all words at once."""
    ends = ends.copy()
    length = ends - starts
    done = np.zeros(ends.size, dtype=bool)
    for suf in _SUFFIXES:
        k = len(suf)
        ok = ~done & (length >= k + 3)
        for j, ch in enumerate(suf):
            ok &= buf[np.maximum(ends - k + j, 0)] == ch
        if suf == b"s":
            ok &= buf[np.maximum(ends - 2, 0)] != ord("s")
        ends[ok] -= k
        done |= ok
    return ends


class CharNgramTfidf(TransformerMixin, BaseEstimator):
    """Character n-gram TF-IDF within word boundaries, computed with numpy.

    Same idea as ``TfidfVectorizer(analyzer="char_wb", sublinear_tf=True)`` but hashed with a
    fixed (process-independent) polynomial hash over UTF-8 bytes and counted in bulk, several
    times faster than the pure-Python analyzer. Buckets seen in at least ``min_df`` training
    answers form the vocabulary; the rest are dropped, as a vectorizer's ``min_df`` does.
    """

    def __init__(self, ngram_range: tuple[int, int] = (2, 5), min_df: int = 2, n_bits: int = 20,
                 analyzer: str = "char_wb", stem: bool = False, binary: bool = False):
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.n_bits = n_bits
        self.analyzer = analyzer
        self.stem = stem
        self.binary = binary

    # ------------------------------------------------------------ word n-grams

    def _word_hashes(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, int]:
        r, c, n, _ = self._word_hashes_stats(texts)
        return r, c, n

    def _word_hashes_stats(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, int, tuple]:
        """(doc index, 64-bit hash) of every word n-gram: words are runs of two or more
        letters or digits (any non-ASCII byte counts as a letter), lowercased, optionally
        stemmed by stripping a common English suffix; hashed with a polynomial hash computed
        for all words at once from prefix sums (no Python loop over words)."""
        n_docs = len(texts)
        buf, starts, ends, doc = _word_tokens(_no_nul(texts))
        if starts.size == 0:
            return (np.zeros(0, np.int64), np.zeros(0, np.uint64), n_docs,
                    (doc, np.zeros(0, np.uint64), np.zeros(0, np.int64)))
        size = buf.size
        word_len = ends - starts
        if self.stem:
            ends = _strip_suffixes(buf, starts, ends)
        with np.errstate(over="ignore"):
            b = buf.astype(np.uint64) + np.uint64(1)
            base = np.uint64(0x100000001B3)
            inv = np.uint64(pow(0x100000001B3, -1, 1 << 64))
            pw = np.cumprod(np.full(size + 1, base, dtype=np.uint64))  # base**(k+1)
            ipw = np.cumprod(np.full(size, inv, dtype=np.uint64))
            ipw = np.concatenate([[np.uint64(1)], ipw[:-1]])  # inv**k
            Q = np.concatenate([[np.uint64(0)], np.cumsum(b * ipw, dtype=np.uint64)])
            # sum_{s<=i<e} b[i] base**(e-1-i) = (Q[e] - Q[s]) * base**(e-1)
            e1 = ends - 1
            pw_e1 = np.where(e1 > 0, pw[np.maximum(e1 - 1, 0)], np.uint64(1))
            h1 = _mix64((Q[ends] - Q[starts]) * pw_e1 + (ends - starts).astype(np.uint64))
            lo, hi = self.ngram_range
            rows, cols = [], []
            g = h1
            for n in range(1, hi + 1):
                m = h1.size - n + 1
                if m <= 0:
                    break
                if n > 1:
                    g = _mix64(g[:m] * np.uint64(0x9E3779B97F4A7C15) + h1[n - 1:n - 1 + m]
                               + np.uint64(n))
                if n < lo:
                    continue
                same = doc[:m] == doc[n - 1:n - 1 + m]
                rows.append(doc[:m][same])
                cols.append(g[same])
        return (np.concatenate(rows).astype(np.int64), np.concatenate(cols), n_docs,
                (doc, h1, word_len))

    def _hashes(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, int]:
        """(doc index, bucket) of every character n-gram in ``texts``."""
        buf, doc_of, n_docs = _padded_buffer(texts)
        is_space = buf == 32
        is_sep = buf == 0
        mask_bits = np.uint32((1 << self.n_bits) - 1)
        prime = np.uint32(16777619)
        b32 = buf.astype(np.uint32)
        lo, hi = self.ngram_range
        rows, cols = [], []
        size = buf.size
        h = np.full(size, np.uint32(2166136261), dtype=np.uint32)
        sep_any = np.zeros(size, dtype=bool)
        interior = np.zeros(size, dtype=bool)
        for n in range(1, hi + 1):
            m = size - n + 1
            if m <= 0:
                break
            # extend every n-1 gram starting at i by the byte at i+n-1 (rolling FNV-1a)
            h = (h[:m] ^ b32[n - 1: n - 1 + m]) * prime
            sep_any = sep_any[:m] | is_sep[n - 1: n - 1 + m]
            if n >= 3:
                interior = interior[:m] | is_space[n - 2: n - 2 + m]
            else:
                interior = interior[:m]
            if n < lo:
                continue
            bad = sep_any | interior  # within one padded word, as char_wb does
            keep = np.flatnonzero(~bad)
            hh = h[keep] ^ np.uint32(n * 0x9E3779B1 & 0xFFFFFFFF)
            hh = (hh ^ (hh >> np.uint32(15))) * np.uint32(0x2C1B3C6D)
            rows.append(doc_of[keep])
            cols.append((hh ^ (hh >> np.uint32(13))) & mask_bits)
        if rows:
            return np.concatenate(rows), np.concatenate(cols).astype(np.int64), n_docs
        return np.zeros(0, np.int64), np.zeros(0, np.int64), n_docs

    def fit(self, X: Sequence[str], y: Any = None) -> "CharNgramTfidf":
        X = list(X)
        if self.analyzer == "word":
            r, c, n = self._word_hashes(X)
            order = np.lexsort((r, c))
            r, c = r[order], c[order]
            first = np.ones(c.size, dtype=bool)
            first[1:] = (c[1:] != c[:-1]) | (r[1:] != r[:-1])
            grams, df = np.unique(c[first], return_counts=True)
            min_df = self.min_df if n >= 4 * self.min_df else 1
            self.vocabulary_ = grams[df >= min_df]
            self.idf_ = np.log((1.0 + n) / (1.0 + df[df >= min_df])) + 1.0
            return self
        if self.analyzer != "char_wb":
            raise ValueError(f"analyzer must be 'char_wb' or 'word', not {self.analyzer!r}")
        r, c, n = self._hashes(X)
        # document frequency: the columns of the (text, bucket) count matrix, each pair once
        # (two linear passes; np.unique over the pairs sorted them, twenty times slower)
        df = np.bincount(_count_matrix(r, c, n, 1 << self.n_bits).indices,
                         minlength=1 << self.n_bits)
        min_df = self.min_df if n >= 4 * self.min_df else 1
        self.vocabulary_ = np.flatnonzero(df >= min_df).astype(np.int64)
        self.idf_ = np.log((1.0 + n) / (1.0 + df[self.vocabulary_])) + 1.0
        return self

    def _lookup(self) -> np.ndarray:
        table = self.__dict__.get("_lookup_cache")
        if table is None or table.shape[0] != (1 << self.n_bits):
            table = np.full(1 << self.n_bits, -1, dtype=np.int32)
            table[self.vocabulary_] = np.arange(len(self.vocabulary_), dtype=np.int32)
            self.__dict__["_lookup_cache"] = table
        return table

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_lookup_cache", None)  # rebuilt from vocabulary_ on first use
        return state

    def transform(self, X: Sequence[str]) -> sp.csr_matrix:
        return self._transform(list(X))[0]

    def transform_with_stats(self, X: Sequence[str]) -> tuple[sp.csr_matrix, np.ndarray]:
        """Word mode: the TF-IDF rows and, per text, the share of its words seen in training
        (as unigrams) and its mean word length in bytes, from the same tokenisation."""
        if getattr(self, "analyzer", "char_wb") != "word":
            raise ValueError("word statistics need analyzer='word'")
        return self._transform(list(X), stats=True)

    def _transform(self, X: list[str], stats: bool = False) -> tuple[sp.csr_matrix, Any]:
        check_is_fitted(self, "vocabulary_")
        extra = None
        if getattr(self, "analyzer", "char_wb") == "word":
            r, c, n, (doc, h1, word_len) = self._word_hashes_stats(X)
            if stats:
                vocab = self.vocabulary_
                known = np.zeros(h1.size)
                if vocab.size:
                    pos = np.minimum(np.searchsorted(vocab, h1), vocab.size - 1)
                    known = (vocab[pos] == h1).astype(float)
                cnt = np.bincount(doc, minlength=n).astype(float)
                den = np.maximum(cnt, 1.0)
                extra = np.column_stack([np.bincount(doc, weights=known, minlength=n) / den,
                                         np.bincount(doc, weights=word_len, minlength=n) / den])
            vocab = self.vocabulary_
            if vocab.size:
                pos = np.minimum(np.searchsorted(vocab, c), vocab.size - 1)
                hit = vocab[pos] == c
                r, idx = r[hit], pos[hit]
            else:
                r, idx = r[:0], r[:0]
        else:
            r, c, n = self._hashes(list(X))
            idx = self._lookup()[c]
            hit = idx >= 0
            r, idx = r[hit], idx[hit]
        mat = _count_matrix(r, idx, n, len(self.vocabulary_))
        tf = np.ones(mat.data.size) if getattr(self, "binary", False) else 1.0 + np.log(mat.data)
        mat.data = tf * self.idf_[mat.indices]
        norms = np.sqrt(np.bincount(np.repeat(np.arange(n), np.diff(mat.indptr)),
                                    weights=mat.data ** 2, minlength=n))
        norms[norms == 0] = 1.0
        mat.data /= np.repeat(norms, np.diff(mat.indptr))
        return mat, extra


def _as_texts(X: Any) -> tuple[list[str], list[str] | None]:
    """Answer texts, and per-answer key texts when X has two columns (answer, key)."""
    if hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2:  # pandas DataFrame
        X = X.to_numpy()
    arr = X if isinstance(X, np.ndarray) else None
    if arr is not None and arr.ndim == 2:
        if arr.shape[1] == 1:
            return [_text(v) for v in arr[:, 0]], None
        if arr.shape[1] == 2:
            return [_text(v) for v in arr[:, 0]], [_text(v) for v in arr[:, 1]]
        raise ValueError("X must be a sequence of answer texts, or two columns (answer, key)")
    if isinstance(X, str):
        raise ValueError("X must be a sequence of answer texts, not a single string")
    items = list(X)
    if items and all(isinstance(v, (tuple, list)) and len(v) == 2 for v in items):
        return [_text(v[0]) for v in items], [_text(v[1]) for v in items]
    return [_text(v) for v in items], None


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return v if isinstance(v, str) else str(v)


def _lexical(texts: list[str], word_stats: np.ndarray) -> np.ndarray:
    """Length-free ratios: share of words known from training, mean word length, and the
    shares of characters that are letters, digits and punctuation (counted on UTF-8 bytes,
    where any non-ASCII byte counts as a letter). None of them grows with length."""
    n = len(texts)
    out = np.zeros((n, 5))
    out[:, :2] = word_stats
    if n == 0:
        return out
    enc = [t.encode("utf-8") for t in texts]
    lens = np.fromiter((len(e) for e in enc), dtype=np.int64, count=n)
    buf = np.frombuffer(b"".join(enc), dtype=np.uint8)
    if buf.size == 0:
        return out
    lower = buf | 0x20
    alpha = ((lower >= 97) & (lower <= 122)) | (buf >= 128)
    digit = (buf >= 48) & (buf <= 57)
    space = (buf == 32) | ((buf >= 9) & (buf <= 13))
    punct = ~(alpha | digit | space)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    has = lens > 0
    denom = np.maximum(lens, 1).astype(float)
    for col, mask in ((2, alpha), (3, digit), (4, punct)):
        cs = np.concatenate([[0], np.cumsum(mask, dtype=np.int64)])
        out[:, col] = np.where(has, (cs[starts + lens] - cs[starts]) / denom, 0.0)
    return out


def _word_stats_from_vocabulary(texts: list[str], vocab: dict) -> np.ndarray:
    """Share of words known from training and mean word length, one text at a time (the
    statistics of models saved with scikit-learn's word vectoriser)."""
    out = np.zeros((len(texts), 2))
    known = vocab.__contains__
    for i, t in enumerate(texts):
        words = _WORD.findall(t.lower())
        if words:
            out[i, 0] = sum(map(known, words)) / len(words)
            out[i, 1] = sum(map(len, words)) / len(words)
    return out


def _gram(X: sp.csr_matrix) -> np.ndarray:
    """``X @ X.T`` as a dense array, for the kernel ridge models.

    The sparse product spends most of its time on the few n-grams that most answers share
    (each one pairs every such answer with every other); those columns go through a dense
    product instead, and only the rest through the sparse one. The same matrix, to rounding,
    four to six times faster at 2,000 answers.
    """
    n = X.shape[0]
    by_column = X.tocsc()
    common = np.diff(by_column.indptr) >= max(1, n // 10)
    K = (by_column[:, ~common].tocsr() @ by_column[:, ~common].T.tocsc()).toarray()
    if common.any():
        dense = by_column[:, common].toarray()
        K += dense @ dense.T
    return K


_BLAS: ThreadpoolController | None = None


def _one_blas_thread() -> Any:
    """A context in which BLAS runs on one thread. The linear algebra here is on small
    matrices: one thread is as fast and does not thrash when other processes (or ``n_jobs``)
    compete for the cores. One controller serves every call: ``threadpool_limits`` finds the
    loaded libraries again each time, which cost more than scoring one answer."""
    global _BLAS
    if _BLAS is None:
        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def _row_normalise(M: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(M, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return M / norms


class _Marks:
    """Two raters' marks of training answers, as the base models learn them.

    ``target``: each answer's mean rating (the regression target); ``has_second`` and
    ``second``: which answers were marked twice, and the second mark (NaN where there is
    none); ``rows``, ``labels``, ``weights``: the rows a classifier learns from, one per
    answer with the first rater's label, plus, for each answer the raters disagree on, a
    second row with the second rater's label; the two rows of a disagreement weigh
    ``DISAGREE_WEIGHT`` each, every other answer 1.
    """

    DISAGREE_WEIGHT = 0.5

    def __init__(self, y: np.ndarray, second: np.ndarray) -> None:
        self.y = y
        self.second = second
        self.has_second = ~np.isnan(second)
        self.target = np.where(self.has_second, 0.5 * (y + np.nan_to_num(second)), y.astype(float))
        disagree = np.flatnonzero(self.has_second & (np.nan_to_num(second) != y))
        self.rows = np.concatenate([np.arange(y.size), disagree])
        self.labels = np.concatenate([y, second[disagree].astype(np.int64)])
        self.weights = np.ones(self.rows.size)
        self.weights[disagree] = self.DISAGREE_WEIGHT
        self.weights[y.size:] = self.DISAGREE_WEIGHT

    def subset(self, idx: np.ndarray) -> "_Marks":
        """The marks of answers ``idx``, in that order."""
        return _Marks(self.y[idx], self.second[idx])

    def cut_targets(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Values and marks to tune cut-points on: every answer against the first rater and,
        once more, each double-marked answer against the second (QWK against both raters)."""
        both = self.has_second
        return (np.concatenate([values, values[both]]),
                np.concatenate([self.y, self.second[both].astype(np.int64)]))


# --------------------------------------------------------------------------- estimator


class LearnedScorer(RegressorMixin, BaseEstimator):
    """Stacked TF-IDF kernel-ridge ensemble with QWK-tuned cut-points and calibrated confidence.

    Parameters
    ----------
    reference:
        Key (model) answer text. When given, similarity to it is a feature. Per-answer keys
        can instead be passed as a second column of ``X`` (answer, key).
    feature_hook:
        Callable ``texts -> 2-D array`` (n_answers x n_features) of extra features, such as
        rubric indicator evidence counts. Must be deterministic and not look at the levels.
        For a saved model to load it must be a module-level function.
    word_ngram_range, char_ngram_range, min_df:
        TF-IDF n-gram ranges and minimum document frequency.
    logistic_C:
        Inverse penalty of the multinomial logistic regression over the same features.
    alphas:
        Ridge penalties of the base regressions; each penalty is one member of the ensemble and
        the meta-model weighs them on out-of-fold predictions, so the choice among them is made
        by internal cross-validation on the training answers only.
    n_neighbors:
        How many nearest training answers of each level feed the neighbour similarity.
    n_folds:
        Folds for the out-of-fold stacking, cut-point tuning and calibration.
    meta_alpha:
        Ridge penalty of the meta-model over the standardised stacked features.
    fold_average:
        Predict with the average of the base models fitted for the out-of-fold stacking (see
        step 2) rather than with base models refitted on all answers.
    stem_words:
        Strip a common English suffix ("ing", "ed", "ly", plural "s") from each word before
        the word n-grams are formed.
    presence, presence_C, presence_alpha, ordinal_C:
        The presence models (see step 2 above): on or off, the inverse penalty of their
        logistic regression, the penalty of their ridge regression, and the inverse penalty of
        the cumulative ("level k or above") models.
    trees:
        Extremely randomised trees on word and character n-gram presence (see step 2), in all,
        shared out over the stacking folds; 0 leaves them out.
    cut_bags:
        Bootstrap resamples of the out-of-fold predictions the cut-points are tuned on and
        averaged over (see step 3); 0 tunes them once, on all training answers.
    n_jobs:
        Threads used by ``predict`` (texts are split into chunks) and to grow the trees; None
        means 1.
    random_state:
        Seed for the fold split, the neighbour sketch and the trees; same data and seed, same
        model.
    """

    def __init__(
        self,
        reference: str | None = None,
        feature_hook: Callable[[list[str]], Any] | None = None,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (2, 5),
        min_df: int = 2,
        alphas: tuple[float, ...] = (1.0,),
        n_neighbors: int = 5,
        n_folds: int = 5,
        logistic_C: float = 10.0,
        meta_alpha: float = 30.0,
        stem_words: bool = True,
        presence: bool = True,
        presence_C: float = 0.1,
        presence_alpha: float = 10.0,
        ordinal_C: float = 0.3,
        fold_average: bool = True,
        trees: int = 200,
        cut_bags: int = 30,
        n_jobs: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.reference = reference
        self.feature_hook = feature_hook
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.alphas = alphas
        self.n_neighbors = n_neighbors
        self.n_folds = n_folds
        self.logistic_C = logistic_C
        self.meta_alpha = meta_alpha
        self.stem_words = stem_words
        self.presence = presence
        self.presence_C = presence_C
        self.presence_alpha = presence_alpha
        self.ordinal_C = ordinal_C
        self.fold_average = fold_average
        self.trees = trees
        self.cut_bags = cut_bags
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ---------------------------------------------------------------- sklearn tags

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.target_tags.required = True
        return tags

    # ---------------------------------------------------------------- features

    def _blocks(self, texts: list[str]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        return self._blocks_stats(texts)[:2]

    def _blocks_stats(self, texts: list[str]) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
        """Word and character TF-IDF blocks, and word statistics from the same tokenisation."""
        wv = self.word_vec_
        if isinstance(wv, CharNgramTfidf):
            Xw, stats = wv.transform_with_stats(texts)
        else:  # a model saved before the numpy word vectoriser: scikit-learn's, as trained
            Xw = sp.csr_matrix(wv.transform(texts), dtype=np.float64)
            stats = _word_stats_from_vocabulary(texts, wv.vocabulary_)
        return Xw, self.char_vec_.transform(texts), stats

    @staticmethod
    def _joint(Xw: sp.csr_matrix, Xc: sp.csr_matrix) -> sp.csr_matrix:
        return sp.hstack([Xw, Xc], format="csr") * (1.0 / np.sqrt(2.0))

    def _key_features(self, texts: list[str], keys: list[str] | None,
                      Xt: sp.csr_matrix) -> np.ndarray:
        cols = []
        if self.reference is not None:
            r = self._joint(*self._blocks([self.reference]))
            cols.append(np.asarray((Xt @ r.T).todense()).ravel())
        if keys is not None:
            K = self._joint(*self._blocks(keys))
            cols.append(np.asarray(Xt.multiply(K).sum(axis=1)).ravel())
            # share of the key's content words the answer uses
            cover = np.zeros(len(texts))
            for i, (t, k) in enumerate(zip(texts, keys)):
                kw = set(_WORD.findall(k.lower()))
                if kw:
                    cover[i] = len(kw & set(_WORD.findall(t.lower()))) / len(kw)
            cols.append(cover)
        if not cols:
            return np.zeros((len(texts), 0))
        return np.column_stack(cols)

    def _hook_features(self, texts: list[str]) -> np.ndarray:
        if self.feature_hook is None:
            return np.zeros((len(texts), 0))
        H = np.asarray(self.feature_hook(list(texts)), dtype=float)
        if H.ndim == 1:
            H = H[:, None]
        if H.ndim != 2 or H.shape[0] != len(texts):
            raise ValueError(
                f"feature_hook returned shape {H.shape}; it must return one row per answer "
                f"({len(texts)} rows)"
            )
        if not np.all(np.isfinite(H)):
            raise ValueError("feature_hook returned NaN or infinite values")
        return H

    def _centroids(self, Xtr: sp.csr_matrix, ytr: np.ndarray) -> np.ndarray:
        cent = np.zeros((len(self.levels_), Xtr.shape[1]))
        for j, lvl in enumerate(self.levels_):
            sel = ytr == lvl
            if sel.any():
                cent[j] = np.asarray(Xtr[sel].mean(axis=0)).ravel()
        return _row_normalise(cent)

    def _similarity_features(self, Xt: sp.csr_matrix, Zq: np.ndarray, cent: np.ndarray,
                             Ztr: np.ndarray, ytr: np.ndarray) -> np.ndarray:
        """Cosine to each level's centroid (TF-IDF) and mean of the top-k cosines to that
        level's training answers (in a sketch of the TF-IDF space)."""
        L = len(self.levels_)
        csim = np.asarray(Xt @ cent.T)
        S = Zq @ Ztr.T
        k = self.n_neighbors
        ksim = np.zeros((Zq.shape[0], L))
        for j, lvl in enumerate(self.levels_):
            sel = np.flatnonzero(ytr == lvl)
            if sel.size == 0:
                continue
            Sl = S[:, sel]
            kk = min(k, sel.size)
            top = -np.partition(-Sl, kk - 1, axis=1)[:, :kk]
            ksim[:, j] = top.mean(axis=1)
        return np.hstack([csim, ksim])

    def _project(self, Xt: sp.csr_matrix) -> np.ndarray:
        """Count sketch of the TF-IDF rows: each feature adds +-x to one of ``_N_SKETCH``
        dimensions (a fixed random map of its index), so inner products are kept in
        expectation and neighbour search is a small dense product."""
        n_feat = Xt.shape[1]
        R = sp.csr_matrix((self.sketch_sign_, (np.arange(n_feat), self.sketch_dim_)),
                          shape=(n_feat, _N_SKETCH))
        return _row_normalise(np.asarray((Xt @ R).todense(), dtype=np.float32))

    # ---------------------------------------------------------------- base models

    def _targets(self, y: np.ndarray, marks: "_Marks | None" = None) -> np.ndarray:
        """Regression targets: the level itself and a one-hot indicator per level. With a
        second rater's marks, the mean of the available ratings and of their one-hots."""
        onehot = (y[:, None] == self.levels_[None, :]).astype(float)
        T = np.column_stack([y.astype(float), onehot])
        if marks is None:
            return T
        both = marks.has_second
        r2 = marks.second[both].astype(np.int64)
        T2 = np.column_stack([r2.astype(float),
                              (r2[:, None] == self.levels_[None, :]).astype(float)])
        T[both] = 0.5 * (T[both] + T2)
        return T

    def _solve(self, K: np.ndarray, T: np.ndarray) -> list[np.ndarray]:
        """Dual ridge coefficients for each alpha on a centred kernel, targets centred."""
        import scipy.linalg as sl

        Tc = T - T.mean(axis=0)
        out = []
        diag = np.arange(K.shape[0])
        for a in self.alphas:
            M = K.copy()
            M[diag, diag] += float(a)
            out.append(sl.cho_solve(sl.cho_factor(M, check_finite=False), Tc, check_finite=False))
        return out

    @staticmethod
    def _centre(K: np.ndarray, tr: np.ndarray, va: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Kernels of the training rows and of held-out rows against them, as if every
        feature had been centred on the training mean (ridge with an unpenalised intercept)."""
        Ktt = K[np.ix_(tr, tr)]
        col = Ktt.mean(axis=0)
        tot = col.mean()
        Kvt = K[np.ix_(va, tr)]
        return (Ktt - col[None, :] - col[:, None] + tot,
                Kvt - Kvt.mean(axis=1, keepdims=True) - col[None, :] + tot)

    def _logistic(self) -> LogisticRegression:
        return LogisticRegression(C=self.logistic_C, solver="sag", tol=1e-3, max_iter=200,
                                  random_state=self.random_state)

    def _logit_features(self, Xt: sp.csr_matrix) -> sp.csr_matrix:
        """The word n-gram block: as good as both blocks here, and many times cheaper. (The
        character block when no word of two letters was seen in training.)"""
        n_word = len(self.word_vec_.vocabulary_)
        return Xt[:, :n_word] if n_word else Xt

    def _proba(self, logit: LogisticRegression, X: sp.csr_matrix) -> np.ndarray:
        """Class probabilities on the full level range (levels absent in training get 0),
        followed by their expected level."""
        P = np.zeros((X.shape[0], len(self.levels_)))
        P[:, logit.classes_.astype(np.int64) - int(self.levels_[0])] = logit.predict_proba(X)
        return np.column_stack([P, P @ self.levels_.astype(float)])

    # ------------------------------------------------------------ presence models

    @staticmethod
    def _presence_features(XL: sp.csr_matrix) -> sp.csr_matrix:
        """Which n-grams an answer uses, 0 or 1, not normalised: a linear model over these
        adds up the credit of each distinct point made, as a marker counts key elements.
        Unit-length TF-IDF rows cannot do that (each extra point dilutes the others), and
        saying a thing twice still counts once."""
        B = XL.copy()
        B.data = np.ones_like(B.data)
        return B

    def _presence_fit(self, B: sp.csr_matrix, y: np.ndarray,
                      marks: "_Marks | None" = None) -> dict:
        """Logistic regression over the levels, ridge regression on the level, and one
        logistic regression per cut ("level k or above") with each n-gram weighted by its
        log-count ratio between the two sides (NB-SVM), all on presence features.

        With ``marks`` (a second rater's marks for the rows of ``B``), the ridge learns the
        mean of the ratings, and the classifiers learn every rater's label: an answer the
        raters disagree on is two rows, one per label, each at half weight."""
        if marks is not None:
            return self._presence_fit_marks(B, marks)
        models: dict[str, Any] = {"ridge": Ridge(alpha=self.presence_alpha).fit(B, y)}
        models["logit"] = (LogisticRegression(C=self.presence_C, solver="lbfgs", tol=1e-3,
                                              max_iter=500).fit(B, y)
                           if np.unique(y).size > 1 else None)
        cuts = []
        for lvl in self.levels_[1:]:
            side = (y >= lvl).astype(np.int64)
            if side.min() == side.max():
                cuts.append((None, float(side[0])))
                continue
            p = np.asarray(B[side == 1].sum(axis=0)).ravel() + 1.0
            q = np.asarray(B[side == 0].sum(axis=0)).ravel() + 1.0
            ratio = np.log(p / p.sum()) - np.log(q / q.sum())
            m = LogisticRegression(C=self.ordinal_C, solver="lbfgs", tol=1e-3, max_iter=500)
            cuts.append((ratio, m.fit(B.multiply(ratio).tocsr(), side)))
        models["cuts"] = cuts
        return models

    def _presence_fit_marks(self, B: sp.csr_matrix, marks: "_Marks") -> dict:
        """``_presence_fit`` on both raters' marks (see there)."""
        models: dict[str, Any] = {"ridge": Ridge(alpha=self.presence_alpha).fit(B, marks.target)}
        Bx, lab, w = B[marks.rows], marks.labels, marks.weights
        models["logit"] = (LogisticRegression(C=self.presence_C, solver="lbfgs", tol=1e-3,
                                              max_iter=500).fit(Bx, lab, sample_weight=w)
                           if np.unique(lab).size > 1 else None)
        cuts = []
        BxT = Bx.T.tocsr()
        for lvl in self.levels_[1:]:
            side = (lab >= lvl).astype(np.int64)
            if side.min() == side.max():
                cuts.append((None, float(side[0])))
                continue
            p = np.asarray(BxT @ (w * side)).ravel() + 1.0
            q = np.asarray(BxT @ (w * (1 - side))).ravel() + 1.0
            ratio = np.log(p / p.sum()) - np.log(q / q.sum())
            m = LogisticRegression(C=self.ordinal_C, solver="lbfgs", tol=1e-3, max_iter=500)
            cuts.append((ratio, m.fit(Bx.multiply(ratio).tocsr(), side, sample_weight=w)))
        models["cuts"] = cuts
        return models

    def _presence_predict(self, models: dict, B: sp.csr_matrix) -> np.ndarray:
        L = len(self.levels_)
        if models["logit"] is not None:
            proba = self._proba(models["logit"], B)
        else:  # one level in this fold: the ridge (a constant) says it all
            proba = np.zeros((B.shape[0], L + 1))
        cols = [models["ridge"].predict(B)[:, None], proba]
        for ratio, m in models["cuts"]:
            if ratio is None:
                cols.append(np.full((B.shape[0], 1), m))
            else:
                # the NB-SVM's probability, without building the reweighted matrix
                z = B @ (ratio * m.coef_.ravel()) + m.intercept_[0]
                cols.append(expit(z)[:, None])
        return np.hstack(cols)

    # ------------------------------------------------------------ trees on presence

    def _tree_features(self, Xt: sp.csr_matrix) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Word and character n-gram presence (0/1) of the joint TF-IDF rows."""
        n_word = len(self.word_vec_.vocabulary_)
        return (self._presence_features(Xt[:, :n_word].tocsr()),
                self._presence_features(Xt[:, n_word:].tocsr()))

    def _tree_fit(self, Bw: sp.csr_matrix, Bc: sp.csr_matrix, target: np.ndarray, n_trees: int,
                  seed: int) -> dict:
        """Extremely randomised trees on the n-grams that enough of these answers use (rarer
        ones cannot be split on usefully and only slow the trees down), regressing the level."""
        cols_w = np.flatnonzero(np.bincount(Bw.indices, minlength=Bw.shape[1]) >= _TREE_WORD_MIN_DF)
        cols_c = np.flatnonzero(np.bincount(Bc.indices, minlength=Bc.shape[1]) >= _TREE_CHAR_MIN_DF)
        X = self._tree_matrix(Bw, Bc, cols_w, cols_c)
        if X.shape[1] == 0:  # nothing shared by enough answers: the mean level says it all
            return {"cols_w": cols_w, "cols_c": cols_c, "forest": float(np.mean(target))}
        forest = ExtraTreesRegressor(n_estimators=max(1, n_trees), max_features="sqrt",
                                     min_samples_leaf=1, random_state=seed,
                                     n_jobs=max(1, int(self.n_jobs or 1)))
        forest.fit(X, target)
        forest.set_params(n_jobs=None)  # predict runs in decision_function's own threads
        return {"cols_w": cols_w, "cols_c": cols_c, "forest": forest}

    def _tree_seed(self, k: int) -> int | None:
        """The k-th forest's seed: its own for each fold, fixed by ``random_state``."""
        return None if self.random_state is None else int(self.random_state) * 1000 + k

    @staticmethod
    def _tree_matrix(Bw: sp.csr_matrix, Bc: sp.csr_matrix, cols_w: np.ndarray,
                     cols_c: np.ndarray) -> sp.csr_matrix:
        return sp.hstack([Bw[:, cols_w], Bc[:, cols_c]], format="csr", dtype=np.float32)

    def _tree_predict(self, model: dict, Bw: sp.csr_matrix, Bc: sp.csr_matrix) -> np.ndarray:
        forest = model["forest"]
        if isinstance(forest, float):
            return np.full((Bw.shape[0], 1), forest)
        X = self._tree_matrix(Bw, Bc, model["cols_w"], model["cols_c"])
        X.indices = X.indices.astype(np.intc, copy=False)  # what the trees' own code reads
        X.indptr = X.indptr.astype(np.intc, copy=False)
        # what ExtraTreesRegressor.predict computes (the same sum, bit for bit), straight from
        # each tree's nodes: its per-call thread pool, and each tree's checks, cost more than
        # the trees themselves for one answer
        out = np.zeros(X.shape[0])
        for tree in forest.estimators_:
            out += tree.tree_.predict(X)[:, 0]
        return (out / len(forest.estimators_))[:, None]

    def _base_oof(self, Kw: np.ndarray, Kc: np.ndarray, T: np.ndarray,
                  folds: list[tuple[np.ndarray, np.ndarray]], Xt: sp.csr_matrix,
                  y: np.ndarray, keep: list | None = None,
                  marks: "_Marks | None" = None) -> np.ndarray:
        """Out-of-fold predictions of every base model. With ``keep`` (a list), each fold's
        models are appended to it: the dual ridge coefficients (kernel index, coefficients),
        the logistic regression (or the only level seen in that fold) and the presence models.
        With ``marks``, the classifiers learn both raters' labels (``T`` already holds the
        mean targets)."""
        kernels = ((Kw + Kc) / 2.0, Kw, Kc)[: self._n_kernels()]
        out = None
        XL = self._logit_features(Xt)
        B = self._presence_features(XL) if self.presence else None
        Bw, Bc = self._tree_features(Xt) if self.trees > 0 else (None, None)
        tree_target = y if marks is None else marks.target
        for f, (tr, va) in enumerate(folds):
            preds = []
            duals = []
            mean = T[tr].mean(axis=0)
            for which, K in enumerate(kernels):
                Ktt, Kvt = self._centre(K, tr, va)
                for A in self._solve(Ktt, T[tr]):
                    preds.append(Kvt @ A + mean)
                    duals.append((which, A))
            part = None if marks is None else marks.subset(tr)
            if part is None:
                if np.unique(y[tr]).size > 1:
                    logit = self._logistic().fit(XL[tr], y[tr])
                else:
                    logit = int(y[tr][0])
            elif np.unique(part.labels).size > 1:
                logit = self._logistic().fit(XL[tr][part.rows], part.labels,
                                             sample_weight=part.weights)
            else:
                logit = int(part.labels[0])
            preds.append(self._fold_proba(logit, XL[va]))
            presence = self._presence_fit(B[tr], y[tr], part) if B is not None else None
            if presence is not None:
                preds.append(self._presence_predict(presence, B[va]))
            trees = None
            if Bw is not None:
                trees = self._tree_fit(Bw[tr], Bc[tr], tree_target[tr], self.trees // len(folds),
                                       self._tree_seed(f))
                preds.append(self._tree_predict(trees, Bw[va], Bc[va]))
            if keep is not None:
                keep.append({"duals": duals, "logit": logit, "presence": presence, "trees": trees})
            P = np.hstack(preds)
            if out is None:
                out = np.zeros((T.shape[0], P.shape[1]))
            out[va] = P
        return out

    def _fold_proba(self, logit: LogisticRegression | int, X: sp.csr_matrix) -> np.ndarray:
        """``_proba`` of a fold's logistic regression; a fold that saw one level only says
        that level with certainty."""
        if not isinstance(logit, (int, np.integer)):
            return self._proba(logit, X)
        only = np.zeros((X.shape[0], len(self.levels_) + 1))
        only[:, int(logit) - int(self.levels_[0])] = 1.0
        only[:, -1] = logit
        return only

    def _primal(self, Xw: sp.csr_matrix, Xc: sp.csr_matrix, duals: list,
                t_mean: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Word and character weights and intercepts of kernel ridge models given in dual
        form (on the rows of ``Xw``/``Xc``), so a prediction is two sparse products."""
        cw, cc = [], []
        for which, A in duals:
            A = A - A.mean(axis=0)  # the same as centring the features
            fw, fc = ((0.5, 0.5), (1.0, 0.0), (0.0, 1.0))[which]
            cw.append(fw * A)
            cc.append(fc * A)
        coef_w = np.asarray(Xw.T @ np.hstack(cw))
        coef_c = np.asarray(Xc.T @ np.hstack(cc))
        mean_w = np.asarray(Xw.mean(axis=0)).ravel()
        mean_c = np.asarray(Xc.mean(axis=0)).ravel()
        return coef_w, coef_c, np.tile(t_mean, len(cw)) - mean_w @ coef_w - mean_c @ coef_c

    def _n_kernels(self) -> int:
        return 3  # words and characters together, words alone, characters alone

    def _base_predict(self, Xw: sp.csr_matrix, Xc: sp.csr_matrix) -> np.ndarray:
        lin = np.asarray(Xw @ self.coef_word_) + np.asarray(Xc @ self.coef_char_) + self.intercept_
        XL = self._logit_features(self._joint(Xw, Xc))
        fold_models = getattr(self, "fold_models_", None)  # None in models saved before it existed
        if fold_models is not None:  # the average of the stacking folds' models
            parts = [lin, np.mean([self._fold_proba(f["logit"], XL) for f in fold_models], axis=0)]
            if fold_models[0]["presence"] is not None:
                B = self._presence_features(XL)
                parts.append(np.mean([self._presence_predict(f["presence"], B)
                                      for f in fold_models], axis=0))
            if fold_models[0].get("trees") is not None:  # models saved before trees have none
                Bw, Bc = self._presence_features(Xw), self._presence_features(Xc)
                parts.append(np.mean([self._tree_predict(f["trees"], Bw, Bc) for f in fold_models], axis=0))
            return np.hstack(parts)
        parts = [lin, self._proba(self.logit_, XL)]
        presence = getattr(self, "presence_", None)  # None in models saved before it existed
        if presence is not None:
            parts.append(self._presence_predict(presence, self._presence_features(XL)))
        trees = getattr(self, "trees_", None)
        if trees is not None:
            parts.append(self._tree_predict(trees, self._presence_features(Xw), self._presence_features(Xc)))
        return np.hstack(parts)

    def _stack(self, base: np.ndarray, sims: np.ndarray, keyf: np.ndarray, lex: np.ndarray,
               hook: np.ndarray) -> np.ndarray:
        return np.column_stack([base, sims, keyf, lex, hook])

    # ---------------------------------------------------------------- fit

    def _check_y(self, y: Any, n: int) -> np.ndarray:
        yy = np.asarray(y)
        if yy.ndim != 1 or yy.shape[0] != n:
            raise ValueError(f"y must be one level per answer ({n}), got shape {yy.shape}")
        try:
            yf = yy.astype(float)
        except (TypeError, ValueError):
            raise ValueError("y must be whole-number levels (e.g. 0, 1, 2, 3)") from None
        if not np.all(np.isfinite(yf)) or not np.all(yf == np.round(yf)):
            raise ValueError("y must be whole-number levels (e.g. 0, 1, 2, 3)")
        return yf.astype(np.int64)

    def _folds(self, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        counts = np.bincount(y - y.min())
        counts = counts[counts > 0]
        n_splits = max(2, min(self.n_folds, len(y) // 2))
        if counts.min() >= n_splits:
            cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
            return list(cv.split(np.zeros(len(y)), y))
        cv = KFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
        return list(cv.split(np.zeros(len(y))))

    def _check_second(self, second_rating: Any, y: np.ndarray) -> _Marks | None:
        """The second rater's marks, checked; None when there are none at all."""
        if second_rating is None:
            return None
        n = y.size
        hint = ("pass one entry per answer, on the same scale as y, with NaN or None for "
                "answers marked only once")
        if hasattr(second_rating, "to_numpy") and not isinstance(second_rating, np.ndarray):
            try:  # pandas: missing values (None, NaN, pd.NA) as NaN (numpy arrays: None, NaN, pd.NA)
                second_rating = second_rating.to_numpy(dtype=float, na_value=np.nan)
            except (TypeError, ValueError):
                second_rating = second_rating.to_numpy()
        raw = (second_rating if isinstance(second_rating, np.ndarray)
               else np.asarray(second_rating, dtype=object))
        if raw.ndim != 1 or raw.shape[0] != n:
            raise ValueError(f"second_rating must have one entry per answer ({n}), got shape "
                             f"{raw.shape}; {hint}")
        try:
            r2 = np.array([np.nan if v is None or v is pd.NA else v for v in raw], dtype=float) \
                if raw.dtype == object else raw.astype(float)
        except (TypeError, ValueError):
            raise ValueError(f"second_rating must be whole-number levels; {hint}") from None
        if np.any(np.isinf(r2)):
            raise ValueError(f"second_rating has an infinite value at index "
                             f"{int(np.flatnonzero(np.isinf(r2))[0])}; {hint}")
        given = ~np.isnan(r2)
        if not given.any():
            return None
        frac = np.flatnonzero(given & (r2 != np.round(np.nan_to_num(r2))))
        if frac.size:
            i = int(frac[0])
            raise ValueError(f"second_rating must be whole-number levels, got {float(r2[i]):g} at "
                             f"index {i}; {hint}")
        lo, hi = int(y.min()), int(y.max())
        out = np.flatnonzero(given & ((r2 < lo) | (r2 > hi)))
        if out.size:
            i = int(out[0])
            raise ValueError(f"second_rating has level {int(r2[i])} at index {i}, outside the "
                             f"levels of y ({lo}-{hi}); both raters must mark on the same "
                             f"scale: check that the columns are the right ones, or use NaN or "
                             f"None for answers marked only once")
        return _Marks(y, r2)

    def fit(self, X: Any, y: Any, second_rating: Any = None) -> "LearnedScorer":
        """Learn from answers ``X`` and their levels ``y``.

        ``second_rating`` (optional): a second rater's levels of the same answers, same
        length and scale as ``y``, NaN or None where an answer was marked once. The
        regression targets are then the mean of each answer's ratings, the classifiers learn
        both raters' labels (an answer the raters disagree on counts as each label at half
        weight), and the cut-points are tuned for QWK against both raters' marks; the fold
        split, the level similarities and the reported ``cv_qwk_`` still follow ``y``.
        Without it (or with every entry missing) the model is exactly the single-rater one.
        Through a ``Pipeline``: ``pipe.fit(X, y, scorer__second_rating=r2)``.
        """
        with _one_blas_thread():
            return self._fit(X, y, second_rating)

    def _fit(self, X: Any, y: Any, second_rating: Any = None) -> "LearnedScorer":
        texts, keys = _as_texts(X)
        n = len(texts)
        if n < 4:
            raise ValueError(f"need at least 4 training answers, got {n}")
        y = self._check_y(y, n)
        lo, hi = int(y.min()), int(y.max())
        if lo == hi:
            raise ValueError(f"all training answers have the same level ({lo}); "
                             "a scorer needs at least two different levels to learn from")
        if not self.alphas or any(float(a) <= 0 for a in self.alphas):
            raise ValueError("alphas must be one or more positive numbers")
        if isinstance(self.trees, bool) or not isinstance(self.trees, (int, np.integer)) or self.trees < 0:
            raise ValueError(f"trees must be a whole number, 0 or more (0 leaves the trees out), not {self.trees!r}")
        if isinstance(self.cut_bags, bool) or not isinstance(self.cut_bags, (int, np.integer)) or self.cut_bags < 0:
            raise ValueError(f"cut_bags must be a whole number, 0 or more (0 tunes the cut-points once, on all answers), not {self.cut_bags!r}")
        marks = self._check_second(second_rating, y)
        self.levels_ = np.arange(lo, hi + 1)
        self.min_level_, self.max_level_ = lo, hi
        self.n_train_ = n
        self.second_rater_ = marks is not None
        self.n_double_marked_ = 0 if marks is None else int(marks.has_second.sum())
        target = y if marks is None else marks.target

        min_df = self.min_df if n >= 4 * self.min_df else 1
        self.word_vec_ = CharNgramTfidf(ngram_range=tuple(self.word_ngram_range), min_df=min_df,
                                        analyzer="word", stem=bool(self.stem_words))
        self.char_vec_ = CharNgramTfidf(ngram_range=tuple(self.char_ngram_range), min_df=min_df)
        self.word_vec_.fit(texts)
        self.char_vec_.fit(texts)
        Xw, Xc, word_stats = self._blocks_stats(texts)
        Xt = self._joint(Xw, Xc)

        # fixed sketch of the TF-IDF space for neighbour search
        rng = np.random.default_rng(self.random_state)
        self.sketch_dim_ = rng.integers(0, _N_SKETCH, size=Xt.shape[1]).astype(np.int64)
        self.sketch_sign_ = rng.choice([-1.0, 1.0], size=Xt.shape[1])
        Z = self._project(Xt)

        folds = self._folds(y)
        T = self._targets(y, marks)
        Kw = _gram(Xw)
        Kc = _gram(Xc)
        kept: list | None = [] if self.fold_average else None
        base_oof = self._base_oof(Kw, Kc, T, folds, Xt, y, keep=kept, marks=marks)
        sims_oof = None
        for tr, va in folds:
            part = self._similarity_features(Xt[va], Z[va], self._centroids(Xt[tr], y[tr]),
                                             Z[tr], y[tr])
            if sims_oof is None:
                sims_oof = np.zeros((n, part.shape[1]))
            sims_oof[va] = part

        keyf = self._key_features(texts, keys, Xt)
        lex = _lexical(texts, word_stats)
        hook = self._hook_features(texts)
        self.n_hook_features_ = hook.shape[1]
        self.uses_keys_ = keys is not None
        S_oof = self._stack(base_oof, sims_oof, keyf, lex, hook)

        # meta-model: out-of-fold once more (cheap: few dense columns) for cut-points and
        # calibration, then refit on everything
        meta_oof = np.zeros(n)
        for tr, va in folds:
            scaler = StandardScaler().fit(S_oof[tr])
            meta = Ridge(alpha=self.meta_alpha).fit(scaler.transform(S_oof[tr]), target[tr])
            meta_oof[va] = meta.predict(scaler.transform(S_oof[va]))
        self.cutpoints_ = self._tune_cutpoints(meta_oof, y, marks)
        oof_levels = apply_cutpoints(meta_oof, self.cutpoints_, lo)
        self.cv_qwk_ = quadratic_weighted_kappa(y, oof_levels, lo, hi)
        self.cv_exact_ = float(np.mean(oof_levels == y))

        dist = self._cut_distance(meta_oof)
        self.calibrator_ = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True,
                                              out_of_bounds="clip")
        self.calibrator_.fit(dist, (oof_levels == y).astype(float))

        self.scaler_ = StandardScaler().fit(S_oof)
        self.meta_ = Ridge(alpha=self.meta_alpha).fit(self.scaler_.transform(S_oof), target)

        if kept is not None:
            # base models for prediction: the average of the fold models whose out-of-fold
            # predictions trained the meta-model (the ridge weights averaged, which is the
            # same as averaging their predictions; the classifiers' probabilities averaged)
            primal = [self._primal(Xw[tr], Xc[tr], part["duals"], T[tr].mean(axis=0))
                      for (tr, _), part in zip(folds, kept)]
            self.coef_word_ = np.mean([p[0] for p in primal], axis=0)
            self.coef_char_ = np.mean([p[1] for p in primal], axis=0)
            self.intercept_ = np.mean([p[2] for p in primal], axis=0)
            self.fold_models_ = [{"logit": part["logit"], "presence": part["presence"],
                                  "trees": part["trees"]} for part in kept]
            self.logit_ = None
            self.presence_ = None
            self.trees_ = None
        else:
            # final base models on all answers, turned into primal weights for fast prediction
            everything = np.arange(n)
            duals = []
            for which, K in enumerate(((Kw + Kc) / 2.0, Kw, Kc)[: self._n_kernels()]):
                Ktt, _ = self._centre(K, everything, everything[:1])
                duals += [(which, A) for A in self._solve(Ktt, T)]
            self.coef_word_, self.coef_char_, self.intercept_ = self._primal(
                Xw, Xc, duals, T.mean(axis=0))
            self.fold_models_ = None
            XL = self._logit_features(Xt)
            if marks is None:
                self.logit_ = self._logistic().fit(XL, y)
            else:
                self.logit_ = self._logistic().fit(XL[marks.rows], marks.labels,
                                                   sample_weight=marks.weights)
            self.presence_ = (self._presence_fit(self._presence_features(XL), y, marks)
                              if self.presence else None)
            self.trees_ = (self._tree_fit(*self._tree_features(Xt), target, self.trees,
                                          self._tree_seed(len(folds)))
                           if self.trees > 0 else None)
        self.centroids_ = self._centroids(Xt, y)
        self.train_proj_ = Z
        self.train_y_ = y
        return self

    def _tune_cutpoints(self, meta_oof: np.ndarray, y: np.ndarray,
                        marks: "_Marks | None") -> np.ndarray:
        """Cut-points for the meta-model's out-of-fold values: tuned for QWK on each of
        ``cut_bags`` bootstrap resamples of the answers and averaged (bagging), so they follow
        the answers' pattern rather than the chance placement of a few answers near a cut.
        A resample that lacks a level the answers have cannot place that level's cut-points
        and is left out; with none left, or ``cut_bags=0``, they are tuned on all answers."""
        def tune(idx: np.ndarray) -> np.ndarray:
            if marks is None:
                return optimise_cutpoints(meta_oof[idx], y[idx], self.levels_)
            return optimise_cutpoints(*marks.subset(idx).cut_targets(meta_oof[idx]), self.levels_)

        n = y.size
        rng = np.random.default_rng(self.random_state)
        n_levels = np.unique(y).size
        bags = []
        for _ in range(self.cut_bags):
            idx = rng.integers(0, n, n)
            if np.unique(y[idx]).size == n_levels:
                bags.append(tune(idx))
        if not bags:
            return tune(np.arange(n))
        return np.sort(np.mean(bags, axis=0))

    def _cut_distance(self, values: np.ndarray) -> np.ndarray:
        c = np.asarray(self.cutpoints_)
        return np.min(np.abs(np.asarray(values)[:, None] - c[None, :]), axis=1)

    # ---------------------------------------------------------------- predict

    def _decision_chunk(self, texts: list[str], keys: list[str] | None) -> np.ndarray:
        Xw, Xc, word_stats = self._blocks_stats(texts)
        Xt = self._joint(Xw, Xc)
        base = self._base_predict(Xw, Xc)
        sims = self._similarity_features(Xt, self._project(Xt), self.centroids_, self.train_proj_,
                                         self.train_y_)
        S = self._stack(base, sims, self._key_features(texts, keys, Xt),
                        _lexical(texts, word_stats), self._hook_features(texts))
        return self.meta_.predict(self.scaler_.transform(S))

    def decision_function(self, X: Any) -> np.ndarray:
        """The meta-model's continuous output, before the cut-points."""
        check_is_fitted(self, "meta_")
        texts, keys = _as_texts(X)
        if keys is not None and not self.uses_keys_:
            raise ValueError("this scorer was trained without per-answer keys; pass answers only")
        if keys is None and self.uses_keys_:
            raise ValueError("this scorer was trained with per-answer keys; pass (answer, key) pairs")
        if not texts:
            return np.zeros(0)
        n_jobs = max(1, int(self.n_jobs or 1))
        chunk = 1000
        with _one_blas_thread():
            if len(texts) <= chunk:
                return self._decision_chunk(texts, keys)
            # chunks keep the intermediate arrays small (and cache-friendly) either way
            parts = [(texts[i:i + chunk], None if keys is None else keys[i:i + chunk])
                     for i in range(0, len(texts), chunk)]
            if n_jobs == 1:
                return np.concatenate([self._decision_chunk(*p) for p in parts])
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=n_jobs) as pool:
                outs = list(pool.map(lambda p: self._decision_chunk(*p), parts))
            return np.concatenate(outs)

    def predict(self, X: Any) -> np.ndarray:
        """Integer levels, always within the training scale."""
        return apply_cutpoints(self.decision_function(X), self.cutpoints_, self.min_level_)

    def predict_with_confidence(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Levels and, per answer, the calibrated chance in [0, 1] that the level is right."""
        values = self.decision_function(X)
        levels = apply_cutpoints(values, self.cutpoints_, self.min_level_)
        conf = np.clip(self.calibrator_.predict(self._cut_distance(values)), 0.0, 1.0)
        return levels, conf

    def predict_confidence(self, X: Any) -> np.ndarray:
        """Calibrated chance in [0, 1], per answer, that the predicted level is right."""
        return self.predict_with_confidence(X)[1]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Quadratic weighted kappa of the predicted levels against ``y`` (higher is better)."""
        y = self._check_y(y, len(_as_texts(X)[0]))
        return quadratic_weighted_kappa(y, self.predict(X))

    @property
    def feature_set(self) -> list[str]:
        """Names of the feature groups this scorer uses, for the model card."""
        stemmed = isinstance(getattr(self, "word_vec_", None), CharNgramTfidf) and self.word_vec_.stem
        groups = [
            f"word tf-idf {tuple(self.word_ngram_range)}" + (" (light suffix stemming)" if stemmed else ""),
            f"char_wb tf-idf {tuple(self.char_ngram_range)}",
            "level centroid similarity (out-of-fold)",
            f"top-{self.n_neighbors} neighbour similarity per level (out-of-fold)",
            "lexical ratios (length-free)",
        ]
        fold_models = getattr(self, "fold_models_", None)
        if getattr(self, "presence_", None) is not None or (
                fold_models and fold_models[0]["presence"] is not None):
            groups.append("word n-gram presence (logistic, ridge, cumulative NB-SVM)")
        if getattr(self, "trees_", None) is not None or (
                fold_models and fold_models[0].get("trees") is not None):
            groups.append(f"extremely randomised trees ({self.trees}) on which word and char n-grams are used")
        if fold_models:
            groups.append(f"base models averaged over the {len(fold_models)} stacking folds")
        if self.reference is not None:
            groups.append("key answer similarity")
        if getattr(self, "uses_keys_", False):
            groups.append("per-answer key similarity and coverage")
        if self.feature_hook is not None:
            groups.append(f"feature_hook {getattr(self.feature_hook, '__qualname__', 'callable')}")
        return groups
