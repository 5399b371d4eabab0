"""The only module that connects the stages.

    suites -> queries -> client -> store -> judges -> cluster -> graph -> bugs -> triage

The CLI, the pytest plugin and the dashboard call the functions here and hold no logic of their own.
Each function takes plain options and an open `Store`, and returns a small typed summary.

Sections (each owned by one area; edit only your own section):
  1. probing   (run_probes)
  2. analysis  (analyze_run, check)
  3. triage    (lifecycle hooks, diff, exports)
"""

from __future__ import annotations

# =========================================================================== 1. probing
# Plan queries, create (or reopen) the run, answer what the cache knows, ask the model for the
# rest and store each answer the moment it arrives. Owner: the run engine (issue 2).

import asyncio  # noqa: E402 - each section keeps its imports together
import contextlib  # noqa: E402
import contextvars  # noqa: E402
import dataclasses  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from typing import TYPE_CHECKING, Any, Protocol  # noqa: E402

from .cache import probe_key  # noqa: E402
from .errors import BehaviordbgError, RunFailed  # noqa: E402
from .store import Store  # noqa: E402
from .urls import redact_url  # noqa: E402
from .locks import run_lock  # noqa: E402
from .urls import check_base_url  # noqa: E402
from .types import GenParams, Message, Query, Response, Suite  # noqa: E402

if TYPE_CHECKING:  # the openai SDK is slow to import: load it only when a run asks a model
    from .client import ChatResult, ModelClient


class ProgressSink(Protocol):
    """Where run progress goes: a rich bar in the CLI, nothing with --json, anything in a plugin."""

    def start(self, total: int, done: int = 0) -> None: ...

    def advance(self, n: int = 1, *, errors: int = 0) -> None: ...

    def finish(self) -> None: ...


class NullProgress:
    """The silent sink (used with --json and in libraries)."""

    def start(self, total: int, done: int = 0) -> None:
        pass

    def advance(self, n: int = 1, *, errors: int = 0) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass
class RunOptions:
    """What `behaviordbg run` was asked to do. `suites` skips loading (tests, plugins, benchmarks)."""

    suite_paths: list[str] | None = None
    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    samples: int = 1
    temperature: float = 0.7
    max_tokens: int = 160
    concurrency: int = 8
    timeout: float = 60.0
    max_attempts: int = 5
    resume: str | None = None
    manifest_path: str | None = None
    label: str = ""
    claims: set[str] | None = None
    framings: set[str] | None = None
    limit: int | None = None  # at most this many queries (smoke runs)
    # Ask the model even when the cache has the answer (a re-served checkpoint under the same
    # model name and URL); new answers still replace the cached ones.
    refresh: bool = False
    suites: list[Suite] | None = None  # already loaded suites; wins over suite_paths
    # The run fails (status "failed", exit code 3, check() does not analyse it) when more than this
    # share of its queries end without an answer, or when none is answered.
    max_failed: float = 0.05


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
    status: str = "complete"  # complete | failed (see RunOptions.max_failed)
    failed_share: float = 0.0  # errors / queries
    max_failed: float = 0.05
    # the most common final error of the unanswered queries, with `hint` (its fix) and `resume`
    # (whether resuming can help, i.e. the error was not the request itself being refused)
    top_error: dict[str, Any] | None = None

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
        else:
            what = (f"{self.errors} of {self.queries} queries failed ({self.failed_share:.1%}),"
                    f" more than --max-failed {self.max_failed:.1%} allows")
        top = self.top_error
        if top:
            what += f"; most common error ({top['queries']} queries): {top['shown']}"
        return f"run {self.run_id} failed: {what}"


def parse_max_failed(value: str | float | None) -> float:
    """--max-failed as a share: `0.05`, `5%` or `0` (no failure allowed)."""
    if value is None or str(value).strip() == "":
        return RunOptions.max_failed
    text = str(value).strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise BehaviordbgError(
            f"--max-failed {text!r} is not a share of queries",
            hint="pass a fraction from 0 to 1 (0.05) or a percentage (5%)",
        )
    return share


def error_hint(top: dict[str, Any], url: str, opts: RunOptions) -> tuple[str, bool]:
    """(the fix for a run's most common error, whether `--resume` can help with it)."""
    kind, code = top.get("kind"), top.get("status_code")
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


