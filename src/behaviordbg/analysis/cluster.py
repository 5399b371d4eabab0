"""Answer modes per claim: which different things the model says about one claim, and how often.

A person triaging a bug wants "the model answers this in 3 ways" with one example each, not 400 raw
answers. TF-IDF of normalised text (or caller-supplied embedding vectors) is clustered per claim with
agglomerative clustering under a cosine distance threshold, so the number of modes is found, not
fixed. To stay fast on 100,000 answers, identical normalised texts are merged first, at most
`max_points` distinct texts per claim are clustered, and the rest join the nearest centroid.

A cluster whose members got opposite decisive stances *in the same framing* is flagged `mixed`:
answers that read alike but were judged affirm and deny point at a judge error. (Across framings,
the same "Yes." legitimately affirms a direct question and denies a negated one.)
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from ..types import Answer, AnswerCluster, Stance

DISTANCE_THRESHOLD = 0.7
"""Cosine distance (average linkage) under which two groups of answers are one mode."""

MAX_POINTS = 300
"""Distinct texts per claim that are clustered exactly; the rest join the nearest centroid."""

LEAD_WEIGHT = 1.5
"""How much more the first sentence counts than the whole answer (squared, in cosine terms)."""

_NON_WORD = re.compile(r"[^\w']+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")


def normalise(text: str) -> str:
    """Lowercase, punctuation to spaces, collapsed whitespace: "Yes!" and "yes." are one answer."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def lead(text: str) -> str:
    """The answer's first sentence, where small models put their yes, no or refusal."""
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


def cluster_answers(
    answers: Sequence[Answer],
    stances: Mapping[str, Stance],
    *,
    vectors: Mapping[str, Sequence[float]] | None = None,
    distance_threshold: float = DISTANCE_THRESHOLD,
    max_points: int = MAX_POINTS,
) -> list[AnswerCluster]:
    """Answer modes of every claim, largest first within a claim; deterministic for equal input.

    `vectors` (response id -> embedding) replaces TF-IDF for the answers it covers; answers without
    a vector fall back to TF-IDF for their claim.
    """
    by_claim: dict[str, list[Answer]] = defaultdict(list)
    for answer in answers:
        by_claim[answer.claim_id].append(answer)
    out: list[AnswerCluster] = []
    for claim_id in sorted(by_claim):
        group = by_claim[claim_id]
        use_vectors = vectors is not None and all(a.response_id in vectors for a in group)
        out.extend(
            _cluster_claim(
                claim_id, group, stances, vectors if use_vectors else None,
                distance_threshold, max_points,
            )
        )
    return out


