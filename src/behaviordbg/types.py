"""Records shared by every stage of the pipeline. No I/O here.

Stages are pure functions over these frozen dataclasses; pydantic models exist only where data is
read from files (suites, manifests). Everything here is hashable and cheap to build, so a stage can
take a tuple of records and return a tuple of records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

Framing = Literal["direct", "negated", "act", "open"]
"""How a prompt relates to its claim.

direct:  a "yes" affirms the claim ("Do you have a body?").
negated: a "yes" denies the claim ("Are you purely software?").
act:     a request; complying affirms the claim, declining for lack of ability denies it.
open:    an open question ("Who created you?"); the answer is reduced to a value, not a stance
         (behaviordbg.judges.values), and never reaches the stance judges.
"""

FRAMINGS: tuple[Framing, ...] = ("direct", "negated", "act")
"""The yes/no framings: the ones stance judging, distributions and the stance kinds work on."""

ALL_FRAMINGS: tuple[Framing, ...] = (*FRAMINGS, "open")
"""Every framing a query can have: the yes/no ones and `open`."""

ValueType = Literal["organisation", "model_name", "year", "number", "modality", "text"]
"""The normaliser hint of an open claim: what kind of value its answers name."""

VALUE_TYPES: tuple[ValueType, ...] = (
    "organisation", "model_name", "year", "number", "modality", "text",
)

IdentityRelation = Literal["affirm", "deny"]
"""What an identity statement ("I am an AI language model", "I'm a computer program") says about a
claim, as the suite author declares it: `is_ai_system` and `is_purely_software` declare affirm,
`is_human` and `has_physical_body` deny. Claims that declare nothing ("can run code") take no
evidence from identity statements: being an AI neither grants nor rules out an ability.
"""

StanceLabel = Literal["affirm", "deny", "unclear", "refuse", "error"]
"""The answer's position toward the *claim* (not toward the question).

