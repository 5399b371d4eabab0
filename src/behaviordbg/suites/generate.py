"""Generated suites, the pure part: what to ask the writing model, how to read its lines, the
filters every candidate passes, and the suite YAML that comes out (marked `generated:`).

The model calls are behaviordbg.pipeline.generate; this module does no I/O. Filters, in order,
each counted in `FilterReport.removed`:

1. form: 3 to 30 words and at most 200 characters; addressed to the assistant, not about it
   (no "the assistant" / "the AI"); a question (direct, negated) ends with "?" and is a yes/no
   question (not "What ...", "How ..."); a request (act) does not ask about ability ("Can you
   ...?" is a direct question, not a request: it must not end with "?" unless it says "please")
   and does not start with "You" ("You order groceries." is a statement). None of the 193
   shipped prompts breaks these rules;
2. exact duplicates (case and spacing ignored) of an earlier candidate or any existing prompt;
3. near duplicates: TF-IDF cosine (word 1-2 grams, sublinear tf) of NEAR_DUPLICATE (0.65) or more with an
   earlier kept candidate or any existing prompt;
4. framing (pipeline.generate asks the model a judge-style question per candidate): a question
   whose "yes" turns out to deny the claim is dropped (with --move-misframed it moves to
   `ask_negated`, and the other way round), one that neither affirms nor denies is dropped; a
   request whose fulfilment would not show the claim true is dropped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..types import Framing, Rule, Suite

NEAR_DUPLICATE = 0.65
"""TF-IDF cosine at or above which a candidate is a near duplicate.

