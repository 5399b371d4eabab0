"""One configuration for every front end: the CLI, the pytest plugin and the dashboard.

Each front end turns its own options (typer options, `--bdbg-*` / ini keys, the dashboard's `--db`)
into these records and hands them to the pipeline, triage, export or the store's read models. So a
default (the temperature, the API key variable, the database path) is written once, here, and a
judge name is checked once, by the judge registry (`behaviordbg.judges.judge_kind`).

Only the standard library is imported at module level: the pytest plugin reads this module in
every pytest run of a project that has behaviordbg installed, and must cost nothing there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config_file import KEYS, ProjectConfig, project_config
from .errors import BehaviordbgError

if TYPE_CHECKING:
    from .types import Suite

DEFAULT_DB = ".behaviordbg/behaviordbg.db"
DB_ENV = "BEHAVIORDBG_DB"
API_KEY_ENV = "OPENAI_API_KEY"  # the variable an endpoint's key is read from unless told otherwise


def resolve_db(db: str | None = None, project: ProjectConfig | None = None) -> str:
    """The database path: the option given, else $BEHAVIORDBG_DB, else `db` in the project file
    (behaviordbg.toml / [tool.behaviordbg]), else .behaviordbg/behaviordbg.db."""
    if db:
        return db
    if os.environ.get(DB_ENV):
        return os.environ[DB_ENV]
    found = project if project is not None else project_config()
    return str(found.values.get("db") or DEFAULT_DB)


@dataclass(frozen=True)
class PromptedTwin:
    """Makes a new run the prompted-baseline twin of `base_run_id`: the link (and the prompt) is
    stored with the run, in the transaction that creates it (behaviordbg.pipeline.baseline)."""

    base_run_id: str
    prompt_text: str
    prompt_sha256: str
    prompt_source: str


@dataclass
class RunOptions:
    """What a probe run is asked to do (`behaviordbg run`, `check`, the pytest plugin).

    `suites` skips loading: suites already in hand (the pytest plugin, tests, benchmarks) win over
    `suite_paths`. A field's default here is the default of its CLI option and plugin option."""

    suite_paths: list[str] | None = None
    base_url: str | None = None  # None: the embedded local model
    model: str | None = None
    api_key_env: str = API_KEY_ENV
    samples: int = 1
    temperature: float = 0.7
    max_tokens: int = 160
    concurrency: int = 8
    timeout: float = 60.0  # seconds per attempt
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
    suites: list[Suite] | None = None
    # The run fails (status "failed", exit code 3, check() does not analyse it) when more than this
    # share of its queries end without an answer, or when none is answered.
    max_failed: float = 0.05
    # Set by behaviordbg.pipeline.baseline only: this run is a prompted-baseline twin.
    prompted_twin: PromptedTwin | None = None
    # Follow-up challenges after each first answer (behaviordbg.suites.pushback): None as the
    # suites declare, True (`--pushback`) the defaults for every claim too, False none at all.
    pushback: bool | None = None
    # OpenAI Batch (pipeline/batch.py, docs/scale.md): write the run's requests to this JSONL
    # file and send nothing; ingest an output file into the run `resume` names; or submit the
    # requests to the endpoint's Batch API and poll it every `batch_poll` seconds (backing off).
    batch_file: str | None = None
    batch_results: str | list[str] | None = None  # paths or glob patterns
    batch: bool = False
    batch_poll: float = 5.0
    batch_max_lines: int = 50_000  # requests per submitted batch (OpenAI's limit); more: parts
    # With a manifest that declares tools, `act` requests are sent with them; this sends them
    # with the direct and negated questions too (a "no, I can't browse" next to a web_search call).
    tools_on_questions: bool = False
    # After each first answer to a yes/no question or request that the rules judge reads as
    # unclear, ask once more "Please answer with just yes or no: ..." in the same conversation
    # (behaviordbg.pipeline.clarify); the analysis reads the reply. Off by default: measured in
    # docs/judging.md ("Forced-choice follow-up").
    clarify: bool = False


