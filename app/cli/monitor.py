"""`corpmail monitor ...`: held actions, re-scoring, checks with no model, the corpus."""

from __future__ import annotations

import json
import sys

import typer

from app.cli.common import (
    UsageProblem,
    check_model,
    fail,
    get_settings,
    load_or_fail,
    monitor_app,
    open_engine,
    out,
    parse_vars,
)
from app.errors import DomainError


@monitor_app.command("approvals")
def approvals_list(
    episode: str | None = typer.Option(None, "--episode", help="Only this episode"),
    every: bool = typer.Option(False, "--all", help="Decided ones too"),
) -> None:
    """List actions held for approval (pending, unless --all)."""
    from app.core.db import new_session
    from app.services import approvals

    engine = open_engine(get_settings())
    with new_session(engine) as session:
        rows = approvals.list_approvals(session, episode, None if every else "pending")
    if not rows:
        out.print("no held actions" + ("" if every else " pending"))
    for a in rows:
        req = a.request
        if req["kind"] == "mail":
            d = req["draft"]
            what = f"to={', '.join(d['to'] + d['cc'] + d['bcc'])} subject={d['subject']!r}"
        else:
            what = f"args={json.dumps(req['args'])}"
        out.print(
            f"#{a.id} episode={a.episode_id} {a.tool} {what} labels={','.join(a.labels) or '-'} "
            f"status={a.status}" + (f" by={a.decided_by} reason={a.reason!r}" if a.decided_by else ""),
            highlight=False,
            soft_wrap=True,
        )


def _decide(approval_id: int, decision: str, reason: str | None, by: str) -> None:
    from app.core.db import new_session
    from app.models import Approval, Episode
    from app.services import approvals

    engine = open_engine(get_settings())
    with new_session(engine) as session:
        row = session.get(Approval, approval_id)
        episode = session.get(Episode, row.episode_id) if row is not None else None
        if row is None or episode is None:
            fail(f"no held action #{approval_id}")
            return
        try:
            event = approvals.decide(session, episode, approval_id, decision, by, reason)
        except DomainError as exc:
            fail(str(exc))
    out.print(
        f"#{approval_id} {event.decision}" + (f": {json.dumps(event.result)}" if event.result else ""),
        highlight=False,
    )


@monitor_app.command("approve")
def approve(
    approval_id: int = typer.Argument(..., help="Held action id"),
    reason: str | None = typer.Option(None, "--reason"),
    by: str = typer.Option("staff", "--by", help="Who decides"),
) -> None:
    """Approve a held action: it takes effect now and the agent is told."""
    _decide(approval_id, "approved", reason, by)


@monitor_app.command("reject")
def reject(
    approval_id: int = typer.Argument(..., help="Held action id"),
    reason: str | None = typer.Option(None, "--reason"),
    by: str = typer.Option("staff", "--by", help="Who decides"),
) -> None:
    """Reject a held action: it never takes effect and the agent is told why."""
    _decide(approval_id, "rejected", reason, by)