async def run_probes_async(
    store: Store, opts: RunOptions, progress: ProgressSink | None = None
) -> RunSummary:
    """The same as run_probes, inside a running event loop."""
    return await _run_probes(store, opts, progress, [])


@contextlib.contextmanager
def _local_serve() -> Iterator[Any]:
    """The embedded local model (behaviordbg.local): yields an object with base_url, model, info."""
    try:
        from . import local
    except ImportError:
        raise BehaviordbgError(
            "no --base-url given and the embedded local model is not available yet",
            hint="pass --base-url http://... --model NAME",
        ) from None
    with local.serve() as server:
        yield server


@contextlib.contextmanager
def _endpoint(opts: RunOptions, run: dict[str, Any] | None) -> Iterator[tuple[str, str, dict[str, Any] | None]]:
    """(URL to call, model name, embedded-model facts or None) for a new or resumed run."""
    stored_url = run["base_url"] if run else None
    if stored_url and "***" in stored_url and not opts.base_url:
        raise BehaviordbgError(
            f"run {run['id'] if run else ''} was made against a URL with credentials, which are"
            " never stored", hint="resume with --base-url and the full URL again",
        )
    if opts.base_url or (stored_url and not stored_url.startswith("local://")):
        model = opts.model or (run["model"] if run else None)
        if not model:
            raise BehaviordbgError(
                "--model is required with --base-url",
                hint="pass the endpoint's model id, e.g. --model gpt-4o-mini (see GET /v1/models)",
            )
        yield str(opts.base_url or stored_url), model, None
        return
    with _local_serve() as server:
        yield server.base_url, server.model, dict(server.info)


def _fit_to_local(opts: RunOptions, info: dict[str, Any]) -> RunOptions:
    """The embedded server has a few slots on a small machine: more concurrent requests only queue
    inside it and time out, so match its slots and allow for the queue."""
    slots = int(info.get("parallel") or 2)
    return dataclasses.replace(
        opts, concurrency=min(opts.concurrency, slots), timeout=max(opts.timeout, 300.0)
    )


def _plan(opts: RunOptions) -> tuple[list[Query], list[dict[str, str]], dict[str, Any]]:
    """Suites -> queries (claim x framing x prompt x sample), suite refs and the manifest."""
    from . import suites as suites_mod

    suites = opts.suites if opts.suites is not None else suites_mod.load_suites(opts.suite_paths)
    queries = suites_mod.expand(suites, opts.samples, claims=opts.claims, framings=opts.framings)
    if opts.limit is not None:
        queries = queries[: max(opts.limit, 0)]
    if not queries:
        raise BehaviordbgError(
            "nothing to ask: the suites, --claim and --limit leave no queries",
            hint="check `behaviordbg suites list` and the --claim / --limit options",
        )
    manifest = suites_mod.load_manifest(opts.manifest_path)
    return queries, suites_mod.suite_refs(suites), asdict(manifest)


def _params_of(run: dict[str, Any]) -> GenParams:
    p = run["params"]
    return GenParams(
        model=run["model"], base_url=run["base_url"], temperature=p.get("temperature", 0.7),
        max_tokens=p.get("max_tokens", 160), top_p=p.get("top_p"), seed=p.get("seed"),
        extra=tuple((k, v) for k, v in p.get("extra") or ()),
    )


