"""Load, validate and expand probe suites; load deployment manifests.

Suites are YAML files checked against the published JSON Schema (schemas/suite.schema.json), then
read into pydantic models and checked for what a schema cannot say (duplicate ids across files,
rules naming missing claims, duplicate prompts). Every problem becomes a SuiteError naming the file,
the line and the fix, and all of them are reported at once: a suite author should fix a file in one
pass, not one error per run. See docs/suites.md for the format.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ..errors import SuiteError, SuiteErrors
from ..types import Challenge, Claim, ClaimLiteral, Message, Rule, Suite, Towards
from . import pushback as pb
from .yaml_doc import (
    Doc,
    Path_,
    check_schema,
    closest,
    describe,
    read_yaml,
    short,
    show_path,
)

# --------------------------------------------------------------------------- files and schemas


def default_probes_dir() -> Path:
    """$BEHAVIORDBG_PROBES, else the repo checkout's probes/ next to src/."""
    env = os.environ.get("BEHAVIORDBG_PROBES")
    if env:
        p = Path(env)
        if not p.is_dir():
            raise SuiteError(
                env,
                None,
                "$BEHAVIORDBG_PROBES is not a directory",
                "point $BEHAVIORDBG_PROBES at a folder of suite .yaml files, or unset it",
            )
        return p
    p = Path(__file__).resolve().parents[3] / "probes"  # src/behaviordbg/suites/ -> the checkout
    if p.is_dir():
        return p
    raise SuiteError(
        str(p),
        None,
        "the shipped probes/ directory was not found",
        "pass suite paths explicitly, or set $BEHAVIORDBG_PROBES to a folder of suite .yaml files",
    )


def _resolve(paths: Sequence[str | Path] | None) -> tuple[list[Path], list[SuiteError]]:
    """Files to read: given files, plus *.yaml/*.yml directly inside given directories."""
    if paths is None or len(paths) == 0:
        try:
            paths = [default_probes_dir()]
        except SuiteError as exc:
            return [], [exc]
    files: list[Path] = []
    errors: list[SuiteError] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(x for x in p.iterdir() if x.suffix in (".yaml", ".yml") and x.is_file())
            if not found:
                errors.append(
                    SuiteError(
                        show_path(p),
                        None,
                        "no .yaml or .yml files in this directory",
                        "pass a suite file, or a folder that holds suite files",
                    )
                )
        elif p.is_file():
            found = [p]
        elif p.exists():  # a FIFO, a device (/dev/urandom), a socket: never read it
            errors.append(
                SuiteError(
                    str(raw),
                    None,
                    "not a regular file (a pipe, device or socket)",
                    "pass a suite file (.yaml) or a folder of them",
                )
            )
            continue
        else:
            errors.append(
                SuiteError(
                    str(raw),
                    None,
                    "no such file or directory",
                    "check the path; suite paths are files or folders of .yaml",
                )
            )
            continue
        for f in found:
            if f.resolve() not in seen:
                seen.add(f.resolve())
                files.append(f)
    return files, errors


# --------------------------------------------------------------------------- file models


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _MessageModel(_Model):
    role: Literal["user", "assistant"]
    content: str


class _PushbackModel(_Model):
    affirm: str | list[str] = []
    deny: str | list[str] = []

    def templates(self) -> dict[Towards, tuple[str, ...]]:
        def turns(v: str | list[str]) -> tuple[str, ...]:
            return tuple(x.strip() for x in ([v] if isinstance(v, str) else v))

        return {"affirm": turns(self.affirm), "deny": turns(self.deny)}


Pushback_ = bool | _PushbackModel | None


class _ClaimModel(_Model):
    id: str
    text: str
    truth: bool | None = None
    tags: list[str] = []
    capability: str | None = None
    identity: Literal["affirm", "deny"] | None = None
    ask: list[str] = []
    ask_negated: list[str] = []
    act: list[str] = []
    pushback: Pushback_ = None
    second_person: str | None = None
    ask_open: list[str] = []
    value_type: Literal["organisation", "model_name", "year", "number", "modality", "text"] | None = (
        None
    )


class _RuleModel(_Model):
    when: str | None = None
    then: str | None = None
    exclusive: list[str] | None = None
    note: str = ""


class _GeneratedModel(_Model):
    model: str
    date: str
    seed: int | None = None
    prompts: list[str] = []  # `suites augment`: the prompts a model added


class _SuiteModel(_Model):
    suite: str
    description: str = ""
    system_prompt: str | None = None
    context: list[_MessageModel] = []
    generated: _GeneratedModel | None = None  # `suites generate` marks its output for review
    claims: list[_ClaimModel]
    rules: list[_RuleModel] = []
    pushback: Pushback_ = None


class _ValueModel(_Model):
    value: str
    aliases: list[str] = []
