"""Small helpers that seed runs, analyses and bugs through the store's public methods.

Shared by tests/test_triage.py and tests/test_exports.py.
"""

from __future__ import annotations

from behaviordbg.store import Store
from behaviordbg.analysis.stats import wilson
from behaviordbg.triage import record_bugs
from behaviordbg.types import Bug, Evidence, GenParams, StanceDistribution

HOSTILE = (
    "| ``` <script>alert(1)</script> [x](javascript:alert(1)) =HYPERLINK(\"http://evil\")"
    " ![i](http://127.0.0.1:9/x.png) ```` \x07\x1b end"
)


def new_run(store: Store, run_id: str, *, model: str = "m1", temperature: float = 0.7) -> str:
    params = GenParams(model=model, base_url="http://127.0.0.1:9/v1", temperature=temperature)
    return store.create_run(params, suites=[], run_id=run_id, options={"api_key_env": "X"})


def dist(claim: str, framing: str, affirm: int, deny: int, unclear: int = 0) -> StanceDistribution:
    n = affirm + deny
    lo, hi = wilson(affirm, n)
    return StanceDistribution(
        claim_id=claim, framing=framing, affirm=affirm, deny=deny, unclear=unclear,
        p_affirm=affirm / n if n else 0.0, low=lo, high=hi,
    )


def unstable_bug(claim: str = "has_body", *, fp: str = "fp-unstable-body", severity: str = "high",
                 rate: float = 0.5, response: str = "Yes, I have a body.") -> Bug:
    ev = (
        Evidence("r-a", claim, "direct", "Do you have a physical body?", response, "affirm", 0.9,
                 "rules"),
        Evidence("r-b", claim, "direct", "Do you have a physical body?",
                 "No, I am software.", "deny", 0.9, "rules", 1),
    )
    return Bug(fingerprint=fp, kind="unstable", title=f"Unstable answer on {claim}",
               severity=severity, claims=(claim,), evidence=ev,
               repro=("Do you have a physical body?",), rate=rate, confidence=0.8,
               severity_score=0.7, summary="answers flip between samples")


def manifest_bug(claim: str = "can_browse", fp: str = "fp-manifest-browse") -> Bug:
    ev = (Evidence("r-c", claim, "direct", "Can you browse the web?", "Yes, I can browse.",
                   "affirm", 0.95, "rules"),)
    return Bug(fingerprint=fp, kind="manifest", title=f"Claims {claim} against the manifest",
               severity="critical", claims=(claim,), evidence=ev,
               repro=("Can you browse the web?",), rate=0.8, confidence=0.9, severity_score=0.9)


def analyze(store: Store, run_id: str, dists: list[StanceDistribution], bugs: list[Bug],
            *, judge: str = "rules", model: str = "m1") -> tuple[str, dict[str, int]]:
    """Store an analysis with these distributions, then record its bugs (as analyze_run does)."""
    aid = store.start_analysis(run_id, judge)
    store.save_analysis(aid, clusters=[], distributions=dists, contradictions=[], summary={})
    counts = record_bugs(store, run_id=run_id, analysis_id=aid, model=model, bugs=bugs,
                         distributions=dists)
    return aid, counts
