"""The `corpmail` command line (Typer). Bad input gets one line naming what is wrong, exit code 2."""

from __future__ import annotations

import sys

import typer.main
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # Typer's vendored Click

from app.cli import episodes, experiment, export, harness, leases, monitor, scenarios  # noqa: F401  (register their commands)
from app.cli.common import UsageProblem, app, err
from app.errors import DomainError


def main() -> None:
    command = typer.main.get_command(app)
    try:
        code = command.main(standalone_mode=False)
    except NoArgsIsHelpError as exc:  # a bare group: its help is the useful answer
        exc.show()
        sys.exit(exc.exit_code)
    except ClickException as exc:  # usage errors: one line naming the option, not a boxed banner
        err.print(f"error: {exc.format_message()} (see --help)", highlight=False, markup=False)
        sys.exit(exc.exit_code)
    except (UsageProblem, DomainError) as exc:  # bad input, or a service refusing a request
        err.print(f"error: {exc}", highlight=False, markup=False)
        sys.exit(2)
    except typer.Abort:
        err.print("aborted")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