class _FunctionModel(_Model):
    name: str
    description: str = ""
    parameters: dict[str, Any] = {}
    strict: bool = False


class ToolModel(_Model):
    type: Literal["function"] = "function"
    function: _FunctionModel
    provides: list[str]
    result: str | dict[str, Any] = '{"status": "ok"}'


class ManifestModel(_Model):
    manifest: str
    description: str = ""
    capabilities: dict[str, bool] = {}
    claims: dict[str, bool] = {}
    values: dict[str, _ValueModel] = {}
    tools: list[ToolModel] = []


def parse_model(doc: Doc, model: type[_Model]) -> Any:
    """Pydantic after the schema: they agree, so this only fails if the two drift apart."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            doc.err(loc, f"{describe(doc.data, loc)}: {err['msg']}", "see docs/suites.md")
        return None


# --------------------------------------------------------------------------- suites


def _norm(prompt: str) -> str:
    return " ".join(prompt.casefold().split())


def _literal(text: str) -> ClaimLiteral:
    parts = text.split()
    return ClaimLiteral(parts[-1], len(parts) == 1)


def _rule_id(when: ClaimLiteral, then: ClaimLiteral) -> str:
    canon = json.dumps(
        {"when": str(when), "then": str(then)}, sort_keys=True, separators=(",", ":")
    )
    return "rule-" + hashlib.sha256(canon.encode()).hexdigest()[:10]


@dataclass
class _Parsed:
    doc: Doc
    model: _SuiteModel


def _declared(m: _SuiteModel, c: _ClaimModel, claim: Claim) -> tuple[Challenge, ...] | None:
    """The pushback a claim declares: its own, else its suite's (see suites.pushback)."""
    own = c.pushback if c.pushback is not None else m.pushback
    if own is None:
        return None
    if own is False:
        return ()
    if own is True:  # the suite's templates if it has its own, else the defaults
        if isinstance(m.pushback, _PushbackModel):
            own = m.pushback
        else:
            return pb.default_challenges(claim)
    assert isinstance(own, _PushbackModel)
    return pb.fill(own.templates(), claim) or pb.default_challenges(claim)


def _build(p: _Parsed) -> Suite:
    m = p.model
    claims = tuple(
        replace(claim, pushback=_declared(m, c, claim))
        for c, claim in zip(m.claims, _claims(m))
    )
    return _suite(p, claims)


def _claims(m: _SuiteModel) -> list[Claim]:
    return [
        Claim(
            id=c.id,
            text=c.text.strip(),
            suite=m.suite,
            truth=c.truth,
            tags=tuple(c.tags),
            ask=tuple(x.strip() for x in c.ask),
            ask_negated=tuple(x.strip() for x in c.ask_negated),
            act=tuple(x.strip() for x in c.act),
            capability=c.capability,
            identity=c.identity,
            second_person=c.second_person.strip() if c.second_person else None,
            ask_open=tuple(x.strip() for x in c.ask_open),
            value_type=c.value_type or ("text" if c.ask_open else None),
        )
        for c in m.claims
    ]


def _suite(p: _Parsed, claims: tuple[Claim, ...]) -> Suite:
    m = p.model
    rules: list[Rule] = []
    for r in m.rules:
        note = r.note.strip()
        if r.exclusive is not None:
            for i, a in enumerate(r.exclusive):
                for b in r.exclusive[i + 1 :]:
                    w, t = ClaimLiteral(a, True), ClaimLiteral(b, False)
                    rules.append(Rule(_rule_id(w, t), w, t, m.suite, "exclusive", note))
        elif r.when is not None and r.then is not None:
            w, t = _literal(r.when), _literal(r.then)
            rules.append(Rule(_rule_id(w, t), w, t, m.suite, "implies", note))
    return Suite(
        name=m.suite,
        path=str(p.doc.path.resolve()),
        sha256=p.doc.sha256,
        claims=claims,
        rules=tuple(rules),
        system_prompt=m.system_prompt.strip() if m.system_prompt else None,
        context=tuple(Message(t.role, t.content.strip()) for t in m.context),
        description=m.description.strip(),
    )


def _check_file(p: _Parsed) -> None:
    """Checks within one suite that the schema cannot express."""
    doc, m = p.doc, p.model
    if m.context and m.context[-1].role != "assistant":
        doc.err(
            ("context", len(m.context) - 1),
            "the last context turn is the user's",
            "end `context` with an assistant turn: each prompt is sent as the next user turn",
        )
    for i, c in enumerate(m.claims):
        if not (c.ask or c.ask_negated or c.act or c.ask_open):
            doc.err(
                ("claims", i, "id"),
                f"claim `{c.id}` has no prompts",
                "add at least one question under `ask`, `ask_negated` or `act` (a yes/no claim),"
                " or `ask_open` (an open claim)",
            )
        _check_open(doc, i, c)
    _check_pushback(p)
    for i, r in enumerate(m.rules):
        lits = [r.when, r.then] if r.exclusive is None else list(r.exclusive)
        names = [_literal(x).claim for x in lits if x]
        if len(set(names)) < len(names):
            doc.err(
                ("rules", i),
                f"rule #{i + 1} relates claim `{names[0]}` to itself",
                "a rule links two different claims; remove it or fix the claim ids",
            )


