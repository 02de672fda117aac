"""The demo's report: one self-contained HTML page (figures embedded), its sentences computed from the
results by :mod:`gridlab.findings` (importable from here too, as they were before that module)."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from gridlab.findings import agent_findings, english_list, pixel_findings, world_model_findings

__all__ = ["render"]  # the findings are gridlab.findings'; imported here for older imports

CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.table { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: right; }
td { white-space: nowrap; } th { font-weight: 600; vertical-align: bottom; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.4em 0; }
.note { color: #444; background: #f7f7fb; border-left: 3px solid #88a; padding: 0.5em 0.8em; }
.muted { color: #777; font-size: 0.9em; }
"""


def _img(path: str, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(head: list[str], rows: list[list[Any]]) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f'<div class="table"><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


def _suite_section(res: dict[str, Any]) -> str:
    from agents.solvers import METHODS

    rows, methods = [], [m for m in res["suite"][0] if m in METHODS]  # the solvers the suite ran, in order
    for r in res["suite"]:
        rows.append([r["env_id"], r["states"], f"{r['slip']:.2f}", f"{r[methods[0]]['V_s0']:.4f}",
                     *[f"{r[m]['iterations']} / {r[m]['ms']:.1f}" for m in methods],
                     f"{max(r[m]['error_bound'] for m in methods):.1e}"])
    fastest = {}
    for r in res["suite"]:
        m = min(methods, key=lambda k: r[k]["ms"])
        fastest[m] = fastest.get(m, 0) + 1
    agree = max(abs(r[a]["V_s0"] - r[b]["V_s0"]) for r in res["suite"] for a in methods for b in methods)
    note = (f"All {len(methods)} methods agree on V*(s0) to within {agree:.1e} on every world, each with a certified bound on "
            f"|V - V*| of at most {max(max(r[m]['error_bound'] for m in methods) for r in res['suite']):.1e}. "
            "Fastest: " + ", ".join(f"{METHODS[m].title} on {n} of {len(res['suite'])} worlds"
                                    for m, n in sorted(fastest.items(), key=lambda kv: -kv[1])) + ".")
    return ("<h2>1. Exact solutions of the suite</h2>"
            f"<p>Every registered world solved with {english_list([METHODS[m].title for m in methods])} "
            "(gamma = 0.99; iterations / milliseconds).</p>"
            + _table(["world", "states", "slip", "V*(s0)", *[m.upper() for m in methods], "certified bound"], rows)
            + f'<p class="note">{html.escape(note)}</p>' + _img(res["suite_figure"], "V* of FourRooms"))


def _agents_section(res: dict[str, Any]) -> str:
    a = res["agents"]
    rows = [[algo.upper(), f"{r['return_gap']:.4f}", f"{100 * r['relative_gap']:.1f}%", f"{r['return_gap_greedy']:.4f}",
             f"{r['rmse_vs_pi']:.3f}", f"{r['max_err_vs_pi']:.3f}", f"{r['rmse_vs_star']:.3f}",
             f"{100 * r['policy_agreement']:.0f}%",
             f"{r['return_gap_time_limit']:.4f} (H = {r['horizon']})" if "return_gap_time_limit" in r else "-"]
            for algo, r in a.items()]
    sentences = agent_findings(a)
    body = "".join(f"<h3>{algo.upper()}</h3>" + _img(r["figure"], f"{algo} comparison") for algo, r in a.items())
    return (f"<h2>2. Deep RL agents measured against the truth</h2><p>PPO and DQN (Stable-Baselines3, shipped presets, "
            f"{res['budget']['agent_steps']:,} steps, seed 0) on gridlab/FourRooms-v0, compared with V^pi (exact value of "
            "the agent's own policy) and V*. These are infinite-horizon discounted values, the quantity SB3's critic "
            "estimates (it bootstraps on time-limit truncation); the last column is the exact return gap of the episodes "
            "the env really runs, cut at its time limit, which is what measured returns average to.</p>"
            + _table(["agent", "return gap", "of V*(s0)", "gap (greedy)", "rmse vs V^pi", "max err vs V^pi", "rmse vs V*",
                      "policy agreement", "gap under the time limit"], rows)
            + f'<p class="note">{html.escape(" ".join(sentences))}</p>' + body
            + "<h3>Learning curves of the exact metrics</h3>" + _img(res["learning_curves"], "learning curves"))


def _world_section(res: dict[str, Any]) -> str:
    w = res["world_models"]
    rows = [[f.upper(), f"{r['tv']:.3f}", f"{r['forward_kl']:.3f}", f"{r['reverse_kl']:.3f}", f"{r['jsd']:.4f}",
             f"{r['mode_recall']:.3f}", f"{r['hallucinated_mass']:.3f}", f"{r['rollout_tv'][-1]:.3f}",
             f"{r['nll']:.3f} / {r['true_conditional_entropy']:.3f}" if r.get("nll") is not None else "-",
             f"{r['train_seconds']:.0f} s ({r['device']})"] for f, r in w.items()]
    floor = next(iter(w.values()))["noise_floor"]  # same world and sample sizes for every family
    rows.append(["perfect model (noise floor)", f"{floor['tv']:.3f}", f"{floor['forward_kl']:.3f}",
                 f"{floor['reverse_kl']:.3f}", f"{floor['jsd']:.4f}", f"{floor['mode_recall']:.3f}",
                 f"{floor['hallucinated_mass']:.3f}", f"{floor['rollout_tv'][-1]:.3f}", "-", "-"])
    sentences = world_model_findings(w)
    body = "".join(f"<h3>{f.upper()}</h3>" + _img(r["score_figure"], f"{f} scores") + _img(r["rollout_figure"], f"{f} rollout")
                   for f, r in w.items())
    return ("<h2>3. Generative world models scored against the true dynamics</h2>"
            f"<p>{', '.join(f.upper() for f in w)} models of P(o' | o, a) on a slippery 5x5 grid (one-hot observations, "
            f"{res['budget']['world_samples']:,} transitions; "
            + ", ".join(f"{f.upper()} {r['steps']:,}" for f, r in w.items() if "steps" in r)
            + (" training steps" if any("steps" in r for r in w.values()) else "")
            + f"), each scored exactly: {res['budget']['score_samples']} samples per (state, action) against the true row of P.</p>"
            + _table(["model", "TV", "KL(P||Q)", "KL(Q||P)", "JSD", "mode recall", "hallucinated", "rollout TV (last k)",
                      "held-out NLL / true entropy", "training"], rows)
            + f'<p class="note">{html.escape(" ".join(sentences))}</p>' + body)


def _pixel_section(res: dict[str, Any]) -> str:
    w = res.get("pixel_models")
    if not w:  # a results.json written before the demo had this stage
        return ""
    floor = next(iter(w.values()))["noise_floor"]
    rows = [[f.upper(), f"{r['tv']:.3f}", f"{r['mode_recall']:.3f}", f"{r['hallucinated_mass']:.4f}",
             f"{r['rollout_tv'][-1]:.3f}", f"{r['pixel']['psnr_samples']:.1f}", f"{r['pixel']['psnr_expected_frame']:.1f}",
             f"{r['train_seconds']:.0f} s ({r['device']})"] for f, r in w.items()]
    rows.append(["perfect model (noise floor)", f"{floor['tv']:.3f}", f"{floor['mode_recall']:.3f}",
                 f"{floor['hallucinated_mass']:.4f}", f"{floor['rollout_tv'][-1]:.3f}",
                 f"{floor['pixel']['psnr_samples']:.1f}", "inf", "-"])
    first = next(iter(w.values()))
    h, wd, _ = first["frame_shape"]
    return ("<h2>4. A world model of rendered frames, scored exactly and by PSNR</h2>"
            f"<p>A VAE of P(frame' | frame, a) on a slippery 3x3 grid with a hole, seen as {h} x {wd} RGB frames "
            f"({first['samples']:,} transitions, {first['steps']:,} training steps after its frame codec): every sampled "
            "frame is decoded to the state it shows (or to none) and scored against the true row of P, beside the "
            "pixel metrics video prediction uses (PSNR of samples against true successor frames, and of the expected "
            "frame).</p>"
            + _table(["model", "TV", "mode recall", "hallucinated", "rollout TV (last k)", "PSNR samples (dB)",
                      "PSNR expected frame (dB)", "training"], rows)
            + f'<p class="note">{html.escape(" ".join(pixel_findings(w)))}</p>'
            + "".join(_img(r["rollout_figure"], f"{f} pixel rollout") for f, r in w.items()))


def render(results: dict[str, Any]) -> str:
    """The report as one HTML string."""
    title = "gridlab demo report" + (" (quick)" if results.get("quick") else "")
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><style>{CSS}</style></head><body>"
            f"<h1>{title}</h1><p class='muted'>Run {results['started']} to {results['finished']}. Everything learned here is "
            "judged against exact ground truth: values by linear solves and certified dynamic programming, world models "
            "against the true transition probabilities.</p>"
            + _suite_section(results) + _agents_section(results) + _world_section(results) + _pixel_section(results)
            + "<p class='muted'>Numbers: results.json next to this file. Runs: runs/.</p></body></html>")
