"""Did the fix generalise? A bug's wrong answers before and after training, on the prompts the fix
dataset trained on and on the claim's other prompts (held out), separately.

A fix dataset (`behaviordbg export --format sft|dpo`) lists the prompts it trained on with the
truthful stance per claim (its `.prompts.json`). In the baseline run and the retrained run, every
decisive answer to a prompt of those claims is wrong (the stance opposite the truth) or right; the
counts of each split go through Fisher's exact test as in behaviordbg.diff. A bug whose wrong
answers are gone on the trained prompts but not on the held-out ones is flagged "trained only":
the model learnt the training prompts, not the behaviour. A claim with no held-out prompt cannot
show generalisation at all, and says so.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .diff import ALPHA, Counts, fisher_p
from .errors import BehaviordbgError
from .store import Store

IMPROVED = ("resolved", "gone_inconclusive", "improved")
STILL_WRONG = ("not_resolved", "regressed")


@dataclass(frozen=True)
class Trained:
    """A fix dataset's trained prompts: (claim, prompt) pairs, the truth per claim, and the bugs
    (fingerprint -> claims) they were made for."""

    path: str
    prompts: frozenset[tuple[str, str]]
    truth: dict[str, str]
    bugs: dict[str, tuple[str, ...]]


def _norm(prompt: str) -> str:
    return " ".join(prompt.split()).casefold()


def load_trained(path: str | Path) -> Trained:
    """The trained prompts of a fix dataset: its data file (fix.jsonl -> fix.prompts.json next to
    it), the .prompts.json itself, or a folder holding .prompts.json files (merged)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.prompts.json"))
    elif p.name.endswith(".prompts.json"):
        files = [p]
    else:
        stem = p.name[: -len(p.suffix)] if p.suffix else p.name
        files = [p.with_name(stem + ".prompts.json")]
    files = [f for f in files if f.is_file()]
    if not files:
        raise BehaviordbgError(
            f"--heldout {path}: no trained-prompts file (*.prompts.json) found there",
            hint="pass the data file of `behaviordbg export --format sft|dpo --out F` (its"
                 " F.prompts.json must be next to it), the .prompts.json, or their folder")
    prompts: set[tuple[str, str]] = set()
    truth: dict[str, str] = {}
    bugs: dict[str, set[str]] = defaultdict(set)
    for f in files:
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
            rows = doc["prompts"]
            for row in rows:
                claim, prompt, t = str(row["claim_id"]), str(row["prompt"]), str(row["truth"])
                if t not in ("affirm", "deny"):
                    raise ValueError(f"truth {t!r} of claim {claim!r} is not affirm or deny")
                if truth.setdefault(claim, t) != t:
                    raise ValueError(f"claim {claim!r} is trained to both affirm and deny")
                prompts.add((claim, _norm(prompt)))
                for fp in row.get("fingerprints") or []:
                    bugs[str(fp)].add(claim)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise BehaviordbgError(f"{f}: not a trained-prompts file: {err}",
                                   hint="pass the .prompts.json that `behaviordbg export --format"
                                        " sft|dpo` wrote, unchanged") from None
    return Trained(", ".join(map(str, files)), frozenset(prompts), truth,
                   {fp: tuple(sorted(c)) for fp, c in sorted(bugs.items())})


@dataclass(frozen=True)
class Split:
    """Wrong vs right decisive answers on one split (trained or held out) in both runs."""

    prompts: int  # prompts of the split seen in either run
    wrong_a: int
    right_a: int
    wrong_b: int
    right_b: int
    p_value: float | None  # one-sided Fisher: fewer wrong answers in run b
    status: str  # resolved | gone_inconclusive | improved | not_resolved | regressed | ...

    @property
    def rate_a(self) -> float | None:
        n = self.wrong_a + self.right_a
        return self.wrong_a / n if n else None

    @property
    def rate_b(self) -> float | None:
        n = self.wrong_b + self.right_b
        return self.wrong_b / n if n else None


@dataclass(frozen=True)
class HeldoutBug:
    fingerprint: str
    claims: tuple[str, ...]
    trained: Split
    heldout: Split
    reported_in_b: bool  # the bug (or a candidate of it) is still found in run b
    verdict: str  # generalises | trained_only | not_fixed | no_heldout | inconclusive
    note: str = ""

    @property
    def flagged(self) -> bool:
        return self.verdict in ("trained_only", "no_heldout")


