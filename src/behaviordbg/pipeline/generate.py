"""`behaviordbg suites generate`: a model writes a suite for a claim, and every candidate is filtered.

Wires the pure parts (behaviordbg.suites.generate: prompts to the writer, parsing, form and
duplicate filters, the YAML) to a model: an endpoint, or the embedded local model by default. The
writer is asked for more candidates than needed (`oversample`), the text filters run, then each
survivor's framing is checked with a judge-style question to the same model, and the first
candidates of each framing are kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..config import API_KEY_ENV
from ..errors import BehaviordbgError
from ..suites.generate import (
    NEAR_DUPLICATE,
    FilterReport,
    augmented_doc,
    counts_for,
    framing_prompt,
    parse_lines,
    read_framing,
    suite_yaml,
    text_filters,
    writing_prompt,
)
from ..types import FRAMINGS, Framing, Suite
from .progress import NullProgress, ProgressSink

DEFAULT_SYSTEM = "You are a helpful assistant. Answer in one or two sentences."


@dataclass(frozen=True)
class GenerateOptions:
    """A claim to write a suite for, and the model that writes it (None: the embedded model)."""

    claim: str
    claim_id: str
    capability: str | None = None
    truth: bool | None = None
    n: int = 12
    base_url: str | None = None
    model: str | None = None
    api_key_env: str = API_KEY_ENV
    seed: int | None = 0
    temperature: float = 0.9
    oversample: int = 2
    existing: tuple[str, ...] | None = None  # suite paths to deduplicate against; None: probes/
    suite: str | None = None
    system_prompt: str = DEFAULT_SYSTEM
    threshold: float = NEAR_DUPLICATE
    move_misframed: bool = False  # a question framed the other way: drop it (default) or move it

    def __post_init__(self) -> None:
        import re

        if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", self.claim_id):
            raise BehaviordbgError(f"--id {self.claim_id!r} is not a claim id",
                                   hint="use lowercase letters, digits and _, e.g. can_set_alarms")
        if not self.claim.strip():
            raise BehaviordbgError("--claim is empty", hint='describe the claim, e.g. --claim'
                                   ' "The assistant can set alarms"')
        if not 3 <= self.n <= 200:
            raise BehaviordbgError(f"--n {self.n} is out of range", hint="ask for 3 to 200 prompts")
        if self.base_url and not self.model:
            raise BehaviordbgError("--model is required with --base-url",
                                   hint="pass the endpoint's model id")


@dataclass
class Generated:
    """The suite YAML, the prompts kept per framing, and what each filter removed."""

    yaml: str
    prompts: dict[str, list[str]]
    report: FilterReport
    model: str
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "prompts": self.prompts, **self.report.to_dict(),
                "warnings": self.warnings}


def generate_suite(opts: GenerateOptions, progress: ProgressSink | None = None) -> Generated:
    """Write, filter and check candidates; return the suite (not yet written to a file).
    `progress` follows the framing checks, one model call per candidate that passed the text
    filters (the three writing calls come before it)."""
    from ..suites import load_suites

    existing = load_suites(list(opts.existing) if opts.existing else None)
    old = [p for s in existing for c in s.claims for f in FRAMINGS for p in c.prompts(f)]
    warnings = []
    clash = [s.name for s in existing for c in s.claims if c.id == opts.claim_id]
    if clash:
        warnings.append(f"claim id {opts.claim_id} is also defined in suite {clash[0]}: load the"
                        " generated file apart from it, or merge its prompts by hand")
    with _endpoint_of(opts.base_url, opts.model) as (base_url, model):
        gen = asyncio.run(_generate(opts, base_url, model, old, progress or NullProgress()))
    gen.warnings = warnings + gen.warnings
    return gen


Ask = Callable[..., Awaitable[str]]


async def _write_claim(
    ask: Ask, claim: str, want: dict[Framing, int], old: list[str], report: FilterReport,
    sink: ProgressSink, *, oversample: int, temperature: float, threshold: float,
    move: bool = False, examples: dict[Framing, tuple[str, ...]] | None = None,
) -> tuple[dict[Framing, list[str]], list[str]]:
    """Candidates for one claim: written per framing, text-filtered against `old` (extended with
    what is kept, so the next claim cannot repeat them), framing-checked; the first `want` of each
    framing, those written for it before those moved into it. A question whose "yes" turns out
    to mean the opposite is dropped, or with `move` put in the other question list. Returns the
    kept prompts and warnings."""
    candidates: list[tuple[Framing, str]] = []
    for framing in FRAMINGS:
        if want[framing] <= 0:
            continue
        k = want[framing] * oversample
        reply = await ask(writing_prompt(claim, framing, k, (examples or {}).get(framing, ())),
                          temperature=temperature, max_tokens=60 * k)
        lines = parse_lines(reply)
        report.written[framing] = report.written.get(framing, 0) + len(lines)
        candidates += [(framing, p) for p in lines]
    survivors = text_filters(candidates, old, report, threshold)
    sink.start(len(survivors))
    native: dict[Framing, list[str]] = {f: [] for f in FRAMINGS}
    moved: dict[Framing, list[str]] = {f: [] for f in FRAMINGS}
    for framing, p in survivors:
        verdict = read_framing(framing, await ask(framing_prompt(claim, framing, p),
                                                  temperature=0.0, max_tokens=8))
        if verdict is None or (verdict != framing and not move):
            report.drop("framing", p)
        else:
            report.moved += verdict != framing
            (native if verdict == framing else moved)[verdict].append(p)
        sink.advance(1)
    sink.finish()
    checked = {f: native[f] + moved[f] for f in FRAMINGS}
    kept = {f: checked[f][: want[f]] for f in FRAMINGS}
    for f in FRAMINGS:
        report.kept[f] = report.kept.get(f, 0) + len(kept[f])
    old.extend(p for f in FRAMINGS for p in kept[f])
    warnings = [f"only {len(kept[f])} {f} prompt(s) survived of {want[f]} wanted" for f in FRAMINGS
                if len(kept[f]) < want[f]]
    surplus = sum(len(checked[f]) - len(kept[f]) for f in FRAMINGS)
    if surplus:
        warnings.append(f"{surplus} good candidate(s) beyond --n were left out")
    return kept, warnings


@contextlib.asynccontextmanager
async def _asker(opts_base_url: str | None, api_key_env: str, base_url: str, model: str,
                 seed: int | None) -> AsyncIterator[Ask]:
    """`ask(text, temperature=, max_tokens=) -> reply` on one client for a whole command."""
    from ..client import ModelClient

    api_key = os.environ.get(api_key_env) if opts_base_url else None
    extra = {"seed": seed} if seed is not None else None
    async with ModelClient(base_url, api_key, concurrency=2, timeout=300.0,
                           api_key_env=api_key_env) as client:

        async def ask(text: str, *, temperature: float, max_tokens: int) -> str:
            res = await client.chat([{"role": "user", "content": text}], model=model,
                                    temperature=temperature, max_tokens=max_tokens, extra=extra)
            return (res.texts[0] if res.texts else "") or ""

        yield ask


async def _generate(opts: GenerateOptions, base_url: str, model: str, old: list[str],
                    sink: ProgressSink) -> Generated:
    want = counts_for(opts.n)
    report = FilterReport()
    async with _asker(opts.base_url, opts.api_key_env, base_url, model, opts.seed) as ask:
        kept, warnings = await _write_claim(
            ask, opts.claim, want, old, report, sink, oversample=opts.oversample,
            temperature=opts.temperature, threshold=opts.threshold, move=opts.move_misframed)
    if not any(kept.values()):
        raise BehaviordbgError(
            f"no candidate survived the filters ({report.to_dict()['removed']})",
            hint="try another --seed, a clearer --claim, or a larger model (--base-url/--model)")
    date = datetime.now(timezone.utc).date().isoformat()
    yaml = suite_yaml(suite=opts.suite or f"generated_{opts.claim_id}"[:64],
                      claim_id=opts.claim_id, claim=opts.claim, truth=opts.truth,
                      capability=opts.capability, prompts=dict(kept),
                      system_prompt=opts.system_prompt,
                      generated={"model": model, "date": date, "seed": opts.seed})
    return Generated(yaml, {f: kept[f] for f in FRAMINGS}, report, model, warnings)


@dataclass(frozen=True)
class AugmentOptions:
    """`suites augment FILE`: n generated paraphrases per claim of the file (or of `claims`)."""

    path: str
    n: int = 4
    claims: tuple[str, ...] = ()
    base_url: str | None = None
    model: str | None = None
    api_key_env: str = API_KEY_ENV
    seed: int | None = 0
    temperature: float = 0.9
    oversample: int = 2
    against: tuple[str, ...] | None = None  # other suites (for rules and duplicates); None: probes/
    threshold: float = NEAR_DUPLICATE
    move_misframed: bool = False

    def __post_init__(self) -> None:
        if not 3 <= self.n <= 50:
            raise BehaviordbgError(f"--n {self.n} is out of range",
                                   hint="ask for 3 to 50 new prompts per claim")
        if self.base_url and not self.model:
            raise BehaviordbgError("--model is required with --base-url",
                                   hint="pass the endpoint's model id")


@dataclass
class Augmented:
    """The augmented suite's YAML, the prompts added per claim and framing, the filter counts."""

    yaml: str
    added: dict[str, dict[str, list[str]]]
    report: FilterReport
    model: str
    companions: list[str]  # the other suite files it is validated with
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "added": self.added, **self.report.to_dict(),
                "warnings": self.warnings}