_YES_NO_KEYS = ("ask", "ask_negated", "act", "truth", "capability", "identity")


def _check_open(doc: Doc, i: int, c: _ClaimModel) -> None:
    """An open claim is answered with a value, so the yes/no keys mean nothing on it."""
    if c.ask_open:
        for key in _YES_NO_KEYS:
            if getattr(c, key) not in (None, []):
                doc.err(
                    ("claims", i, key),
                    f"open claim `{c.id}` has `{key}`, a key of yes/no claims",
                    f"move the yes/no prompts to a claim of their own, or remove `{key}`; an open"
                    " claim's true value goes in the manifest (`values:`), see docs/suites.md",
                )
    elif c.value_type is not None:
        doc.err(
            ("claims", i, "value_type"),
            f"claim `{c.id}` has `value_type` but no `ask_open` prompts",
            "add open questions under `ask_open`, or remove `value_type` (it is only for open"
            " claims)",
        )
def _check_pushback(p: _Parsed) -> None:
    """Pushback templates: at least one challenge, only the `{claim}` placeholder, and a claim
    that can be put in the second person wherever `{claim}` is used."""
    doc, m = p.doc, p.model
    declared: list[tuple[Path_, _PushbackModel]] = []
    if isinstance(m.pushback, _PushbackModel):
        declared.append((("pushback",), m.pushback))
    for i, c in enumerate(m.claims):
        if isinstance(c.pushback, _PushbackModel):
            declared.append((("claims", i, "pushback"), c.pushback))
    for loc, model in declared:
        templates = model.templates()
        if not any(templates.values()):
            doc.err(loc, f"{describe(doc.data, loc)} declares no challenge",
                    "give `affirm:` and/or `deny:` (the user turns that push the model to affirm"
                    " / deny the claim), or write `pushback: true` for the default challenges")
        for towards, turns in templates.items():
            for t in turns:
                bad = pb.unknown_placeholders(t)
                if bad:
                    doc.err(loc + (towards,), f"unknown placeholder `{{{bad[0]}}}` in"
                            f" {short(t)!r}", "the only placeholder is {claim} (the claim said to"
                            " the assistant, e.g. `you have a physical body`)")
    suite_uses = isinstance(m.pushback, _PushbackModel) and any(
        "{claim}" in t for ts in m.pushback.templates().values() for t in ts)
    for i, (c, claim) in enumerate(zip(m.claims, _claims(m))):
        own = c.pushback if isinstance(c.pushback, _PushbackModel) else None
        uses = (any("{claim}" in t for ts in own.templates().values() for t in ts) if own
                else suite_uses and c.pushback is not False and m.pushback is not None)
        if uses and pb.second_person(claim) is None:
            doc.err(("claims", i, "id"),
                    f"claim `{c.id}`: a pushback template says {{claim}}, but the claim text"
                    f" {short(c.text)!r} does not start with `The assistant <verb>`, so it cannot"
                    " be put in the second person",
                    "add `second_person: you ...` to the claim (e.g. `second_person: you have a"
                    " physical body`)")


