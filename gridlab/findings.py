r"""Sentences computed from numbers: what the demo report, the sweep report and the notebooks say.

Every function here turns measured numbers into sentences, and each sentence makes a claim
("accurate", "off", a ranking, a dominant KL direction, errors that compound) only where the
numbers it quotes support it. Two rules make that hold for the numbers a reader *sees*:

- every number is rounded to the digits it is printed with (:func:`rounded`, three significant
  digits) *before* any rule reads it, so a claim never rests on a digit the sentence hides;
- a comparison is a claim only beyond a tolerance: a ranking beyond the tie tolerance or the
  noise floor (what a perfect model scores with the same sample sizes), "accurate" only within
  an absolute *and* a relative error, "off" only outside it.

The tolerances are the module's constants; ``tests/test_findings.py`` checks every sentence
against the numbers it quotes over the whole range of inputs (hypothesis).

Example:
    >>> critic = dict(return_gap=0.0, relative_gap=0.0, V_star_s0=0.8, rmse_vs_pi=3e-4, rmse_vs_pi_visited=2e-4,
    ...               max_err_vs_pi=9e-4, policy_agreement=1.0, suboptimal_visitation=0.0)
    >>> agent_findings({"dqn": critic})[1]
    "DQN's critic is accurate everywhere: rmse 0.0002 vs V^pi under its own state visitation, 0.0003 over all live states, worst state 0.0009."
"""

from __future__ import annotations

import math
from typing import Any, Callable

__all__ = ["agent_findings", "world_model_findings", "pixel_findings", "sweep_findings", "pomdp_findings",
           "sequence_findings", "rounded", "quoted", "english_list", "PROBE_HOLDS", "OPEN_LOOP_TIE",
           "critic_tolerance", "TIE", "FAILED", "ACCURATE_ABS", "ACCURATE_REL", "NEAR_OPTIMAL", "RARE_VISITS",
           "TV_TIE", "KL_TIE", "KL_FACTOR", "SCORE_TIE"]

TIE = 1e-3  # return gaps within 0.1% of |V*(s0)| of each other are a tie
FAILED = 0.5  # a final policy losing half of |V*(s0)| or more has not learned the task
ACCURATE_ABS = 0.02  # a critic is accurate where its error is at most this ...
ACCURATE_REL = 0.02  # ... and at most this share of |V*(s0)|
NEAR_OPTIMAL = 0.01  # a return gap within 1% of |V*(s0)| is near-optimal
RARE_VISITS = 1e-3  # states carrying under 0.1% of the discounted visitation are "almost never reached"
TV_TIE = 1e-3  # mean TVs within max(noise floor, this) of each other are a tie
KL_TIE = 1e-3  # a KL direction dominates only where the larger exceeds max(2 x the floor's, this)
KL_FACTOR = 1.5  # ... and is at least this many times the other
SCORE_TIE = 0.01  # normalised scores (1 optimal, 0 uniform-random) within this of each other are a tie
PROBE_HOLDS = 0.05  # a belief probe's held-out KL at most this (and below the shuffled state's) reads the belief
OPEN_LOOP_TIE = 0.01  # an open-loop TV within this of a perfect model's (the noise floor) is at the floor


def quoted(x: float) -> str:
    """``x`` as the sentences print it: three significant digits (``inf`` and ``nan`` as such).

    Example:
        >>> quoted(3.1416), quoted(2.5e-4), quoted(12345.0), quoted(float("inf"))
        ('3.14', '0.00025', '1.23e+04', 'inf')
    """
    return format(float(x), ".3g")


def rounded(x: float) -> float:
    """``x`` rounded as :func:`quoted` prints it: the value every rule here reads.

    Example:
        >>> rounded(0.0200004), rounded(0.0)
        (0.02, 0.0)
    """
    return float(quoted(x))


def english_list(items: list[str]) -> str:
    """Items as a sentence lists them.

    Example:
        >>> english_list(["PPO"]), english_list(["PPO", "DQN", "A2C"])
        ('PPO', 'PPO, DQN and A2C')
    """
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _names(items: list[str]) -> str:
    return english_list([k.upper() for k in items])


def critic_tolerance(V_star_s0: float) -> float:
    """The largest error called accurate: ``min(ACCURATE_ABS, ACCURATE_REL * |V*(s0)|)``.

    Example:
        >>> critic_tolerance(0.8), critic_tolerance(-100.0), critic_tolerance(0.0)
        (0.016, 0.02, 0.0)
    """
    return min(ACCURATE_ABS, ACCURATE_REL * abs(V_star_s0))


