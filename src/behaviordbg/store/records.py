"""What the store hands out: one typed record per kind of row.

A row that a command prints with `--json` (a run, a bug's triage record, its history) is a
TypedDict: it is plain JSON-ready data, so the JSON a script reads is the row itself, and mypy
still checks every key a caller reads. Defaults are filled in once, when a row is decoded
(`decode_run`), never re-derived by the caller. The stage records (Bug, Stance, ...) are the
dataclasses of behaviordbg.types.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, cast

from ..config import RunOptions
from ..types import Bug, Stance, SuiteRef, bug_from_dict

# awaiting_batch: its queries went out as an OpenAI Batch file or job (store/batches.py)
RunStatus = Literal["running", "complete", "interrupted", "failed", "awaiting_batch"]


class RunParams(TypedDict):
    """The generation parameters and run options recorded with a run (see `create_run`)."""

    model: str
    base_url: str
    temperature: float
    max_tokens: int
    top_p: float | None
    seed: int | None
    extra: list[list[Any]]
    samples: int
    concurrency: int
    timeout: float
    max_attempts: int
    api_key_env: str
    claims: list[str]
    framings: list[str]
    limit: int | None
    suite_paths: list[str] | None


# What a run recorded before an option existed is decoded as that option's default: a new run's.
RUN_PARAM_DEFAULTS: dict[str, Any] = {
    "temperature": RunOptions.temperature, "max_tokens": RunOptions.max_tokens, "top_p": None,
    "seed": None, "extra": [], "samples": RunOptions.samples,
    "concurrency": RunOptions.concurrency, "timeout": RunOptions.timeout,
    "max_attempts": RunOptions.max_attempts, "api_key_env": RunOptions.api_key_env, "claims": [],
    "framings": [], "limit": None, "suite_paths": None,
}


class Run(TypedDict):
    """A probe run."""

    id: str
    created_at: str
    finished_at: str | None
    status: RunStatus
    model: str
    base_url: str  # redacted: no credentials
    params: RunParams
    suites: list[SuiteRef]
    manifest: dict[str, Any]  # the deployment manifest (`asdict(Manifest)`), {} when none
    local_model: dict[str, Any] | None  # facts about the embedded model when it answered
    label: str
    stats: dict[str, Any]


class RunCounts(TypedDict):
    queries: int
    responses: int  # answered
    cache_hits: int
    errors: int  # queries whose retries ran out and that have no answer
    error_events: int  # every failed attempt, retried or not


class TopError(TypedDict):
    """The most common final error of a run's unanswered queries."""

    kind: str
    status_code: int | None
    message: str
    queries: int  # how many queries it failed


class BatchRecord(TypedDict):
    """A batch of a run: an OpenAI Batch input file written, or a Batch API job submitted."""

    id: int
    run_id: str
    kind: str  # file | api
    status: str  # written | uploaded | the Batch API's status | ingested
    lines: int
    path: str | None
    endpoint: str | None  # redacted
    input_file_id: str | None
    batch_id: str | None
    output_file_id: str | None
    error_file_id: str | None
    counts: dict[str, Any]  # the API's request_counts
    report: dict[str, Any]  # the last ingest report
    created_at: str
    updated_at: str


class AnalysisRecord(TypedDict):
    id: str
    run_id: str
    judge: str  # the judge setting, e.g. "rules" or "llm:qwen"
    created_at: str
    status: str  # running | complete
    summary: dict[str, Any]


class BugRecord(TypedDict):
    """A bug's triage record (one per fingerprint, across runs)."""

    fingerprint: str
    kind: str
    title: str
    claims: list[str]
    status: str
    assignee: str | None
    labels: list[str]
    notes: str
    regression: int
    first_seen_run: str
    last_seen_run: str
    created_at: str
    updated_at: str


class HistoryEntry(TypedDict):
    id: int
    fingerprint: str
    at: str
    field: str  # status | assignee | labels | note | seen | not_reproduced | regression
    old: str | None
    new: str | None
    note: str
    run_id: str | None
    actor: str


