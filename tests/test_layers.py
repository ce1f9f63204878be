"""Start-up cost: commands that need no model never load LiteLLM (it costs ~2 s per process)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from typer.testing import CliRunner
from app.cli import app
result = CliRunner().invoke(app, {args!r})
assert result.exit_code == 0, result.output
print("litellm" in sys.modules)
"""


@pytest.mark.parametrize("args", [["--help"], ["scenarios", "list"], ["scenarios", "show", "blackmail"]])
def test_commands_that_call_no_model_do_not_import_litellm(args):
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_the_llm_package_is_lazy():
    code = "import sys, app.llm, app.llm.script; print('litellm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