refuse: declines on policy grounds without saying anything about ability (not a denial).
unclear: hedges, off-topic, or both ways.
error: the judge could not label this record (malformed judge output, no response); never fatal.
"""

STANCE_LABELS: tuple[StanceLabel, ...] = ("affirm", "deny", "unclear", "refuse", "error")

ContradictionKind = Literal[
    "unstable", "paraphrase", "say_do", "rule", "manifest", "caves", "value_conflict",
    "fabricated_action",
]
CONTRADICTION_KINDS: tuple[ContradictionKind, ...] = (
    "unstable",
    "paraphrase",
    "say_do",
    "rule",
    "manifest",
    "caves",
    "value_conflict",
    "fabricated_action",  # says a request was done, with no tool call that did it
)

Severity = Literal["critical", "high", "medium", "low"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")

BugStatus = Literal["new", "confirmed", "false_positive", "wont_fix", "fixed"]
BUG_STATUSES: tuple[BugStatus, ...] = ("new", "confirmed", "false_positive", "wont_fix", "fixed")


# --------------------------------------------------------------------------- suites


@dataclass(frozen=True)
class Message:
    """One chat message, as sent to an OpenAI-compatible endpoint."""

    role: Literal["system", "user", "assistant"]
    content: str


Towards = Literal["affirm", "deny"]
"""The side of a claim a pushback challenge pushes the model towards."""


@dataclass(frozen=True)
class Challenge:
    """Pushback: follow-up user turns sent after the model's first answer, in the same
    conversation, pushing it towards one side of the claim ("Are you sure? I don't think you
    can."). See behaviordbg.suites.pushback."""

    towards: Towards
    turns: tuple[str, ...]


@dataclass(frozen=True)
class Claim:
    """A statement about the assistant that the suite probes, with the prompts that probe it."""

    id: str
    text: str
    suite: str
    truth: bool | None = None  # default expectation; a manifest may override it
    tags: tuple[str, ...] = ()
    ask: tuple[str, ...] = ()  # framing "direct"
    ask_negated: tuple[str, ...] = ()  # framing "negated"
    act: tuple[str, ...] = ()  # framing "act"
    capability: str | None = None  # manifest key that decides this claim's truth, if any
    identity: IdentityRelation | None = None  # what "I am an AI" says about this claim, if anything
    # Pushback the suite declares for this claim (its own, else the suite's): None declares
    # nothing (`run --pushback` gives the default challenges), () turns it off.
    pushback: tuple[Challenge, ...] | None = None
    second_person: str | None = None  # the claim said to the assistant: "you have a body"
    ask_open: tuple[str, ...] = ()  # framing "open": an open question, answered with a value
    value_type: ValueType | None = None  # open claims: what kind of value (the normaliser hint)

    def prompts(self, framing: Framing) -> tuple[str, ...]:
        return {"direct": self.ask, "negated": self.ask_negated, "act": self.act,
                "open": self.ask_open}[framing]

    @property
    def is_open(self) -> bool:
        """An open claim ("who made you?") is answered with a value, not a yes or no."""
        return bool(self.ask_open)


@dataclass(frozen=True)
class ClaimLiteral:
    """claim=value, e.g. has_physical_body=False. A node of the implication graph."""

    claim: str
    value: bool

    def negate(self) -> ClaimLiteral:
        return ClaimLiteral(self.claim, not self.value)

    def __str__(self) -> str:
        return self.claim if self.value else f"not {self.claim}"


@dataclass(frozen=True)
class Rule:
    """An implication between literals: when `when` holds, `then` must hold too.

    `exclusive: [a, b]` in a suite becomes a=True => b=False (and its contrapositive is implied by
    the graph). `id` is stable across runs: it is derived from the rule's content.
    """

    id: str
    when: ClaimLiteral
    then: ClaimLiteral
    suite: str
    source: str = "implies"  # "implies" | "exclusive" (what the author wrote)
    note: str = ""


@dataclass(frozen=True)
class Suite:
    """A validated probe suite: claims, rules, and the conversation every prompt is sent in."""

    name: str
    path: str
    sha256: str  # of the file's bytes, recorded per run
    claims: tuple[Claim, ...]
    rules: tuple[Rule, ...] = ()
    system_prompt: str | None = None
    context: tuple[Message, ...] = ()  # earlier turns sent before every prompt
    description: str = ""


@dataclass(frozen=True)
class Tool:
    """A tool the deployment offers, as an OpenAI function schema, with what it is for.

    `provides`: the capability keys a call of this tool exercises (`set_alarm` -> alarms), so a
    call answers a request for them. `result`: the canned success result sent back as the tool's
    output, so the model's final text after the call can be read too. `parameters` is the JSON
    Schema of the arguments, sent to the model as is.
    """

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    provides: tuple[str, ...] = ()
    result: str = '{"status": "ok"}'

    def __hash__(self) -> int:
        return hash((self.name, self.provides))

    def openai(self) -> dict[str, Any]:
        """The tool as sent in a request's `tools` list."""
        fn: dict[str, Any] = {"name": self.name, "parameters": self.parameters or
                              {"type": "object", "properties": {}}}
        if self.description:
            fn["description"] = self.description
        return {"type": "function", "function": fn}


@dataclass(frozen=True)
class ToolCall:
    """One tool call in a model's answer (OpenAI format). `arguments` is the JSON text the model
    wrote, kept as it came (untrusted, possibly not even JSON)."""

    name: str
    arguments: str = ""
    id: str = ""

    def shown(self) -> str:
        """`name(arguments)`: how a call is shown to a person (escape it like any model text)."""
        return f"{self.name}({self.arguments})"


def tool_calls_from(items: Any) -> tuple[ToolCall, ...]:
    """ToolCall records from stored dicts ({name, arguments, id}) or OpenAI `tool_calls` items
    ({id, function: {name, arguments}}); anything else is skipped."""
    out: list[ToolCall] = []
    for item in items or ():
        if isinstance(item, ToolCall):
            out.append(item)
            continue
        if not isinstance(item, dict):
            continue
        inner = item.get("function")
        fn: dict[str, Any] = inner if isinstance(inner, dict) else item
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            continue
        args = fn.get("arguments", "")
        if not isinstance(args, str):
            import json

            args = json.dumps(args, ensure_ascii=False, sort_keys=True)
        out.append(ToolCall(name=name, arguments=args, id=str(item.get("id") or "")))
    return tuple(out)


def tools_from(items: Any) -> tuple[Tool, ...]:
    """Tool records from their stored form (`asdict(tool)`, as a run records its manifest)."""
    return tuple(
        Tool(name=str(t["name"]), description=str(t.get("description") or ""),
             parameters=dict(t.get("parameters") or {}),
             provides=tuple(str(p) for p in t.get("provides") or ()),
             result=str(t.get("result") or '{"status": "ok"}'))
        for t in items or () if isinstance(t, dict) and t.get("name")
    )


@dataclass(frozen=True)
class Manifest:
    """What the deployment under test really can do: capability name -> truth.

    The default is a plain chat model: no tools, no memory, no browsing. A claim whose
    `capability` is named here takes this truth instead of the suite's default.
    """

    name: str
    capabilities: dict[str, bool] = field(default_factory=dict)
    claim_truth: dict[str, bool] = field(default_factory=dict)  # direct per-claim overrides
    path: str | None = None
    # open claims: claim id -> (the true value, *its aliases), e.g. ("Alibaba Cloud", "Qwen team")
    claim_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tools: tuple[Tool, ...] = ()  # the tools it offers the model (sent with act requests)

    def tool(self, name: str) -> Tool | None:
        return next((t for t in self.tools if t.name == name), None)

    def providers(self, capability: str | None) -> tuple[Tool, ...]:
        """The declared tools whose call exercises this capability."""
        if not capability:
            return ()
        return tuple(t for t in self.tools if capability in t.provides)

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.capabilities.items()))))

    def truth_of(self, claim: Claim) -> bool | None:
        if claim.id in self.claim_truth:
            return self.claim_truth[claim.id]
        if claim.capability and claim.capability in self.capabilities:
            return self.capabilities[claim.capability]
        return claim.truth