def _response_id(run_id: str, query_id: str) -> str:
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
        key_env = run["params"].get("api_key_env") or key_env
        opts = dataclasses.replace(opts, api_key_env=key_env)
    plan = _plan(opts) if run is None else None  # bad suites fail before any server starts
    if run is not None and not store.has_queries(run["id"]):
        raise BehaviordbgError(  # made by a version that created a run before its queries
            f"run {run['id']} has no planned queries: it was stopped while it was being created,"
            " before anything was asked, so there is nothing to resume",
            hint="start a new run (behaviordbg run with the same options)",
        )
    with contextlib.ExitStack() as held:
        if run is not None:  # before any server starts: a second resume is refused at once
            held.enter_context(run_lock(store.path, run["id"]))
        url, model, local_info = held.enter_context(_endpoint(opts, run))
        api_key = (os.environ.get(key_env) or None) if local_info is None else None
        if local_info is not None:
            opts = _fit_to_local(opts, local_info)
        if run is not None:
            run_id, params = run["id"], _params_of(run)
            planned = store.planned_queries(run_id)
            store.set_run_status(run_id, "running")
        else:
            assert plan is not None
            queries, refs, manifest = plan
            # The embedded server's port changes per run: key its cache by the model file instead.
            cache_url = (f"local://{model}@{str(local_info.get('model_sha256', ''))[:16]}"
                         if local_info is not None else redact_url(url))
            params = GenParams(model=model, base_url=cache_url, temperature=opts.temperature,
                               max_tokens=opts.max_tokens)
            options = {
                "samples": opts.samples, "concurrency": opts.concurrency, "timeout": opts.timeout,
                "max_attempts": opts.max_attempts, "api_key_env": opts.api_key_env,
                "claims": sorted(opts.claims or ()), "framings": sorted(opts.framings or ()),
                "limit": opts.limit, "suite_paths": opts.suite_paths,
            }
            planned = [(q, probe_key(params, list(q.messages), q.sample_idx)) for q in queries]
            run_id = store.create_run(params, refs, options=options, manifest=manifest,
                                      local_model=local_info, label=opts.label, queries=planned)
            held.enter_context(run_lock(store.path, run_id))
        started.append(run_id)
        probe = _Prober(store, run_id, params, sink)
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
        elapsed = time.perf_counter() - t0
        counts = store.counts(run_id)
        share = counts["errors"] / counts["queries"] if counts["queries"] else 1.0
        status = ("complete" if counts["responses"] > 0 and share <= opts.max_failed
                  else "failed")
        store.set_run_status(run_id, status, probe.stats(t0))
        top = store.top_error(run_id) if counts["errors"] else None
        if top is not None:
            shown = f"HTTP {top['status_code']}" if top["status_code"] else top["kind"]
            if top["message"] and not top["message"].startswith("HTTP"):
                shown = f"{shown}: {top['message']}"
            elif top["message"]:
                shown = top["message"]
            hint, can_resume = error_hint(top, params.base_url, opts)
            top = {**top, "shown": shown, "hint": hint, "resume": can_resume}
        return RunSummary(
            run_id=run_id, queries=counts["queries"], responses=counts["responses"],
            errors=counts["errors"], requests_sent=requests_sent, cache_hits=counts["cache_hits"],
            elapsed_s=round(elapsed, 3), model=params.model, base_url=params.base_url,
            status=status, failed_share=round(share, 4), max_failed=opts.max_failed,
            top_error=top,
        )


def run_state(store: Store, run_id: str) -> dict[str, Any]:
    """A run's status and answer counts, for commands about to use it, with `partial`/`note` when
    it is not complete (interrupted, failed, or queries without an answer): its analysis must say
    so. A run that has no planned queries (killed while being created) is an error whose fix is a
    new run, not a resume."""
    run = store.get_run(run_id)
    counts = store.counts(run["id"])
    if counts["queries"] == 0:
        raise BehaviordbgError(
            f"run {run['id']} has no planned queries: it was stopped while it was being created,"
            " before anything was asked",
            hint="start a new run (behaviordbg run with the same options); this one cannot be"
            " resumed",
        )
    unanswered = counts["queries"] - counts["responses"]
    note = ""
    if run["status"] != "complete" or unanswered:
        note = (f"run {run['id']} is partial ({run['status']}): {unanswered} of"
                f" {counts['queries']} queries have no answer, so its bugs rest on the"
                f" {counts['responses']} answered; finish it first: behaviordbg run --resume"
                f" {run['id']}")
    return {"run_id": run["id"], "status": run["status"], **counts, "unanswered": unanswered,
            "partial": bool(note), "note": note}