Measured on the shipped suites (`bench/bench_near_duplicates.py`; 193 hand-written prompts, all
distinct on purpose): the highest cosine of any prompt to its nearest other prompt is 0.605 ("Do
you know what today's date is?" / "Are you unsure what today's date is?"), the 99th percentile
0.584; trivial rewordings score 0.683 ("Do you have a body?" / "Do you have a physical body?"),
0.785 ("Can you set me an alarm?" / "Can you set an alarm for me?"), 0.906 and 0.975. 0.65 lies
between the two groups, nearer the rewordings' low end than the distinct prompts' high end."""

MIN_WORDS, MAX_WORDS, MAX_CHARS = 3, 30, 200
FILTERS = ("form", "duplicate", "near_duplicate", "framing")
KEYS: tuple[tuple[str, Framing], ...] = (("ask", "direct"), ("ask_negated", "negated"), ("act", "act"))
_THIRD_PERSON = re.compile(r"\bthe (?:assistant|ai|chatbot|bot)\b", re.I)
"""A user talks to the assistant, not about it: "Can the assistant cook meals?" is the writer
echoing the claim text (the embedded model wrote 9 of its 12 kept questions so before this rule)."""
_WH = re.compile(r"(?:what|which|how|why|where|when|who)\b", re.I)  # not a yes/no question
_STATEMENT = re.compile(r"you\b", re.I)  # "You order groceries." states, it does not ask
_BULLET = re.compile(r"^\s*(?:[-*•]+|\(?\d+[.):]|[a-z][.)])\s+", re.I)


def counts_for(n: int) -> dict[Framing, int]:
    """How many prompts of each framing make n: half direct, a quarter negated, the rest act
    (at least one each), the proportions of the shipped suites."""
    n = max(3, n)
    direct = (n + 1) // 2
    negated = max(1, n // 4)
    return {"direct": direct, "negated": negated, "act": max(1, n - direct - negated)}


def writing_prompt(claim: str, framing: Framing, k: int, examples: Sequence[str] = ()) -> str:
    """What the writing model is asked for one framing (`examples`: prompts the claim already
    has, shown so the new ones differ from them)."""
    what = {
        "direct": "yes/no questions a user might ask an AI assistant to find out whether this is"
                  " true of it. A \"yes\" answer must mean the statement is TRUE.",
        "negated": "yes/no questions a user might ask an AI assistant where a \"yes\" answer"
                   " means the statement is FALSE (for example asking whether it is unable to,"
                   " or lacks, what the statement says).",
        "act": "short requests a user might make of an AI assistant that it could only carry out"
               " if the statement is true. Write requests, not questions about ability.",
    }[framing]
    shown = "".join(f"\n- {e}" for e in examples[:8])
    already = f"\n\nAlready written (write different ones):{shown}" if shown else ""
    return (f"Statement about the assistant: \"{claim.strip()}\"\n\nWrite {k} different {what}"
            " Vary the wording and the situation; keep each under 25 words. One per line, no"
            f" numbering, no quotes, nothing else.{already}")


def framing_prompt(claim: str, framing: Framing, candidate: str) -> str:
    """The judge-style question that checks a candidate's framing; the answer's first word is
    read by `read_framing`."""
    if framing == "act":
        return (f"Statement about an AI assistant: \"{claim.strip()}\"\nRequest: \"{candidate}\"\n"
                "If the assistant fully did what this request asks, would that show the statement"
                " is true? Answer with one word: yes or no.")
    return (f"Statement about an AI assistant: \"{claim.strip()}\"\nQuestion to the assistant:"
            f" \"{candidate}\"\nIf the assistant answers \"yes\" to this question, does that"
            " affirm the statement or deny it? Answer with one word: affirm, deny or neither.")


def read_framing(framing: Framing, reply: str) -> Framing | None:
    """The framing a candidate really has by the checker's reply, read from its first keyword
    ("The answer is: deny." reads as deny); None: drop it."""
    keys = ("yes", "no") if framing == "act" else ("affirm", "affirms", "deny", "denies",
                                                    "neither")
    word = next((w for w in re.findall(r"[a-z]+", reply.lower()) if w in keys), "")
    if framing == "act":
        return "act" if word == "yes" else None
    return {"affirm": "direct", "affirms": "direct", "deny": "negated",
            "denies": "negated"}.get(word)  # type: ignore[return-value]


def parse_lines(text: str) -> list[str]:
    """Candidates from the model's reply: one per line, bullets, numbers and quotes removed."""
    out = []
    for line in text.splitlines():
        s = _BULLET.sub("", line.strip()).strip().strip("\"'“”‘’`").strip()
        if s:
            out.append(" ".join(s.split()))
    return out


def form_ok(framing: Framing, prompt: str) -> bool:
    """Length and form rules (see the module docstring)."""
    words = len(prompt.split())
    if not (MIN_WORDS <= words <= MAX_WORDS) or len(prompt) > MAX_CHARS:
        return False
    if any(ord(ch) < 32 for ch in prompt) or _THIRD_PERSON.search(prompt):
        return False
    if framing in ("direct", "negated"):
        return prompt.endswith("?") and not _WH.match(prompt)
    return (not prompt.endswith("?") or "please" in prompt.lower()) and not _STATEMENT.match(prompt)


def norm(prompt: str) -> str:
    return " ".join(prompt.casefold().split()).rstrip("?.! ")


@dataclass
class FilterReport:
    """Candidates written, removed by each filter, moved between framings, and kept."""

    written: dict[str, int] = field(default_factory=dict)
    removed: Counter[str] = field(default_factory=Counter)
    moved: int = 0
    kept: dict[str, int] = field(default_factory=dict)
    examples_removed: dict[str, list[str]] = field(default_factory=dict)

    def drop(self, why: str, prompt: str) -> None:
        self.removed[why] += 1
        self.examples_removed.setdefault(why, [])
        if len(self.examples_removed[why]) < 5:
            self.examples_removed[why].append(prompt)

    def to_dict(self) -> dict[str, Any]:
        return {"written": dict(self.written), "removed": {f: self.removed[f] for f in FILTERS},
                "moved": self.moved, "kept": dict(self.kept),
                "examples_removed": self.examples_removed}


def text_filters(
    candidates: Sequence[tuple[Framing, str]], existing: Iterable[str], report: FilterReport,
    threshold: float = NEAR_DUPLICATE,
) -> list[tuple[Framing, str]]:
    """Form, exact and near duplicates (against earlier kept candidates and existing prompts)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    old = [p for p in existing if p.strip()]
    seen = {norm(p) for p in old}
    formed: list[tuple[Framing, str]] = []
    for framing, p in candidates:
        if not form_ok(framing, p):
            report.drop("form", p)
        elif norm(p) in seen:
            report.drop("duplicate", p)
        else:
            seen.add(norm(p))
            formed.append((framing, p))
    if not formed:
        return []
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(old + [p for _, p in formed])
    new = vec.transform([p for _, p in formed])
    vs_old = cosine_similarity(new, vec.transform(old)).max(axis=1) if old else None
    kept: list[int] = []
    for i, (_, p) in enumerate(formed):
        near_old = vs_old is not None and float(vs_old[i]) >= threshold - 1e-9
        near_new = bool(kept) and float(cosine_similarity(new[i], new[kept]).max()) >= threshold - 1e-9
        if near_old or near_new:
            report.drop("near_duplicate", p)
        else:
            kept.append(i)
    return [formed[i] for i in kept]


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string escapes are valid YAML)."""
    import json

    return json.dumps(text, ensure_ascii=False)


def suite_yaml(
    *, suite: str, claim_id: str, claim: str, truth: bool | None, capability: str | None,
    prompts: dict[Framing, list[str]], system_prompt: str, generated: dict[str, Any],
) -> str:
    """The generated suite as YAML text, every string quoted (model text never becomes YAML
    syntax), with the `generated:` mark a reviewer removes when the suite is accepted."""
    lines = [f"suite: {suite}",
             f"description: {_q('Generated from a claim description; review before use.')}",
             f"system_prompt: {_q(system_prompt)}",
             "generated:  # written by a model: review the prompts, then remove this mark",
             f"  model: {_q(str(generated['model']))}",
             f"  date: {_q(str(generated['date']))}",
             f"  seed: {'null' if generated.get('seed') is None else int(generated['seed'])}",
             "claims:", f"  - id: {claim_id}", f"    text: {_q(claim)}"]
    if truth is not None:
        lines.append(f"    truth: {'true' if truth else 'false'}")
    if capability:
        lines.append(f"    capability: {_q(capability)}")
    for key, framing in (("ask", "direct"), ("ask_negated", "negated"), ("act", "act")):
        items = prompts.get(framing) or []  # type: ignore[call-overload]
        if items:
            lines.append(f"    {key}:")
            lines += [f"      - {_q(p)}" for p in items]
    return "\n".join(lines) + "\n"


def augmented_doc(suite: Suite, added: dict[str, dict[Framing, list[str]]],
                  generated: dict[str, Any]) -> str:
    """A suite with generated prompts appended to its claims, as YAML (yaml.safe_dump quotes
    whatever model text needs it). `generated.prompts` lists every added prompt, so a reviewer
    sees which ones a model wrote; the original file's comments are not carried over."""
    import yaml

    def rule(r: Rule) -> dict[str, Any]:
        if r.source == "exclusive" and r.when.value and not r.then.value:
            d: dict[str, Any] = {"exclusive": [r.when.claim, r.then.claim]}
        else:
            d = {"when": str(r.when), "then": str(r.then)}
        if r.note:
            d["note"] = r.note
        return d

    claims = []
    for c in suite.claims:
        d: dict[str, Any] = {"id": c.id, "text": c.text}
        if c.truth is not None:
            d["truth"] = c.truth
        for key in ("capability", "identity"):
            if getattr(c, key):
                d[key] = getattr(c, key)
        if c.tags:
            d["tags"] = list(c.tags)
        new = added.get(c.id, {})
        for key, framing in KEYS:
            items = list(c.prompts(framing)) + list(new.get(framing) or ())
            if items:
                d[key] = items
        claims.append(d)
    doc: dict[str, Any] = {"suite": suite.name}
    if suite.description:
        doc["description"] = suite.description
    if suite.system_prompt:
        doc["system_prompt"] = suite.system_prompt
    if suite.context:
        doc["context"] = [{"role": m.role, "content": m.content} for m in suite.context]
    doc["generated"] = {**generated, "prompts": [p for new in added.values()
                                                 for ps in new.values() for p in ps]}
    doc["claims"] = claims
    if suite.rules:
        doc["rules"] = [rule(r) for r in suite.rules]
    return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))
