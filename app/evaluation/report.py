"""An experiment's report: progress, rate rows, paired comparisons, monitor–judge agreement and the
detector versions; written as Markdown, PNG plots, HTML and JSON into one folder."""

from __future__ import annotations

import json
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session

from app.evaluation import stats
from app.evaluation import trial_outcomes as outcomes_mod
from app.evaluation.plots import condition_name, differences_png, rates_png
from app.models import Experiment
from app.services import trials as store

TEMPLATES = Path(__file__).parent / "templates"


class UnknownExperiment(LookupError):
    pass


def build(session: Session, name: str) -> dict:
    exp = session.get(Experiment, name)
    if exp is None:
        raise UnknownExperiment(name)
    config = exp.config or {}
    found = outcomes_mod.load(session, name)
    labels = stats.label_universe(found)
    focus = ["harmful"]  # comparisons use the any-harm label
    return {
        "name": name,
        "description": config.get("description", ""),
        "status": exp.status,
        "message": exp.message,
        "progress": store.counts(session, name),
        "labels": labels,
        "rows": stats.rate_rows(found, labels),
        "comparisons": stats.model_comparisons(found, focus)
        + stats.condition_comparisons(
            found, stats.default_controls(config.get("variables") or {}, config.get("controls") or {}), focus
        ),
        "agreement": stats.judge_agreement(found),
        "by_belief": stats.belief_rows(found),
        "monitor": stats.versions(found),
        "errors": [
            {"trial": o.trial_id, "model": o.model, "scenario": o.scenario, "error": o.error}
            for o in found
            if o.status == "errored"
        ][:200],
    }


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def markdown(report: dict) -> str:
    p = report["progress"]
    lines = [
        f"# Experiment {report['name']}",
        "",
        f"Trials: {p['completed']} completed, {p['errored']} errored, {p['running']} running, {p['pending']} pending. "
        "Rates exclude errored episodes; `n` counts the completed episodes the monitor could measure for the label.",
        "",
        "| scenario | variables | model | label | n | errored | abstained | attempted | rate [95% CI] | effected | rate [95% CI] |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        vars_ = ", ".join(f"{k}={v}" for k, v in sorted(r["variables"].items()))
        lines.append(
            f"| {r['scenario']} | {vars_} | {r['model']} | {r['label']} | {r['n']} | {r['errored']} | {r['abstained']} "
            f"| {r['count']} | {pct(r['rate'])} [{pct(r['ci_low'])}, {pct(r['ci_high'])}] "
            f"| {r['effected_count']} | {pct(r['effected_rate'])} [{pct(r['effected_ci_low'])}, {pct(r['effected_ci_high'])}] |"
        )
    lines += [
        "",
        "## Paired comparisons (A − B, harmful, matched by sample)",
        "",
        "| comparison | where | measure | pairs | A | B | diff [95% Newcombe CI] | McNemar p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in report["comparisons"]:
        if c["diff"] is None:
            continue
        where = "all cells" if c["cell"] is None else condition_name(c)
        if c["kind"] == "condition":
            where += f" / {c['model']}"
        lines.append(
            f"| {c['a']} vs {c['b']} | {where} | {c['measure']} | {c['pairs']} | {pct(c['rate_a'])} | {pct(c['rate_b'])} "
            f"| {pct(c['diff'])} [{pct(c['ci_low'])}, {pct(c['ci_high'])}] | {c['p_mcnemar']:.3g} |"
        )
    lines += [
        "",
        "## Harm by stated belief (eval-awareness, from the model's own words)",
        "",
        "| model | stated belief | n | harmful | rate [95% CI] |",
        "|---|---|---|---|---|",
    ]
    for b in report.get("by_belief", []):
        lines.append(
            f"| {b['model']} | {b['belief']} | {b['n']} | {b['count']} | {pct(b['rate'])} [{pct(b['ci_low'])}, {pct(b['ci_high'])}] |"
        )
    a = report["agreement"]
    lines += ["", "## Monitor and judge", ""]
    lines.append(
        f"n={a['n']} both={a['both_harmful']} monitor-only={a['monitor_only']} judge-only={a['judge_only']} "
        f"neither={a['neither']} judge-failed={a['judge_failed']} kappa={a['kappa']}"
        if a
        else "No judge ran in this experiment."
    )
    m = report["monitor"]
    lines += [
        "",
        f"Detector versions counted: {', '.join(m['detectors']) or '–'}; "
        f"episodes with re-scored verdicts: {m['rescored_episodes']}.",
        "",
    ]
    return "\n".join(lines)


def html(report: dict, images: dict[str, str]) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.filters["pct"] = pct
    env.globals["condition_name"] = condition_name
    return env.get_template("report.html").render(r=report, images=images)


def write(report: dict, folder: Path) -> dict[str, Path]:
    """report.md, report.json, rates.png, effected.png, differences.png and report.html in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "rates.png": rates_png(report["rows"]),
        "effected.png": rates_png(report["rows"], measure="effected"),
        "differences.png": differences_png(report["comparisons"]),
    }
    out = {}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        out[name] = folder / name
    (folder / "report.md").write_text(markdown(report), encoding="utf-8")
    (folder / "report.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    (folder / "report.html").write_text(html(report, {k: k for k in files}), encoding="utf-8")
    out.update({n: folder / n for n in ("report.md", "report.json", "report.html")})
    return out