def _relative(gap: float, v0: float) -> float:
    return gap / abs(v0) if v0 != 0 else (0.0 if gap == 0 else math.inf)


def _gap_phrase(gap: float, v0: float) -> str:
    if v0 == 0:
        return f"{quoted(gap)} of return from the start, where V*(s0) = 0"
    return f"{quoted(gap)} of return from the start ({quoted(100 * _relative(gap, v0))}% of |V*(s0)| = {quoted(abs(v0))})"


def agent_findings(agents: dict[str, dict[str, Any]], seed: int = 0) -> list[str]:
    r"""Sentences about trained agents of one world, each stated only when its numbers support it.

    Arguments:
        agents: ``{algo: Comparison.metrics()}`` (``return_gap``, ``V_star_s0``, ``rmse_vs_pi``,
            ``max_err_vs_pi``, ``policy_agreement``, ``suboptimal_visitation`` and, where known,
            ``rmse_vs_pi_visited``), every agent on the same world.
        seed: the training seed the numbers come from (one run each).

    Rules, on the numbers as printed (:func:`rounded`):

    - an agent whose gap is at least ``FAILED`` of :math:`|V^*(s_0)|` has not learned the task
      and is not ranked;
    - among the others a winner is named only when its gap beats the next by more than
      ``TIE`` :math:`\cdot |V^*(s_0)|`; agents within that of the best tie;
    - a critic's error :math:`e` (rmse vs :math:`V^\pi` under the policy's own visitation, over
      all live states, and at the worst state) is *accurate* when
      :math:`e \le \min(\text{ACCURATE\_ABS}, \text{ACCURATE\_REL}\cdot|V^*(s_0)|)`
      (:func:`critic_tolerance`) and *off* otherwise: accurate everywhere, accurate where its
      policy goes and off elsewhere, or off even where its policy goes;
    - an agent within ``NEAR_OPTIMAL`` of :math:`|V^*(s_0)|` whose greedy action is not optimal
      everywhere: the rest are "states it almost never reaches" only when they carry under
      ``RARE_VISITS`` of its discounted visitation.

    Example:
        >>> m = dict(return_gap=0.4, V_star_s0=0.8, rmse_vs_pi=0.3, rmse_vs_pi_visited=0.004,
        ...          max_err_vs_pi=0.9, policy_agreement=0.6, suboptimal_visitation=0.1)
        >>> agent_findings({"ppo": m})  # doctest: +NORMALIZE_WHITESPACE
        ['PPO has not learned the task at this budget: its final policy (seed 0) loses 0.4 of return from the start (50% of |V*(s0)| = 0.8).',
         "PPO's critic is accurate where its policy goes (rmse 0.004 vs V^pi under its own state visitation) and off elsewhere (rmse 0.3 over all live states, worst state 0.9)."]
    """
    a = agents
    sentences: list[str] = []
    gap = {k: rounded(r["return_gap"]) for k, r in a.items()}
    v0 = {k: rounded(r["V_star_s0"]) for k, r in a.items()}
    failed = [k for k in a if rounded(100 * _relative(gap[k], v0[k])) >= 100 * FAILED]
    for k in failed:
        sentences.append(f"{k.upper()} has not learned the task at this budget: its final policy (seed {seed}) loses "
                         f"{_gap_phrase(gap[k], v0[k])}.")
    ranked = sorted((k for k in a if k not in failed), key=lambda k: gap[k])
    if ranked:
        best = ranked[0]
        tie = TIE * abs(a[best]["V_star_s0"])
        tied = [k for k in ranked if gap[k] - gap[best] <= tie]
        rest = [k for k in ranked if k not in tied]
        if len(tied) > 1:
            sentences.append(f"{_names(tied)} tie: their final policies (seed {seed}) lose "
                             + " and ".join(quoted(gap[k]) for k in tied)
                             + f" of return from the start, within {100 * TIE:g}% of |V*(s0)| = {quoted(abs(v0[best]))} "
                               "of each other.")
            if rest:
                sentences.append(f"They come closer to optimal than {_names(rest)} ("
                                 + ", ".join(f"{k.upper()} loses {quoted(gap[k])}" for k in rest) + ").")
        elif rest:
            nxt = rest[0]
            sentences.append(
                f"{best.upper()} came closest to optimal with its final policy (seed {seed}, one run: the learning curves "
                f"show how much that moves): it loses {_gap_phrase(gap[best], v0[best])}, against {quoted(gap[nxt])} for "
                f"{nxt.upper()}, computed exactly by a linear solve.")
        else:
            sentences.append(f"{best.upper()}'s final policy (seed {seed}) loses {_gap_phrase(gap[best], v0[best])}.")
    for k, r in a.items():
        sentences.append(_critic_sentence(k, r))
    for k, r in a.items():
        agreement = math.floor(100 * r["policy_agreement"])  # floored: "only 100%" would be false below 1
        if r["policy_agreement"] < 1.0 and v0[k] != 0 and gap[k] <= NEAR_OPTIMAL * abs(r["V_star_s0"]):
            visits = rounded(100 * r["suboptimal_visitation"])
            where = ("the rest are states its own policy almost never reaches" if visits < 100 * RARE_VISITS else
                     "the rest still carry some of its visits")
            sentences.append(f"{k.upper()} acts near-optimally from the start (it loses {quoted(gap[k])}, within "
                             f"{100 * NEAR_OPTIMAL:g}% of |V*(s0)|) yet its greedy action is optimal in only {agreement}% of "
                             f"states: {where} ({quoted(visits)}% of its exact discounted state visitation).")
    return sentences