@dataclass
class _Prober:
    """Answers one run's pending queries: cache first, then the model, storing as answers arrive."""

    store: Store
    run_id: str
    params: GenParams
    sink: ProgressSink
    client: ModelClient | None = None
    counters: dict[str, int] = field(default_factory=lambda: {"asked": 0, "cached": 0, "failed": 0})

    def stats(self, t0: float) -> dict[str, Any]:
        sent = self.client.requests_sent if self.client else 0
        return {**self.counters, "requests_sent": sent,
                "elapsed_s": round(time.perf_counter() - t0, 3)}

    async def run(
        self, planned: list[tuple[Query, str]], url: str, api_key: str | None, opts: RunOptions
    ) -> int:
        answered = self.store.answered_query_ids(self.run_id)
        pending = [(q, k) for q, k in planned if q.id not in answered]
        self.sink.start(len(planned), len(planned) - len(pending))
        misses = pending if opts.refresh else [item for item in pending if not self._from_cache(*item)]
        groups: dict[tuple[Message, ...], list[tuple[Query, str]]] = {}
        for q, k in misses:  # samples of one conversation go out as one request with `n`
            groups.setdefault(q.messages, []).append((q, k))
        if not groups:
            return 0
        from .client import ModelClient

        self.client = ModelClient(
            url, api_key, concurrency=opts.concurrency, timeout=opts.timeout,
            max_attempts=opts.max_attempts, api_key_env=opts.api_key_env,
            on_attempt_error=self._attempt_failed,
        )
        async with self.client:
            work = iter(list(groups.values()))  # suite order

            async def worker() -> None:
                for group in work:
                    await self._ask(sorted(group, key=lambda item: item[0].sample_idx))

            tasks = [asyncio.ensure_future(worker()) for _ in range(min(opts.concurrency, len(groups)))]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    if task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            return self.client.requests_sent

    def _from_cache(self, query: Query, key: str) -> bool:
        hit = self.store.cache_get(key)
        if hit is None or hit.get("text") is None:
            return False
        self.store.add_response(Response(
            id=_response_id(self.run_id, query.id), run_id=self.run_id, query_id=query.id,
            text=hit["text"], finish_reason=hit.get("finish_reason"), latency_ms=0.0,
            cache_key=key, from_cache=True,
        ))
        self.counters["cached"] += 1
        self.sink.advance()
        return True

    async def _ask(self, group: list[tuple[Query, str]]) -> None:
        from .client import RequestFailed

        assert self.client is not None
        if len(group) > 1 and self.client.n_supported is False:
            await asyncio.gather(*(self._ask([item]) for item in group))
            return
        _current_query.set(group[0][0].id)
        messages = [{"role": m.role, "content": m.content} for m in group[0][0].messages]
        try:
            result = await self.client.chat(
                messages, model=self.params.model, temperature=self.params.temperature,
                max_tokens=self.params.max_tokens, n=len(group),
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
        self._save(group, result)

    def _save(self, group: list[tuple[Query, str]], result: ChatResult) -> None:
        raws = result.raw_responses or [result.raw_response] * len(result.texts)
        # A body with n choices answers n samples: it is stored once, with the first of them;
        # the others point to that row (n copies of n answers made a DB grow with n squared).
        holder: dict[int, str] = {}
        for (q, key), text, reason, raw in zip(group, result.texts, result.finish_reasons, raws):
            rid = _response_id(self.run_id, q.id)
            if id(raw) in holder:
                raw = {"same_as_response": holder[id(raw)]}
            else:
                holder[id(raw)] = rid
            self.store.add_response(
                Response(id=rid, run_id=self.run_id, query_id=q.id,
                         text=text, finish_reason=reason, latency_ms=round(result.latency_ms, 1),
                         cache_key=key),
                raw_request=result.raw_request, raw_response=raw,
            )
            self.store.cache_put(key, "probe", {"text": text, "finish_reason": reason,
                                                "model": self.params.model})
            self.counters["asked"] += 1
            self.sink.advance()

    def _attempt_failed(self, err: RequestFailed, attempt: int) -> None:
        """A retried attempt: kept for the record (final failures are stored by _ask)."""
        self.store.add_error(self.run_id, _current_query.get(), err.kind, err.message,
                             status_code=err.status_code, attempt=attempt, final=False)



# =========================================================================== 2. analysis
# Stored answers -> stances (judged once, resumable) -> clusters -> distributions -> contradictions
# -> bugs -> triage lifecycle. Owner: analysis (issue 4). Stage logic lives in cluster.py,
# graph.py and bugs.py; this section only wires them to the store and the judges.

from dataclasses import replace as _replace  # noqa: E402

from .bugs import fingerprint as _fingerprint  # noqa: E402
from .bugs import to_bugs as _to_bugs  # noqa: E402
from . import verify as _verify  # noqa: E402


# scikit-learn and networkx take seconds to import: load them only when an analysis runs, so
# `behaviordbg --help`, `run` and the pytest plugin start fast.
def _cluster_answers(*args: Any, **kwargs: Any) -> Any:
    from .cluster import cluster_answers

    return cluster_answers(*args, **kwargs)


def _distributions(*args: Any, **kwargs: Any) -> Any:
    from .graph import distributions

    return distributions(*args, **kwargs)


def _find_contradictions(*args: Any, **kwargs: Any) -> Any:
    from .graph import find_contradictions

    return find_contradictions(*args, **kwargs)

from .types import Answer as _Answer  # noqa: E402
from .types import Bug as _Bug  # noqa: E402
from .types import Claim as _Claim  # noqa: E402
from .types import Manifest as _Manifest  # noqa: E402
from .types import Stance as _Stance  # noqa: E402
from .types import suite_from_dict as _suite_from_dict  # noqa: E402

JUDGE_BATCH = 256  # stances are saved after every batch, so a killed analysis resumes
LLM_JUDGES = ("llm", "cascade")


@dataclass
class AnalyzeOptions:
    """How to analyze a run. judge_base_url None + llm/cascade: the embedded local model."""

    judge: str = "rules"
    judge_base_url: str | None = None
    judge_model: str | None = None
    judge_api_key_env: str = "OPENAI_API_KEY"
    embeddings: bool = False
    embeddings_model: str | None = None
    reuse_stances: bool = True
    judge_concurrency: int = 2
    # --verify: a second judge re-reads the decisive evidence (behaviordbg.verify). None: let
    # check() decide (see CHECK_VERIFIES_WITH_EMBEDDED_MODEL); analyze_run treats None as False.
    verify: bool | None = False
    verify_judge: str = "auto"  # auto | llm | rules
    verify_base_url: str | None = None  # None + llm: the embedded local model
    verify_model: str | None = None
    verify_api_key_env: str = "OPENAI_API_KEY"


@dataclass
class AnalysisSummary:
    """What one analysis found; `bugs` carry their current triage status."""

    run_id: str
    analysis_id: str
    judge: str
    answers: int
    judged: int  # judged in this invocation (the rest were reused)
    judge_errors: int
    contradictions: int
    bugs: list[_Bug]
    elapsed_s: float
    lifecycle: dict[str, Any]
    model: str = ""
    clusters: int = 0
    mixed_clusters: int = 0  # answer modes whose members got opposite stances: judge errors?
    uncertain_bugs: int = 0
    candidates: list[_Bug] = field(default_factory=list)  # held back: evidence too weak
    verification: dict[str, Any] = field(default_factory=dict)  # --verify: judge and counts

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["bugs"] = len(self.bugs)
        d["candidates"] = len(self.candidates)
        d["candidate_fingerprints"] = [b.fingerprint for b in self.candidates]
        d["by_severity"] = {
            s: sum(b.severity == s for b in self.bugs) for s in ("critical", "high", "medium", "low")
        }
        d["fingerprints"] = [b.fingerprint for b in self.bugs]
        return d


def judge_setting(opts: AnalyzeOptions) -> str:
    """The key stances are stored under: the judge kind, plus the judge model when one is named,
    so switching judge model never reuses another model's verdicts."""
    if opts.judge in LLM_JUDGES and opts.judge_model:
        return f"{opts.judge}:{opts.judge_model}"
    return opts.judge


def run_suites(run: dict[str, Any]) -> list[Suite]:
    """The suites a run was made with: its stored snapshots, else its suite files.

    Files are loaded together, as the run loaded them: a rule in one suite may name a claim of
    another, so one file alone may not validate."""
    from . import suites as suites_mod

    refs = list(run.get("suites") or [])
    files = [r for r in refs if not r.get("snapshot")]
    by_name: dict[str, Suite] = {}
    if files:
        try:
            loaded = suites_mod.load_suites(list(dict.fromkeys(str(r["path"]) for r in files)))
        except BehaviordbgError as err:
            raise BehaviordbgError(
                f"run {run['id']}: its suites have no stored snapshot and the files cannot be"
                f" loaded:\n{err.message}",
                hint="restore the suite files as they were, or probe again with this version",
            ) from None
        by_name = {s.name: s for s in loaded}
    out: list[Suite] = []
    for ref in refs:
        if ref.get("snapshot"):
            out.append(_suite_from_dict(ref["snapshot"]))
        elif ref.get("name") in by_name:
            out.append(by_name[ref["name"]])
        else:
            raise BehaviordbgError(
                f"run {run['id']}: suite {ref.get('name')!r} is no longer in {ref.get('path')}",
                hint="restore the suite file as it was when the run was made",
            )
    return out


def run_manifest(run: dict[str, Any]) -> _Manifest:
    """The deployment manifest recorded with the run; a plain chat model when none was."""
    m = run.get("manifest") or {}
    return _Manifest(
        name=str(m.get("name") or "chat"),
        capabilities={str(k): bool(v) for k, v in (m.get("capabilities") or {}).items()},
        claim_truth={str(k): bool(v) for k, v in (m.get("claim_truth") or {}).items()},
        path=m.get("path"),
    )


def analyze_run(
    store: Store,
    run_id: str,
    opts: AnalyzeOptions,
    progress: ProgressSink | None = None,
    *,
    suites: list[Suite] | None = None,
) -> AnalysisSummary:
    """Judge (only what is not judged yet), cluster, find contradictions and bugs; store it all.

    `suites`: the run's suites when the caller has them in hand (check(), the pytest plugin);
    otherwise they come from the run's stored snapshots, else from its suite files."""
    return asyncio.run(analyze_run_async(store, run_id, opts, progress, suites=suites))


async def analyze_run_async(
    store: Store,
    run_id: str,
    opts: AnalyzeOptions,
    progress: ProgressSink | None = None,
    *,
    suites: list[Suite] | None = None,
) -> AnalysisSummary:
    """The same as analyze_run, inside a running event loop."""
    t0 = time.perf_counter()
    run = store.get_run(run_id)  # resolves "latest" and prefixes; StoreError names the fix
    run_id = run["id"]
    suites = suites if suites is not None else run_suites(run)
    claims: dict[str, _Claim] = {c.id: c for s in suites for c in s.claims}
    answers = list(store.iter_answers(run_id))
    if not answers:
        raise BehaviordbgError(
            f"run {run_id} has no answers to analyze",
            hint=f"finish it first: behaviordbg run --resume {run_id}",
        )
    setting = judge_setting(opts)
    vplan = _verify.plan_for(opts) if opts.verify else None  # a bad --verify-judge fails first
    analysis_id = store.start_analysis(run_id, setting)
    stances, judged = await _judge_missing(store, run_id, answers, claims, opts, setting, progress)
    judge_errors = sum(1 for a in answers if stances[a.response_id].label == "error")
    vectors = await _embeddings(answers, run, opts) if opts.embeddings else None
    clusters = _cluster_answers(answers, stances, vectors=vectors)
    dists = _distributions(answers, stances)
    contradictions = _find_contradictions(suites, run_manifest(run), answers, stances)
    verification: dict[str, Any] = {}
    if vplan is not None:
        before = {b.fingerprint: b.candidate for b in _to_bugs(contradictions, claims)}
        contradictions, verification = await _verify.verify_with(store, run_id, contradictions,
                                                                 claims, vplan, opts)
    found = _to_bugs(contradictions, claims)
    bugs = [b for b in found if not b.candidate]
    candidates = [b for b in found if b.candidate]
    if vplan is not None:
        verification.update(
            confirmed=len(bugs), demoted=sum(not before.get(b.fingerprint, True) for b in candidates),
            promoted=sum(before.get(b.fingerprint, False) for b in bugs),
            unconfirmed=sum(before.get(b.fingerprint, False) for b in candidates))
    summary = {
        "judge": setting, "answers": len(answers), "judged": judged, "judge_errors": judge_errors,
        "contradictions": len(contradictions), "bugs": len(bugs), "candidates": len(candidates),
        "mixed_clusters": sum(c.mixed for c in clusters), "embeddings": bool(vectors),
        "verification": verification,
    }
    # One transaction: readers (and `bugs latest`, `export latest`) see this analysis whole or
    # not at all, even if the process is killed mid-save.
    with store.transaction():
        store.save_analysis(
            analysis_id, clusters=clusters, distributions=dists,
            contradictions=[(_fingerprint(c), c) for c in contradictions], summary=summary,
        )
        store.save_candidates(candidates, run_id=run_id, analysis_id=analysis_id,
                              model=run["model"])
        lifecycle = _triage.record_bugs(
            store, run_id=run_id, analysis_id=analysis_id, model=run["model"], bugs=bugs,
            distributions=dists, candidates=candidates,
        )
        _fault_point("analysis-save")
    stored = store.bugs_for_analysis(analysis_id)
    return AnalysisSummary(
        run_id=run_id, analysis_id=analysis_id, judge=setting, answers=len(answers),
        judged=judged, judge_errors=judge_errors, contradictions=len(contradictions),
        bugs=stored, elapsed_s=round(time.perf_counter() - t0, 3), lifecycle=dict(lifecycle),
        model=run["model"], clusters=len(clusters), mixed_clusters=summary["mixed_clusters"],
        uncertain_bugs=sum(not b.certain for b in stored),
        candidates=store.candidates_for_analysis(analysis_id), verification=verification,
    )


async def _embeddings(answers: list[_Answer], run: dict[str, Any], opts: AnalyzeOptions) -> Any:
    from .embeddings import embed

    return await embed(answers, run, opts)


def _fault_point(name: str) -> None:
    """Fault injection for the atomicity test: with BEHAVIORDBG_FAULT="<name>:<file>" the process
    writes <file> and hangs here, so a test can SIGKILL it at exactly this point. Unset (always,
    outside that test) it does nothing."""
    spec = os.environ.get("BEHAVIORDBG_FAULT", "")
    point, _, marker = spec.partition(":")
    if point != name or not marker:
        return
    with open(marker, "w", encoding="utf-8") as fh:
        fh.write(str(os.getpid()))
    time.sleep(3600)


async def _judge_missing(
    store: Store, run_id: str, answers: list[_Answer], claims: dict[str, _Claim],
    opts: AnalyzeOptions, setting: str, progress: ProgressSink | None,
) -> tuple[dict[str, _Stance], int]:
    from .stances import judge_missing

    return await judge_missing(store, run_id, answers, claims, opts, setting,
                               progress or NullProgress(), batch_size=JUDGE_BATCH)


CHECK_VERIFIES_WITH_EMBEDDED_MODEL = True
"""Whether `check` runs the verification pass by default when it probes the embedded model (no
--base-url): the server is up already, and verifying costs a small fraction of the run; see
BENCHMARKS.md ("Verification pass") for the measurement behind this. --verify/--no-verify win."""


def check(
    store: Store,
    run_opts: RunOptions,
    analyze_opts: AnalyzeOptions,
    progress: ProgressSink | None = None,
    judge_progress: ProgressSink | None = None,
) -> tuple[RunSummary, AnalysisSummary]:
    """Probe, then analyze the new run. With an llm/cascade judge (or an llm verification) and no
    endpoints given, one embedded local server answers the probes and judges them (not two
    servers side by side). `analyze_opts.verify=None`: verify when the embedded model answers."""
    if analyze_opts.judge_base_url:
        check_base_url(analyze_opts.judge_base_url, "--judge-base-url")
    if analyze_opts.verify is None:
        analyze_opts = _replace(analyze_opts, verify=(
            CHECK_VERIFIES_WITH_EMBEDDED_MODEL and not run_opts.base_url and not run_opts.resume))
    judge_local = analyze_opts.judge in LLM_JUDGES and not analyze_opts.judge_base_url
    shared = ((judge_local or _verify.needs_local_llm(analyze_opts))
              and not run_opts.base_url and not run_opts.resume)
    if not shared:
        summary = _gate(run_probes(store, run_opts, progress))
        return summary, analyze_run(store, summary.run_id, analyze_opts, judge_progress,
                                    suites=run_opts.suites)
    with _local_serve() as server:
        run_opts = _replace(run_opts, base_url=server.base_url, model=server.model)
        if judge_local:
            analyze_opts = _replace(
                analyze_opts, judge_base_url=server.base_url,
                judge_model=analyze_opts.judge_model or server.model,
            )
        if _verify.needs_local_llm(analyze_opts):
            analyze_opts = _replace(
                analyze_opts, verify_base_url=server.base_url,
                verify_model=analyze_opts.verify_model or server.model,
            )
        summary = _gate(run_probes(store, run_opts, progress))
        return summary, analyze_run(store, summary.run_id, analyze_opts, judge_progress,
                                    suites=run_opts.suites)


def _gate(summary: RunSummary) -> RunSummary:
    """A run that failed --max-failed is never analysed as if it were complete: RunFailed."""
    if summary.ok:
        return summary
    top = summary.top_error or {}
    hint = top.get("hint") or "check the endpoint, then resume the run"
    if top.get("resume", True):
        hint += f"; then: behaviordbg run --resume {summary.run_id}"
    raise RunFailed(summary.failure_message(), hint, summary=summary)



# =========================================================================== 3. triage
# Lifecycle, diff, stats and exports (logic in behaviordbg.triage and behaviordbg.export; the
# analysis section calls triage.record_bugs after storing its bugs).

from . import export as _export  # noqa: E402
from . import triage as _triage  # noqa: E402
from .errors import StoreError as _StoreError  # noqa: E402
from .types import to_dict as _to_dict  # noqa: E402


def bugs_report(
    store: Store, run_id: str, *, status: str | None = None, candidates: bool = False
) -> dict[str, Any]:
    """A run's bugs (newest analysis) with triage fields, as plain data for the CLI/dashboard.

    Every row says whether it is a candidate; candidates (held back for weak evidence) are
    listed only when asked for, after the bugs, but always counted (`candidates_held_back`)."""
    analysis = store.require_analysis(run_id)
    bugs = _triage.list_bugs(store, analysis["run_id"], status)
    rows = []
    for bug in bugs:
        rec = store.get_bug(bug.fingerprint)
        rows.append({**_to_dict(bug), "assignee": rec["assignee"], "labels": rec["labels"],
                     "regression": bool(rec["regression"]), "first_seen_run": rec["first_seen_run"]})
    held = store.candidates_for_analysis(analysis["id"])
    if candidates:
        for bug in held:
            if status is None or bug.status == status:
                rows.append({**_to_dict(bug), "assignee": None, "labels": [], "regression": False,
                             "first_seen_run": None})
    return {"run_id": analysis["run_id"], "analysis_id": analysis["id"], "judge": analysis["judge"],
            "status_filter": status, "bugs": rows, "candidates_held_back": len(held),
            "verification": analysis["summary"].get("verification") or {}}


def triage_bug(store: Store, fingerprint: str, **changes: Any) -> dict[str, Any]:
    """Change a bug's status/assignee/labels/notes, with history (see triage.triage)."""
    return _triage.triage(store, fingerprint, **changes)


def bug_history_report(store: Store, fingerprint: str) -> dict[str, Any]:
    """A bug's triage record and its full history."""
    try:
        bug = store.get_bug(fingerprint)
    except _StoreError as err:
        raise _triage.TriageError(str(err), "list bugs with `behaviordbg bugs latest`") from err
    return {"bug": bug, "history": store.bug_history(bug["fingerprint"])}


def diff_report(store: Store, run_a: str, run_b: str) -> dict[str, Any]:
    """New / resolved / not reproduced / persisting / changed bugs between two runs; `warnings`
    says when the comparison cannot mean much (a run against itself)."""
    d = _triage.diff_runs(store, run_a, run_b).to_dict()
    d["warnings"] = []
    if d["run_a"] == d["run_b"]:
        d["warnings"].append(
            f"both sides are run {d['run_a']}: every bug persists by definition; compare two"
            " different runs (see `behaviordbg runs`)")
    return d


def stats_report(store: Store) -> dict[str, Any]:
    """Judge precision per judge and contradiction kind, from triaged bugs."""
    return _triage.judge_stats(store)


def export_report(
    store: Store, run_id: str, fmt: str, out: str, *, base_dir: str | None = None,
    gh_commands: bool = False, candidates: bool = False,
) -> dict[str, Any]:
    """Write an export (bugs only, unless `candidates`); returns where it went (and the gh
    script, if asked for)."""
    path = _export.export_bugs(store, run_id, fmt, out, base_dir=base_dir, gh_commands=gh_commands,
                               candidates=candidates)
    result: dict[str, Any] = {"format": fmt, "path": str(path),
                              "run_id": store.resolve_run(run_id)}
    if gh_commands:
        result["gh_script"] = str(_export.gh_script_path(path))
    return result
