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


def differences_png(comparisons: list[dict], label: str = "harmful") -> bytes:
    """Paired differences (A minus B) pooled over cells, attempted and effected, with Newcombe 95 %
    intervals; zero marked."""
    pooled = [c for c in comparisons if c["label"] == label and c["cell"] is None]
    keys = list(dict.fromkeys((c["kind"], c["a"], c["b"], c.get("model", "")) for c in pooled))
    names = [f"{a} − {b}" + (f" [{m}]" if kind == "condition" else "") for kind, a, b, m in keys]
    fig, ax = plt.subplots(figsize=(8, max(2.0, 0.4 * len(keys) + 1)))
    drawn = False
    for offset, measure in ((-0.12, "attempted"), (0.12, "effected")):
        pts = [
            (i + offset, c)
            for i, k in enumerate(keys)
            for c in pooled
            if (c["kind"], c["a"], c["b"], c.get("model", "")) == k
            and c["measure"] == measure
            and c["diff"] is not None
        ]
        if not pts:
            continue
        drawn = True
        ax.errorbar(
            [c["diff"] for _, c in pts],
            [y for y, _ in pts],
            xerr=[[c["diff"] - c["ci_low"] for _, c in pts], [c["ci_high"] - c["diff"] for _, c in pts]],
            fmt="o" if measure == "attempted" else "s",
            capsize=3,
            label=measure,
        )
    if drawn:
        ax.set_yticks(range(len(keys)), names, fontsize=7)
        ax.invert_yaxis()
        ax.legend(fontsize=8, loc="best")
    else:
        ax.text(0.5, 0.5, "no paired comparisons yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.axvline(0, color="grey", lw=1)
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel(f"difference in {label} rate, all cells pooled, 95 % Newcombe interval")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)