def _critic_sentence(k: str, r: dict[str, Any]) -> str:
    tol = critic_tolerance(r["V_star_s0"])
    overall, worst = rounded(r["rmse_vs_pi"]), rounded(r["max_err_vs_pi"])
    visited = None if r.get("rmse_vs_pi_visited") is None else rounded(r["rmse_vs_pi_visited"])
    K = k.upper()
    if visited is None:
        if overall <= tol and worst <= tol:
            return f"{K}'s critic is accurate everywhere: rmse {quoted(overall)} vs V^pi over all live states, worst state {quoted(worst)}."
        if overall <= tol:
            return (f"{K}'s critic is accurate on average (rmse {quoted(overall)} vs V^pi over all live states) but off by "
                    f"{quoted(worst)} at its worst state.")
        return f"{K}'s critic is off: rmse {quoted(overall)} vs V^pi over all live states, worst state {quoted(worst)}."
    if visited > tol:
        return (f"{K}'s critic is off even where its policy goes (rmse {quoted(visited)} vs V^pi under its own state "
                f"visitation, {quoted(overall)} over all live states; an accurate critic misses by at most {quoted(tol)} "
                "here).")
    if overall > tol:
        return (f"{K}'s critic is accurate where its policy goes (rmse {quoted(visited)} vs V^pi under its own state "
                f"visitation) and off elsewhere (rmse {quoted(overall)} over all live states, worst state {quoted(worst)}).")
    if worst > tol:
        return (f"{K}'s critic is accurate where its policy goes and on average (rmse {quoted(visited)} vs V^pi under its "
                f"own state visitation, {quoted(overall)} over all live states) but off by {quoted(worst)} at its worst state.")
    return (f"{K}'s critic is accurate everywhere: rmse {quoted(visited)} vs V^pi under its own state visitation, "
            f"{quoted(overall)} over all live states, worst state {quoted(worst)}.")


def _tie_reason(tol: float, floor: float, what: str) -> str:
    if tol == floor:
        return f"the {what} a perfect model scores with these sample sizes"
    return f"the tie tolerance (a perfect model scores {quoted(floor)} with these sample sizes)"


