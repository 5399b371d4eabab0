"""pytest plugin: probe suites as tests, so a model change is gated in CI like a code change.

    pytest probes/                                   # the embedded local model
    pytest probes/ --bdbg-base-url http://host/v1 --bdbg-model NAME --bdbg-baseline RUN_ID

Each suite YAML becomes a File collector; each claim a collector with one item per consistency
check (`has_physical_body::say_do`), and each rule one item (`rule::can_lift=>has_physical_body`).
The model is queried once per session, concurrently, through `behaviordbg.pipeline` (the same engine,
cache and database as the CLI), on the first item's setup; items then only look up their bugs.

This module is imported in every pytest run of any project that has behaviordbg installed, so it
must cost nothing when no suite is collected: only stdlib and pytest at module level, behaviordbg's
own stages imported inside the hooks, no network and no files written unless a suite is selected.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _pytest._code.code import ReprFileLocation, TerminalRepr  # already loaded by pytest itself

if TYPE_CHECKING:  # names only: nothing heavy is imported at run time
    from .types import Bug, Claim, Evidence, Manifest, Rule, Suite

CHECKS: tuple[str, ...] = ("stable", "paraphrase", "say_do", "manifest")
"""Item names per claim; a bug of kind K fails the item `claim::_KIND_TO_CHECK[K]`."""
_KIND_TO_CHECK = {"unstable": "stable", "paraphrase": "paraphrase", "say_do": "say_do",
                  "manifest": "manifest"}
_QUIET_STATUSES = ("false_positive", "wont_fix")  # triaged away: reported as xfail, never fail
_SUITE_KEY = re.compile(r"^suite\s*:", re.MULTILINE)
_ANSWER_CHARS = 240
_MAX_EVIDENCE = 6

_OPTIONS: tuple[tuple[str, str, str], ...] = (
    # (name, metavar, help) -- each is `--bdbg-NAME` and ini key `bdbg_NAME`
    ("base_url", "URL", "OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1. "
                        "Default: the embedded local model."),
    ("model", "NAME", "model name sent to the endpoint."),
    ("api_key_env", "VAR", "environment variable holding the API key (never stored). "
                           "Default: OPENAI_API_KEY."),
    ("samples", "N", "samples per prompt (default 1); >= 2 adds the `stable` check per claim."),
    ("temperature", "T", "sampling temperature (default 0.7)."),
    ("concurrency", "N", "requests in flight at once (default 8; 2 suits the embedded model)."),
    ("timeout", "SECONDS", "per-request timeout (default 60; raise it on a slow or busy machine)."),
    ("max_failed", "SHARE", "every check errors when more than this share of the queries fail "
                            "(default 5%; e.g. 0.2 or 20%), or when none is answered, as "
                            "`behaviordbg check --max-failed` exits 3."),
    ("judge", "KIND", "stance judge: rules (default, offline) | llm | cascade."),
    ("judge_base_url", "URL", "endpoint of the llm/cascade judge. Default: the embedded model."),
    ("judge_model", "NAME", "model of the llm/cascade judge."),
    ("manifest", "PATH", "deployment manifest (what the model under test can really do); a path "
                         "or a shipped name (chat, agent-with-tools). Default: plain chat model."),
    ("db", "PATH", "SQLite database shared with the CLI. Default: $BEHAVIORDBG_DB, else "
                   ".behaviordbg/behaviordbg.db."),
    ("baseline", "RUN_ID", "regression gate: fail only on bugs this baseline run did not have; "
                           "known bugs are reported as xfail."),
    ("include_candidates", "yes|no", "also fail on candidates: contradictions held back because a "
                                     "side rests on weak verdicts (default no)."),
)


# =========================================================================== options


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("behaviordbg", "behaviordbg probe suites (pytest probes/)")
    for name, metavar, text in _OPTIONS:
        group.addoption(f"--bdbg-{name.replace('_', '-')}", dest=f"bdbg_{name}", default=None,
                        metavar=metavar, help=text)
        parser.addini(f"bdbg_{name}", f"default for --bdbg-{name.replace('_', '-')}",
                      default="")
    parser.addini("bdbg_suites", "probe suite files or folders collected even when not given on "
                                 "the command line (relative to the ini file)", type="paths",
                  default=[])


def _opt(config: pytest.Config, name: str) -> str | None:
    """Command line first, then the ini key; blank counts as unset."""
    value = config.getoption(f"bdbg_{name}", None)
    if value is None or str(value).strip() == "":
        value = config.getini(f"bdbg_{name}")
    text = str(value or "").strip()
    return text or None


def _num(config: pytest.Config, name: str, kind: type, default: Any) -> Any:
    raw = _opt(config, name)
    if raw is None:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise pytest.UsageError(
            f"--bdbg-{name.replace('_', '-')}={raw!r} (or ini bdbg_{name}) is not a number\n"
            f"  fix: pass e.g. --bdbg-{name.replace('_', '-')}={default}"
        ) from None


def _max_failed(config: pytest.Config) -> float:
    from .errors import BehaviordbgError
    from .pipeline import parse_max_failed

    try:
        return parse_max_failed(_opt(config, "max_failed"))
    except BehaviordbgError as err:
        raise pytest.UsageError(f"--bdbg-max-failed (or ini bdbg_max_failed): {err}") from None


@dataclass
class Settings:
    """Every plugin option, resolved once (command line over ini over environment)."""

    base_url: str | None
    model: str | None
    api_key_env: str
    samples: int
    temperature: float
    concurrency: int
    timeout: float
    max_failed: float
    judge: str
    judge_base_url: str | None
    judge_model: str | None
    manifest: str | None
    db: str
    baseline: str | None
    include_candidates: bool = False

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        samples = _num(config, "samples", int, 1)
        if samples < 1:
            raise pytest.UsageError("--bdbg-samples must be >= 1")
        judge = _opt(config, "judge") or "rules"
        if judge not in ("rules", "llm", "cascade"):
            raise pytest.UsageError(
                f"--bdbg-judge={judge!r} is unknown; fix: use rules, llm or cascade"
            )
        db = _opt(config, "db") or os.environ.get("BEHAVIORDBG_DB") or ".behaviordbg/behaviordbg.db"
        if db != ":memory:" and not os.path.isabs(db):
            db = str(config.invocation_params.dir / db)
        return cls(
            base_url=_opt(config, "base_url"),
            model=_opt(config, "model"),
            api_key_env=_opt(config, "api_key_env") or "OPENAI_API_KEY",
            samples=samples,
            temperature=_num(config, "temperature", float, 0.7),
            concurrency=max(1, _num(config, "concurrency", int, 8)),
            timeout=_num(config, "timeout", float, 60.0),
            max_failed=_max_failed(config),
            judge=judge,
            judge_base_url=_opt(config, "judge_base_url"),
            judge_model=_opt(config, "judge_model"),
            manifest=_opt(config, "manifest"),
            db=db,
            baseline=_opt(config, "baseline"),
            include_candidates=(_opt(config, "include_candidates") or "no").lower()
            in ("1", "yes", "true", "on"),
        )


# =========================================================================== collection


_STATE = pytest.StashKey["_State"]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bdbg: a behaviordbg probe-suite check (pytest probes/)")
    config.stash[_STATE] = _State(config)


def _state(config: pytest.Config) -> _State:
    return config.stash[_STATE]


def _roots(config: pytest.Config) -> tuple[list[Path], list[Path]]:
    """(paths given on the command line, ini testpaths dirs) -- only explicit paths collect suites.

    A bare `pytest` (args from `testpaths` or the current dir) collects no suite, so a project's
    own YAML fixtures are never run as probes.
    """
    explicit: list[Path] = []
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        for arg in config.args:
            part = arg.split("::", 1)[0]
            if part and not part.startswith("-"):
                explicit.append((config.invocation_params.dir / part).resolve())
    testpaths = [(config.rootpath / p).resolve() for p in config.getini("testpaths")]
    return explicit, testpaths


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _wanted(config: pytest.Config, path: Path) -> bool:
    """Under an explicit path or a `bdbg_suites` ini path. Inside a `testpaths` dir (e.g. tests/),
    only when a path below that dir was named: `pytest tests/` must not run tests/data/*.yaml."""
    path = path.resolve()
    if any(_under(path, Path(p).resolve()) for p in config.getini("bdbg_suites")):
        return True
    explicit, testpaths = _roots(config)
    for root in explicit:
        if not _under(path, root):
            continue
        # a testpaths dir holding this file, named itself or through an ancestor (`pytest .`)
        guarded = any(_under(path, t) and (root == t or not _under(root, t)) for t in testpaths)
        if not guarded:
            return True
    return False


def _is_suite_file(path: Path) -> bool:
    """A top-level `suite:` key: manifests (`manifest:`) and data files are not probe suites."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as f:
            head = f.read(256 * 1024)
    except OSError:
        return False
    return bool(_SUITE_KEY.search(head))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    if not _wanted(parent.config, file_path) or not _is_suite_file(file_path):
        return None
    return SuiteFile.from_parent(parent, path=file_path)


def _same_file(shown: str, path: Path) -> bool:
    try:
        return Path(shown).resolve() == path.resolve()
    except OSError:
        return False


def _tag_marker(config: pytest.Config, tag: str) -> pytest.MarkDecorator:
    """A marker per claim tag (`-m memory`), registered on the fly so --strict-markers accepts it."""
    name = re.sub(r"\W", "_", tag.strip()) or "untagged"
    if name[0].isdigit():
        name = f"tag_{name}"
    known = {line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")}
    if name not in known:
        config.addinivalue_line("markers", f"{name}: behaviordbg claim tag")
    return getattr(pytest.mark, name)


def _literal_name(lit: Any) -> str:
    return lit.claim if lit.value else f"!{lit.claim}"


def _claim_lines(path: Path) -> dict[str, int]:
    """0-based line of each `- id: claim` so failures point the editor at the claim."""
    out: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return out
    for i, line in enumerate(lines):
        m = re.match(r"\s*-?\s*id\s*:\s*['\"]?([\w.-]+)", line)
        if m and m.group(1) not in out:
            out[m.group(1)] = i
    return out


class SuiteFile(pytest.File):
    """One probe suite file: a claim collector per claim, plus a `rule` collector."""

    def collect(self) -> Iterator[pytest.Collector]:
        from .errors import BehaviordbgError

        state = _state(self.config)
        try:
            state.settings  # bad option values are reported here, once per file, not as a crash
            suite = state.load(self.path)
            manifest = state.manifest()
        except (BehaviordbgError, pytest.UsageError) as err:
            raise self.CollectError(str(err)) from None
        self.add_marker(pytest.mark.bdbg)
        lines = _claim_lines(self.path)
        tags = {c.id: c.tags for c in suite.claims}
        for claim in suite.claims:
            node = ClaimNode.from_parent(self, name=claim.id, claim=claim, manifest=manifest,
                                         line=lines.get(claim.id, 0))
            for tag in claim.tags:
                node.add_marker(_tag_marker(self.config, tag))
            yield node
        if suite.rules:
            yield RuleGroup.from_parent(self, name="rule", rules=suite.rules, tags=tags)


class ClaimNode(pytest.Collector):
    """The checks that apply to one claim, given its prompts, the manifest and --bdbg-samples."""

    def __init__(self, *, claim: Claim, manifest: Manifest, line: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.claim = claim
        self.manifest = manifest
        self.line = line

    def collect(self) -> Iterator[CheckItem]:
        c = self.claim
        samples = _state(self.config).settings.samples
        sayings = len(c.ask) + len(c.ask_negated)
        applies = {
            "stable": samples >= 2,  # one sample per prompt cannot disagree with itself
            "paraphrase": sayings >= 2,
            "say_do": sayings >= 1 and len(c.act) >= 1,
            "manifest": self.manifest.truth_of(c) is not None,
        }
        for check in CHECKS:
            if applies[check]:
                yield CheckItem.from_parent(self, name=check, check=check, claims=(c.id,),
                                            line=self.line)


class RuleGroup(pytest.Collector):
    """`rule::when=>then` items: one per implication the suite declares."""

    def __init__(self, *, rules: tuple[Rule, ...], tags: dict[str, tuple[str, ...]],
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.rules = rules
        self.tags = tags

    def collect(self) -> Iterator[CheckItem]:
        lines = _claim_lines(self.path)
        seen: set[str] = set()
        for rule in self.rules:
            name = f"{_literal_name(rule.when)}=>{_literal_name(rule.then)}"
            if name in seen:
                name = f"{name}[{rule.id}]"
            seen.add(name)
            claims = (rule.when.claim, rule.then.claim)
            item = CheckItem.from_parent(self, name=name, check="rule", claims=claims, rule=rule,
                                         line=lines.get(rule.when.claim, 0))
            item.extra_keyword_matches.add(rule.id)  # `-k rule-1a2b3c` selects it
            for tag in sorted({t for cid in claims for t in self.tags.get(cid, ())}):
                item.add_marker(_tag_marker(self.config, tag))
            yield item


# =========================================================================== items


class ProbeRunError(Exception):
    """The session's run or analysis failed (endpoint down, auth, bad suite): every item errors."""


class BugsFound(Exception):
    """An item's check found contradictions; the text is the whole, readable report."""

    def __init__(self, text: str, headline: str) -> None:
        super().__init__(headline)
        self.text = text
        self.headline = headline


class CheckItem(pytest.Item):
    """One consistency check; passes, fails with its bugs, or xfails when all are known."""

    def __init__(self, *, check: str, claims: tuple[str, ...], line: int,
                 rule: Rule | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.check = check
        self.claims = claims
        self.rule = rule
        self.line = line
        self.extra_keyword_matches.add(check)
        if self.config.pluginmanager.hasplugin("timeout"):
            # the first check's setup runs the whole session's probing (minutes on a local
            # model); the engine has its own per-request timeouts, so pytest-timeout's per-test
            # limit would only kill a healthy run
            self.add_marker(pytest.mark.timeout(0))

    def setup(self) -> None:
        _state(self.config).ensure(self.session)

    def runtest(self) -> None:
        outcome = _state(self.config).outcome
        assert outcome is not None, "setup() runs the probes first"
        missing = [c for c in self.claims if outcome.answers.get(c, 0) == 0]
        if missing:
            raise ProbeRunError(
                f"no answers for claim(s) {', '.join(missing)} in run {outcome.run_id}: every "
                f"query failed or was filtered out.\n  fix: see the errors with `behaviordbg runs` "
                f"and rerun (answers already stored are reused)"
            )
        bugs = outcome.bugs_for(self)
        for bug in bugs:
            self.user_properties.append(("fingerprint", bug.fingerprint))
            self.user_properties.append(("kind", bug.kind))
        if not bugs:
            return
        new = [b for b in bugs if outcome.why_known(b) is None]
        if not new:
            reasons = "; ".join(f"{b.fingerprint} {outcome.why_known(b)}" for b in bugs)
            pytest.xfail(f"known bug(s): {reasons}")
        text = render_failure(new, [b for b in bugs if b not in new], outcome)
        raise BugsFound(text, _headline(new))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> Any:
        if isinstance(excinfo.value, BugsFound):
            return _TextRepr(excinfo.value.text, excinfo.value.headline, str(self.path),
                             self.line + 1)
        if isinstance(excinfo.value, ProbeRunError):
            return self._short_repr(str(excinfo.value))
        return super().repr_failure(excinfo, style)

    def _short_repr(self, text: str) -> _TextRepr:
        return _TextRepr(text, text.splitlines()[0], str(self.path), self.line + 1)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.line, "::".join(self.nodeid.split("::")[1:])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed run errors each item at setup with its plain message, not a plugin traceback."""
    report = yield
    if (isinstance(item, CheckItem) and call.when == "setup" and call.excinfo is not None
            and isinstance(call.excinfo.value, ProbeRunError)):
        report.longrepr = item._short_repr(str(call.excinfo.value))
    return report


class _TextRepr(TerminalRepr):
    """Plain text for the terminal and JUnit, with a one-line `reprcrash` for the short summary."""

    def __init__(self, text: str, headline: str, path: str, lineno: int) -> None:
        self.text = text
        self.reprcrash = ReprFileLocation(path, lineno, headline)

    def toterminal(self, tw: Any) -> None:
        for line in self.text.splitlines():
            tw.line(line)


# =========================================================================== the session's run


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

    def why_known(self, bug: Bug) -> str | None:
        if bug.status in _QUIET_STATUSES:
            return f"triaged as {bug.status}"
        return self.known.get(bug.fingerprint)

    def bugs_for(self, item: CheckItem) -> list[Bug]:
        out = []
        for bug in self.bugs:
            if item.rule is not None:
                hit = bug.kind == "rule" and item.rule.id in self.rules_of.get(bug.fingerprint, ())
            else:
                hit = _KIND_TO_CHECK.get(bug.kind) == item.check and item.claims[0] in bug.claims
            if hit:
                out.append(bug)
                self.used.add(bug.fingerprint)
        return out


class _State:
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
        from .errors import SuiteError, SuiteErrors
        from .suites import load_suites

        key = str(path.resolve())
        if key not in self.loaded:
            group = sorted(str(p.resolve()) for p in path.parent.iterdir()
                           if p.suffix in (".yaml", ".yml") and p.is_file() and _is_suite_file(p))
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
            from .suites import load_manifest

            self._manifest = load_manifest(self.settings.manifest)
        return self._manifest

    def ensure(self, session: pytest.Session) -> None:
        """Run and analyse once, for every selected item; later calls reuse the result or error."""
        if not self.started:
            self.started = True
            items = [i for i in session.items if isinstance(i, CheckItem)]
            from .urls import redact_url

            where = redact_url(self.settings.base_url) if self.settings.base_url else None
            self._say(f"behaviordbg: {len(items)} checks selected; asking "
                      f"{where or 'the embedded local model'} once for all")
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
    from .errors import BehaviordbgError

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

    from . import pipeline
    from .store import Store

    if not suites:
        raise ProbeRunError("no probe suites were collected")
    store = Store.open(settings.db)
    try:
        baseline, known = (_baseline_bugs(store, settings.baseline) if settings.baseline
                           else (None, {}))
        run_opts = pipeline.RunOptions(
            suites=suites, base_url=settings.base_url, model=settings.model,
            api_key_env=settings.api_key_env, samples=settings.samples,
            temperature=settings.temperature, concurrency=settings.concurrency,
            timeout=settings.timeout, manifest_path=settings.manifest, claims=claims,
            label="pytest", max_failed=settings.max_failed,
        )
        analyze_opts = pipeline.AnalyzeOptions(judge=settings.judge,
                                               judge_base_url=settings.judge_base_url,
                                               judge_model=settings.judge_model)
        # check() = run_probes + analyze_run, sharing one embedded server with an llm judge
        run, analysis = pipeline.check(store, run_opts, analyze_opts, progress("probing"),
                                       progress("judging"))
        bugs = store.bugs_for_analysis(analysis.analysis_id) or list(analysis.bugs)
        held = store.candidates_for_analysis(analysis.analysis_id)
        if settings.include_candidates:  # opted in: candidates fail their items like bugs
            bugs += held
        rules_of = _rules_of(store.analysis_contradictions(analysis.analysis_id), bugs,
                             suite_rules=[r for s in suites for r in s.rules])
        answers = Counter(a.claim_id for a in store.iter_answers(run.run_id))
    finally:
        store.close()
    return Outcome(
        run_id=run.run_id, analysis_id=analysis.analysis_id, model=str(run.model),
        base_url=str(run.base_url), queries=run.queries, requests_sent=run.requests_sent,
        cache_hits=run.cache_hits, errors=run.errors, bugs=bugs, rules_of=rules_of,
        answers=dict(answers), known=known, db=settings.db, baseline=baseline,
        candidates_held_back=0 if settings.include_candidates else len(held),
    )


def _baseline_bugs(store: Any, baseline: str) -> tuple[str, dict[str, str]]:
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


def _rules_of(contradictions: Iterable[tuple[str, Any]], bugs: Iterable[Bug],
              suite_rules: Iterable[Rule]) -> dict[str, set[str]]:
    """fingerprint -> ids of the rules on its witness path (from the stored contradictions)."""
    out: dict[str, set[str]] = {}
    for fp, c in contradictions:
        if c.kind == "rule":
            out.setdefault(fp, set()).update(c.rules)
    for bug in bugs:  # fall back to the witness path when the contradiction carried no rule ids
        if bug.kind == "rule" and not out.get(bug.fingerprint):
            out[bug.fingerprint] = set(rules_on_path(bug.witness, suite_rules))
    return out


def rules_on_path(witness: Iterable[str], rules: Iterable[Rule]) -> list[str]:
    """Rule ids whose implication (or its contrapositive) is a step of a literal path."""
    steps = list(witness)
    pairs = set(zip(steps, steps[1:]))
    out = []
    for r in rules:
        fwd = (str(r.when), str(r.then))
        back = (str(r.then.negate()), str(r.when.negate()))
        if fwd in pairs or back in pairs:
            out.append(r.id)
    return out


# =========================================================================== rendering


def safe_text(text: str | None, limit: int = _ANSWER_CHARS) -> str:
    """Untrusted model output, made harmless for a terminal or XML: control, bidi and zero-width
    characters become visible escapes (\\n, \\x1b, \\u202e); long text is cut with an ellipsis
    (behaviordbg.escape.printable, the one escaper the CLI uses too)."""
    if text is None:
        return "(no answer)"
    from .escape import printable

    return printable(text, limit)


def _headline(bugs: list[Bug]) -> str:
    b = bugs[0]
    more = f" (+{len(bugs) - 1} more)" if len(bugs) > 1 else ""
    return f"[{b.severity}] {b.kind}: {safe_text(b.title, 120)} ({b.fingerprint}){more}"


def _sides(evidence: Iterable[Evidence]) -> tuple[list[Evidence], list[Evidence]]:
    """Split evidence into the two sides of the contradiction: what affirms vs the rest."""
    ev = list(evidence)
    affirm = [e for e in ev if e.stance == "affirm"]
    other = [e for e in ev if e.stance != "affirm"]
    return affirm, other


def _evidence_lines(evidence: list[Evidence], indent: str) -> list[str]:
    lines = []
    for e in evidence[:_MAX_EVIDENCE]:
        judge = f", {e.judge} {e.confidence:.2f}" if e.judge else ""
        lines.append(f"{indent}[{e.claim_id} / {e.framing}] Q: {safe_text(e.prompt, 200)}")
        lines.append(f"{indent}    A: {safe_text(e.response)}")
        lines.append(f"{indent}    => {e.stance}{judge}")
    if len(evidence) > _MAX_EVIDENCE:
        lines.append(f"{indent}... {len(evidence) - _MAX_EVIDENCE} more answers in the dashboard")
    return lines


def render_bug(bug: Bug, outcome: Outcome) -> list[str]:
    """One bug as a person reads it in CI: what contradicts what, and what to do about it."""
    db = "" if outcome.db.endswith(".behaviordbg/behaviordbg.db") else f" --db {outcome.db}"
    lines = [
        f"[{bug.severity}] {bug.kind}: {safe_text(bug.title, 200)}",
        f"  fingerprint: {bug.fingerprint}   claims: {', '.join(bug.claims)}   "
        f"rate: {bug.rate:.2f}   status: {bug.status}"
        + ("" if bug.certain else "   (uncertain: rests on few answers)"),
    ]
    if bug.candidate:
        lines.append(f"  candidate (weak evidence): {bug.evidence_note}")
    if bug.witness:
        lines.append(f"  rule chain: {' -> '.join(bug.witness)}")
    affirm, other = _sides(bug.evidence)
    if affirm and other:
        lines.append("  it says YES (affirms the claim):")
        lines += _evidence_lines(affirm, "    ")
        lines.append("  ... but also NO / otherwise:")
        lines += _evidence_lines(other, "    ")
    else:
        lines.append("  evidence:")
        lines += _evidence_lines(affirm + other, "    ")
    if bug.repro:
        lines.append("  repro prompts: " + " | ".join(safe_text(p, 120) for p in bug.repro))
    lines += [
        "  triage:",
        f"    behaviordbg triage {bug.fingerprint} --status confirmed{db}",
        f"    behaviordbg triage {bug.fingerprint} --status false_positive "
        f"--note \"why it is not a bug\"{db}",
    ]
    return lines


def render_failure(new: list[Bug], known: list[Bug], outcome: Outcome) -> str:
    head = (f"{len(new)} new bug(s)"
            + (f" not in baseline {outcome.baseline}" if outcome.baseline else "")
            + f" (run {outcome.run_id}, model {outcome.model}):")
    lines = [head, ""]
    for bug in new:
        lines += render_bug(bug, outcome) + [""]
    for bug in known:
        lines.append(f"also (known, not failing): {bug.fingerprint} {safe_text(bug.title, 120)} "
                     f"-- {outcome.why_known(bug)}")
    lines.append(f"see them all: behaviordbg dashboard"
                 f"{'' if outcome.db.endswith('.behaviordbg/behaviordbg.db') else ' --db ' + outcome.db}")
    return "\n".join(lines).rstrip()


# =========================================================================== summary


def pytest_terminal_summary(terminalreporter: Any) -> None:
    state = _state(terminalreporter.config)
    if not state.started:
        return
    tr = terminalreporter
    tr.write_sep("-", "behaviordbg")
    out = state.outcome
    if out is None:
        first = (state.error or "unknown error").splitlines()[0]
        tr.write_line(f"behaviordbg: no run ({first})")
        return
    new = [b for b in out.bugs if out.why_known(b) is None]
    db = "" if out.db.endswith(".behaviordbg/behaviordbg.db") else f" --db {out.db}"
    tr.write_line(
        f"behaviordbg: run {out.run_id} ({out.model}): {out.queries} queries, "
        f"{out.requests_sent} requests sent, {out.cache_hits} cache hits, {out.errors} failed; "
        f"{len(out.bugs)} bugs ({len(new)} failing, {len(out.bugs) - len(new)} known)"
        + (f"; {out.candidates_held_back} candidates held back (--bdbg-include-candidates=yes"
           " fails on them too)" if out.candidates_held_back else "")
    )
    unshown = [b for b in out.bugs if b.fingerprint not in out.used]
    if unshown:
        tr.write_line(f"behaviordbg: {len(unshown)} bug(s) outside the selected checks: "
                      + ", ".join(f"{b.fingerprint} ({b.kind})" for b in unshown[:10]))
    tr.write_line(f"behaviordbg: triage them in the dashboard: behaviordbg dashboard{db}")
