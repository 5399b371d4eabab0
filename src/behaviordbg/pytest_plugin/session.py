"""The session's one run: probe and analyze once, on the first selected check's setup, through
the same pipeline, cache and database as `behaviordbg check`; then each item looks up its bugs.

A run that fails becomes every item's error (ProbeRunError), never a plugin traceback.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .options import Settings

if TYPE_CHECKING:  # names only: nothing heavy is imported at run time
    from ..store import Store
    from ..types import Bug, Contradiction, Manifest, Rule, Suite
    from .items import CheckItem

KIND_TO_CHECK = {"unstable": "stable", "paraphrase": "paraphrase", "say_do": "say_do",
                 "manifest": "manifest", "caves": "holds_ground",
                 "value_conflict": "values", "fabricated_action": "say_do"}
"""The check a bug of each kind fails (rule bugs fail the items of the rules on their path).
A fabricated action (says a request was done, with no tool call) is what it says against what
it does, so it fails the claim's say_do item."""
QUIET_STATUSES = ("false_positive", "wont_fix")  # triaged away: reported as xfail, never fail


def _same_file(shown: str, path: Path) -> bool:
    try:
        return Path(shown).resolve() == path.resolve()
    except OSError:
        return False


class ProbeRunError(Exception):
    """The session's run or analysis failed (endpoint down, auth, bad suite): every item errors."""


STATE = pytest.StashKey["SessionState"]()


def session_state(config: pytest.Config) -> SessionState:
    return config.stash[STATE]


@dataclass
class Outcome:
    """What one session's run + analysis found, indexed for the items."""

    run_id: str
    analysis_id: str
    model: str
    base_url: str
    queries: int
    requests_sent: int
    cache_hits: int
    errors: int
    bugs: list[Bug]
    rules_of: dict[str, set[str]]  # fingerprint -> rule ids on its witness path
    answers: dict[str, int]  # claim id -> answered queries
    known: dict[str, str] = field(default_factory=dict)  # fingerprint -> baseline/triage reason
    db: str = ""
    baseline: str | None = None
    used: set[str] = field(default_factory=set)  # fingerprints some selected item reported
    candidates_held_back: int = 0  # weak-evidence contradictions not turned into failures
    # --bdbg-prompted-baseline: fingerprint -> its verdict in words, and the pair's summary
    prompting: dict[str, str] = field(default_factory=dict)
    prompting_summary: str = ""

    def why_known(self, bug: Bug) -> str | None:
        if bug.status in QUIET_STATUSES:
            return f"triaged as {bug.status}"
        return self.known.get(bug.fingerprint)

    def bugs_for(self, item: CheckItem) -> list[Bug]:
        out = []
        for bug in self.bugs:
            if item.rule is not None:
                hit = bug.kind == "rule" and item.rule.id in self.rules_of.get(bug.fingerprint, ())
            else:
                hit = KIND_TO_CHECK.get(bug.kind) == item.check and item.claims[0] in bug.claims
            if hit:
                out.append(bug)
                self.used.add(bug.fingerprint)
        return out