class PastOccurrence(TypedDict):
    """Where a bug was last found before some run, and what it looked like then."""

    run_id: str
    analysis_id: str
    bug: Bug


class TriagedBug(TypedDict):
    """A bug triaged confirmed or false_positive, once per judge setting whose analyses found it
    (the data of `behaviordbg stats`)."""

    fingerprint: str
    kind: str
    status: str
    judge: str


# --------------------------------------------------------------------------- dashboard read models


class RunRow(TypedDict):
    id: str
    created_at: str
    status: str
    model: str
    label: str
    responses: int  # stored responses, failed queries included
    bugs: int  # bugs of its newest complete analysis


class BugRow(TypedDict):
    """One row of the Bugs table."""

    fingerprint: str
    severity: str
    kind: str
    title: str
    claims: list[str]
    status: str
    assignee: str | None
    rate: float
    confidence: float
    severity_score: float
    regression: bool
    first_seen_run: str


class ChangedBug(TypedDict):
    """A bug one analysis has and another lacks (the Overview's "what changed")."""

    fingerprint: str
    severity: str
    kind: str
    title: str
    status: str
    severity_score: float


class CandidateRow(TypedDict):
    fingerprint: str
    severity: str
    kind: str
    title: str
    claims: list[str]
    rate: float
    confidence: float
    reason: str
    status: str  # the triage status when the fingerprint is a known bug, else ""


class Verdict(TypedDict):
    """One stored judge verdict on an answer."""

    response_id: str
    judge: str  # the judge setting asked for
    label: str
    confidence: float
    judged_by: str  # who decided, e.g. llm:qwen
    rationale: str
    disagreement: str | None


class ContradictionGroup(TypedDict):
    """Contradictions of one kind on the same claims (an edge of the contradiction graph)."""

    claims: list[str]
    kind: str
    count: int
    fingerprints: list[str]


@dataclass(frozen=True)
class BugFilter:
    """What the Bugs table filters on; empty tuples mean "any"."""

    kinds: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    text: str = ""  # substring of title, fingerprint, claims or assignee
    sort: str = "severity"  # a key of BUG_SORTS


def loads(value: str | None) -> Any:
    """A JSON column (None stays None)."""
    return json.loads(value) if value else None


def decode_run(row: dict[str, Any]) -> Run:
    """A `runs` row with its JSON columns decoded and every run parameter present."""
    d = dict(row)
    for col in ("params_json", "suites_json", "manifest_json", "local_model_json", "stats_json"):
        d[col[: -len("_json")]] = loads(d.pop(col))
    d["params"] = {**RUN_PARAM_DEFAULTS, **(d["params"] or {})}
    d["suites"] = d["suites"] or []
    d["manifest"] = d["manifest"] or {}
    d["stats"] = d["stats"] or {}
    return cast(Run, d)


def decode_found(doc: str, status: str | None = None, *, candidate: bool = False) -> Bug:
    """A Bug record as an analysis stored it (an occurrence or a candidate), with the current
    triage status of its fingerprint ("new" when it is no known bug)."""
    d = json.loads(doc)
    if status is not None or candidate:
        d["status"] = status or "new"
    if candidate:
        d["candidate"] = True
    return bug_from_dict(d)


def decode_bug(row: dict[str, Any]) -> BugRecord:
    d = dict(row)
    d["claims"] = json.loads(d.pop("claims_json"))
    d["labels"] = json.loads(d.pop("labels_json"))
    return cast(BugRecord, d)


def decode_stance(r: Any) -> Stance:
    """A stored verdict row (table `stances`) as a Stance; rows written before migration 0003
    have no `agreement` column."""
    return Stance(
        response_id=r["response_id"], label=r["label"], confidence=r["confidence"],
        judge=r["judged_by"], rationale=r["rationale"], disagreement=r["disagreement"],
        agreement=r["agreement"] if "agreement" in r.keys() else None,
    )