def world_model_findings(models: dict[str, dict[str, Any]]) -> list[str]:
    r"""Sentences about scored world models, each stated only beyond what sampling noise gives.

    Arguments:
        models: ``{family: generative.score(...) result}`` (``tv``, ``forward_kl``, ``reverse_kl``,
            ``mode_recall``, ``rollout_tv`` and its ``noise_floor``: a perfect model's scores with
            the same sample sizes; every model scored on the same world with the same sizes).

    Rules, on the numbers as printed (:func:`rounded`): a ranking by mean TV only when the gap
    to the next exceeds :math:`\max(\text{floor's TV}, \text{TV\_TIE})`; a KL direction
    "dominates" only when it is at least ``KL_FACTOR`` times the other and the larger exceeds
    :math:`\max(2\cdot\text{floor's larger KL}, \text{KL\_TIE})`; errors "compound" only when a
    model's rollout TV grows by more than the largest rollout TV a perfect model shows (and
    ``TV_TIE``).

    Example:
        >>> floor = dict(tv=0.03, forward_kl=0.005, reverse_kl=0.005, rollout_tv=[0.02, 0.03])
        >>> vae = dict(tv=0.05, forward_kl=0.01, reverse_kl=0.05, mode_recall=1.0, rollout_tv=[0.05, 0.1],
        ...            noise_floor=floor)
        >>> world_model_findings({"vae": vae})[0]
        'VAE scores mean TV 0.05 over live (state, action) pairs, against 0.03 for a perfect model with these sample sizes.'
    """
    w = models
    floor = next(iter(w.values()))["noise_floor"]
    tv = {f: rounded(r["tv"]) for f, r in w.items()}
    floor_tv = rounded(floor["tv"])
    tol = max(floor_tv, TV_TIE)
    ranked = sorted(w, key=lambda f: tv[f])
    best = ranked[0]
    tied = [f for f in ranked if tv[f] - tv[best] <= tol]
    rest = [f for f in ranked if f not in tied]
    if len(ranked) == 1:
        sentences = [f"{best.upper()} scores mean TV {quoted(tv[best])} over live (state, action) pairs, against "
                     f"{quoted(floor_tv)} for a perfect model with these sample sizes."]
    elif len(tied) > 1:
        sentences = [f"{_names(tied)} are within {quoted(tol)} of each other in mean TV ("
                     + ", ".join(f"{f.upper()} {quoted(tv[f])}" for f in tied)
                     + f"), {_tie_reason(tol, floor_tv, 'TV')}: no ranking between them is supported."]
        if rest:
            sentences.append(f"They are closer to the true dynamics than {_names(rest)} ("
                             + ", ".join(f"{f.upper()} {quoted(tv[f])}" for f in rest) + ") by more than that.")
    else:
        nxt = ranked[1]
        sentences = [f"{best.upper()} is closest to the true dynamics: mean TV {quoted(tv[best])} over live (state, action) "
                     f"pairs against {quoted(tv[nxt])} for {nxt.upper()}, a difference beyond {quoted(tol)}, "
                     f"{_tie_reason(tol, floor_tv, 'TV')}."]
    sentences += _kl_sentences(w, floor)
    sentences.append(_compounding_sentence(w, floor))
    return sentences


def _kl_sentences(w: dict[str, dict[str, Any]], floor: dict[str, Any]) -> list[str]:
    fkl = {f: rounded(r["forward_kl"]) for f, r in w.items()}
    rkl = {f: rounded(r["reverse_kl"]) for f, r in w.items()}
    floor_f, floor_r = rounded(floor["forward_kl"]), rounded(floor["reverse_kl"])
    bound = max(2 * max(floor_f, floor_r), KL_TIE)
    covering, seeking, balanced, at_floor = [], [], [], []
    for f in w:
        if max(fkl[f], rkl[f]) <= bound:
            at_floor.append(f)
        elif rkl[f] >= KL_FACTOR * fkl[f]:
            covering.append(f)
        elif fkl[f] >= KL_FACTOR * rkl[f]:
            seeking.append(f)
        else:
            balanced.append(f)

    def pairs(fs: list[str]) -> str:
        return "; ".join(f"{f.upper()}: KL(P||Q) {quoted(fkl[f])}, KL(Q||P) {quoted(rkl[f])}" for f in fs)

    sentences = []
    if covering:
        sentences.append(f"{_names(covering)}: KL(Q||P) at least {KL_FACTOR:g} times KL(P||Q) ({pairs(covering)}), the "
                         "signature of mode covering: the model misses little of the truth but spreads mass where the "
                         "truth has none.")
    if seeking:
        sentences.append(f"{_names(seeking)}: KL(P||Q) at least {KL_FACTOR:g} times KL(Q||P) ({pairs(seeking)}), the "
                         "signature of mode seeking: what it produces is plausible, but it under-weights or drops true "
                         "outcomes (mode recall " + ", ".join(quoted(w[f]["mode_recall"]) for f in seeking) + ").")
    if balanced:
        sentences.append(f"{_names(balanced)}: the two KL directions are within a factor {KL_FACTOR:g} of each other "
                         f"({pairs(balanced)}), so neither failure dominates.")
    if at_floor:
        reason = (f"twice a perfect model's larger one ({quoted(floor_f)} / {quoted(floor_r)} with these sample sizes)"
                  if bound > KL_TIE else f"the tie tolerance (a perfect model scores {quoted(floor_f)} / {quoted(floor_r)})")
        sentences.append(f"{_names(at_floor)}: both KL directions are at most {quoted(bound)} ({pairs(at_floor)}), "
                         f"{reason}, so no KL direction can be said to dominate.")
    return sentences


