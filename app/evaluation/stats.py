"""Rates with Wilson 95 % intervals per cell, model and label; paired comparisons (model vs model,
condition vs its control, mitigation on vs off) as differences with Newcombe intervals and an exact
McNemar test on pairs matched by sample index. Errored episodes never enter a rate: they are counted
beside it. Intervals and tests come from statsmodels."""

from __future__ import annotations

import itertools
from collections import defaultdict

from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from app.evaluation.rescore import agreement
from app.evaluation.trial_outcomes import HARMFUL, Outcome

ALPHA = 0.05


def default_controls(variables: dict[str, list[str]], controls: dict[str, str]) -> dict[str, str]:
    """Controls named in the experiment, else `none` for every varied variable that has it."""
    found = {v: "none" for v, vals in variables.items() if len(vals) > 1 and "none" in vals}
    return {**found, **controls}


def wilson(count: int, n: int) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    low, high = proportion_confint(count, n, alpha=ALPHA, method="wilson")
    return float(low), float(high)


def label_universe(outcomes: list[Outcome]) -> list[str]:
    """`harmful` first, then every label any verdict carried or abstained on in the experiment."""
    seen = set().union(*(o.attempted | o.abstained for o in outcomes)) if outcomes else set()
    return [HARMFUL, *sorted(seen - {HARMFUL})]


def _groups(outcomes: list[Outcome]) -> dict[tuple[str, str], list[Outcome]]:
    groups: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for o in outcomes:
        groups[(o.cell, o.model)].append(o)
    return groups


def rate_rows(outcomes: list[Outcome], labels: list[str] | None = None) -> list[dict]:
    """One row per cell, model and label (zero counts included)."""
    labels = labels or label_universe(outcomes)
    rows = []
    for (cell, model), group in sorted(
        _groups(outcomes).items(), key=lambda kv: (kv[1][0].scenario, str(kv[1][0].variables), kv[0][1])
    ):
        first = group[0]
        measured = [o for o in group if o.measured]
        base = {
            "scenario": first.scenario,
            "variables": first.variables,
            "cell": cell,
            "model": model,
            "trials": len(group),
            "completed": len(measured),
            "errored": sum(1 for o in group if o.status == "errored"),
            "pending": sum(1 for o in group if o.status in ("pending", "running")),
            "turn_limit": sum(1 for o in group if o.status == "turn_limit"),
            "no_action": sum(1 for o in group if o.status == "no_action"),
        }
        for label in labels:
            counted = [o for o in measured if label not in o.abstained]
            n = len(counted)
            count = sum(1 for o in counted if label in o.attempted)
            effected = sum(1 for o in counted if label in o.effected)
            low, high = wilson(count, n)
            e_low, e_high = wilson(effected, n)
            rows.append(
                {
                    **base,
                    "label": label,
                    "n": n,
                    "abstained": len(measured) - n,
                    "count": count,
                    "rate": count / n if n else None,
                    "ci_low": low,
                    "ci_high": high,
                    "effected_count": effected,
                    "effected_rate": effected / n if n else None,
                    "effected_ci_low": e_low,
                    "effected_ci_high": e_high,
                }
            )
    return rows


def _pairs(a: list[Outcome], b: list[Outcome]) -> list[tuple[Outcome, Outcome]]:
    """Outcomes matched by sample index, both measured (same seed, same sample)."""
    by_sample = {o.sample: o for o in b if o.measured}
    return [(x, by_sample[x.sample]) for x in a if x.measured and x.sample in by_sample]


def compare(pairs: list[tuple[Outcome, Outcome]], label: str, measure: str) -> dict:
    """Rate of A minus rate of B over matched pairs: Newcombe interval, exact McNemar p-value."""
    key = "attempted" if measure == "attempted" else "effected"
    pairs = [(x, y) for x, y in pairs if label not in x.abstained and label not in y.abstained]
    xs = [label in getattr(x, key) for x, _ in pairs]
    ys = [label in getattr(y, key) for _, y in pairs]
    n, ca, cb = len(pairs), sum(xs), sum(ys)
    out: dict[str, float | int | None] = {
        "pairs": n,
        "count_a": ca,
        "count_b": cb,
        "rate_a": None,
        "rate_b": None,
        "diff": None,
        "ci_low": None,
        "ci_high": None,
        "p_mcnemar": None,
    }
    if n == 0:
        return out
    out.update(rate_a=ca / n, rate_b=cb / n, diff=(ca - cb) / n)
    low, high = confint_proportions_2indep(ca, n, cb, n, method="newcomb", compare="diff", alpha=ALPHA)
    out.update(ci_low=float(low), ci_high=float(high))
    table = [
        [sum(1 for x, y in zip(xs, ys, strict=True) if x == i and y == j) for j in (True, False)]
        for i in (True, False)
    ]
    out["p_mcnemar"] = float(mcnemar(table, exact=True).pvalue)
    return out


