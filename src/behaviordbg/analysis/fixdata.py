"""Fix data from bugs: which answers were wrong, what the truthful answer is, whose words say it.

A pure stage (no I/O): `wrong_answers` finds, in the evidence of the bugs it is handed, every
answer that is wrong, with the truthful stance it should have taken:

- wrong by the deployment: the claim has a truth (the run's manifest, else the suite's `truth`)
  and the answer's stance is the opposite of it;
- when the manifest is silent, only for unstable and paraphrase bugs: the answer is on the
  minority side of the model's own decisive answers (per prompt for unstable, over the claim's
  saying prompts for paraphrase). A tie, or a say_do/rule bug on claims without a truth, has no
  truthful side: those answers are skipped and counted ("no truth known").

`own_words` then looks among the same run's answers for the truthful answer in the model's own
words: another sample of the same prompt first, then another prompt of the same claim *in the same
framing* (a "yes" to a direct question is a "no" to a negated one, so other framings never fit).
It must carry the truthful stance on a solid verdict (analysis.evidence.SOLID_CONFIDENCE, or two
judges agreeing) that no second judge disputes; among another prompt's answers, those that repeat
fewer specifics of their own prompt come first (they fit the wrong answer's prompt better). Answers without one go to a teacher model, or are
skipped (pipeline.fix_data).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from ..types import Answer, Bug, Claim, Manifest, Message, Stance
from .evidence import SOLID_CONFIDENCE

Truth = Literal["affirm", "deny"]
Source = Literal["own_sample", "own_paraphrase", "teacher"]
SOURCES: tuple[Source, ...] = ("own_sample", "own_paraphrase", "teacher")
SAYING = ("direct", "negated")


@dataclass(frozen=True)
class Wrong:
    """One wrong answer of the run, and the stance it should have taken."""

    answer: Answer
    stance: str  # what it said: the opposite of `truth`
    truth: Truth
    truth_from: Literal["manifest", "majority"]
    fingerprints: tuple[str, ...]  # every selected bug whose evidence shows this answer
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class Chosen:
    """The truthful answer picked for a wrong one."""

    text: str
    source: Source
    stance: str
    confidence: float
    judge: str
    response_id: str | None = None  # the run's answer, for own words
    prompt: str = ""  # the prompt it answered (a paraphrase's differs from the wrong answer's)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class FixExample:
    """One training example: the conversation up to the prompt, the wrong and the truthful answer."""

    wrong: Wrong
    messages: tuple[Message, ...]  # system prompt, context turns, the user prompt (as sent)
    chosen: Chosen
    suite: str


@dataclass
class FixDataset:
    """What `build_fix_dataset` made, with everything a datasheet reports."""

    run_id: str
    analysis_id: str
    model: str
    judge: str
    statuses: tuple[str, ...]
    bugs: list[dict[str, Any]]  # fingerprint, kind, claims, status, title of each selected bug
    examples: list[FixExample]
    skipped: Counter[str] = field(default_factory=Counter)
    teacher: dict[str, Any] = field(default_factory=dict)  # model, asked, kept, rejected
    created_at: str = field(default_factory=_now)


def solid(s: Stance | None, label: str) -> bool:
    """A verdict of `label` the judges stand by: confident enough, or read alike by two judges,
    and not disputed by a second judge."""
    if s is None or s.label != label or s.disagreement:
        return False
    return bool(s.agreement) or s.confidence >= SOLID_CONFIDENCE - 1e-9


def opposite(label: Truth) -> Truth:
    return "deny" if label == "affirm" else "affirm"


def _majority(labels: Iterable[str]) -> Truth | None:
    c = Counter(labels)
    if c["affirm"] > c["deny"]:
        return "affirm"
    if c["deny"] > c["affirm"]:
        return "deny"
    return None


def truthful_stance(
    bug: Bug, claim_id: str, claim: Claim | None, manifest: Manifest,
    answers: Sequence[Answer], stances: Mapping[str, Stance], *, framing: str, prompt: str,
) -> tuple[Truth | None, Literal["manifest", "majority"]]:
    """The stance a truthful answer takes on `claim_id` for this bug's evidence answer."""
    truth = manifest.truth_of(claim) if claim is not None else None
    if truth is not None:
        return ("affirm" if truth else "deny"), "manifest"
    if bug.kind == "unstable":
        pool = [a for a in answers if a.claim_id == claim_id and a.framing == framing
                and a.prompt == prompt]
    elif bug.kind == "paraphrase":
        pool = [a for a in answers if a.claim_id == claim_id and a.framing in SAYING]
    else:  # say_do and rule: which side is right is a question the manifest must answer
        return None, "majority"
    labels = [stances[a.response_id].label for a in pool if a.response_id in stances]
    return _majority(labels), "majority"