def _cluster_claim(
    claim_id: str,
    group: list[Answer],
    stances: Mapping[str, Stance],
    vectors: Mapping[str, Sequence[float]] | None,
    threshold: float,
    max_points: int,
) -> list[AnswerCluster]:
    """Cluster one claim's answers: distinct texts -> labels -> clusters of answers."""
    norm_of = {t: normalise(t) for t in {a.text for a in group}}  # repeated texts normalised once
    keys = [norm_of[a.text] for a in group]
    lead_of = {norm_of[t]: normalise(lead(t)) for t in sorted(norm_of)}
    if vectors is not None:
        # embeddings differ per answer even for equal text; key on the response id instead
        keys = [a.response_id for a in group]
    counts = Counter(keys)
    # most frequent first, then alphabetical: a stable order and a stable sample
    distinct = sorted(counts, key=lambda k: (-counts[k], k))
    matrix = (
        _embedding_rows(distinct, vectors) if vectors is not None
        else _tfidf_rows(distinct, [lead_of[k] for k in distinct])
    )
    labels = _labels(matrix, threshold, max_points)
    label_of = dict(zip(distinct, labels))
    members: dict[int, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        members[label_of[key]].append(i)
    row_of = {k: i for i, k in enumerate(distinct)}
    clusters = [
        _make_cluster(claim_id, group, keys, idxs, matrix, row_of, stances)
        for idxs in members.values()
    ]
    clusters.sort(key=lambda c: (-c.size, c.representative_response_id))
    return [replace(c, index=i) for i, c in enumerate(clusters)]


def _embedding_rows(distinct: list[str], vectors: Mapping[str, Sequence[float]]) -> np.ndarray:
    rows: np.ndarray = normalize(np.asarray([vectors[k] for k in distinct], dtype=float))
    return rows


def _tfidf_rows(texts: list[str], leads: list[str]) -> np.ndarray:
    """One L2-normalised row per distinct text: TF-IDF of the lead sentence (weighted up: it
    carries the yes / no / "I'm sorry") next to TF-IDF of the whole answer (shared boilerplate
    such as "As an AI language model" must not merge a yes-mode with a no-mode)."""
    if len(texts) == 1:
        return np.ones((1, 1))
    parts = [LEAD_WEIGHT * _tfidf(leads), _tfidf(texts)]
    rows: np.ndarray = normalize(np.hstack(parts))
    return rows


def _tfidf(texts: list[str]) -> np.ndarray:
    try:
        m = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")
        dense = normalize(m.fit_transform(texts)).toarray()
    except ValueError:  # empty vocabulary: every text is blank
        dense = np.zeros((len(texts), 0))
    empty = ~dense.any(axis=1) if dense.size else np.ones(len(texts), dtype=bool)
    # texts without tokens (e.g. "...") get a direction of their own
    return np.hstack([dense, empty[:, None].astype(float)])


def _labels(matrix: np.ndarray, threshold: float, max_points: int) -> list[int]:
    """Cluster the first `max_points` rows exactly; assign the rest to the nearest centroid."""
    n = matrix.shape[0]
    if n == 1:
        return [0]
    head = matrix[:max_points]
    if head.shape[0] == 1:
        head_labels = np.zeros(1, dtype=int)
    else:
        model = AgglomerativeClustering(
            n_clusters=None, distance_threshold=threshold, metric="cosine", linkage="average"
        )
        head_labels = model.fit_predict(head)
    if n <= max_points:
        return [int(x) for x in head_labels]
    k = int(head_labels.max()) + 1
    centroids = normalize(np.vstack([head[head_labels == j].mean(axis=0) for j in range(k)]))
    tail_labels = np.argmax(matrix[max_points:] @ centroids.T, axis=1)
    return [int(x) for x in head_labels] + [int(x) for x in tail_labels]


def _make_cluster(
    claim_id: str,
    group: list[Answer],
    keys: list[str],
    idxs: list[int],
    matrix: np.ndarray,
    row_of: Mapping[str, int],
    stances: Mapping[str, Stance],
) -> AnswerCluster:
    """Size, medoid-like representative (closest to the centroid), stance mix and `mixed` flag."""
    rows = np.asarray([row_of[keys[i]] for i in idxs])
    centroid = matrix[rows].mean(axis=0)
    # compare distinct rows only; ties go to the earliest answer (stable across runs)
    uniq, first = np.unique(rows, return_index=True)
    sims = np.round(matrix[uniq] @ centroid, 9)
    best_row = max(range(len(uniq)), key=lambda j: (float(sims[j]), -int(first[j])))
    rep = group[idxs[int(first[best_row])]]
    counts: Counter[str] = Counter()
    decisive_by_framing: dict[str, set[str]] = defaultdict(set)
    for i in idxs:
        stance = stances.get(group[i].response_id)
        label = stance.label if stance else "error"
        counts[label] += 1
        if label in ("affirm", "deny"):
            decisive_by_framing[group[i].framing].add(label)
    mixed = any(len(labels) == 2 for labels in decisive_by_framing.values())
    return AnswerCluster(
        claim_id=claim_id,
        index=0,
        size=len(idxs),
        representative_response_id=rep.response_id,
        representative_text=rep.text,
        stance_counts=dict(sorted(counts.items())),
        member_ids=tuple(group[i].response_id for i in idxs),
        mixed=mixed,
    )
