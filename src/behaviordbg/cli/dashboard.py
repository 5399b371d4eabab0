"""CLI command: `behaviordbg dashboard` starts the Streamlit triage dashboard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import typer

from ..config import resolve_db
from ..errors import EXIT_TERMINATED, BehaviordbgError
from ..store import Store
from ._common import DbOption, console


class DashboardError(BehaviordbgError):
    """The dashboard cannot start (no database, app files missing, bad port)."""


def find_app() -> Path:
    """The app script Streamlit runs: $BEHAVIORDBG_DASHBOARD_APP, else the package's own
    (behaviordbg/dashboard/app.py, in a checkout and in an installed wheel alike)."""
    from ..dashboard import APP

    env = os.environ.get("BEHAVIORDBG_DASHBOARD_APP")
    path = Path(env) if env else APP
    if not path.is_file():
        raise DashboardError(f"cannot find the dashboard app at {path}",
                             "unset BEHAVIORDBG_DASHBOARD_APP, or point it at an app.py file")
    return path


def streamlit_command(app: Path, db: str, *, host: str, port: int, headless: bool) -> list[str]:
    """The `python -m streamlit run` command line for the app (pure: easy to test)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true" if headless else "false",
        "--browser.gatherUsageStats", "false",
        "--", "--db", db,
    ]


HELP = (
    "Open the triage dashboard on a run database, at http://127.0.0.1:8501 by default.\n\n"
    "Pages: [bold]Overview[/] (runs, bug counts, stance heat map, what changed), [bold]Graph[/] "
    "(the contradiction graph; click a claim or an edge for its evidence), [bold]Bugs[/] (filter, "
    "evidence side by side, triage, export the selection), [bold]Claims[/] (stance per framing "
    "with intervals, answer clusters) and [bold]Compare[/] (new, resolved, persisting bugs).\n\n"
    "It only reads the database, except when you save a triage action, so keep it open while "
    "`behaviordbg run` writes: new data shows on the next click.\n\n"
    "Example: behaviordbg dashboard --db .behaviordbg/behaviordbg.db --port 8502"
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""

    @app.command(help=HELP)
    def dashboard(
        db: str = DbOption,
        port: int = typer.Option(8501, "--port", min=1, max=65535, help="Port to serve on."),
        host: str = typer.Option(
            "127.0.0.1", "--host",
            help="Address to bind. Keep 127.0.0.1 unless you mean to share the dashboard: it can "
                 "change triage status, and it shows raw model answers.",
        ),
        headless: bool = typer.Option(
            True, "--headless/--open-browser",
            help="Headless (default) only prints the URL; --open-browser opens a browser tab.",
        ),
    ) -> None:
        """Open the triage dashboard on a run database (see HELP)."""
        path = resolve_db(db)
        if not Path(path).exists():
            raise DashboardError(
                f"no database at {path}",
                "run `behaviordbg run` (or `behaviordbg check`) first, or pass --db",
            )
        Store.open(path, readonly=True).close()  # a text file, a newer schema: say so here
        cmd = streamlit_command(find_app(), str(Path(path).resolve()), host=host, port=port,
                                headless=headless)
        console.print(f"behaviordbg dashboard on http://{host}:{port}  (database {path}; Ctrl+C "
                      "stops it)", markup=False)
        raise typer.Exit(serve(cmd))


def serve(cmd: list[str]) -> int:
    """Run Streamlit until it exits, Ctrl-C or SIGTERM; the child never outlives this process.

    Ctrl-C reaches the child through the terminal's process group; SIGTERM (sent to this pid
    only, e.g. by a service manager or a CI job) is passed on to the child, which is waited for,
    and the exit code is 143. On Linux the child also gets SIGTERM if this process dies by
    SIGKILL (PR_SET_PDEATHSIG)."""
    from ..local.server import _pdeathsig

    child = subprocess.Popen(cmd, preexec_fn=_pdeathsig())
    terminated: list[int] = []

    def on_sigterm(signum: int, frame: object) -> None:
        terminated.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        code = child.wait()
    except KeyboardInterrupt:
        code = 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop_child(child)
    return EXIT_TERMINATED if terminated else code


def stop_child(child: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `timeout` s; reaps the child."""
    if child.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            child.send_signal(sig)
            child.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return