def _check_across(parsed: list[_Parsed], docs: list[Doc]) -> None:
    """Checks across all loaded files: unique names and ids, rules name known claims, no repeats."""
    suite_at: dict[str, tuple[str, int | None]] = {}
    claim_at: dict[str, tuple[str, int | None]] = {}
    prompt_at: dict[str, tuple[str, int | None]] = {}
    rule_at: dict[str, tuple[str, int | None]] = {}
    for p in parsed:
        doc, m = p.doc, p.model
        if m.suite in suite_at:
            f, ln = suite_at[m.suite]
            doc.err(
                ("suite",),
                f"suite name `{m.suite}` is already used at {f}:{ln}",
                "give each suite file its own `suite:` name",
            )
        else:
            suite_at[m.suite] = (doc.shown, doc.line(("suite",)))
        for i, c in enumerate(m.claims):
            loc: Path_ = ("claims", i, "id")
            if c.id in claim_at:
                f, ln = claim_at[c.id]
                doc.err(
                    loc,
                    f"duplicate claim id `{c.id}` (first at {f}:{ln})",
                    "claim ids must be unique across all suites; rename one of them",
                )
            else:
                claim_at[c.id] = (doc.shown, doc.line(loc))
            for key in ("ask", "ask_negated", "act", "ask_open"):
                for j, prompt in enumerate(getattr(c, key)):
                    ploc = ("claims", i, key, j)
                    norm = _norm(prompt)
                    if norm in prompt_at:
                        f, ln = prompt_at[norm]
                        doc.err(
                            ploc,
                            f"duplicate prompt {short(prompt.strip())!r} (first at {f}:{ln})",
                            "each prompt should appear once: remove it or rephrase it",
                        )
                    else:
                        prompt_at[norm] = (doc.shown, doc.line(ploc))
    # ids from files that failed validation still count, so one broken file does not make
    # every rule elsewhere that names its claims look wrong too
    known = set(claim_at)
    open_ids = {c.id for p in parsed for c in p.model.claims if c.ask_open}
    for d in docs:
        if isinstance(d.data, dict) and isinstance(d.data.get("claims"), list):
            known |= {
                c["id"]
                for c in d.data["claims"]
                if isinstance(c, dict) and isinstance(c.get("id"), str)
            }
    for p in parsed:
        doc, m = p.doc, p.model
        for i, r in enumerate(m.rules):
            refs: list[tuple[Path_, str | None]]
            if r.exclusive is not None:
                refs = [(("rules", i, "exclusive", j), x) for j, x in enumerate(r.exclusive)]
            else:
                refs = [(("rules", i, "when"), r.when), (("rules", i, "then"), r.then)]
            for loc, lit in refs:
                name = _literal(lit or "").claim if lit else ""
                if name in open_ids:
                    doc.err(
                        loc,
                        f"rule #{i + 1} names open claim `{name}`; rules link yes/no claims",
                        "name a yes/no claim (e.g. `knows_its_maker`), or remove the rule: an open"
                        " claim's answers are values, not true or false",
                    )
                elif name and name not in known:
                    close = closest(name, sorted(known))
                    hint = (f"did you mean `{close}`? " if close else "") + (
                        "use a claim id from the loaded suites; if another suite file defines it, "
                        "load that file too"
                    )
                    doc.err(
                        loc,
                        f"rule #{i + 1} names claim `{name}`, which no loaded suite defines",
                        hint,
                    )
        for rule in _build(p).rules:
            idx = _rule_index(m, rule)
            loc = ("rules", idx)
            if rule.id in rule_at:
                f, ln = rule_at[rule.id]
                doc.err(
                    loc,
                    f"rule `{rule.when} => {rule.then}` repeats the rule at {f}:{ln}",
                    "remove the repeated rule",
                )
            else:
                rule_at[rule.id] = (doc.shown, doc.line(loc))


def _rule_index(m: _SuiteModel, rule: Rule) -> int:
    """Which written rule (index in the file) produced `rule`."""
    for i, r in enumerate(m.rules):
        if r.exclusive is not None and rule.source == "exclusive":
            if rule.when.claim in r.exclusive and rule.then.claim in r.exclusive:
                return i
        elif r.when and r.then and (_literal(r.when), _literal(r.then)) == (rule.when, rule.then):
            return i
    return 0


def _load(paths: Sequence[str | Path] | None) -> tuple[list[Suite], list[SuiteError]]:
    files, errors = _resolve(paths)
    docs = [read_yaml(f, "suite") for f in files]
    parsed: list[_Parsed] = []
    for doc in docs:
        if doc.errors:
            continue
        if "manifest" in doc.data and "suite" not in doc.data:
            doc.err(
                ("manifest",),
                "this is a deployment manifest, not a probe suite",
                "pass it with --manifest PATH, and keep manifests out of suite folders "
                "(the shipped ones live in probes/manifests/)",
            )
            continue
        check_schema(doc, "suite")
        if doc.errors:
            continue
        model = parse_model(doc, _SuiteModel)
        if model is not None:
            parsed.append(_Parsed(doc, model))
    for p in parsed:
        _check_file(p)
    _check_across(parsed, docs)
    for doc in docs:
        errors.extend(sorted(doc.errors, key=lambda e: e.line or 0))
    suites = [] if errors else [_build(p) for p in parsed]
    return suites, errors


def load_suites(paths: Sequence[str | Path] | None = None) -> list[Suite]:
    """Load and validate suites from files/directories (None: the shipped probes/).

    Raises SuiteErrors listing every problem in every file.
    """
    suites, errors = _load(paths)
    if errors:
        raise SuiteErrors(errors)
    return suites


def validate_paths(paths: Sequence[str | Path] | None = None) -> list[SuiteError]:
    """Every problem in the given suite files/directories; [] when all are valid."""
    try:
        return _load(paths)[1]
    except SuiteErrors as exc:
        return exc.errors
    except SuiteError as exc:
        return [exc]