def _compounding_sentence(w: dict[str, dict[str, Any]], floor: dict[str, Any]) -> str:
    curves = {f: [rounded(x) for x in r["rollout_tv"]] for f, r in w.items()}
    H = len(next(iter(curves.values())))
    if H < 2:
        return "Rollouts of one step cannot show errors compounding."
    room = max(rounded(x) for x in floor["rollout_tv"])
    tol = max(room, TV_TIE)
    growing = [f for f, c in curves.items() if c[-1] - c[0] > tol]
    if growing:
        return ("Errors compound in imagination: "
                + "; ".join(f"{f.upper()}'s rollout TV grows from {quoted(curves[f][0])} at one step to "
                            f"{quoted(curves[f][-1])} at {H} steps" for f in growing)
                + f", by more than {quoted(tol)}, the most a perfect model shows from sampling alone.")
    return (f"No model's rollout TV grows by more than {quoted(tol)} over {H} steps (a perfect model reaches "
            f"{quoted(room)} with these sample sizes), so compounding errors are not visible at this budget.")


def pixel_findings(models: dict[str, dict[str, Any]]) -> list[str]:
    r"""Sentences comparing the pixel metrics of scored pixel world models with the exact ones.

    Arguments:
        models: ``{family: generative.score(...) result}`` of models of one pixel world, scored
            with the same sizes (each with ``pixel`` and ``noise_floor["pixel"]``, a perfect
            model's exact pixel metrics).

    Rules, on the numbers as printed (:func:`rounded`): the families are listed by PSNR of
    samples; the pixel and the exact metric are said to disagree only when the family with the
    best PSNR beats the best-TV family's PSNR by more than ``psnr_samples_noise`` (how far
    sampling alone moves a perfect model's estimate) *and* is behind it in TV by more than
    :math:`\max(\text{floor's TV}, \text{TV\_TIE})`. A model whose samples beat a perfect
    model's PSNR by more than that noise is said to beat the truth on pixel MSE; hallucinated
    mass is reported wherever it is above 0 (a perfect model has none).

    Example:
        >>> floor = dict(tv=0.03, pixel=dict(psnr_samples=20.0, psnr_samples_noise=0.2))
        >>> vae = dict(tv=0.05, hallucinated_mass=0.0, pixel=dict(psnr_samples=19.5), noise_floor=floor)
        >>> pixel_findings({"vae": vae})[-1]
        'Every sampled frame shows a state the world can reach from its (s, a).'
    """
    w = models
    first = next(iter(w.values()))
    floor_tv = rounded(first["noise_floor"]["tv"])
    perfect = rounded(first["noise_floor"]["pixel"]["psnr_samples"])
    noise = rounded(first["noise_floor"]["pixel"]["psnr_samples_noise"])
    tv = {f: rounded(r["tv"]) for f, r in w.items()}
    psnr = {f: rounded(r["pixel"]["psnr_samples"]) for f, r in w.items()}
    tol = max(floor_tv, TV_TIE)
    by_psnr = sorted(w, key=lambda f: -psnr[f])
    by_tv = sorted(w, key=lambda f: tv[f])
    listing = ", ".join(f"{f.upper()} {quoted(psnr[f])} dB (TV {quoted(tv[f])})" for f in by_psnr)
    sentences = [f"PSNR of samples against true successor frames, best first: {listing}; a perfect model scores "
                 f"{quoted(perfect)} dB and TV {quoted(floor_tv)} with these sample sizes."]
    if len(w) > 1:
        a, b = by_psnr[0], by_tv[0]
        if psnr[a] - psnr[b] > noise and tv[a] - tv[b] > tol:
            sentences.append(f"The pixel metric and the exact one disagree: {a.upper()} has the better PSNR "
                             f"({quoted(psnr[a])} against {quoted(psnr[b])} dB, beyond the {quoted(noise)} dB sampling moves "
                             f"a perfect model's), but {b.upper()} is closer to the true dynamics (TV {quoted(tv[b])} against "
                             f"{quoted(tv[a])}, beyond {quoted(tol)}).")
        else:
            sentences.append("The pixel metric and the exact one do not disagree beyond sampling noise about the best "
                             f"model ({b.upper()} by TV, {a.upper()} by PSNR: no gap in both beyond {quoted(noise)} dB and "
                             f"{quoted(tol)} TV).")
    better = [f for f in by_psnr if psnr[f] - perfect > noise]
    if better:
        sentences.append(", ".join(f"{f.upper()} ({quoted(psnr[f])} dB)" for f in better)
                         + f": samples closer on average to the true frames than a perfect model's ({quoted(perfect)} dB), "
                         f"by more than sampling moves a perfect model's PSNR ({quoted(noise)} dB): the mark of averaged "
                         "frames or of less likely outcomes under-weighted, which pixel MSE rewards and exact TV does not.")
    lost = [f for f in w if w[f]["hallucinated_mass"] > 0]
    if lost:
        sentences.append("Frames that show no state the world can reach from (s, a), invisible to pixel MSE: "
                         + ", ".join(f"{f.upper()} {quoted(w[f]['hallucinated_mass'])}" for f in lost) + " of the samples.")
    else:
        sentences.append("Every sampled frame shows a state the world can reach from its (s, a).")
    return sentences