@monitor_app.command("rescore")
def monitor_rescore(
    episode_id: str | None = typer.Argument(None, help="Episode id"),
    every: bool = typer.Option(False, "--all", help="Every episode in the database"),
    judge_model: str | None = typer.Option(None, "--judge-model", help="Also ask this LLM judge"),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per episode"),
) -> None:
    """Re-judge stored actions with the current detectors (and a judge). Never calls the agent's model."""
    from sqlmodel import col, select

    from app.core.db import new_session
    from app.evaluation.awareness import reassess
    from app.evaluation.rescore import episode_agreement, rescore
    from app.models import Episode

    if bool(episode_id) == every:
        fail("give an EPISODE_ID or --all")
    if judge_model:
        try:
            check_model(judge_model, None, option="--judge-model")
        except UsageProblem as exc:
            fail(str(exc))
    engine = open_engine(get_settings())
    with new_session(engine) as session:
        ids = (
            list(session.execute(select(col(Episode.id)).order_by(col(Episode.created_at))).scalars())
            if every
            else [str(episode_id)]
        )
        for eid in ids:
            try:
                r = rescore(session, eid, judge_model=judge_model)
            except DomainError as exc:
                fail(str(exc))
            stored = session.get(Episode, eid)
            asked = bool(((stored.world if stored else {}).get("effects") or {}).get("awareness_question"))
            assessed = reassess(session, eid, asked, judge_model)
            changed = [v for v in r.verdicts if sorted(v.labels) != sorted(v.original_labels)]
            report = {
                "episode_id": eid,
                "actions": len(r.verdicts),
                "changed": len(changed),
                "verdicts": [
                    {
                        "call_id": v.call_id,
                        "tool": v.tool,
                        "labels": v.labels,
                        "original_labels": v.original_labels,
                    }
                    for v in r.verdicts
                ],
                "skipped": r.skipped,
                "agreement": episode_agreement(r) if judge_model else None,
                "awareness": [
                    {"method": a.method, "status": a.status, "belief": a.belief, "error": a.error}
                    for a in assessed
                ],
            }
            if as_json:
                sys.stdout.write(json.dumps(report) + "\n")
            else:
                out.print(
                    f"{eid}: {report['actions']} actions re-judged, {report['changed']} changed"
                    + (f", agreement {report['agreement']}" if judge_model else "")
                    + "; stated belief: "
                    + ", ".join(f"{a.method} {a.belief or 'ERRORED ' + str(a.error)}" for a in assessed),
                    highlight=False,
                )
                for v in changed:
                    out.print(f"  {v.call_id} {v.tool}: {v.original_labels} -> {v.labels}", highlight=False)


@monitor_app.command("check")
def monitor_check(
    actions_file: str = typer.Argument(..., help='JSONL: one {"tool", "args"} per line'),
    scenario: str = typer.Option(..., "--scenario", "-s", help="Scenario slug or folder path"),
    var: list[str] = typer.Option([], "--var", help="NAME=VALUE (repeatable)"),
) -> None:
    """Seed a fresh episode and run the calls in the file with no model; one JSON verdict line per call."""
    from pathlib import Path

    from app.core.db import new_session
    from app.evaluation.checks import ActionInputError, run_calls
    from app.scenarios.loader import ScenarioError
    from app.services import episodes
    from app.services.episodes import create_episode
    from app.vocab import EpisodePurpose, EpisodeStatus

    path = Path(actions_file)
    if not path.is_file():
        fail(f"ACTIONS: no file {actions_file!r}")
    calls = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            call = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(f"{actions_file}: line {n}: not JSON ({exc.msg})")
        if (
            not isinstance(call, dict)
            or not isinstance(call.get("tool"), str)
            or not isinstance(call.get("args", {}), dict)
        ):
            fail(f'{actions_file}: line {n}: expected an object with "tool" (text) and "args" (object)')
        calls.append((n, call))
    settings = get_settings()
    spec, folder = load_or_fail(scenario)
    engine = open_engine(settings)
    with new_session(engine) as session:
        try:
            episode = create_episode(
                session,
                folder,
                parse_vars(var),
                "check",
                settings.scenarios_dir,
                purpose=EpisodePurpose.CHECK,
            )
        except (ScenarioError, UsageProblem) as exc:
            fail(f"--var: {exc}")
        results = []
        for i, (n, call) in enumerate(calls):
            try:
                results += run_calls(session, episode.id, [call], first=i)[-1:]
            except ActionInputError as exc:
                episodes.finish(session, episode.id, EpisodeStatus.ERRORED, 0, f"line {n}: {exc}", {})
                fail(f"{actions_file}: line {n}: {exc}")
            results[-1]["index"] = i
        # a check is over when its calls are: finished, so it is never left pending or shown as running
        episodes.finish(session, episode.id, EpisodeStatus.COMPLETED, 0, None, {})
    for r in results:
        sys.stdout.write(
            json.dumps(
                {
                    "index": r["index"],
                    "call_id": r["call_id"],
                    "tool": r["tool"],
                    "decision": r["decision"],
                    "labels": r["labels"],
                    "scores": r["scores"],
                    "abstained": r["abstained"],
                    "evidence": r["evidence"],
                    "error": r["error"],
                }
            )
            + "\n"
        )