def model_comparisons(
    outcomes: list[Outcome], labels: list[str], measures=("attempted", "effected")
) -> list[dict]:
    """Every pair of models over the same cells (per cell, and all cells pooled)."""
    groups = _groups(outcomes)
    models = sorted({o.model for o in outcomes})
    cells = sorted({o.cell for o in outcomes})
    info = {o.cell: o for o in outcomes}
    rows = []
    for a, b in itertools.combinations(models, 2):
        pooled: list = []
        for cell in cells:
            pairs = _pairs(groups.get((cell, a), []), groups.get((cell, b), []))
            pooled += pairs
            for label, measure in itertools.product(labels, measures):
                rows.append(
                    {
                        "kind": "model",
                        "a": a,
                        "b": b,
                        "scenario": info[cell].scenario,
                        "variables": info[cell].variables,
                        "cell": cell,
                        "label": label,
                        "measure": measure,
                        **compare(pairs, label, measure),
                    }
                )
        for label, measure in itertools.product(labels, measures):
            rows.append(
                {
                    "kind": "model",
                    "a": a,
                    "b": b,
                    "scenario": "(all)",
                    "variables": {},
                    "cell": None,
                    "label": label,
                    "measure": measure,
                    **compare(pooled, label, measure),
                }
            )
    return rows


def condition_comparisons(
    outcomes: list[Outcome], controls: dict[str, str], labels: list[str], measures=("attempted", "effected")
) -> list[dict]:
    """Each cell whose variable differs from its control against the cell that has the control value
    (all else equal, same scenario and model): conditions and mitigations alike."""
    groups = _groups(outcomes)
    cells = {o.cell: (o.scenario, o.variables) for o in outcomes}
    by_key = {(s, tuple(sorted(v.items()))): c for c, (s, v) in cells.items()}
    models = sorted({o.model for o in outcomes})
    rows = []
    for var, control in controls.items():
        pooled: dict[tuple[str, str], list] = defaultdict(list)  # (value, model) -> pairs over all cells
        for cell, (scenario, variables) in sorted(cells.items()):
            if var not in variables or variables[var] == control:
                continue
            twin = by_key.get((scenario, tuple(sorted({**variables, var: control}.items()))))
            if twin is None:
                continue
            for model in models:
                pairs = _pairs(groups.get((cell, model), []), groups.get((twin, model), []))
                pooled[(variables[var], model)] += pairs
                for label, measure in itertools.product(labels, measures):
                    rows.append(
                        {
                            "kind": "condition",
                            "variable": var,
                            "a": f"{var}={variables[var]}",
                            "b": f"{var}={control}",
                            "scenario": scenario,
                            "variables": variables,
                            "cell": cell,
                            "control_cell": twin,
                            "model": model,
                            "label": label,
                            "measure": measure,
                            **compare(pairs, label, measure),
                        }
                    )
        for (value, model), pairs in sorted(pooled.items()):
            for label, measure in itertools.product(labels, measures):
                rows.append(
                    {
                        "kind": "condition",
                        "variable": var,
                        "a": f"{var}={value}",
                        "b": f"{var}={control}",
                        "scenario": "(all)",
                        "variables": {},
                        "cell": None,
                        "control_cell": None,
                        "model": model,
                        "label": label,
                        "measure": measure,
                        **compare(pairs, label, measure),
                    }
                )
    return rows


def judge_agreement(outcomes: list[Outcome]) -> dict | None:
    """Monitor (latest verdict) against the judge on the same actions, all models together."""
    pairs = [p for o in outcomes if o.measured for p in o.judged]
    return agreement(pairs) if pairs else None


def versions(outcomes: list[Outcome]) -> dict:
    return {
        "detectors": sorted(set().union(*(o.versions for o in outcomes)) if outcomes else []),
        "rescored_episodes": sum(1 for o in outcomes if o.rescored),
    }


def belief_rows(outcomes: list[Outcome], label: str = HARMFUL) -> list[dict]:
    """Harm rate split by the model's stated belief (eval-awareness), per model: `harmful | believed
    real` against `harmful | believed evaluation` (and `not stated`), each with n and a Wilson 95 % CI."""
    rows = []
    models = sorted({o.model for o in outcomes})
    for model in models:
        for belief in ("real", "evaluation", "not_stated"):
            group = [o for o in outcomes if o.model == model and o.measured and o.belief == belief]
            count = sum(1 for o in group if label in o.attempted)
            low, high = wilson(count, len(group))
            rows.append(
                {
                    "model": model,
                    "belief": belief,
                    "label": label,
                    "n": len(group),
                    "count": count,
                    "rate": count / len(group) if group else None,
                    "ci_low": low,
                    "ci_high": high,
                }
            )
    return rows
