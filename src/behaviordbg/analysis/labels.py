"""People's stance labels as a pure stage: they win over judges, they score judges, and they say
where a person's next ten minutes do the most good.

- `apply_labels`: a judge's verdict replaced by the person's wherever a label matches (the store
  matches, by the rule in behaviordbg.store.labels). A labelled verdict has confidence 1.0, its
  judge is "label:<author>", and its second opinion names what the judge had read, so evidence
  shows where each stance came from; it counts as solid (two readers: the judge and a person).
- `judge_accuracy`: each judge setting's accuracy and confusion matrix against the labels,
  overall, per framing and per claim, with Wilson intervals.
- `suggest`: unlabelled answers, worst first: judges that disagree, then the evidence of bugs,
  then the lowest confidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..types import Stance
from .stats import wilson

LABEL_JUDGE_PREFIX = "label:"
CONFUSION_LABELS = ("affirm", "deny", "unclear", "refuse", "error")


@dataclass(frozen=True)
class HumanLabel:
    """What a person said an answer's stance is (the parts the analysis needs)."""

    stance: str
    author: str = ""
    note: str = ""


def label_judge(author: str) -> str:
    """The judge name a labelled verdict carries in evidence: "label:<author>"."""
    return LABEL_JUDGE_PREFIX + (author or "person")


def is_label(judge: str) -> bool:
    return judge.startswith(LABEL_JUDGE_PREFIX)


def apply_labels(
    stances: Mapping[str, Stance], labels: Mapping[str, HumanLabel]
) -> tuple[dict[str, Stance], dict[str, tuple[str, str]]]:
    """(stances with labels applied, response id -> (judge's label, person's label) where they
    differ). Labels on answers the judge did not read still apply (the judge's label is "none")."""
    out = dict(stances)
    changed: dict[str, tuple[str, str]] = {}
    for rid, lab in labels.items():
        before = stances.get(rid)
        judged = f"{before.judge}={before.label}" if before is not None else "no verdict"
        out[rid] = Stance(
            response_id=rid, label=lab.stance,  # type: ignore[arg-type]
            confidence=1.0, judge=label_judge(lab.author), rationale=lab.note,
            agreement=f"labelled {lab.stance}; judge {judged}",
        )
        if before is None or before.label != lab.stance:
            changed[rid] = (before.label if before is not None else "none", lab.stance)
    return out, changed


# --------------------------------------------------------------------------- judge accuracy


@dataclass
class Accuracy:
    """Right out of n, with a Wilson interval."""

    right: int = 0
    n: int = 0

    def as_dict(self) -> dict[str, Any]:
        lo, hi = wilson(self.right, self.n)
        return {"right": self.right, "n": self.n,
                "accuracy": round(self.right / self.n, 4) if self.n else None,
                "low": round(lo, 4), "high": round(hi, 4)}


@dataclass
class JudgeScore:
    """One judge setting against the labels."""

    judge: str
    overall: Accuracy = field(default_factory=Accuracy)
    by_framing: dict[str, Accuracy] = field(default_factory=lambda: defaultdict(Accuracy))
    by_claim: dict[str, Accuracy] = field(default_factory=lambda: defaultdict(Accuracy))
    # confusion[human][judge] = count
    confusion: dict[str, dict[str, int]] = field(
        default_factory=lambda: {h: dict.fromkeys(CONFUSION_LABELS, 0) for h in CONFUSION_LABELS})

    def as_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge, **self.overall.as_dict(),
            "by_framing": [{"framing": k, **v.as_dict()} for k, v in sorted(self.by_framing.items())],
            "by_claim": [{"claim": k, **v.as_dict()} for k, v in sorted(self.by_claim.items())],
            "confusion": {h: dict(row) for h, row in self.confusion.items() if h != "error"},
        }


def judge_accuracy(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per judge setting: accuracy overall, per framing and per claim, and the confusion matrix
    (rows: the person's label, columns: the judge's). Rows carry judge, judge_label, human,
    claim_id and framing (behaviordbg.store.labels.LabelledVerdict)."""
    scores: dict[str, JudgeScore] = {}
    for r in rows:
        s = scores.setdefault(r["judge"], JudgeScore(r["judge"]))
        ok = int(r["judge_label"] == r["human"])
        for acc in (s.overall, s.by_framing[r["framing"]], s.by_claim[r["claim_id"]]):
            acc.right += ok
            acc.n += 1
        col = r["judge_label"] if r["judge_label"] in CONFUSION_LABELS else "error"
        s.confusion.setdefault(r["human"], dict.fromkeys(CONFUSION_LABELS, 0))[col] += 1
    return [scores[j].as_dict() for j in sorted(scores)]


# --------------------------------------------------------------------------- suggestions


def suggest(
    rows: Iterable[Mapping[str, Any]], *, setting: str, labelled: Collection[str],
    evidence: Collection[str] = (), limit: int = 200,
) -> list[dict[str, Any]]:
    """Unlabelled answers worth a person's reading, worst first.

    `rows`: answers with every stored verdict (behaviordbg.store.labels.ReviewRow); `setting`:
    the analysis's judge setting (its verdict is the one shown); `labelled`: response ids that
    have a label; `evidence`: response ids that are evidence of a bug or candidate. Order: judges
    disagree (two settings read it differently, or a cascade saw both readings), then bug
    evidence, then the lowest confidence of the analysis judge."""
    out = []
    for r in rows:
        if r["response_id"] in labelled:
            continue
        verdicts: Sequence[tuple[str, str, float, str | None]] = r["verdicts"]
        mine = next((v for v in verdicts if v[0] == setting), None)
        readings = {v[1] for v in verdicts if v[1] != "error"}
        why = []
        if len(readings) > 1:
            why.append("judges disagree: " + ", ".join(f"{v[0]}={v[1]}" for v in verdicts))
        elif any(v[3] for v in verdicts):
            why.append("judges disagree: " + next(str(v[3]) for v in verdicts if v[3]))
        in_evidence = r["response_id"] in evidence
        if in_evidence:
            why.append("evidence of a bug or candidate")
        conf = mine[2] if mine is not None else 0.0
        if mine is None or mine[1] == "error":
            why.append("no verdict")
        out.append({
            "response_id": r["response_id"], "claim": r["claim_id"], "framing": r["framing"],
            "stance": mine[1] if mine is not None else "none", "confidence": round(conf, 3),
            "why": "; ".join(why) or f"confidence {conf:.2f}", "prompt": r["prompt"],
            "answer": r["response"], "_rank": (not why[:1] or not why[0].startswith("judges"),
                                                not in_evidence, conf),
        })
    out.sort(key=lambda d: (*d["_rank"], d["response_id"]))
    for d in out:
        del d["_rank"]
    return out[:limit]


def label_outcome(
    before: Mapping[str, Sequence[str]], after: Collection[str],
    changed: Mapping[str, tuple[str, str]],
) -> tuple[dict[str, list[str]], list[str]]:
    """Which bugs the labels removed and which they created.

    `before`: fingerprint -> evidence response ids of the bugs the judge's verdicts alone give;
    `after`: fingerprints of the bugs with the labels applied; `changed`: the relabelled answers.
    Returns ({removed fingerprint: the relabelled answers among its evidence}, created)."""
    removed = {fp: [rid for rid in ids if rid in changed] for fp, ids in before.items()
               if fp not in after}
    created = sorted(fp for fp in after if fp not in before)
    return removed, created