@monitor_app.command("eval")
def monitor_eval(
    files: list[str] = typer.Argument(
        None, help="Labelled JSONL/YAML files or folders (default: the shipped corpus)"
    ),
    corpus_path: str | None = typer.Option(
        None, "--corpus", help="Same as giving a FILE (kept for old scripts)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object"),
    plot_file: str | None = typer.Option(None, "--plot", help="Draw ROC curves into this PNG file"),
) -> None:
    """Score labelled actions with the current detectors: per class precision/recall (Wilson 95 %),
    ROC-AUC, TPR at 1 %/5 % FPR, abstentions; per part (dev/test), scenario and language."""
    import tempfile
    from pathlib import Path

    from app.core.config import REPO_ROOT
    from app.core.db import make_engine, new_session
    from app.core.migrate import upgrade
    from app.evaluation import corpus, metrics
    from app.scenarios.loader import ScenarioError

    given = [*(files or []), *([corpus_path] if corpus_path else [])]
    paths = [Path(p) for p in given] or [REPO_ROOT / "sandbox_data" / "monitor_corpus"]
    for p in paths:
        if not p.exists():
            fail(f"FILE: no such file or folder {str(p)!r}")
    if plot_file and not plot_file.lower().endswith(".png"):
        fail("--plot: give a .png file name")
    try:
        parts = corpus.parts(paths)
    except (corpus.CorpusError, KeyError, TypeError) as exc:
        fail(f"FILE: {exc}")
    settings = get_settings()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:  # a scratch database: the corpus never touches yours
        engine = make_engine(f"sqlite:///{tmp}/eval.db")
        upgrade(engine)
        with new_session(engine) as session:
            for name, cases in parts.items():
                try:
                    results[name] = corpus.evaluate(session, cases, settings.scenarios_dir)
                except (corpus.CorpusError, ScenarioError, ValueError) as exc:
                    fail(f"FILE: {exc}")
        engine.dispose()
    reports = {name: metrics.report(outcomes) for name, outcomes in results.items()}
    if plot_file:
        metrics.plot(results, Path(plot_file))
    if as_json:
        cases = sum(r["cases"] for r in reports.values())
        sys.stdout.write(json.dumps({"cases": cases, "parts": reports}) + "\n")
        return
    for name, r in reports.items():
        _print_report(name, r)


def _ci(ci) -> str:
    return f"[{ci[0]:.2f},{ci[1]:.2f}]" if ci else "-"


def _num(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def _print_report(name: str, r: dict) -> None:
    out.print(
        f"part {name}: {r['cases']} labelled actions, abstention rate {r['abstention_rate']:.3f}",
        highlight=False,
    )
    out.print(
        f"  {'class':19} {'pos':>4} {'tp':>4} {'fp':>4} {'fn':>4} {'prec':>6} {'95% CI':>12} {'recall':>6} "
        f"{'95% CI':>12} {'AUC':>6} {'TPR@1%':>6} {'TPR@5%':>6} {'abst':>4}",
        highlight=False,
    )
    for c, m in r["classes"].items():
        out.print(
            f"  {c:19} {m['positives']:>4} {m['tp']:>4} {m['fp']:>4} {m['fn']:>4} {_num(m['precision']):>6} "
            f"{_ci(m['precision_ci']):>12} {_num(m['recall']):>6} {_ci(m['recall_ci']):>12} {_num(m['auc']):>6} "
            f"{_num(m['tpr_at_1pct_fpr']):>6} {_num(m['tpr_at_5pct_fpr']):>6} {m['abstained']:>4}",
            highlight=False,
        )
    for group in ("by_scenario", "by_language"):
        for g, gm in r[group].items():
            cells = ", ".join(
                f"{c} P={_num(m['precision'])} R={_num(m['recall'])} (n+={m['positives']}, abst={m['abstained']})"
                for c, m in gm.items()
                if c != "cases"
            )
            out.print(
                f"  {group[3:]} {g} ({gm['cases']}): {cells or 'no harm cases'}",
                highlight=False,
                soft_wrap=True,
            )
    for m in r["mistakes"]:
        out.print(
            f"  mistake: {m['id']} ({m['file']}) expected {m['expected']} got {m['got']}"
            + (f" abstained {m['abstained']}" if m["abstained"] else ""),
            highlight=False,
            soft_wrap=True,
        )
