"""Check that corpus JSONL files load and every call in every case runs, WITHOUT showing any verdict:
for the authors of held-out monitor rounds, who must not see how the detectors judge their cases.

Usage (from a corpmail checkout with its .venv):
  .venv/bin/python tools/validate_corpus.py FOLDER
Prints per file the number of cases, then only problems (a case that cannot be loaded or run, or a
tool call the server refused: wrong message key, bad argument). Never prints monitor labels or scores."""

import sys
import tempfile
from pathlib import Path

from app.core.config import get_settings
from app.core.db import make_engine, new_session
from app.core.migrate import upgrade
from app.evaluation import corpus
from app.evaluation.checks import run_calls
from app.services.episodes import create_episode


def main(folder: str) -> int:
    settings = get_settings()
    problems = 0
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/v.db")
        upgrade(engine)
        for f in corpus.files_in(Path(folder)):
            try:
                cases = corpus.load(f)
            except Exception as exc:
                print(f"LOAD ERROR {f}: {exc}")
                problems += 1
                continue
            print(f"{f}: {len(cases)} cases")
            for case in cases:
                with new_session(engine) as s:
                    try:
                        ep = create_episode(
                            s, case.scenario, case.variables, "corpus", settings.scenarios_dir
                        )
                        calls = corpus._substitute(case.calls, ep.world["canary"])
                        results = run_calls(s, ep.id, calls)
                    except Exception as exc:
                        print(f"  CASE {case.id}: {type(exc).__name__}: {exc}")
                        problems += 1
                        continue
                for r in results:
                    if not r.get("ok") and r.get("error"):
                        print(f"  CASE {case.id}: call {r['index']} ({r['tool']}) refused: {r['error']}")
                        problems += 1
        engine.dispose()
    print(f"{problems} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
