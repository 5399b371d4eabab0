"""CLI command: `behaviordbg dashboard` starts the Streamlit triage dashboard."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import typer

from ..errors import BehaviordbgError
from ..store import Store
from ._common import DbOption, console, resolve_db


class DashboardError(BehaviordbgError):
    """The dashboard cannot start (no database, app files missing, bad port)."""


def find_app() -> Path:
    """Where dashboards/app.py is: $BEHAVIORDBG_DASHBOARD_APP, the source checkout, or the
    copy a wheel installs under <prefix>/share/behaviordbg/dashboards/."""
    env = os.environ.get("BEHAVIORDBG_DASHBOARD_APP")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[3] / "dashboards" / "app.py")
    candidates.append(Path(sysconfig.get_path("data")) / "share" / "behaviordbg" / "dashboards"
                      / "app.py")
    for path in candidates:
        if path.is_file():
            return path
    raise DashboardError(
        "cannot find the dashboard app (dashboards/app.py); looked in: "
        + ", ".join(str(p) for p in candidates),
        "run from a source checkout (pip install -e .) or set BEHAVIORDBG_DASHBOARD_APP",
    )


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
        try:
            code = subprocess.call(cmd)
        except KeyboardInterrupt:
            code = 0
        raise typer.Exit(code)