@dataclass(frozen=True)
class HeldoutReport:
    run_a: str
    run_b: str
    dataset: str
    bugs: tuple[HeldoutBug, ...] = ()
    alpha: float = ALPHA
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for b, src in zip(d["bugs"], self.bugs):
            b["flagged"] = src.flagged
            for split in ("trained", "heldout"):
                b[split]["rate_a"] = getattr(src, split).rate_a
                b[split]["rate_b"] = getattr(src, split).rate_b
        d["summary"] = {v: sum(b.verdict == v for b in self.bugs) for v in
                        ("generalises", "trained_only", "not_fixed", "no_heldout",
                         "inconclusive")}
        d["flagged"] = [b.fingerprint for b in self.bugs if b.flagged]
        return d


def _split(wrong_a: int, right_a: int, wrong_b: int, right_b: int, prompts: int) -> Split:
    a, b = Counts(wrong_a, right_a), Counts(wrong_b, right_b)
    p = fisher_p(a, b, alternative="greater")
    if prompts == 0:
        status = "no_prompts"
    elif b.decisive == 0:
        status = "no_data"
    elif wrong_a == 0:
        status = "regressed" if wrong_b else "never_wrong"
    elif wrong_b == 0:
        status = "resolved" if p is not None and p < ALPHA else "gone_inconclusive"
    elif p is not None and p < ALPHA:
        status = "improved"
    else:
        status = "not_resolved"
    return Split(prompts, wrong_a, right_a, wrong_b, right_b, p, status)


def _verdict(trained: Split, held: Split) -> tuple[str, str]:
    if held.status == "no_prompts":
        return "no_heldout", ("every prompt of the claim was trained on: nothing shows whether"
                              " the fix generalises; probe new paraphrases (suites generate)")
    if trained.status in IMPROVED and held.status in STILL_WRONG:
        return "trained_only", ("wrong answers dropped on the trained prompts only: the model"
                                " learnt the prompts, not the behaviour")
    if trained.status in IMPROVED and held.status in (*IMPROVED, "never_wrong"):
        if "gone_inconclusive" in (trained.status, held.status):
            return "inconclusive", "wrong answers gone, but too few answers for significance"
        return "generalises", "fewer wrong answers on trained and held-out prompts alike"
    if trained.status in STILL_WRONG:
        return "not_fixed", "still wrong on the trained prompts"
    return "inconclusive", f"trained {trained.status}, held out {held.status}"


def heldout_diff(store: Store, run_a: str, run_b: str, trained: Trained) -> HeldoutReport:
    """Per bug of the dataset: wrong answers on trained and on held-out prompts, run a vs run b."""
    an_a, an_b = store.require_analysis(run_a), store.require_analysis(run_b)
    counts = [store.prompt_stance_counts(an_a["id"]), store.prompt_stance_counts(an_b["id"])]
    found_b = {b.fingerprint for b in store.bugs_for_analysis(an_b["id"])}
    found_b |= {b.fingerprint for b in store.candidates_for_analysis(an_b["id"])}
    warnings: list[str] = []
    if not any(counts):
        warnings.append("no per-prompt stances in this database for these runs: nothing to count")
    out = []
    for fp, claims in trained.bugs.items():
        tally = {(split, run): [0, 0] for split in ("t", "h") for run in (0, 1)}
        seen: dict[str, set[tuple[str, str]]] = {"t": set(), "h": set()}
        for run, pc in enumerate(counts):
            for (claim, _framing, prompt), (aff, den) in pc.items():
                if claim not in claims:
                    continue
                split = "t" if (claim, _norm(prompt)) in trained.prompts else "h"
                seen[split].add((claim, _norm(prompt)))
                wrong, right = (aff, den) if trained.truth[claim] == "deny" else (den, aff)
                tally[(split, run)][0] += wrong
                tally[(split, run)][1] += right
        t, h = (_split(tally[(k, 0)][0], tally[(k, 0)][1], tally[(k, 1)][0], tally[(k, 1)][1],
                       len(seen[k])) for k in ("t", "h"))
        verdict, note = _verdict(t, h)
        out.append(HeldoutBug(fp, claims, t, h, fp in found_b, verdict, note))
    if an_a["run_id"] == an_b["run_id"]:
        warnings.append(f"both sides are run {an_a['run_id']}: compare the retrained model's run")
    return HeldoutReport(an_a["run_id"], an_b["run_id"], trained.path, tuple(out),
                         warnings=warnings)
