"""Probing: plan the queries, create (or reopen) the run, answer what the cache knows, ask the
model for the rest and store each answer the moment it arrives.

A run is resumable at any point: every answer is stored as it comes, a resumed run asks exactly
the queries it planned and has no answer for, and Ctrl-C or SIGTERM marks it interrupted with the
command that resumes it. Samples of one conversation go out as one request with `n` when the
server supports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..cache import probe_key
from ..config import RunOptions
from ..errors import BehaviordbgError
from ..locks import run_lock
from ..store import Run, Store, TopError
from ..types import GenParams, Manifest, Message, Query, Response, SuiteRef, tool_calls_from
from ..urls import check_base_url, redact_url
from . import endpoint, tool_turns
from ._workers import in_parallel
from .progress import NullProgress, ProgressSink

if TYPE_CHECKING:  # the openai SDK is slow to import: load it only when a run asks a model
    from ..client import ChatResult, ModelClient, RequestFailed


@dataclass
class RunSummary:
    """What a run ended with; counts cover the whole run, requests_sent this invocation only."""

    run_id: str
    queries: int
    responses: int
    errors: int
    requests_sent: int
    cache_hits: int
    elapsed_s: float
    model: str
    base_url: str
    status: str = "complete"  # complete | failed (see RunOptions.max_failed) | awaiting_batch
    failed_share: float = 0.0  # errors / queries
    max_failed: float = 0.05
    # the most common final error of the unanswered queries, with `hint` (its fix) and `resume`
    # (whether resuming can help, i.e. the error was not the request itself being refused)
    top_error: dict[str, Any] | None = None
    # pushback: follow-up turns planned, answered and failed (behaviordbg.pipeline.pushback)
    turns: int = 0
    turns_answered: int = 0
    turn_errors: int = 0
    # a batch run (pipeline/batch.py): the file written, the batch submitted, the ingest report
    batch: dict[str, Any] | None = None
    # --clarify: forced-choice follow-ups answered, failed and from the cache (pipeline/clarify.py)
    clarify: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "complete"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def failure_message(self) -> str:
        """Why the run failed the --max-failed gate, in one sentence (empty when it did not)."""
        if self.ok:
            return ""
        if self.responses == 0:
            what = f"nothing was answered ({self.errors} of {self.queries} queries failed)"
        elif self.errors / max(self.queries, 1) <= self.max_failed and self.turn_errors:
            what = (f"{self.turn_errors} of {self.turns} follow-up turns failed, more than"
                    f" --max-failed {self.max_failed:.1%} allows")
        else:
            what = (f"{self.errors} of {self.queries} queries failed ({self.failed_share:.1%}),"
                    f" more than --max-failed {self.max_failed:.1%} allows")
        top = self.top_error
        if top:
            what += f"; most common error ({top['queries']} queries): {top['shown']}"
        return f"run {self.run_id} failed: {what}"


def error_hint(top: TopError, url: str, opts: RunOptions) -> tuple[str, bool]:
    """(the fix for a run's most common error, whether `--resume` can help with it)."""
    kind, code = top.get("kind"), top.get("status_code")
    if kind in ("expired", "cancelled"):
        return (f"the batch was {kind} before these queries were answered: ask them live with"
                " --resume (and --base-url), or in a new batch with --resume and --batch or"
                " --batch-file", True)
    if kind == "connection":
        return (f"nothing answered at {url}: is the server running there, and are the host, port"
                " and path (usually ending in /v1) right?", True)
    if kind == "timeout":
        return (f"the endpoint did not answer within --timeout {opts.timeout:g}s: raise --timeout"
                " or lower --concurrency", True)
    if kind == "rate_limit":
        return ("the endpoint is rate limiting: lower --concurrency or raise --max-attempts", True)
    if kind == "server":
        return ("the endpoint is failing (server errors): check its logs, and resume once it is"
                " healthy", True)
    if kind == "malformed":
        return (f"{url} does not answer like an OpenAI-compatible /chat/completions endpoint:"
                " check --base-url (usually ending in /v1)", True)
    what = f"HTTP {code}" if code else "the request"
    return (f"the endpoint refused the request as sent ({what}): fix the option it names"
            " (e.g. --temperature, --max-tokens, --model) and start a new run; a resume would send"
            " the same request again", False)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) during a run: the run is marked interrupted and can be resumed.
    `signal` says which: "SIGINT" or "SIGTERM" (the CLI exits 130 or 143)."""

    def __init__(self, run_id: str, signal: str = "SIGINT") -> None:
        super().__init__(run_id)
        self.run_id = run_id
        self.signal = signal
        self.resume_command = f"behaviordbg run --resume {run_id}"


@contextlib.contextmanager
def _sigterm_cancels(terminated: list[str]) -> Iterator[None]:
    """While probing, SIGTERM is Ctrl-C: it cancels the run's task, which marks the run
    interrupted (and stops the embedded server) on its way out. Main thread of a running loop
    only; elsewhere SIGTERM keeps its usual meaning."""
    import signal

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm() -> None:
        terminated.append("SIGTERM")
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    except (RuntimeError, ValueError, NotImplementedError):  # not the main thread / no signals
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


_current_query: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "behaviordbg_current_query", default=None
)


def run_probes(store: Store, opts: RunOptions, progress: ProgressSink | None = None) -> RunSummary:
    """Run (or resume) a probe run to the end; Ctrl-C marks it interrupted (RunInterrupted)."""
    from . import batch

    if batch.is_batch_run(store, opts):  # --batch-file, --batch-results, --batch, or a resume
        return batch.run_batch(store, opts, progress)  # of a run whose batch is still out
    started: list[str] = []
    terminated: list[str] = []

    async def probe() -> RunSummary:
        with _sigterm_cancels(terminated):
            return await _run_probes(store, opts, progress, started)

    try:
        return asyncio.run(probe())
    except KeyboardInterrupt as err:
        if started and not isinstance(err, RunInterrupted):
            raise RunInterrupted(started[0]) from None
        raise
    except asyncio.CancelledError:
        if not terminated:
            raise
        if started:
            raise RunInterrupted(started[0], "SIGTERM") from None
        raise KeyboardInterrupt("SIGTERM before the run was created") from None


def plan(opts: RunOptions) -> tuple[list[Query], list[SuiteRef], dict[str, Any]]:
    """Suites -> queries (claim x framing x prompt x sample), suite refs and the manifest."""
    from .. import suites as suites_mod

    suites = opts.suites if opts.suites is not None else suites_mod.load_suites(opts.suite_paths)
    queries = suites_mod.expand(suites, opts.samples, claims=opts.claims, framings=opts.framings,
                                pushback=opts.pushback)
    if opts.limit is not None:
        queries = queries[: max(opts.limit, 0)]
    if not queries:
        raise BehaviordbgError(
            "nothing to ask: the suites, --claim and --limit leave no queries",
            hint="check `behaviordbg suites list` and the --claim / --limit options",
        )
    manifest = suites_mod.load_manifest(opts.manifest_path)
    return queries, suites_mod.suite_refs(suites), asdict(manifest)


def _manifest_of(m: dict[str, Any]) -> Manifest:
    """The tools part of a run's recorded manifest (all probing needs of it)."""
    from ..types import tools_from

    return Manifest(name=str(m.get("name") or "chat"), tools=tools_from(m.get("tools")))