def sweep_findings(agg: dict[str, Any]) -> list[str]:
    """What a sweep's aggregate supports, in sentences.

    Arguments:
        agg: ``gridlab.sweep.aggregate``'s result: ``{method: entry}``, each entry with
            ``runs_left_out`` and, where a run finished, ``iqm`` as ``(point, lo, hi)`` and
            ``probability_of_improvement[other]`` as ``(p, lo, hi)``.

    Rules, on the numbers as printed (:func:`rounded`): methods are taken in order of their IQM;
    two whose IQMs are within ``SCORE_TIE`` of the normalised score tie; otherwise one is said to
    score above the next only where their 95% intervals of the IQM do not overlap. A probability of
    improvement is stated only where its interval lies above one half and the two IQMs do not tie.

    Example:
        >>> sweep_findings({"ppo": {"iqm": (0.95, 0.91, 0.98), "runs_left_out": 0},
        ...                 "a2c": {"iqm": (0.62, 0.40, 0.80), "runs_left_out": 0}})
        ['PPO scores above A2C: their IQM intervals do not overlap (PPO [0.91, 0.98] vs A2C [0.4, 0.8]).']
    """
    iqm = {m: tuple(rounded(x) for x in a["iqm"]) for m, a in agg.items() if "iqm" in a}
    ranked = sorted(iqm, key=lambda m: -iqm[m][0])
    sentences = []
    def tie(a: str, b: str) -> bool:
        return abs(iqm[a][0] - iqm[b][0]) <= SCORE_TIE

    for a, b in zip(ranked, ranked[1:]):
        interval = f"({a.upper()} [{quoted(iqm[a][1])}, {quoted(iqm[a][2])}] vs {b.upper()} [{quoted(iqm[b][1])}, {quoted(iqm[b][2])}])"
        if tie(a, b):
            sentences.append(f"{a.upper()} and {b.upper()} tie: their IQMs ({quoted(iqm[a][0])} and {quoted(iqm[b][0])}) "
                             f"are within {SCORE_TIE:g} of the normalised score, too close to rank.")
        elif iqm[a][1] > iqm[b][2]:
            sentences.append(f"{a.upper()} scores above {b.upper()}: their IQM intervals do not overlap {interval}.")
        else:
            sentences.append(f"{a.upper()} and {b.upper()} cannot be told apart at this number of runs: their IQM "
                             f"intervals overlap {interval}.")
    for a in ranked:
        for b, triple in agg[a].get("probability_of_improvement", {}).items():
            p, lo, hi = (rounded(x) for x in triple)
            if lo > 0.5 and b in iqm and not tie(a, b):
                sentences.append(f"On a world drawn from this set, a run of {a.upper()} beats a run of {b.upper()} with "
                                 f"probability {quoted(p)} (95% CI [{quoted(lo)}, {quoted(hi)}], above one half).")
    for m, a in agg.items():
        if m not in iqm:
            sentences.append(f"{m.upper()}: no run finished, so it is not ranked.")
        if a.get("runs_left_out"):
            sentences.append(f"{m.upper()}: {a['runs_left_out']} run(s) left out of the aggregate because a trial failed.")
    return sentences


def _interval(lo: float, hi: float) -> str:
    return quoted(lo) if lo == hi else f"[{quoted(lo)}, {quoted(hi)}]"


