"""Item 10 of issue 10: a setting that cannot be used is one line naming it, exit 2, for every command
that opens the database; no traceback, and no folder is created for a SQLite URL."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import PG_ADMIN_URL

PG_BASE = PG_ADMIN_URL.rsplit("/", 1)[0]


def corpmail_env(env: dict[str, str], *args: str, cwd=None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CORPMAIL_")}
    full.update(env, LITELLM_LOCAL_MODEL_COST_MAP="True")
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


def one_line(proc: subprocess.CompletedProcess, expected: str) -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


BAD_SETTINGS = [
    ({"CORPMAIL_DATABASE_URL": "not a url"}, "CORPMAIL_DATABASE_URL: cannot parse"),
    (
        {"CORPMAIL_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/corpmail"},
        "CORPMAIL_DATABASE_URL: cannot use",
    ),
    (
        {"CORPMAIL_DATABASE_URL": f"{PG_BASE}/corpmail_no_such_db"},
        'database "corpmail_no_such_db" does not exist',
    ),
    ({"CORPMAIL_DATABASE_URL": "postgresql://postgres:s3cret@127.0.0.1:1/x"}, "postgres:***@127.0.0.1:1"),
    (
        {"CORPMAIL_DATABASE_URL": "mysql+pymysql://u@localhost/d"},
        "CORPMAIL_DATABASE_URL: the driver for 'mysql+pymysql'",
    ),
    ({"CORPMAIL_DATABASE_URL": "nosuchdb://u@localhost/d"}, "CORPMAIL_DATABASE_URL: no database driver"),
    ({"CORPMAIL_DATA_DIR": "/proc/corpmail/data"}, "CORPMAIL_DATA_DIR: cannot create '/proc/corpmail/data'"),
    ({"CORPMAIL_PORT": "99999"}, "CORPMAIL_PORT:"),
    ({"CORPMAIL_MAX_TURNS": "many"}, "CORPMAIL_MAX_TURNS:"),
]


@pytest.mark.parametrize("env, expected", BAD_SETTINGS)
def test_bad_setting_is_one_line_naming_it(env, expected):
    one_line(corpmail_env(env, "replay", "someepisode"), expected)


COMMANDS = [
    ["run", "-s", "blackmail", "-m", "scripted/benign"],
    ["run", "-s", "blackmail", "-m", "scripted/benign", "--watch", "--port", "8765"],
    ["serve", "--port", "8766"],
    ["replay", "someepisode"],
    ["db", "upgrade"],
    ["monitor", "approvals"],
    ["monitor", "approve", "1"],
    ["monitor", "rescore", "--all"],
    ["demo", "--port", "8767", "--exit"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a[:2]) for a in COMMANDS])
def test_every_command_that_opens_the_database_names_the_setting(args):
    one_line(
        corpmail_env({"CORPMAIL_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/corpmail"}, *args),
        "CORPMAIL_DATABASE_URL: cannot use the database at postgresql+psycopg://postgres@127.0.0.1:1/corpmail",
    )


def test_sqlite_file_in_a_missing_folder_is_refused_and_no_folder_is_made(tmp_path):
    target = tmp_path / "a" / "b" / "corpmail.db"
    proc = corpmail_env({"CORPMAIL_DATABASE_URL": f"sqlite:///{target}"}, "db", "upgrade")
    one_line(proc, f"CORPMAIL_DATABASE_URL: the folder '{target.parent}' of the SQLite file does not exist")
    assert not (tmp_path / "a").exists()


def test_data_dir_is_created_with_its_parents(tmp_path):
    data = tmp_path / "x" / "y"
    proc = corpmail_env({"CORPMAIL_DATA_DIR": str(data)}, "db", "upgrade")
    assert proc.returncode == 0, proc.stderr
    assert (data / "corpmail.db").is_file()


@pytest.mark.parametrize(
    "command", [["serve"], ["demo"], ["run", "-s", "blackmail", "-m", "scripted/benign", "--watch"]]
)
def test_out_of_range_port_option(tmp_path, command):
    proc = corpmail_env({"CORPMAIL_DATA_DIR": str(tmp_path)}, *command, "--port", "99999")
    one_line(proc, "Invalid value for '--port'")