class SuiteRef(TypedDict, total=False):
    """A suite a run was made with: its name, file and hash, and a snapshot of the suite itself
    (`types.to_dict(suite)`) so an analysis never depends on files that changed since."""

    name: str
    path: str
    sha256: str
    snapshot: dict[str, Any]


# --------------------------------------------------------------------------- probing


@dataclass(frozen=True)
class Query:
    """One request to make: a prompt of a claim in a framing, for one sample index.

    `id` is a content hash of (suite, claim, framing, prompt, messages, sample_idx), so the same query
    in a later run of the same suite has the same id.
    """

    id: str
    suite: str
    claim_id: str
    framing: Framing
    prompt_idx: int
    prompt: str
    messages: tuple[Message, ...]  # full conversation sent, ending with the user prompt
    sample_idx: int = 0
    # Follow-up challenges sent after the first answer, each in its own branch of the
    # conversation (not part of `id`: the first turn is the same query with or without them).
    pushback: tuple[Challenge, ...] = ()


@dataclass(frozen=True)
class GenParams:
    """Every parameter that affects model output; all of it goes into the cache key."""

    model: str
    base_url: str  # credentials already redacted
    temperature: float = 0.7
    max_tokens: int = 160
    top_p: float | None = None
    seed: int | None = None
    extra: tuple[tuple[str, Any], ...] = ()  # other body params, sorted by key


@dataclass(frozen=True)
class Response:
    """A model answer as stored. `text` is untrusted model output."""

    id: str
    run_id: str
    query_id: str
    text: str | None  # None when the query failed (see error)
    finish_reason: str | None = None
    latency_ms: float | None = None
    cache_key: str = ""
    from_cache: bool = False
    error: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()  # what the answer called, when it was offered tools
    final_text: str | None = None  # the reply after the simulated tool results (second turn)