def pomdp_findings(agents: dict[str, dict[str, Any]]) -> list[str]:
    """Sentences about agents on one POMDP (:meth:`agents.pomdp_compare.POMDPComparison.to_dict`).

    Arguments:
        agents: ``{name: comparison dict}``, each with ``kind``, ``value_method``, ``value_lower``,
            ``value_upper``, ``normalised_score`` and ``normalised_score_upper`` (the score
            interval), ``upper`` (the certified upper bound on :math:`V^*(b_0)`) and
            ``best_memoryless`` (None when not enumerated); every agent on the same model.

    Rules, on the numbers as printed (:func:`rounded`):

    - each agent's score interval is quoted with how its value was found (exact, a certified
      history tree, or a Monte Carlo 95% interval);
    - agents are taken in order of their score's lower end; one is said to score above the next
      only where its lower end exceeds the other's upper end by more than ``SCORE_TIE``;
    - an agent is said to earn more (or less) than the best deterministic memoryless policy only
      where its whole value interval lies above (or below) that policy's value by more than
      ``TIE`` of :math:`|V^*(b_0)|` (its certified upper bound's magnitude, or 1 where that is 0);
      otherwise it is level with it.

    Example:
        >>> pomdp_findings({"RecurrentPPO": {"kind": "recurrent", "value_method": "history tree", "value_lower": 3.52,
        ...     "value_upper": 3.53, "normalised_score": 0.99, "normalised_score_upper": 0.995, "upper": 3.54,
        ...     "best_memoryless": 1.77}})[1]
        'RecurrentPPO earns more than any deterministic memoryless policy can: at least 3.52 against 1.77.'
    """
    rows = {}
    for name, a in agents.items():
        lo, hi = rounded(a["normalised_score"]), rounded(a["normalised_score_upper"])
        rows[name] = {"lo": lo, "hi": hi, "vlo": rounded(a["value_lower"]), "vhi": rounded(a["value_upper"]),
                      "best": None if a.get("best_memoryless") is None else rounded(a["best_memoryless"]),
                      "tol": TIE * (abs(rounded(a["upper"])) or 1.0)}
    how = {"exact": "exact", "history tree": "certified by its history tree",
           "monte carlo": "a Monte Carlo 95% interval, not a certificate"}
    sentences = []
    for name, a in agents.items():
        r = rows[name]
        sentences.append(f"{name} ({a['kind']}; value {how[a['value_method']]}) scores {_interval(r['lo'], r['hi'])} "
                         "(1 optimal, 0 uniform-random).")
        if r["best"] is None:
            continue
        if r["vlo"] - r["best"] > r["tol"]:
            sentences.append(f"{name} earns more than any deterministic memoryless policy can: at least "
                             f"{quoted(r['vlo'])} against {quoted(r['best'])}.")
        elif r["best"] - r["vhi"] > r["tol"]:
            sentences.append(f"{name} earns less than the best deterministic memoryless policy: at most "
                             f"{quoted(r['vhi'])} against {quoted(r['best'])}.")
        else:
            sentences.append(f"{name} is level with the best deterministic memoryless policy: "
                             f"{_interval(r['vlo'], r['vhi'])} against {quoted(r['best'])}, within {quoted(r['tol'])}.")
    ranked = sorted(rows, key=lambda k: -rows[k]["lo"])
    sentences += _ranking(ranked, rows, lambda ra, rb: ra["lo"] - rb["hi"] > SCORE_TIE, _interval,
                          "{a} scores above {b}: the score intervals are apart by more than " + f"{SCORE_TIE:g}",
                          "{a} and {b} are not ranked: their score intervals overlap or lie within " + f"{SCORE_TIE:g} of each other")
    return sentences


def _ranking(ranked: list[str], rows: dict[str, dict[str, float]], apart: Callable[[dict, dict], bool],
             show: Callable[[float, float], str], above: str, level: str) -> list[str]:
    """One sentence per neighbouring pair of ``ranked``: ``above`` where ``apart(first, second)``
    holds, else ``level`` (templates with ``{a}`` and ``{b}``), each quoting both intervals."""
    out = []
    for a, b in zip(ranked, ranked[1:]):
        ra, rb = rows[a], rows[b]
        pair = f"{a} {show(ra['lo'], ra['hi'])}, {b} {show(rb['lo'], rb['hi'])}"
        out.append((above if apart(ra, rb) else level).format(a=a, b=b) + f" ({pair}).")
    return out


