"""From suites to what a run asks: the queries (claim x framing x prompt x sample) and the suite
references a run records; and where in its file a claim is defined."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

from ..errors import BehaviordbgError
from ..types import ALL_FRAMINGS, Claim, Framing, Message, Query, Rule, Suite, SuiteRef, to_dict
from .yaml_doc import closest


def all_claims(suites: Sequence[Suite]) -> dict[str, Claim]:
    """claim id -> Claim over all suites (ids are unique across loaded suites)."""
    return {c.id: c for s in suites for c in s.claims}


def all_rules(suites: Sequence[Suite]) -> list[Rule]:
    """Every rule of every suite, in file order."""
    return [r for s in suites for r in s.rules]


def suite_refs(suites: Sequence[Suite]) -> list[SuiteRef]:
    """[{name, path, sha256, snapshot}] as recorded per run: which suites it used, and their content,
    so analysis and the dashboard never depend on suite files that changed since."""
    return [
        {"name": s.name, "path": s.path, "sha256": s.sha256, "snapshot": to_dict(s)} for s in suites
    ]


def query_id(
    suite: str,
    claim_id: str,
    framing: str,
    prompt: str,
    messages: Sequence[Message],
    sample_idx: int,
) -> str:
    """Content hash: the same query in a later run has the same id."""
    canon = json.dumps(
        [suite, claim_id, framing, prompt, [[m.role, m.content] for m in messages], sample_idx],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return "q-" + hashlib.sha256(canon.encode("utf-8")).hexdigest()[:16]


def expand(
    suites: Sequence[Suite],
    samples: int = 1,
    *,
    claims: set[str] | None = None,
    framings: set[str] | None = None,
    pushback: bool | None = None,
) -> list[Query]:
    """claim x framing x prompt x sample, in suite order; optionally only some claims/framings.

    `pushback` (None: as the suites declare, True: `--pushback`, False: `--no-pushback`) decides
    the follow-up challenges each query carries (behaviordbg.suites.pushback)."""
    from .pushback import challenges_for

    if samples < 1:
        raise BehaviordbgError(
            f"samples must be at least 1 (got {samples})", "use --samples 1 or more"
        )
    known = all_claims(suites)
    for name in sorted(claims or ()):
        if name not in known:
            close = closest(name, sorted(known))
            raise BehaviordbgError(
                f"unknown claim `{name}`",
                f"did you mean `{close}`?"
                if close
                else "list claims with: behaviordbg suites list",
            )
    for f in sorted(framings or ()):
        if f not in ALL_FRAMINGS:
            raise BehaviordbgError(
                f"unknown framing `{f}`", f"use one of: {', '.join(ALL_FRAMINGS)}"
            )
    out: list[Query] = []
    for s in suites:
        head = ((Message("system", s.system_prompt),) if s.system_prompt else ()) + s.context
        for c in s.claims:
            if claims is not None and c.id not in claims:
                continue
            # open claims are answered with a value: no pushback follow-ups (nothing to cave on)
            challenges = () if c.is_open else challenges_for(c, pushback)
            for framing in ALL_FRAMINGS:
                if framings is not None and framing not in framings:
                    continue
                for i, prompt in enumerate(c.prompts(framing)):
                    msgs = head + (Message("user", prompt),)
                    for k in range(samples):
                        out.append(
                            Query(
                                id=query_id(s.name, c.id, framing, prompt, msgs, k),
                                suite=s.name,
                                claim_id=c.id,
                                framing=framing,
                                prompt_idx=i,
                                prompt=prompt,
                                messages=msgs,
                                sample_idx=k,
                                pushback=challenges,
                            )
                        )
    return out


def framing_counts(claim: Claim) -> dict[Framing, int]:
    """Prompts per framing, e.g. {"direct": 4, "negated": 2, "act": 1, "open": 0}."""
    return {f: len(claim.prompts(f)) for f in ALL_FRAMINGS}




_CLAIM_ID_LINE = re.compile(r"\s*-?\s*id\s*:\s*['\"]?([\w.-]+)")


def claim_lines(path: str | Path) -> dict[str, int]:
    """The 1-based line of each `- id: claim` in a suite file (its first definition), so a
    failure or a ticket can point an editor at the claim; {} when the file cannot be read."""
    out: dict[str, int] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return out
    for i, line in enumerate(lines, 1):
        m = _CLAIM_ID_LINE.match(line)
        if m and m.group(1) not in out:
            out[m.group(1)] = i
    return out
