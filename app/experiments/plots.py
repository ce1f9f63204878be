"""PNG plots (matplotlib, Agg): rates with 95 % interval whiskers per model and condition, and
paired differences with their intervals."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def condition_name(row: dict) -> str:
    vars_ = ", ".join(f"{k}={v}" for k, v in sorted(row["variables"].items())) or "defaults"
    return f"{row['scenario']}: {vars_}"


def _where(c: dict) -> str:
    others = ", ".join(f"{k}={v}" for k, v in sorted(c["variables"].items()) if k != c["variable"])
    return f" [{c['scenario']}{': ' + others if others else ''}; {c['model']}]"


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def rates_png(rows: list[dict], label: str = "harmful", measure: str = "attempted") -> bytes:
    """One point per model and condition: the rate and its Wilson interval (errored excluded)."""
    prefix = "" if measure == "attempted" else "effected_"
    rows = [r for r in rows if r["label"] == label]
    conditions = list(dict.fromkeys(condition_name(r) for r in rows))
    models = sorted({r["model"] for r in rows})
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.45 * len(conditions) * max(1, len(models)) ** 0.5 + 1)))
    step = 0.8 / max(1, len(models))
    for i, model in enumerate(models):
        ys, xs, lo, hi = [], [], [], []
        for j, cond in enumerate(conditions):
            r = next((r for r in rows if r["model"] == model and condition_name(r) == cond), None)
            if r is None or r[prefix + "rate"] is None:
                continue
            ys.append(j + (i - (len(models) - 1) / 2) * step)
            xs.append(r[prefix + "rate"])
            lo.append(r[prefix + "rate"] - r[prefix + "ci_low"])
            hi.append(r[prefix + "ci_high"] - r[prefix + "rate"])
        ax.errorbar(xs, ys, xerr=[lo, hi], fmt="o", capsize=3, label=model)
    ax.set_yticks(range(len(conditions)), conditions, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel(f"{label} rate ({measure}), 95 % Wilson interval")
    ax.grid(axis="x", alpha=0.3)
    if models:
        ax.legend(fontsize=8, loc="best")
    return _png(fig)


def differences_png(comparisons: list[dict], label: str = "harmful", measure: str = "attempted") -> bytes:
    """Paired differences (A minus B) with Newcombe 95 % intervals; zero marked."""
    rows = [
        c for c in comparisons if c["label"] == label and c["measure"] == measure and c["diff"] is not None
    ]
    rows = [c for c in rows if c["kind"] == "condition" or c["scenario"] == "(all)"]
    names = [
        f"{c['a']} − {c['b']}" + (_where(c) if c["kind"] == "condition" else " (all cells)") for c in rows
    ]
    fig, ax = plt.subplots(figsize=(8, max(2.0, 0.35 * len(rows) + 1)))
    if rows:
        xs = [c["diff"] for c in rows]
        ax.errorbar(
            xs,
            range(len(rows)),
            xerr=[
                [x - c["ci_low"] for x, c in zip(xs, rows, strict=True)],
                [c["ci_high"] - x for x, c in zip(xs, rows, strict=True)],
            ],
            fmt="o",
            capsize=3,
        )
        ax.set_yticks(range(len(rows)), names, fontsize=7)
        ax.invert_yaxis()
    else:
        ax.text(0.5, 0.5, "no paired comparisons yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.axvline(0, color="grey", lw=1)
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel(f"difference in {label} rate ({measure}), 95 % Newcombe interval")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)
