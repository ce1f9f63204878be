"""Train the monitor's learned English threat model from the dev corpus and write it where the
monitor reads it. Deterministic: the same corpus gives the same model (a test checks the shipped one).

Usage (from a corpmail checkout with its .venv):
  .venv/bin/python tools/train_threat_model.py [--out FILE] [--no-cv] [CORPUS ...]
CORPUS defaults to sandbox_data/monitor_corpus/dev (never the held-out test part)."""

import argparse
import json
from pathlib import Path

from app.core.config import REPO_ROOT, get_settings
from app.evaluation.threat_training import train
from app.monitor.threat_model import MODEL_FILE

FLAG_AT = 0.7  # chosen by leave-one-round-out cross-validation (precision first; see the model's "trained")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus", nargs="*", type=Path, default=[REPO_ROOT / "sandbox_data/monitor_corpus/dev"])
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "sandbox_data" / MODEL_FILE)
    ap.add_argument("--no-cv", action="store_true", help="skip the leave-one-round-out figures")
    args = ap.parse_args()
    model = train(args.corpus, get_settings().scenarios_dir, FLAG_AT, with_cv=not args.no_cv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(model, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    print(json.dumps(model["trained"], indent=1))


if __name__ == "__main__":
    main()