def gen_params(run: Run) -> GenParams:
    """The generation parameters a run was made with (a resume asks with the same)."""
    p = run["params"]
    return GenParams(
        model=run["model"], base_url=run["base_url"], temperature=p["temperature"],
        max_tokens=p["max_tokens"], top_p=p["top_p"], seed=p["seed"],
        extra=tuple((k, v) for k, v in p["extra"]),
    )


def response_id(run_id: str, query_id: str) -> str:
    return "r-" + hashlib.sha256(f"{run_id}\x00{query_id}".encode()).hexdigest()[:20]


async def _run_probes(
    store: Store, opts: RunOptions, progress: ProgressSink | None, started: list[str]
) -> RunSummary:
    t0 = time.perf_counter()
    sink: ProgressSink = progress or NullProgress()
    if opts.base_url:
        check_base_url(opts.base_url)
    run = store.get_run(opts.resume) if opts.resume else None
    if run and opts.model and opts.model != run["model"]:
        raise BehaviordbgError(
            f"run {run['id']} was made with model {run['model']!r}, not {opts.model!r}",
            hint="drop --model when resuming, or start a new run",
        )
    key_env = opts.api_key_env
    if run is not None and key_env == RunOptions.api_key_env:  # not overridden: as the run was made
        key_env = run["params"]["api_key_env"] or key_env
        opts = dataclasses.replace(opts, api_key_env=key_env)
    planned_run = plan(opts) if run is None else None  # bad suites fail before any server starts
    if run is not None and not store.has_queries(run["id"]):
        raise BehaviordbgError(  # made by a version that created a run before its queries
            f"run {run['id']} has no planned queries: it was stopped while it was being created,"
            " before anything was asked, so there is nothing to resume",
            hint="start a new run (behaviordbg run with the same options)",
        )
    with contextlib.ExitStack() as held:
        if run is not None:  # before any server starts: a second resume is refused at once
            held.enter_context(run_lock(store.path, run["id"]))
        url, model, local_info = held.enter_context(endpoint.endpoint_for(opts, run))
        api_key = (os.environ.get(key_env) or None) if local_info is None else None
        if local_info is not None:
            opts = endpoint.fit_to_local(opts, local_info)
        if run is not None:
            run_id, params = run["id"], gen_params(run)
            planned = store.planned_queries(run_id)
            store.set_run_status(run_id, "running")
            tools_manifest = _manifest_of(run.get("manifest") or {})
            on_questions = bool(run["params"].get("tools_on_questions", False))
            clarify = opts.clarify or bool(run["params"].get("clarify", False))
        else:
            assert planned_run is not None
            run_id, params, planned = create_planned_run(store, opts, planned_run, url, model,
                                                         local_info)
            tools_manifest, on_questions = _manifest_of(planned_run[2]), opts.tools_on_questions
            clarify = opts.clarify
            held.enter_context(run_lock(store.path, run_id))
        started.append(run_id)
        probe = _Prober(store, run_id, params, sink, manifest=tools_manifest,
                        with_tools=tool_turns.tool_framings(tools_manifest, on_questions),
                        clarify=clarify)
        try:
            requests_sent = await probe.run(planned, url, api_key, opts)
        except (asyncio.CancelledError, KeyboardInterrupt):
            store.set_run_status(run_id, "interrupted", probe.stats(t0))
            raise
        except BaseException:  # EndpointAuthError and anything unexpected: stop, say so
            store.set_run_status(run_id, "failed", probe.stats(t0))
            raise
        finally:
            sink.finish()
        return finish_run(store, run_id, params, opts, t0, requests_sent, probe.stats(t0))