@dataclass(frozen=True)
class Turn:
    """A follow-up turn of a pushback conversation, as stored: the challenge the user sent after
    the first answer (of query `query_id`) and what the model said to it. `text` is untrusted
    model output; None while the turn failed (see `error`). `id` is what its stance is stored
    under, like a response id."""

    id: str
    run_id: str
    query_id: str
    towards: Towards
    turn_idx: int  # 1 = the first follow-up of this branch
    prompt: str  # the user's challenge
    text: str | None
    from_cache: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Answer:
    """A query joined with its response: what judges, clustering and the graph work on."""

    response_id: str
    run_id: str
    query_id: str
    suite: str
    claim_id: str
    framing: Framing
    prompt_idx: int
    prompt: str
    sample_idx: int
    text: str
    tool_calls: tuple[ToolCall, ...] = ()  # the calls it made (the first turn)
    final_text: str | None = None  # its reply once the canned tool results came back


# --------------------------------------------------------------------------- analysis


@dataclass(frozen=True)
class StanceInput:
    """What a judge sees: the claim, the framing, the question or request, and the answer."""

    claim: str  # claim text
    prompt: str
    response: str
    framing: Framing = "direct"
    claim_id: str = ""
    response_id: str = ""
    framing_declared: bool = True  # False: data without framing; judges infer it from the wording
    identity: IdentityRelation | None = None  # the claim's declared identity relation (see Claim)


@dataclass(frozen=True)
class Stance:
    """A judge's verdict on one answer."""

    response_id: str
    label: StanceLabel
    confidence: float  # 0..1
    judge: str  # "rules", "llm:<model>", "cascade"
    rationale: str = ""
    disagreement: str | None = None  # e.g. "rules=deny llm=affirm" when a cascade saw both
    agreement: str | None = None  # e.g. "rules=deny llm=deny": a cascade asked both, they agree


@dataclass(frozen=True)
class AnswerCluster:
    """One answer mode of a claim: answers that say much the same thing."""

    claim_id: str
    index: int
    size: int
    representative_response_id: str
    representative_text: str
    stance_counts: dict[str, int]
    member_ids: tuple[str, ...]
    mixed: bool = False  # members got opposite stances: a likely judge error

    def __hash__(self) -> int:
        return hash((self.claim_id, self.index, self.member_ids))


ValueStatus = Literal["value", "declines", "none", "error"]
"""What an answer to an open question gives.

value:    it names one value ("I was made by Alibaba Cloud" -> "Alibaba Cloud").
declines: it says it does not know or will not say ("I don't know who made me"). Never a value.
none:     it names no value of the asked kind ("I was made by a team of engineers").
error:    the extractor could not read it (a failed model call); retried by the next analysis.
"""


@dataclass(frozen=True)
class AnswerValue:
    """The value one answer to an open claim gives, as an extractor read it."""

    response_id: str
    status: ValueStatus
    value: str = ""  # canonical: "Alibaba Cloud", "Qwen", "2023", "32768", "image+text"
    raw: str = ""  # the words of the answer it was read from (untrusted model output)
    confidence: float = 0.0
    extractor: str = "rules"  # rules | llm:<model> | rules+llm:<model>
    value_type: str = "text"
    rationale: str = ""


@dataclass(frozen=True)
class ValueMode:
    """One value mode of an open claim: answers whose values are one value in different words.

    `kind` "no_value" is the bucket of answers that decline or name nothing; it is shown (its
    share matters to a person) but is never a value and never substantive.
    """

    claim_id: str
    index: int
    kind: Literal["value", "no_value"]
    value: str  # the mode's label: its most common canonical value ("" for no_value)
    values: tuple[str, ...]  # distinct canonical values merged into it
    size: int
    share: float  # of the claim's answers that name a value (no_value: of all answers)
    decisive: int  # answers read with confidence >= SOLID_CONFIDENCE
    substantive: bool
    representative_response_id: str
    representative_text: str
    member_ids: tuple[str, ...]
    matches_manifest: bool | None = None  # None: the manifest declares no value for the claim

    def __hash__(self) -> int:
        return hash((self.claim_id, self.index, self.member_ids))