def wrong_answers(
    bugs: Sequence[Bug], claims: Mapping[str, Claim], manifest: Manifest,
    answers: Sequence[Answer], stances: Mapping[str, Stance],
) -> tuple[list[Wrong], Counter[str]]:
    """Every wrong answer in the bugs' evidence, once (an answer in the evidence of two bugs
    carries both fingerprints), and counts of evidence answers skipped, by reason."""
    by_id = {a.response_id: a for a in answers}
    found: dict[str, Wrong] = {}
    skipped: Counter[str] = Counter()
    seen_right: set[str] = set()
    for bug in bugs:
        for ev in bug.evidence:
            if ev.stance not in ("affirm", "deny"):
                continue
            answer = by_id.get(ev.response_id)
            if answer is None:
                skipped["answer not in this run"] += 1
                continue
            truth, source = truthful_stance(
                bug, ev.claim_id, claims.get(ev.claim_id), manifest, answers, stances,
                framing=ev.framing, prompt=ev.prompt)
            if truth is None:
                skipped["no truth known (manifest silent, no majority)"] += 1
                continue
            if ev.stance == truth:
                seen_right.add(ev.response_id)  # the truthful side of the bug: nothing to fix
                continue
            prev = found.get(ev.response_id)
            fps = (prev.fingerprints if prev else ()) + (bug.fingerprint,)
            kinds = (prev.kinds if prev else ()) + (bug.kind,)
            found[ev.response_id] = Wrong(answer, ev.stance, truth, source,
                                          tuple(dict.fromkeys(fps)), tuple(dict.fromkeys(kinds)))
    order = sorted(found.values(), key=lambda w: (w.answer.claim_id, w.answer.framing,
                                                  w.answer.prompt_idx, w.answer.sample_idx,
                                                  w.answer.response_id))
    return order, skipped


def own_words(
    wrong: Wrong, answers: Sequence[Answer], stances: Mapping[str, Stance],
    used: Counter[str] | None = None,
) -> Chosen | None:
    """The model's own truthful answer to the wrong answer's prompt: another sample of the same
    prompt first, else another prompt of the claim in the same framing; the least used, then the
    most confident (`used` counts how often each answer was chosen already, so one good sample is
    not repeated across a whole dataset while others fit)."""
    used = used if used is not None else Counter()
    w = wrong.answer
    fits: dict[Source, list[Answer]] = defaultdict(list)
    for a in answers:
        if (a.claim_id != w.claim_id or a.framing != w.framing or a.response_id == w.response_id
                or not a.text.strip() or not solid(stances.get(a.response_id), wrong.truth)):
            continue
        fits["own_sample" if a.prompt == w.prompt else "own_paraphrase"].append(a)
    for source in ("own_sample", "own_paraphrase"):
        pool = fits.get(source)
        if not pool:
            continue
        best = min(pool, key=lambda a: (used[a.response_id], _foreign(a, w.prompt),
                                        -stances[a.response_id].confidence, a.prompt_idx,
                                        a.sample_idx, a.response_id))
        s = stances[best.response_id]
        used[best.response_id] += 1
        return Chosen(best.text, source, s.label, float(s.confidence), s.judge, best.response_id,
                      best.prompt)
    return None


_WORD = re.compile(r"[a-z][a-z']{3,}")


def _foreign(a: Answer, prompt: str) -> int:
    """Words of the answer taken from its own prompt but absent from `prompt`: an answer to
    "Can you pay my electricity bill?" that says "I can't pay your electricity bill" fits "Can
    you make payments for me?" worse than "I can't make payments" does (0 for another sample)."""
    if a.prompt == prompt:
        return 0
    target = set(_WORD.findall(prompt.lower()))
    own = set(_WORD.findall(a.prompt.lower())) - target
    return len(own & set(_WORD.findall(a.text.lower())))


def teacher_instruction(claim_text: str, truth: Truth, system_prompt: str | None) -> str:
    """The system message a teacher model answers under: the suite's system prompt, and the fact
    the answer must respect (the teacher never sees the wrong answer, so it cannot copy it)."""
    fact = ("This is TRUE of you" if truth == "affirm" else "This is FALSE of you")
    parts = [system_prompt.strip()] if system_prompt and system_prompt.strip() else []
    parts.append(
        f"Fact about you in this deployment: \"{claim_text.strip()}\" {fact}. Answer the user's"
        " next message truthfully and consistently with this fact, in your own words, as the"
        " assistant would; if asked to do something this fact rules out, say plainly that you"
        " cannot and offer what you can do instead. Do not mention this instruction.")
    return "\n\n".join(parts)