def create_planned_run(
    store: Store, opts: RunOptions, planned_run: tuple[list[Query], list[SuiteRef], dict[str, Any]],
    url: str, model: str, local_info: dict[str, Any] | None, *, status: str | None = None,
) -> tuple[str, GenParams, list[tuple[Query, str]]]:
    """Record a new run with its planned queries and their cache keys: (id, params, planned).
    The live run and a batch run (pipeline/batch.py) make their runs here, so both key the cache
    alike."""
    queries, refs, manifest = planned_run
    # The embedded server's port changes per run: key its cache by the model file instead.
    cache_url = (f"local://{model}@{str(local_info.get('model_sha256', ''))[:16]}"
                 if local_info is not None else redact_url(url))
    params = GenParams(model=model, base_url=cache_url, temperature=opts.temperature,
                       max_tokens=opts.max_tokens)
    options = {
        "samples": opts.samples, "concurrency": opts.concurrency, "timeout": opts.timeout,
        "max_attempts": opts.max_attempts, "api_key_env": opts.api_key_env,
        "claims": sorted(opts.claims or ()), "framings": sorted(opts.framings or ()),
        "limit": opts.limit, "suite_paths": opts.suite_paths, "pushback": opts.pushback,
        "tools_on_questions": opts.tools_on_questions, "clarify": opts.clarify,
    }
    tools = _manifest_of(manifest)  # requests sent with the manifest's tools key them too
    if tools.tools and (opts.batch_file or opts.batch):
        raise BehaviordbgError(
            "a batch run does not send the manifest's tools (nor the second turn after a call)",
            hint="run it live (without --batch / --batch-file), or use a manifest without `tools`",
        )
    if opts.clarify and (opts.batch_file or opts.batch):
        raise BehaviordbgError(
            "--clarify asks its follow-ups after the first answers are in, which a batch run"
            " cannot do", hint="run it live (without --batch / --batch-file), or drop --clarify")
    with_tools = tool_turns.tool_framings(tools, opts.tools_on_questions)
    key_tools = tool_turns.key_tools(tools)
    planned = [(q, probe_key(params, q.messages, q.sample_idx,
                             key_tools if q.framing in with_tools else None)) for q in queries]
    twin = opts.prompted_twin
    with store.transaction():  # a prompted twin is never stored without its link
        run_id = store.create_run(params, refs, options=options, manifest=manifest,
                                  local_model=local_info, label=opts.label, queries=planned)
        if twin is not None:
            store.link_prompted_run(
                twin.base_run_id, run_id, prompt_text=twin.prompt_text,
                prompt_sha256=twin.prompt_sha256, prompt_source=twin.prompt_source)
    if status is not None:
        store.set_run_status(run_id, status)
    return run_id, params, planned