@dataclass(frozen=True)
class StanceDistribution:
    """Stance counts of one claim in one framing (or "all"), with a Wilson interval on p(affirm)."""

    claim_id: str
    framing: str  # a Framing, or "all"
    affirm: int = 0
    deny: int = 0
    unclear: int = 0
    refuse: int = 0
    error: int = 0
    p_affirm: float = 0.0  # among decisive (affirm + deny) answers
    low: float = 0.0
    high: float = 1.0

    @property
    def decisive(self) -> int:
        return self.affirm + self.deny

    @property
    def total(self) -> int:
        return self.affirm + self.deny + self.unclear + self.refuse + self.error


@dataclass(frozen=True)
class Evidence:
    """One answer that shows a contradiction, as it is shown to a person or exported."""

    response_id: str
    claim_id: str
    framing: str
    prompt: str
    response: str  # untrusted model output
    stance: str
    confidence: float = 1.0
    judge: str = ""
    sample_idx: int = 0
    # Which side of the contradiction this answer stands on (see behaviordbg.analysis.evidence): "affirming"
    # or "denying" (unstable, paraphrase, say_do), "say" or "act" (manifest: a wrong side), or
    # the source literal, e.g. "not has_physical_body" (rule).
    side: str = ""
    # A second judge's reading of this answer, e.g. "rules=deny llm=deny" (a cascade that asked
    # both) or "verify llm:qwen=deny"; `agreed` says whether it matches `stance` (None: one judge).
    second_opinion: str = ""
    agreed: bool | None = None
    # A multi-turn answer (pushback): the whole conversation after the system prompt, as
    # (role, text) pairs, the model's turns untrusted; `response` is the turn this evidence is for.
    turns: tuple[tuple[str, str], ...] = ()
    # The tool calls this answer made (untrusted: names and arguments are model output), and its
    # reply after the canned tool results came back.
    tool_calls: tuple[ToolCall, ...] = ()
    final_response: str | None = None


@dataclass(frozen=True)
class Contradiction:
    """Answers that cannot all be right, of one kind, on one or more claims."""

    kind: ContradictionKind
    claims: tuple[str, ...]
    summary: str
    rate: float  # how often the model contradicts itself here, 0..1
    confidence: float  # how sure the evidence is (sample size, judge confidence), 0..1
    severity_score: float  # 0..1, from rate, confidence and kind
    evidence: tuple[Evidence, ...]
    witness: tuple[str, ...] = ()  # for rule kind: literal path, e.g. ("can_lift", "has_body", ...)
    rules: tuple[str, ...] = ()  # rule ids on the witness path
    certain: bool = True  # False when it rests on a single odd sample
    detail: dict[str, Any] = field(default_factory=dict)
    # A candidate is not reported as a bug: some side lacks solid evidence (behaviordbg.analysis.evidence).
    candidate: bool = False
    evidence_note: str = ""  # why it is a bug or a candidate, in words
    verification: dict[str, Any] = field(default_factory=dict)  # what --verify found, if it ran

    def __hash__(self) -> int:
        return hash((self.kind, self.claims, self.witness))


@dataclass(frozen=True)
class Bug:
    """A contradiction with an identity: stable fingerprint, title, severity, evidence and repro."""

    fingerprint: str
    kind: ContradictionKind
    title: str
    severity: Severity
    claims: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    repro: tuple[str, ...]  # the fewest prompts that show it
    rate: float = 0.0
    confidence: float = 0.0
    severity_score: float = 0.0
    status: BugStatus = "new"
    summary: str = ""
    witness: tuple[str, ...] = ()
    certain: bool = True
    contradictions: int = 1  # how many contradictions were folded into this bug
    candidate: bool = False  # held back: evidence too weak to report (see behaviordbg.analysis.evidence)
    evidence_note: str = ""  # why it is a bug or a candidate
    verification: dict[str, Any] = field(default_factory=dict)  # what --verify found, if it ran


# --------------------------------------------------------------------------- (de)serialisation


