"""Benchmark: one process against two — an experiment grid of scripted episodes played by
`corpmail experiment run FILE --workers N` (real CLI processes, as a user runs them).

    .venv/bin/python bench/scaleout_throughput.py [--samples 20] [--concurrency 4]
        [--pg postgresql://postgres@127.0.0.1:5432/test] [--no-sqlite] [--rounds 1] [--base-repo DIR]

Per backend it runs, each on a fresh database:
- `run --workers 1`: the in-process runner (one process);
- PostgreSQL also `submit` + one `experiment worker --drain` (the queue path with one process);
- `run --workers 2`: PostgreSQL: submit + two queue workers; SQLite: two runners sharing the file's claims.
Episodes/s is measured over the play span (first episode created → last finished, from the episode
rows), so process start-up (~3 s of imports each) is left out; wall seconds include it. CPU ms/ep is the
corpmail processes' user + system time per episode, start-up included; PG ms/ep is the local PostgreSQL
server's processes' CPU over the run per episode (read from /proc: it includes any other client's work).
The ratio is two processes over one on the same path. The load average before each run is printed: on
a shared machine (other work on the same cores) the ratio is a lower bound of what two free cores give;
the `machine` line measures that bound after each backend's rows: two pure-Python loops at once over one.
With `--base-repo DIR` (another checkout, e.g. `git archive REV | tar -x -C DIR`) every path is also
run with that checkout's code (`PYTHONPATH=DIR`, same virtualenv), interleaved with this one's, each
variant on its own fresh database.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import yaml
from sqlalchemy import func, select

from app.core.db import make_engine, new_session, scratch_postgres
from app.core.migrate import upgrade
from app.models import Episode
from app.models import Trial as TrialRow

CORPMAIL = str(Path(sys.executable).parent / "corpmail")


def grid(name: str, samples: int, concurrency: int) -> dict:
    return {
        "name": name,
        "scenarios": ["blackmail", "leaking"],
        "variables": {"urgency": ["replacement", "none"]},
        "models": ["scripted/blackmail", "scripted/benign"],
        "samples": samples,
        "concurrency": concurrency,
        "max_turns": 12,
    }


def play_span(url: str, name: str) -> tuple[int, float]:
    engine = make_engine(url)
    with new_session(engine) as s:
        ids = select(TrialRow.episode_id).where(TrialRow.experiment == name, TrialRow.status == "completed")
        n, first, last = s.execute(
            select(func.count(), func.min(Episode.created_at), func.max(Episode.finished_at)).where(
                Episode.id.in_(ids)  # type: ignore[attr-defined]
            )
        ).one()
    engine.dispose()
    return n, (last - first).total_seconds()


def run(
    url: str, path: str, samples: int, concurrency: int, folder: Path, code: str | None = None
) -> tuple[int, float, float, float, float]:
    name = f"bench-{secrets.token_hex(3)}"
    file = folder / f"{name}.yaml"
    file.write_text(yaml.safe_dump(grid(name, samples, concurrency)))
    env = {**os.environ, "CORPMAIL_DATABASE_URL": url, "CORPMAIL_DATA_DIR": str(folder)}
    if code:  # another checkout's code, first on the path of every corpmail process
        env["PYTHONPATH"] = os.pathsep.join(p for p in (code, env.get("PYTHONPATH")) if p)
    start, cpu, pg = time.perf_counter(), _children_cpu(), _postgres_cpu()
    if path == "queue, 1 worker":
        subprocess.run(
            [CORPMAIL, "experiment", "submit", str(file)], env=env, check=True, capture_output=True
        )
        cmd = [CORPMAIL, "experiment", "worker", "--drain", "--concurrency", str(concurrency)]
    else:
        workers = "2" if path.startswith("2") else "1"
        cmd = [CORPMAIL, "experiment", "run", str(file), "--json", "--workers", workers]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall, cpu, pg = time.perf_counter() - start, _children_cpu() - cpu, _postgres_cpu() - pg
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-1500:]}")
    if cmd[2] == "run":
        assert json.loads(done.stdout)["errored"] == 0, done.stdout
    n, span = play_span(url, name)
    return n, span, wall, cpu, pg


_SPIN = (
    "import time\nt = time.perf_counter() + {s}\nn = 0\n"
    "while time.perf_counter() < t:\n    for i in range(1000): n += 1\nprint(n)"
)


def machine_ceiling(seconds: float = 3.0) -> float:
    """What two processes can get from this machine right now: two pure-Python loops at once against
    one alone (2.0 on two free cores; less when other work shares them)."""

    def spin(k: int) -> int:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _SPIN.format(s=seconds)], stdout=subprocess.PIPE, text=True
            )
            for _ in range(k)
        ]
        return sum(int(p.communicate()[0]) for p in procs)

    before = spin(1)
    both = spin(2)
    return both / ((before + spin(1)) / 2)  # alone before and after: the load may change meanwhile


def _postgres_cpu() -> float:
    """CPU seconds used so far by this machine's PostgreSQL server processes (0 where /proc has none)."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, rest = stat.read_text().rpartition(")")
        except OSError:  # gone meanwhile
            continue
        if head.endswith("(postgres"):
            fields = rest.split()
            # utime, stime, and cutime, cstime: a connection's backend process exits with it, and
            # the server process that reaps it inherits its CPU time
            total += sum(int(f) for f in fields[11:15]) / tick
    return total


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes (the CLI and its workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def database(backend: str, pg: str | None, folder: Path):
    """A fresh, migrated database of `backend`."""
    if backend == "sqlite":
        url = f"sqlite:///{folder}/bench-{secrets.token_hex(3)}.db"
        upgrade(make_engine(url))
        yield url
        return
    assert pg
    with scratch_postgres(pg, "corpmail_bench") as url:
        upgrade(make_engine(url))
        yield url


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=20, help="per cell and model (8 × samples episodes)")
    ap.add_argument("--concurrency", type=int, default=4, help="episodes at once per process")
    ap.add_argument("--pg", default=None)
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--rounds", type=int, default=1, help="repeat each measurement (interleaved)")
    ap.add_argument("--base-repo", default=None, help="also run another checkout's code, interleaved")
    a = ap.parse_args()
    print(f"{os.cpu_count()} cores; episodes/s over the play span (start-up excluded), wall includes it")
    print(
        f"{'backend':9} {'path':30} {'load':>5} {'episodes':>8} {'span s':>7} {'wall s':>7} {'ep/s':>7} "
        f"{'CPU ms/ep':>9} {'PG ms/ep':>8}"
    )
    variants = {"this": None} if not a.base_repo else {"base": str(Path(a.base_repo).resolve()), "this": None}
    label = (lambda v, p: p) if not a.base_repo else (lambda v, p: f"{v}: {p}")
    backends = (["sqlite"] if not a.no_sqlite else []) + (["postgres"] if a.pg else [])
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        folder = Path(tmp)
        for backend in backends:
            # one database per variant (the base code may expect its own schema)
            urls = {v: stack.enter_context(database(backend, a.pg, folder)) for v in variants}
            paths = ["1 process (in process)", "2 processes"]
            if backend == "postgres":
                paths.insert(1, "queue, 1 worker")
            rates: dict[tuple[str, str], list[float]] = {(v, p): [] for v in variants for p in paths}
            for _ in range(a.rounds):
                for path in paths:
                    for variant, code in variants.items():
                        load = os.getloadavg()[0]
                        n, span, wall, cpu, pg = run(
                            urls[variant], path, a.samples, a.concurrency, folder, code
                        )
                        rates[variant, path].append(n / span)
                        print(
                            f"{backend:9} {label(variant, path):30} {load:>5.2f} {n:>8} {span:>7.2f} {wall:>7.2f} "
                            f"{n / span:>7.2f} {1000 * cpu / n:>9.0f} {1000 * pg / n:>8.0f}"
                        )
            print(
                f"{backend:9} machine: two CPU loops at once / one alone: {machine_ceiling():.2f}x (the ceiling now)"
            )
            for variant in variants:
                best = {p: sorted(rates[variant, p])[len(rates[variant, p]) // 2] for p in paths}
                one = best["queue, 1 worker"] if backend == "postgres" else best["1 process (in process)"]
                print(
                    f"{backend:9} {label(variant, 'ratio')} 2 processes / 1 process (same path, median): "
                    f"{best['2 processes'] / one:.2f}x"
                    + (
                        f"; against the in-process runner: "
                        f"{best['2 processes'] / best['1 process (in process)']:.2f}x"
                        if backend == "postgres"
                        else ""
                    )
                )


if __name__ == "__main__":
    main()