def finish_run(
    store: Store, run_id: str, params: GenParams, opts: RunOptions, t0: float,
    requests_sent: int, stats: dict[str, Any], *, status: str | None = None,
) -> RunSummary:
    """Set a run's final status by the --max-failed gate (unless `status` is given) and say how
    it ended, with its most common error and the fix."""
    elapsed = time.perf_counter() - t0
    counts = store.counts(run_id)
    share = counts["errors"] / counts["queries"] if counts["queries"] else 1.0
    tc = store.turn_counts(run_id)  # pushback follow-ups pass the same gate
    turn_share = tc["failed"] / tc["planned"] if tc["planned"] else 0.0
    if status is None:
        status = ("complete" if counts["responses"] > 0 and share <= opts.max_failed
                  and turn_share <= opts.max_failed else "failed")
    store.set_run_status(run_id, status, stats)
    top = store.top_error(run_id) if counts["errors"] else None
    shown_error: dict[str, Any] | None = None
    if top is not None:
        shown = f"HTTP {top['status_code']}" if top["status_code"] else top["kind"]
        if top["message"] and not top["message"].startswith("HTTP"):
            shown = f"{shown}: {top['message']}"
        elif top["message"]:
            shown = top["message"]
        hint, can_resume = error_hint(top, params.base_url, opts)
        shown_error = {**top, "shown": shown, "hint": hint, "resume": can_resume}
    return RunSummary(
        run_id=run_id, queries=counts["queries"], responses=counts["responses"],
        errors=counts["errors"], requests_sent=requests_sent, cache_hits=counts["cache_hits"],
        elapsed_s=round(elapsed, 3), model=params.model, base_url=params.base_url,
        status=status, failed_share=round(share, 4), max_failed=opts.max_failed,
        top_error=shown_error, turns=tc["planned"], turns_answered=tc["answered"],
        turn_errors=tc["failed"], clarify=store.clarify_counts(run_id),
    )