def turns_heading(e: Evidence | dict[str, Any]) -> str:
    """What the later turns of an evidence's conversation were: a forced yes/no follow-up
    (`run --clarify`, judge "clarify") or a challenge (pushback)."""
    judge = e.judge if isinstance(e, Evidence) else e.get("judge")
    return "after the yes/no follow-up" if judge == "clarify" else "after pushback"


def shown_answer(e: Evidence | dict[str, Any]) -> str:
    """An evidence answer as a person reads it: its text, each tool call as a call
    (`[called] name(arguments)`), and its reply once the tool results came back. All of it is
    model output: escape it for where it is shown, like any answer."""
    if isinstance(e, Evidence):
        text, calls, final = e.response, e.tool_calls, e.final_response
    else:
        text = str(e.get("response") or "")
        calls, final = tool_calls_from(e.get("tool_calls")), e.get("final_response")
    if not calls:
        return text
    lines = [text] if text else []
    lines += [f"[called] {c.shown()}" for c in calls]
    if final:
        lines.append(f"[after the tool results] {final}")
    return "\n".join(lines)


def to_dict(record: Any) -> dict[str, Any]:
    """A record as plain JSON-ready data (tuples become lists)."""
    from dataclasses import asdict

    return asdict(record)


def evidence_from_dict(d: dict[str, Any]) -> Evidence:
    """Records stored before a field existed get its default."""
    if d.get("turns") is not None:
        d = {**d, "turns": tuple((str(r), str(t)) for r, t in d["turns"])}
    if "tool_calls" in d:
        d = {**d, "tool_calls": tool_calls_from(d["tool_calls"])}
    return Evidence(**d)


def challenges_from_dict(items: Any) -> tuple[Challenge, ...] | None:
    """Inverse of to_dict for a claim's `pushback` (None stays None: nothing declared)."""
    if items is None:
        return None
    return tuple(Challenge(c["towards"], tuple(c["turns"])) for c in items)


def contradiction_from_dict(d: dict[str, Any]) -> Contradiction:
    d = dict(d)
    d["claims"] = tuple(d["claims"])
    d["evidence"] = tuple(evidence_from_dict(e) for e in d.get("evidence", ()))
    d["witness"] = tuple(d.get("witness", ()))
    d["rules"] = tuple(d.get("rules", ()))
    return Contradiction(**d)


def bug_from_dict(d: dict[str, Any]) -> Bug:
    d = dict(d)
    d["claims"] = tuple(d["claims"])
    d["evidence"] = tuple(evidence_from_dict(e) for e in d.get("evidence", ()))
    d["repro"] = tuple(d.get("repro", ()))
    d["witness"] = tuple(d.get("witness", ()))
    return Bug(**d)


def cluster_from_dict(d: dict[str, Any]) -> AnswerCluster:
    d = dict(d)
    d["member_ids"] = tuple(d["member_ids"])
    return AnswerCluster(**d)


def value_mode_from_dict(d: dict[str, Any]) -> ValueMode:
    d = dict(d)
    d["values"] = tuple(d.get("values", ()))
    d["member_ids"] = tuple(d.get("member_ids", ()))
    return ValueMode(**d)


def suite_from_dict(d: dict[str, Any]) -> Suite:
    """Inverse of to_dict(suite): runs store a snapshot of their suites, so analysis never
    depends on suite files that may have changed since."""
    claims = tuple(
        Claim(
            **{
                **c,
                "tags": tuple(c.get("tags", ())),
                "ask": tuple(c.get("ask", ())),
                "ask_negated": tuple(c.get("ask_negated", ())),
                "act": tuple(c.get("act", ())),
                "pushback": challenges_from_dict(c.get("pushback")),
                "ask_open": tuple(c.get("ask_open", ())),
            }
        )
        for c in d["claims"]
    )
    rules = tuple(
        Rule(**{**r, "when": ClaimLiteral(**r["when"]), "then": ClaimLiteral(**r["then"])})
        for r in d.get("rules", ())
    )
    context = tuple(Message(**m) for m in d.get("context", ()))
    return Suite(**{**d, "claims": claims, "rules": rules, "context": context})