def sequence_findings(results: dict[str, dict[str, Any]]) -> list[str]:
    """Sentences about world models with memory scored on one POMDP
    (``generative.sequence_scoring.score_sequence``'s results).

    Arguments:
        results: ``{family: result}``, each with ``kl_rate`` and its interval ``kl_rate_ci``,
            ``tv``, ``sampled`` (and then ``predictive_samples`` and ``noise_floor``),
            ``open_loop_tv`` and ``open_loop_floor``, and optionally ``probe``; families whose name
            starts with ``markov_`` have no memory.

    Rules, on the numbers as printed (:func:`rounded`):

    - each family's KL rate is quoted with its interval, and, for a family that only samples, the
      KL rate a perfect model scores with as many draws;
    - families are taken in order of their KL rate; one is said to predict better than the next
      only where its interval's upper end is below the other's lower end by more than ``KL_TIE``;
    - memory is said to pay only where the best family with memory beats the best memoryless one
      by that rule;
    - a family's state is said to hold the belief where its probe's KL is at most ``PROBE_HOLDS``
      and below the shuffled state's by more than ``KL_TIE``; to hold part of it where the probe's
      KL is below half the shuffled state's; otherwise it holds no more than a shuffled state;
    - its open-loop predictions are at the noise floor up to the largest k where every step's TV
      is within ``OPEN_LOOP_TIE`` of the floor's.

    Example:
        >>> r = {"kl_rate": 0.0012, "kl_rate_ci": [0.0011, 0.0014], "tv": 0.0019, "sampled": False,
        ...      "open_loop_tv": [0.009, 0.028], "open_loop_floor": [0.006, 0.008],
        ...      "probe": {"kl": 0.021, "kl_shuffled": 2.55}}
        >>> sequence_findings({"rssm": r})[2]
        "rssm's state holds the true belief: a linear probe reads it with KL 0.021, against 2.55 from shuffled states."
    """
    rows = {}
    for name, r in results.items():
        lo, hi = (rounded(x) for x in r["kl_rate_ci"])
        rows[name] = {"kl": rounded(r["kl_rate"]), "lo": lo, "hi": hi}
    sentences = []
    for name, r in results.items():
        row = rows[name]
        how = (f"a histogram of {r['predictive_samples']} draws per prediction; a perfect model's KL rate with as many "
               f"is {quoted(r['noise_floor']['kl_rate'])}") if r["sampled"] else "its own predictive distribution"
        sentences.append(f"{name} pays a KL rate of {quoted(row['kl'])} nats per step [{quoted(row['lo'])}, "
                         f"{quoted(row['hi'])}] against the forward algorithm ({how}); predictive TV {quoted(r['tv'])}.")
        tvs, floors = r["open_loop_tv"], r["open_loop_floor"]
        at_floor = 0
        while at_floor < len(tvs) and rounded(tvs[at_floor]) - rounded(floors[at_floor]) <= OPEN_LOOP_TIE:
            at_floor += 1
        if at_floor:
            sentences.append(f"{name}'s open-loop predictions are within {OPEN_LOOP_TIE:g} of a perfect model's TV up to "
                             f"k = {at_floor} of {len(tvs)} (at k = {at_floor}: {quoted(tvs[at_floor - 1])} against "
                             f"{quoted(floors[at_floor - 1])}).")
        elif tvs:
            sentences.append(f"{name}'s open-loop predictions are off a perfect model's from the first step: TV "
                             f"{quoted(tvs[0])} against {quoted(floors[0])}.")
        if "probe" in r:
            k, sh = rounded(r["probe"]["kl"]), rounded(r["probe"]["kl_shuffled"])
            if k <= PROBE_HOLDS and sh - k > KL_TIE:
                sentences.append(f"{name}'s state holds the true belief: a linear probe reads it with KL {quoted(k)}, "
                                 f"against {quoted(sh)} from shuffled states.")
            elif k < sh / 2:
                sentences.append(f"{name}'s state holds part of the true belief: a linear probe reads it with KL "
                                 f"{quoted(k)} (above {PROBE_HOLDS:g}), against {quoted(sh)} from shuffled states.")
            else:
                sentences.append(f"{name}'s state holds no more of the belief than shuffled states do: probe KL "
                                 f"{quoted(k)} against {quoted(sh)}.")
    ranked = sorted(rows, key=lambda n: (rows[n]["kl"], n))
    sentences += _ranking(ranked, rows, lambda ra, rb: rb["lo"] - ra["hi"] > KL_TIE,
                          lambda lo, hi: f"[{quoted(lo)}, {quoted(hi)}]",
                          "{a} predicts better than {b}: their KL-rate intervals are apart by more than " + f"{KL_TIE:g}",
                          "{a} and {b} are not ranked: their KL-rate intervals overlap or lie within " + f"{KL_TIE:g}")
    memory = [n for n in ranked if not n.startswith("markov_")]
    memoryless = [n for n in ranked if n.startswith("markov_")]
    if memory and memoryless:
        a, b = memory[0], memoryless[0]
        ra, rb = rows[a], rows[b]
        pair = f"{a} [{quoted(ra['lo'])}, {quoted(ra['hi'])}] against {b} [{quoted(rb['lo'])}, {quoted(rb['hi'])}]"
        if rb["lo"] - ra["hi"] > KL_TIE:
            sentences.append(f"Memory pays: the best family with memory predicts better than the best without ({pair} "
                             "nats per step).")
        else:
            sentences.append(f"Memory buys nothing measurable here: the best family with memory is not ranked above the "
                             f"best without ({pair} nats per step).")
    return sentences