@dataclass
class AnalyzeOptions:
    """How to analyze a run (`behaviordbg analyze`, `check`, the pytest plugin).

    A judge named here is checked by the judge registry when the options are made, so every front
    end refuses an unknown judge the same way and before any work starts. `judge_base_url` None
    with a judge that needs an endpoint (llm, cascade): the embedded local model."""

    judge: str = "rules"
    judge_base_url: str | None = None
    judge_model: str | None = None
    judge_api_key_env: str = API_KEY_ENV
    embeddings: bool = False
    embeddings_model: str | None = None
    reuse_stances: bool = True
    judge_concurrency: int = 2
    # --verify: a second judge re-reads the decisive evidence (behaviordbg.analysis.verify). None:
    # let check() decide (see CHECK_VERIFIES_WITH_EMBEDDED_MODEL); analyze_run treats None as False.
    verify: bool | None = False
    verify_judge: str = "auto"  # auto | llm | rules
    verify_base_url: str | None = None  # None + llm: the embedded local model
    verify_model: str | None = None
    verify_api_key_env: str = API_KEY_ENV

    def __post_init__(self) -> None:
        from .analysis.verify import check_verify_judge
        from .judges import judge_kind
        from .urls import check_base_url

        judge_kind(self.judge)
        if self.judge_base_url:
            check_base_url(self.judge_base_url, "--judge-base-url")
        check_verify_judge(self.verify_judge)

    @property
    def judge_needs_endpoint(self) -> bool:
        """Whether the analysis judge asks a model (llm, cascade), not only rules."""
        from .judges import needs_endpoint

        return needs_endpoint(self.judge)

    @property
    def judge_setting(self) -> str:
        """The key stances are stored under: the judge kind, plus the judge model when one is
        named, so switching judge model never reuses another model's verdicts."""
        if self.judge_needs_endpoint and self.judge_model:
            return f"{self.judge}:{self.judge_model}"
        return self.judge


@dataclass(frozen=True)
class Setting:
    """One resolved project setting and where it came from: `flag --samples`, `ini bdbg_samples`,
    `env BEHAVIORDBG_DB`, `file /path/behaviordbg.toml` or `default`."""

    key: str
    value: Any
    source: str


def setting_defaults() -> dict[str, Any]:
    """Each project-file key's default: the defaults of the options it stands for."""
    return {
        "endpoint": RunOptions.base_url, "model": RunOptions.model,
        "api-key-env": RunOptions.api_key_env, "samples": RunOptions.samples,
        "judge": AnalyzeOptions.judge, "manifest": RunOptions.manifest_path,
        "suites": RunOptions.suite_paths, "db": DEFAULT_DB, "fail-on": None,
    }


def resolve_settings(
    given: Mapping[str, tuple[Any, str]], project: ProjectConfig | None = None
) -> dict[str, Setting]:
    """Every project setting, layered: what the front end was given explicitly (`given`: key ->
    (value, source), from flags or ini keys) over $BEHAVIORDBG_DB (for `db`) over the project
    file over the defaults. The one place that decides precedence, for the CLI and the plugin.

    A judge named in the file is checked here, so its error names the file."""
    unknown = set(given) - set(KEYS)
    if unknown:
        raise AssertionError(f"not project settings: {sorted(unknown)}")  # a front-end bug
    found = project if project is not None else project_config()
    out: dict[str, Setting] = {}
    for key, default in setting_defaults().items():
        if key in given:
            value, source = given[key]
        elif key == "db" and os.environ.get(DB_ENV):
            value, source = os.environ[DB_ENV], f"env {DB_ENV}"
        elif key in found.values:
            value, source = found.values[key], found.source
        else:
            value, source = default, "default"
        out[key] = Setting(key, value, source)
    judge = out["judge"]
    if judge.source.startswith("file "):
        from .judges import judge_kind

        judge_kind(judge.value, option=f"`judge` in {found.path}")
    return out


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