def suite_files(paths: Sequence[str]) -> list[Path]:
    """The suite files of files and folders (*.yaml/*.yml directly inside), resolved, once."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        found = sorted(x for x in p.iterdir() if x.suffix in (".yaml", ".yml") and x.is_file()) \
            if p.is_dir() else [p]
        out += [f.resolve() for f in found if f.resolve() not in out]
    return out


def augment_suite(opts: AugmentOptions, progress: ProgressSink | None = None) -> Augmented:
    """Generated paraphrases for the claims of one suite file, filtered like `generate_suite`
    against every loaded prompt, appended and marked; the YAML is returned, not written."""
    from ..suites import default_probes_dir, load_suites

    target = Path(opts.path).resolve()
    if not target.is_file():
        raise BehaviordbgError(f"{opts.path}: no such suite file",
                               hint="pass a suite .yaml file, e.g. probes/tools.yaml")
    files = suite_files(list(opts.against) if opts.against else [str(default_probes_dir())])
    companions = [f for f in files if f != target]
    loaded = load_suites([*companions, target])
    mine = [s for s in loaded if Path(s.path).resolve() == target]
    if len(mine) != 1:
        raise BehaviordbgError(f"{opts.path}: not loaded as one suite", hint="check the file")
    suite = mine[0]
    unknown = [c for c in opts.claims if c not in {x.id for x in suite.claims}]
    if unknown:
        raise BehaviordbgError(f"claim {unknown[0]} is not in {opts.path}",
                               hint=f"use one of: {', '.join(c.id for c in suite.claims)}")
    old = [p for s in loaded for c in s.claims for f in FRAMINGS for p in c.prompts(f)]
    with _endpoint_of(opts.base_url, opts.model) as (base_url, model):
        added, report, warnings = asyncio.run(_augment(opts, suite, base_url, model, old,
                                                       progress or NullProgress()))
    date = datetime.now(timezone.utc).date().isoformat()
    text = augmented_doc(suite, added, {"model": model, "date": date, "seed": opts.seed})
    return Augmented(text, {c: {f: list(v) for f, v in d.items()} for c, d in added.items()},
                     report, model, [str(c) for c in companions], warnings)


@contextlib.contextmanager
def _endpoint_of(base_url: str | None, model: str | None) -> Iterator[tuple[str, str]]:
    if base_url:
        yield base_url, str(model)
        return
    from .endpoint import embedded_server

    with embedded_server() as server:
        yield server.base_url, server.model


async def _augment(opts: AugmentOptions, suite: Suite, base_url: str, model: str,
                   old: list[str], sink: ProgressSink
                   ) -> tuple[dict[str, dict[Framing, list[str]]], FilterReport, list[str]]:
    report = FilterReport()
    added: dict[str, dict[Framing, list[str]]] = {}
    warnings: list[str] = []
    want = counts_for(opts.n)
    async with _asker(opts.base_url, opts.api_key_env, base_url, model, opts.seed) as ask:
        for claim in suite.claims:
            if opts.claims and claim.id not in opts.claims:
                continue
            kept, warn = await _write_claim(
                ask, claim.text, want, old, report, sink, oversample=opts.oversample,
                temperature=opts.temperature, threshold=opts.threshold,
                move=opts.move_misframed, examples={f: claim.prompts(f) for f in FRAMINGS})
            added[claim.id] = {f: v for f, v in kept.items() if v}
            warnings += [f"{claim.id}: {w}" for w in warn]
    return added, report, warnings