class SessionState:
    """Per-session plugin state: suites seen at collection, and the one lazy run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.suites: dict[str, Suite] = {}  # collected files
        self.loaded: dict[str, Suite] = {}  # collected files and the suites beside them
        self._settings: Settings | None = None
        self._manifest: Manifest | None = None
        self.outcome: Outcome | None = None
        self.error: str | None = None
        self.started = False

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_config(self.config)
        return self._settings

    def load(self, path: Path) -> Suite:
        """This file's suite, loaded with every suite file beside it: a rule may name a claim that
        a sibling suite defines (`pytest probes/embodiment.yaml` still needs probes/tools.yaml).
        Siblings join the run for their rules and the claims those rules name, nothing more.
        Only this file's own problems are its errors."""
        from ..errors import SuiteError, SuiteErrors
        from ..suites import load_suites
        from .collect import is_suite_file

        key = str(path.resolve())
        if key not in self.loaded:
            group = sorted(str(p.resolve()) for p in path.parent.iterdir()
                           if p.suffix in (".yaml", ".yml") and p.is_file() and is_suite_file(p))
            if key not in group:
                group.append(key)
            try:
                for s in load_suites(group):
                    self.loaded[str(Path(s.path).resolve())] = s
            except SuiteErrors as err:
                mine = [e for e in err.errors if _same_file(e.path, path)]
                if mine:
                    raise SuiteErrors(mine) from None
                try:  # the problems are in siblings: this file alone may still be fine
                    (suite,) = load_suites([key])
                except SuiteError as own:
                    raise own from None
                self.loaded[key] = suite
        self.suites[key] = self.loaded[key]
        return self.loaded[key]

    def manifest(self) -> Manifest:
        if self._manifest is None:
            from ..suites import load_manifest

            self._manifest = load_manifest(self.settings.run.manifest_path)
        return self._manifest

    def ensure(self, items: list[CheckItem]) -> None:
        """Run and analyse once, for every selected item; later calls reuse the result or error."""
        if not self.started:
            self.started = True
            from ..urls import redact_url

            base_url = self.settings.run.base_url
            where = redact_url(base_url) if base_url else None
            self._say(f"behaviordbg: {len(items)} checks selected; asking "
                      f"{where or 'the embedded local model'} once for all")
            if self.settings.run.samples < 2:  # why no `stable` check was collected
                self._say("behaviordbg: 1 sample per prompt, so no `stable` checks (samples of "
                          "one prompt disagreeing); --bdbg-samples 2 adds them")
            try:
                self.outcome = _execute(self.settings, list(self.loaded.values()),
                                        _claims_needed(items),
                                        lambda what: _LineProgress(what, self._say))
            except ProbeRunError as err:
                self.error = str(err)
            except Exception as err:  # noqa: BLE001 - becomes every item's error, not a crash
                self.error = _describe_error(err)
            except BaseException as err:  # a timeout plugin or Ctrl-C: the other items say so
                self.error = (f"the probe run was interrupted ({type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else 'no message'}); "
                              f"answers stored so far are reused by the next run")
                raise
        if self.error is not None:
            raise ProbeRunError(self.error)

    def _say(self, line: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        if capman is not None:
            with capman.global_and_fixture_disabled():
                reporter.write_line(line)
        else:
            reporter.write_line(line)


class _LineProgress:
    """A ProgressSink for pytest: a line now and then (CI logs are not terminals), never a bar."""

    def __init__(self, what: str, say: Callable[[str], None]) -> None:
        self.what = what
        self.say = say
        self.total = self.done = self.errors = 0
        self.next_pct = 10

    def start(self, total: int, done: int = 0) -> None:
        self.total, self.done = total, done
        if total:
            self.say(f"behaviordbg: {self.what}: {total - done} of {total} to do ...")

    def advance(self, n: int = 1, *, errors: int = 0) -> None:
        self.done += n
        self.errors += errors
        pct = 100 * self.done // self.total if self.total >= 20 else 0
        if pct >= self.next_pct and pct < 100:
            self.say(f"behaviordbg: {self.what} {self.done}/{self.total}"
                     + (f", {self.errors} errors" if self.errors else ""))
            self.next_pct = pct - pct % 10 + 10

    def finish(self) -> None:
        pass


def _claims_needed(items: list[CheckItem]) -> set[str]:
    """Only the claims of the selected checks are asked (`-k`); a rule check asks both its claims."""
    return {c for i in items for c in i.claims}


def _describe_error(err: BaseException) -> str:
    from ..errors import BehaviordbgError

    if isinstance(err, BehaviordbgError):
        return f"behaviordbg could not run the probe suites: {err}"
    tb = "".join(traceback.format_exception(type(err), err, err.__traceback__)[-6:])
    return (f"behaviordbg failed while running the probe suites: {type(err).__name__}: {err}\n"
            f"  (this looks like a behaviordbg bug; please report it with the traceback below)\n"
            f"{tb}")


def _execute(settings: Settings, suites: list[Suite], claims: set[str],
             progress: Callable[[str], Any]) -> Outcome:
    """The one place the plugin touches the pipeline: run, analyse, read back bugs by item."""
    from collections import Counter
    from dataclasses import replace

    from .. import pipeline
    from ..store import Store

    if not suites:
        raise ProbeRunError("no probe suites were collected")
    store = Store.open(settings.db)
    try:
        baseline, known = (_baseline_bugs(store, settings.baseline) if settings.baseline
                           else (None, {}))
        run_opts = replace(settings.run, suites=suites, claims=claims)
        prompting: dict[str, str] = {}
        prompting_summary = ""
        if settings.prompted_baseline:  # the same queries again with the manifest's prompt
            from ..pipeline.baseline import check_pair

            pair = check_pair(store, run_opts, settings.analyze, None, progress("probing"),
                              progress("probing (prompted)"), progress("judging"))
            run, analysis = pair.runs.base, pair.base
            prompting = {v.fingerprint: v.describe() for v in pair.comparison.verdicts}
            prompting_summary = pair.comparison.summary_line()
        else:
            # check() = run_probes + analyze_run, sharing one embedded server with an llm judge
            run, analysis = pipeline.check(store, run_opts, settings.analyze,
                                           progress("probing"), progress("judging"))
        bugs = store.bugs_for_analysis(analysis.analysis_id) or list(analysis.bugs)
        held = store.candidates_for_analysis(analysis.analysis_id)
        if settings.include_candidates:  # opted in: candidates fail their items like bugs
            bugs += held
        rules_of = _rules_of(store.analysis_contradictions(analysis.analysis_id), bugs,
                             [r for s in suites for r in s.rules])
        answers = Counter(a.claim_id for a in store.iter_answers(run.run_id))
    finally:
        store.close()
    return Outcome(
        run_id=run.run_id, analysis_id=analysis.analysis_id, model=str(run.model),
        base_url=str(run.base_url), queries=run.queries, requests_sent=run.requests_sent,
        cache_hits=run.cache_hits, errors=run.errors, bugs=bugs, rules_of=rules_of,
        answers=dict(answers), known=known, db=settings.db, baseline=baseline,
        candidates_held_back=0 if settings.include_candidates else len(held),
        prompting=prompting, prompting_summary=prompting_summary,
    )


def _baseline_bugs(store: Store, baseline: str) -> tuple[str, dict[str, str]]:
    """(run id, fingerprints its newest analysis found): the regression gate's allow-list.
    Resolved before this session's run, so `latest` is the newest run that existed already."""
    run_id = store.resolve_run(baseline)
    analysis = store.latest_analysis(run_id)
    if analysis is None:
        raise ProbeRunError(
            f"baseline run {run_id} has no analysis, so its bugs are unknown.\n"
            f"  fix: behaviordbg analyze {run_id}   (then rerun pytest)"
        )
    return run_id, {b.fingerprint: f"known in baseline {run_id}"
                    for b in store.bugs_for_analysis(analysis["id"])}


def _rules_of(
    contradictions: Iterable[tuple[str, Contradiction]], bugs: Iterable[Bug],
    suite_rules: list[Rule],
) -> dict[str, set[str]]:
    """fingerprint -> ids of the rules on its witness path (from the stored contradictions)."""
    from ..analysis.graph import rules_on_path

    out: dict[str, set[str]] = {}
    for fp, c in contradictions:
        if c.kind == "rule":
            out.setdefault(fp, set()).update(c.rules)
    for bug in bugs:  # fall back to the witness path when the contradiction carried no rule ids
        if bug.kind == "rule" and not out.get(bug.fingerprint):
            out[bug.fingerprint] = set(rules_on_path(bug.witness, suite_rules))
    return out
