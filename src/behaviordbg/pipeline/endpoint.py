"""Which model answers a run: the endpoint it names, or the embedded local model.

A new run asks `--base-url` (with `--model`), or starts the embedded llama-server; a resumed run
asks what it was made against. Credentials are never stored, so a run made against a URL that
carried some can only be resumed with that URL given again.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

from ..config import RunOptions
from ..errors import BehaviordbgError
from ..store import Run


@contextlib.contextmanager
def embedded_server() -> Iterator[Any]:
    """The embedded local model (behaviordbg.local): yields an object with base_url, model, info."""
    from .. import local  # imported only when it serves: a run against an endpoint never needs it

    with local.serve() as server:
        yield server


@contextlib.contextmanager
def endpoint_for(
    opts: RunOptions, run: Run | None
) -> Iterator[tuple[str, str, dict[str, Any] | None]]:
    """(URL to call, model name, embedded-model facts or None) for a new or resumed run."""
    stored_url = run["base_url"] if run else None
    if stored_url and "***" in stored_url and not opts.base_url:
        raise BehaviordbgError(
            f"run {run['id'] if run else ''} was made against a URL with credentials, which are"
            " never stored", hint="resume with --base-url and the full URL again",
        )
    if stored_url and stored_url.startswith("batch://") and not opts.base_url:
        raise BehaviordbgError(
            f"run {run['id'] if run else ''} was written as a batch file for an offline engine,"
            " so it has no endpoint to ask live",
            hint="ingest its results (--batch-results FILE), or ask what is left live with"
            " --resume and --base-url URL",
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
    with embedded_server() as server:
        yield server.base_url, server.model, dict(server.info)


def fit_to_local(opts: RunOptions, info: dict[str, Any]) -> RunOptions:
    """The embedded server has a few slots on a small machine: more concurrent requests only queue
    inside it and time out, so match its slots and allow for the queue."""
    slots = int(info.get("parallel") or 2)
    return dataclasses.replace(
        opts, concurrency=min(opts.concurrency, slots), timeout=max(opts.timeout, 300.0)
    )
