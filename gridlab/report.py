"""The demo's report: one self-contained HTML page (figures embedded), its sentences computed from the results."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

__all__ = ["render", "agent_findings", "world_model_findings", "pixel_findings"]

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


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


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
            f"<p>Every registered world solved with {_and([METHODS[m].title for m in methods])} "
            "(gamma = 0.99; iterations / milliseconds).</p>"
            + _table(["world", "states", "slip", "V*(s0)", *[m.upper() for m in methods], "certified bound"], rows)
            + f'<p class="note">{html.escape(note)}</p>' + _img(res["suite_figure"], "V* of FourRooms"))


TIE = 1e-3  # return gaps closer than 0.1% of V*(s0) are a tie
FAILED = 0.5  # a final policy losing half of V*(s0) or more has not learned the task


def agent_findings(agents: dict[str, dict[str, Any]], seed: int = 0) -> list[str]:
    """Sentences about trained agents, each stated only when its numbers support it.

    Arguments:
        agents: ``{algo: Comparison.metrics()}`` (``return_gap``, ``relative_gap``, ``V_star_s0``,
            ``rmse_vs_pi``, ``rmse_vs_pi_visited``, ``max_err_vs_pi``, ``policy_agreement``,
            ``suboptimal_visitation``).
        seed: the training seed the numbers come from (one run each).

    Rules: an agent losing at least half of V*(s0) is said not to have learned the task; among
    the others a winner is named only when its gap beats the next by more than 0.1% of V*(s0),
    else they tie; a critic is "accurate where the agent goes" only when its error under the
    policy's own visitation is under half its error over all live states; "the rest are states it
    almost never reaches" only when those states carry under 0.1% of its discounted visitation.

    Example:
        >>> agent_findings({"ppo": compare(model, env).metrics()})  # doctest: +SKIP
    """
    a = agents
    sentences = []
    failed = [k for k in a if a[k]["relative_gap"] >= FAILED]
    for k in failed:
        sentences.append(f"{k.upper()} has not learned the task at this budget: its final policy (seed {seed}) loses "
                         f"{100 * a[k]['relative_gap']:.0f}% of V*(s0) = {a[k]['V_star_s0']:.3f} from the start.")
    ranked = sorted((k for k in a if k not in failed), key=lambda k: a[k]["return_gap"])
    if ranked:
        best = ranked[0]
        tie = TIE * max(abs(a[best]["V_star_s0"]), 1e-9)
        tied = [k for k in ranked if a[k]["return_gap"] - a[best]["return_gap"] <= tie]
        if len(tied) > 1:
            sentences.append(f"{' and '.join(k.upper() for k in tied)} tie: their final policies (seed {seed}) lose "
                             + " and ".join(f"{a[k]['return_gap']:.2g}" for k in tied)
                             + f" of return from the start, within 0.1% of V*(s0) = {a[best]['V_star_s0']:.3f} of each other.")
        elif len(ranked) > 1:
            sentences.append(
                f"{best.upper()} came closest to optimal with its final policy (seed {seed}, one run: the learning curves "
                f"show how much that moves): it loses {a[best]['return_gap']:.4f} of return from the start "
                f"({100 * a[best]['relative_gap']:.1f}% of V*(s0) = {a[best]['V_star_s0']:.3f}), computed exactly by a linear solve.")
        else:
            sentences.append(f"{best.upper()}'s final policy (seed {seed}) loses {a[best]['return_gap']:.4f} of return from "
                             f"the start ({100 * a[best]['relative_gap']:.1f}% of V*(s0) = {a[best]['V_star_s0']:.3f}).")
    for k, r in a.items():
        visited, overall = r.get("rmse_vs_pi_visited"), r["rmse_vs_pi"]
        if visited is not None and visited < 0.5 * overall:
            sentences.append(f"{k.upper()}'s critic is accurate where its policy goes (rmse {visited:.3f} vs V^pi under its "
                             f"own state visitation) and guesses elsewhere (rmse {overall:.3f} over all live states, worst "
                             f"state {r['max_err_vs_pi']:.3f}).")
        elif visited is not None:
            sentences.append(f"{k.upper()}'s critic is off even where its policy goes (rmse {visited:.3f} vs V^pi under "
                             f"its own state visitation, {overall:.3f} over all live states): it has not fitted the value "
                             "of its own policy.")
    for k, r in a.items():
        if r["policy_agreement"] < 1.0 and r["return_gap"] < 0.01 * max(abs(r["V_star_s0"]), 1e-9):
            visits = r["suboptimal_visitation"]
            where = ("the rest are states its own policy almost never reaches" if visits < 1e-3 else
                     "the rest still carry some of its visits")
            sentences.append(f"{k.upper()} acts near-optimally from the start yet its greedy action is optimal in only "
                             f"{100 * r['policy_agreement']:.0f}% of states: {where} ({100 * visits:.2g}% of its exact "
                             "discounted state visitation).")
    return sentences


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


def world_model_findings(models: dict[str, dict[str, Any]]) -> list[str]:
    """Sentences about scored world models, each stated only beyond what sampling noise gives.

    Arguments:
        models: ``{family: generative.score(...) result}`` (``tv``, ``forward_kl``, ``reverse_kl``,
            ``mode_recall``, ``rollout_tv`` and its ``noise_floor``: a perfect model's scores with
            the same sample sizes; every model scored on the same world with the same sizes).

    Rules: a ranking by mean TV only when the gap to the next exceeds the floor's TV; a KL
    direction "dominates" only when it is at least 1.5 times the other and the larger exceeds
    twice the floor's; errors "compound" only when a model's rollout TV grows by more than the
    largest rollout TV a perfect model shows.

    Example:
        >>> world_model_findings({f: score(m, n_samples=1000) for f, m in models.items()})  # doctest: +SKIP
    """
    w = models
    floor = next(iter(w.values()))["noise_floor"]
    ranked = sorted(w, key=lambda k: w[k]["tv"])
    best = ranked[0]
    if len(ranked) > 1 and w[ranked[1]]["tv"] - w[best]["tv"] <= floor["tv"]:
        tied = [f for f in ranked if w[f]["tv"] - w[best]["tv"] <= floor["tv"]]
        values = ", ".join(format(w[f]["tv"], ".3f") for f in tied)
        sentences = [f"{', '.join(f.upper() for f in tied)} are within the noise floor of each other in mean TV ({values}; "
                     f"a perfect model scores {floor['tv']:.3f} with these sample sizes): no ranking between them is supported."]
    else:
        sentences = [f"{best.upper()} is closest to the true dynamics (mean TV {w[best]['tv']:.3f} over live (state, action) "
                     f"pairs, against {floor['tv']:.3f} for a perfect model with these sample sizes)."]
    clear = {f: max(r["forward_kl"], r["reverse_kl"]) > 2 * max(floor["forward_kl"], floor["reverse_kl"]) for f, r in w.items()}
    covering = [f for f, r in w.items() if clear[f] and r["reverse_kl"] >= 1.5 * r["forward_kl"]]
    seeking = [f for f, r in w.items() if clear[f] and r["forward_kl"] >= 1.5 * r["reverse_kl"]]
    at_floor = [f for f in w if not clear[f]]
    balanced = [f for f in w if f not in covering + seeking + at_floor]
    if covering:
        sentences.append(f"{', '.join(f.upper() for f in covering)}: KL(Q||P) well above KL(P||Q), the signature of mode "
                         "covering: the model misses little of the truth but spreads mass where the truth has none.")
    if seeking:
        sentences.append(f"{', '.join(f.upper() for f in seeking)}: KL(P||Q) well above KL(Q||P), the signature of mode "
                         "seeking: what it produces is plausible, but it under-weights or drops true outcomes (mode recall "
                         + ", ".join(f"{w[f]['mode_recall']:.3f}" for f in seeking) + ").")
    if balanced:
        sentences.append(f"{', '.join(f.upper() for f in balanced)}: the two KL directions are within a factor 1.5 of each "
                         "other (" + "; ".join(f"{f.upper()}: {w[f]['forward_kl']:.3f} vs {w[f]['reverse_kl']:.3f}"
                                               for f in balanced) + "), so neither failure dominates.")
    if at_floor:
        sentences.append(f"{', '.join(f.upper() for f in at_floor)}: both KL directions are within twice a perfect model's "
                         f"({floor['forward_kl']:.3f} / {floor['reverse_kl']:.3f} with these sample sizes), so no KL "
                         "direction can be said to dominate.")
    room = max(floor["rollout_tv"])
    growth = {f: r["rollout_tv"][-1] - r["rollout_tv"][0] for f, r in w.items()}
    drift = max(growth, key=growth.get)
    H = len(w[drift]["rollout_tv"])
    if growth[drift] > room:
        sentences.append(f"Errors compound in imagination: {drift.upper()}'s rollout TV grows from "
                         f"{w[drift]['rollout_tv'][0]:.3f} at one step to {w[drift]['rollout_tv'][-1]:.3f} at {H} steps, "
                         f"beyond what sampling alone gives a perfect model (up to {room:.3f}).")
    else:
        sentences.append(f"No model's rollout TV grows beyond the noise floor over {H} steps (a perfect model reaches "
                         f"{room:.3f} with these sample sizes), so compounding errors are not visible at this budget.")
    return sentences


def pixel_findings(models: dict[str, dict[str, Any]]) -> list[str]:
    """Sentences comparing the pixel metrics of scored pixel world models with the exact ones.

    Arguments:
        models: ``{family: generative.score(...) result}`` of models of one pixel world, scored
            with the same sizes (each with ``pixel`` and ``noise_floor["pixel"]``, a perfect
            model's exact pixel metrics).

    Rules: the families are ranked by PSNR of samples and by mean TV; the two rankings are said
    to disagree only when the family the TV ranks first is ahead of the PSNR's choice by more
    than the floor's TV (a perfect model's TV with these sample sizes). A model whose samples
    have a higher PSNR than a perfect model's by more than the floor's ``psnr_samples_noise``
    (how far sampling alone moves a perfect model's estimate) is said to beat the truth on pixel
    MSE; hallucinated mass is reported wherever it is above 0 (a perfect model has none).

    Example:
        >>> pixel_findings({f: score(m, n_samples=200) for f, m in models.items()})  # doctest: +SKIP
    """
    w = models
    first = next(iter(w.values()))
    floor_tv, perfect = first["noise_floor"]["tv"], first["noise_floor"]["pixel"]["psnr_samples"]
    by_psnr = sorted(w, key=lambda f: -w[f]["pixel"]["psnr_samples"])
    by_tv = sorted(w, key=lambda f: w[f]["tv"])
    listing = ", ".join(f"{f.upper()} {w[f]['pixel']['psnr_samples']:.1f} dB (TV {w[f]['tv']:.3f})" for f in by_psnr)
    sentences = [f"PSNR of samples against true successor frames, best first: {listing}; a perfect model scores "
                 f"{perfect:.1f} dB and TV {floor_tv:.3f} with these sample sizes."]
    a, b = by_psnr[0], by_tv[0]
    if a != b and w[a]["tv"] - w[b]["tv"] > floor_tv:
        sentences.append(f"The pixel metric and the exact one disagree: {a.upper()} has the best PSNR, but "
                         f"{b.upper()} is closer to the true dynamics by {w[a]['tv'] - w[b]['tv']:.3f} in TV, more "
                         f"than a perfect model's {floor_tv:.3f}.")
    else:
        sentences.append(f"The pixel metric and the exact one do not disagree beyond sampling noise about the best model "
                         f"({b.upper()} by TV, {a.upper()} by PSNR).")
    noise = first["noise_floor"]["pixel"]["psnr_samples_noise"]
    better = [f for f in w if w[f]["pixel"]["psnr_samples"] > perfect + noise]
    if better:
        sentences.append(f"{', '.join(f.upper() for f in better)}: samples closer on average to the true frames than a "
                         f"perfect model's, by more than sampling moves a perfect model's PSNR ({noise:.2f} dB): the mark "
                         "of averaged frames or of less likely outcomes under-weighted, which pixel MSE rewards and exact "
                         "TV does not.")
    lost = [f for f in w if w[f]["hallucinated_mass"] > 0]
    if lost:
        sentences.append("Frames that show no state the world can reach from (s, a), invisible to pixel MSE: "
                         + ", ".join(f"{f.upper()} {w[f]['hallucinated_mass']:.4f}" for f in lost) + " of the samples.")
    else:
        sentences.append("Every sampled frame shows a state the world can reach from its (s, a).")
    return sentences


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
