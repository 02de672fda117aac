"""A sweep's report: one self-contained HTML page (figures embedded), its sentences computed from the numbers."""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Any

import numpy as np

from gridlab.findings import sweep_findings
from gridlab.report import CSS, _table

__all__ = ["render", "interval_figure", "profile_figure", "curves_figure"]

TITLES = {"iqm": "IQM", "median": "median", "mean": "mean", "optimality_gap": "optimality gap"}


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def interval_figure(agg: dict[str, Any]) -> Any:
    """Point estimates and 95% intervals of each aggregate, one panel per aggregate, one row per method."""
    from envs.plotting import PAGE_WIDTH, new_figure

    methods = [m for m, a in agg.items() if "iqm" in a]
    fig, axes = new_figure(1, len(TITLES), figsize=(PAGE_WIDTH, 0.9 + 0.45 * max(len(methods), 1)), squeeze=False)
    for ax, (key, title) in zip(axes[0], TITLES.items()):
        for i, m in enumerate(methods):
            point, lo, hi = agg[m][key]
            ax.plot([lo, hi], [i, i], lw=6, alpha=0.5, color=f"C{i}", solid_capstyle="butt")
            ax.plot([point], [i], "|", ms=14, color="black")
        ax.set_yticks(range(len(methods)), [m.upper() for m in methods] if ax is axes[0][0] else [""] * len(methods))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("normalised score" if key != "optimality_gap" else "1 - score, below 1", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
        ax.set_ylim(-0.6, len(methods) - 0.4)
    return fig


def profile_figure(agg: dict[str, Any]) -> Any:
    """Performance profiles (Agarwal et al. 2021): the share of runs x worlds scoring above tau, with its 95% band."""
    from envs.plotting import PAGE_WIDTH, new_figure

    fig, axes = new_figure(1, 1, figsize=(PAGE_WIDTH * 0.6, 3.2), squeeze=False)
    ax = axes[0][0]
    for i, (m, a) in enumerate((m, a) for m, a in agg.items() if "profile" in a):
        p = a["profile"]
        ax.plot(p["tau"], p["fraction"], color=f"C{i}", label=m.upper())
        ax.fill_between(p["tau"], p["lo"], p["hi"], color=f"C{i}", alpha=0.2)
    ax.set_xlabel("normalised score tau", fontsize=8)
    ax.set_ylabel("share of runs x worlds with score > tau", fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def curves_figure(curves: list[dict[str, Any]]) -> Any | None:
    """Exact return gap / ``|V*(s0)|`` over training, per world: median over seeds with a min-max band."""
    from envs.plotting import PAGE_WIDTH, new_figure

    worlds = list(dict.fromkeys(c["world"] for c in curves))
    if not worlds:
        return None
    cols = min(3, len(worlds))
    rows = math.ceil(len(worlds) / cols)
    fig, axes = new_figure(rows, cols, figsize=(PAGE_WIDTH, 2.6 * rows), squeeze=False)
    for ax, world in zip(axes.ravel(), worlds):
        for i, method in enumerate(dict.fromkeys(c["method"] for c in curves)):
            runs: dict[str, dict[float, float]] = {}
            for c in curves:  # (a run recorded before its metrics held relative_gap has no curve here)
                if c["world"] == world and c["method"] == method and c.get("relative_gap") not in (None, ""):
                    runs.setdefault(c["name"], {})[c["timesteps"]] = c["relative_gap"]
            if not runs:
                continue
            steps = sorted(set.intersection(*(set(r) for r in runs.values())))
            y = np.array([[r[t] for t in steps] for r in runs.values()])
            ax.plot(steps, np.median(y, axis=0), color=f"C{i}", label=f"{method} ({len(runs)} runs)")
            ax.fill_between(steps, y.min(axis=0), y.max(axis=0), color=f"C{i}", alpha=0.2)
        ax.set_title(world, fontsize=9)
        ax.set_xlabel("timesteps", fontsize=8)
        ax.set_ylabel("return gap / |V*(s0)|", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(worlds):]:
        ax.set_visible(False)
    return fig


def render(spec: Any, rows: list[dict[str, Any]], curves: list[dict[str, Any]], agg: dict[str, Any]) -> str:
    """The sweep report as one HTML string."""
    what = "agents" if spec.kind == "agents" else "world models"
    score_def = ("(J^pi - J^uniform) / (J* - J^uniform), computed exactly from the model: 1 is optimal, 0 the "
                 "uniform-random policy" if spec.kind == "agents" else
                 "1 - mean TV between the model's next-state distributions and the true ones")
    head = ["method", "runs x worlds", *[f"{t} [95% CI]" for t in TITLES.values()]]
    table = [[m.upper(), f"{a['runs']} x {a['worlds']}",
              *[f"{a[k][0]:.3f} [{a[k][1]:.3f}, {a[k][2]:.3f}]" if k in a else "-" for k in TITLES]]
             for m, a in agg.items()]
    worlds = list(dict.fromkeys(r["world"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    per_world = []
    for w in worlds:
        cells = [w]
        for m in methods:
            s = [r.get("normalised_score") for r in rows if r["world"] == w and r["method"] == m and r["status"] == "done"]
            s = [float(x) for x in s if isinstance(x, (int, float))]
            if s and "per_world" in agg.get(m, {}):
                point, lo, hi = agg[m]["per_world"][w]["iqm"]
                cells.append(f"{point:.3f} [{lo:.3f}, {hi:.3f}], min {min(s):.3f}")
            else:
                cells.append("failed" if not s else f"{np.mean(s):.3f} (a run failed elsewhere)")
        per_world.append(cells)
    pairs = [[a.upper(), b.upper(), f"{p:.3f} [{lo:.3f}, {hi:.3f}]"]
             for a in methods for b, (p, lo, hi) in agg.get(a, {}).get("probability_of_improvement", {}).items()]
    failed = [r for r in rows if r["status"] != "done"]
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>gridlab sweep report</title>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>",
        f"<h1>gridlab sweep report</h1><p class='muted'>{len(rows)} trials of {what}: {', '.join(methods)} on "
        f"{len(worlds)} world(s), seeds {', '.join(map(str, spec.seeds))}"
        + (f", {spec.steps:,} steps each" if spec.steps else "") + ".</p>",
        f"<h2>Aggregate normalised score</h2><p>Normalised score: {html.escape(score_def)}. IQM, median, mean and "
        "optimality gap over runs x worlds, with stratified-bootstrap 95% confidence intervals (rliable; Agarwal et "
        "al., NeurIPS 2021).</p>" + _table(head, table),
        f'<p class="note">{html.escape(" ".join(sweep_findings(agg)))}</p>',
    ]
    if any("iqm" in a for a in agg.values()):
        parts.append(_png(interval_figure(agg)))
    if any("profile" in a for a in agg.values()):
        parts.append("<h2>Performance profiles</h2><p>The share of all runs x worlds whose normalised score exceeds "
                     "tau, with its 95% band: a curve above another is better at every threshold.</p>"
                     + _png(profile_figure(agg)))
    if pairs:
        parts.append("<h2>Probability of improvement</h2><p>P(X > Y): the chance that a run of X scores above a run of "
                     "Y on the same world, averaged over worlds (Mann-Whitney), with its 95% interval; 0.5 is a tie.</p>"
                     + _table(["X", "Y", "P(X > Y) [95% CI]"], pairs))
    parts.append("<h2>Per world</h2><p>IQM of the normalised score over runs [95% interval], and the worst run.</p>"
                 + _table(["world", *[m.upper() for m in methods]], per_world))
    fig = curves_figure(curves)
    if fig is not None:
        parts.append("<h2>Exact learning curves</h2><p>Return gap as a share of V*(s0), computed exactly at each "
                     "evaluation: median over runs, band from min to max.</p>" + _png(fig))
    if failed:
        parts.append("<h2>Failed trials</h2>" + _table(["trial", "error"], [[r["name"], r["error"]] for r in failed]))
    parts.append("<p class='muted'>Numbers: trials.csv, curves.csv and aggregate.json next to this file.</p></body></html>")
    return "".join(parts)