@dataclass
class _Prober:
    """Answers one run's pending queries: cache first, then the model, storing as answers arrive."""

    store: Store
    run_id: str
    params: GenParams
    sink: ProgressSink
    manifest: Manifest = field(default_factory=lambda: Manifest(name="chat"))
    with_tools: frozenset[str] = frozenset()  # framings sent with the manifest's tools
    clarify: bool = False  # --clarify: a forced-choice follow-up after unclear answers
    client: ModelClient | None = None
    counters: dict[str, int] = field(default_factory=lambda: {"asked": 0, "cached": 0, "failed": 0})

    def stats(self, t0: float) -> dict[str, Any]:
        sent = self.client.requests_sent if self.client else 0
        return {**self.counters, "requests_sent": sent,
                "elapsed_s": round(time.perf_counter() - t0, 3)}

    async def run(
        self, planned: list[tuple[Query, str]], url: str, api_key: str | None, opts: RunOptions
    ) -> int:
        from . import clarify, pushback

        answered = self.store.answered_query_ids(self.run_id)
        pending = [(q, k) for q, k in planned if q.id not in answered]
        turns = pushback.planned_turns(planned)  # follow-ups: asked once first turns are done
        turns_done = len(self.store.answered_turns(self.run_id)) if turns else 0
        self.sink.start(len(planned) + turns, len(planned) - len(pending) + turns_done)
        misses = pending if opts.refresh else [item for item in pending if not self._from_cache(*item)]
        groups: dict[tuple[tuple[Message, ...], bool], list[tuple[Query, str]]] = {}
        for q, k in misses:  # samples of one conversation go out as one request with `n`
            groups.setdefault((q.messages, q.framing in self.with_tools), []).append((q, k))
        if not groups and turns_done >= turns and not (
                self.clarify and clarify.pending(self.store, self.run_id, planned)):
            return 0
        from ..client import ModelClient

        self.client = ModelClient(
            url, api_key, concurrency=opts.concurrency, timeout=opts.timeout,
            max_attempts=opts.max_attempts, api_key_env=opts.api_key_env,
            on_attempt_error=self._attempt_failed,
        )
        async with self.client:
            await self._first_turns(groups, opts)
            await pushback.ask_followups(self, planned, opts)
            if self.clarify:  # after the first answers: it asks about the unclear ones
                await clarify.ask_clarify(self, planned, opts)
            return self.client.requests_sent

    async def _first_turns(
        self, groups: dict[tuple[tuple[Message, ...], bool], list[tuple[Query, str]]],
        opts: RunOptions
    ) -> None:
        """Ask every group of first turns, `opts.concurrency` at a time."""
        await in_parallel(  # suite order
            list(groups.values()), opts.concurrency,
            lambda group: self._ask(sorted(group, key=lambda item: item[0].sample_idx)),
        )

    def _from_cache(self, query: Query, key: str) -> bool:
        hit = self.store.cache_get(key)
        if hit is None or hit.get("text") is None:
            return False
        self.store.add_response(Response(
            id=response_id(self.run_id, query.id), run_id=self.run_id, query_id=query.id,
            text=hit["text"], finish_reason=hit.get("finish_reason"), latency_ms=0.0,
            cache_key=key, from_cache=True, tool_calls=tool_calls_from(hit.get("tool_calls")),
            final_text=hit.get("final_text"),
        ))
        self.counters["cached"] += 1
        self.sink.advance()
        return True

    async def _ask(self, group: list[tuple[Query, str]]) -> None:
        from ..client import RequestFailed

        assert self.client is not None
        if len(group) > 1 and self.client.n_supported is False:
            await asyncio.gather(*(self._ask([item]) for item in group))
            return
        _current_query.set(group[0][0].id)
        messages: list[dict[str, Any]] = [{"role": m.role, "content": m.content}
                                          for m in group[0][0].messages]
        offered = group[0][0].framing in self.with_tools
        try:
            result = await self.client.chat(
                messages, model=self.params.model, temperature=self.params.temperature,
                max_tokens=self.params.max_tokens, n=len(group),
                extra=tool_turns.extra_body(self.manifest) if offered else None,
            )
        except RequestFailed as err:
            got = len(err.partial.texts) if err.partial else 0
            if err.partial:
                self._save(group[:got], err.partial)
            for q, _ in group[got:]:
                self.store.add_error(self.run_id, q.id, err.kind, err.message,
                                     status_code=err.status_code, attempt=err.attempts, final=True)
                self.counters["failed"] += 1
                self.sink.advance(errors=1)
            return
        finals = await self._second_turns(messages, result) if offered else {}
        self._save(group, result, finals)

    async def _second_turns(self, messages: list[dict[str, Any]], result: ChatResult
                            ) -> dict[int, str | None]:
        """Per sample that called tools: its final reply after the canned results."""
        assert self.client is not None
        out: dict[int, str | None] = {}
        for i, (text, raw_calls) in enumerate(zip(result.texts, result.tool_calls)):
            calls = tool_calls_from(raw_calls)
            if calls:
                out[i] = await tool_turns.final_reply(self.client, self.params, messages, text,
                                                      raw_calls, calls, self.manifest)
        return out

    def _save(self, group: list[tuple[Query, str]], result: ChatResult,
              finals: dict[int, str | None] | None = None) -> None:
        raws = result.raw_responses or [result.raw_response] * len(result.texts)
        # A body with n choices answers n samples: it is stored once, with the first of them;
        # the others point to that row (n copies of n answers made a DB grow with n squared).
        holder: dict[int, str] = {}
        calls_per = result.tool_calls or [[] for _ in result.texts]
        finals = finals or {}
        for i, ((q, key), text, reason, raw) in enumerate(
                zip(group, result.texts, result.finish_reasons, raws)):
            rid = response_id(self.run_id, q.id)
            calls = tool_calls_from(calls_per[i] if i < len(calls_per) else [])
            final = finals.get(i)
            if id(raw) in holder:
                raw = {"same_as_response": holder[id(raw)]}
            else:
                holder[id(raw)] = rid
            self.store.add_response(
                Response(id=rid, run_id=self.run_id, query_id=q.id,
                         text=text, finish_reason=reason, latency_ms=round(result.latency_ms, 1),
                         cache_key=key, tool_calls=calls, final_text=final),
                raw_request=result.raw_request, raw_response=raw,
            )
            cached: dict[str, Any] = {"text": text, "finish_reason": reason,
                                      "model": self.params.model}
            if calls:
                cached.update(tool_calls=tool_turns.calls_json(calls), final_text=final)
            self.store.cache_put(key, "probe", cached)
            self.counters["asked"] += 1
            self.sink.advance()

    def _attempt_failed(self, err: RequestFailed, attempt: int) -> None:
        """A retried attempt: kept for the record (final failures are stored by _ask)."""
        self.store.add_error(self.run_id, _current_query.get(), err.kind, err.message,
                             status_code=err.status_code, attempt=attempt, final=False)
