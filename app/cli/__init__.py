"""The `corpmail` command line (Typer). Bad input gets one line naming what is wrong, exit code 2."""
from __future__ import annotations

import sys

from app.cli import episodes, monitor, scenarios  # noqa: F401  (register their commands)
from app.cli.common import UsageProblem, app, err


def main() -> None:
    try:
        app()
    except UsageProblem as exc:
        err.print(f"error: {exc}", highlight=False)
        sys.exit(2)
