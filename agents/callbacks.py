"""Callbacks for SB3 agents: ``ExactEvalCallback`` logs the exact distance to the truth while an
agent learns; ``EntropySchedule`` anneals an entropy bonus (named by presets' ``callback`` key)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Callable

from stable_baselines3.common.callbacks import BaseCallback

from agents.compare import compare
from agents.minigrid_compare import EVAL_SEEDS, compare_minigrid_seeds
from agents.pomdp_compare import compare_pomdp, pomdp_references
from envs.minigrid import is_minigrid

__all__ = ["ExactEvalCallback", "EntropySchedule", "EXACT_METRICS", "POMDP_METRICS", "MINIGRID_EVAL_METRICS"]

EXACT_METRICS = ("return_gap", "relative_gap", "rmse_vs_pi", "rmse_vs_star", "policy_agreement")  # of compare.METRICS
POMDP_METRICS = ("value_lower", "value_upper", "lower", "upper", "normalised_score", "normalised_score_upper",
                 "relative_gap")  # of POMDPComparison.metrics
MINIGRID_EVAL_METRICS = ("V_pi_s0", "V_greedy_s0", "V_star_s0", "normalised_score", "normalised_score_greedy",
                         "relative_gap", "critic_rmse_reached")  # of MiniGridSeedsComparison.metrics: means over EVAL_SEEDS


class ExactEvalCallback(BaseCallback):
    """Every ``eval_freq`` calls, compare the model exactly with V^pi and V* and log the result.

    Logs ``exact/return_gap``, ``exact/rmse_vs_pi``, ``exact/rmse_vs_star``, ``exact/policy_agreement``
    (and ``exact/relative_gap``) through SB3's logger, so they reach TensorBoard, and appends a row to
    ``csv_path`` (columns ``timesteps`` then the metrics).

    On a POMDP env (:class:`~envs.pomdp_env.POMDPEnv`) the comparison is
    :func:`~agents.pomdp_compare.compare_pomdp` and the metrics are ``POMDP_METRICS``: the agent's
    value interval, the certified bounds on :math:`V^*(b_0)` (solved once, when training starts)
    and the normalised score's interval. A recurrent agent's value gets ``value_time_limit``
    seconds of history tree, then 500 Monte Carlo episodes when that is still wider.

    On a Farama MiniGrid world the comparison is
    :func:`~agents.minigrid_compare.compare_minigrid_seeds` over the layouts of ``EVAL_SEEDS``
    (each modelled once, when training starts) under MiniGrid's own objective, and the metrics
    are ``MINIGRID_EVAL_METRICS``, means over those layouts.

    Arguments:
        env: an env of the same world the model learns in (used for its exact model and encoding).
        eval_freq: evaluate every this many callback calls (each call is one step of all vector envs;
            use ``max(steps // n_envs, 1)`` for a cadence in timesteps). Also evaluates at the end.
        csv_path: where to append rows; ``None`` keeps them in ``self.history`` only.
        gamma: discount of the references; defaults to the model's.
        on_evaluation: called with each evaluation's row (``timesteps`` and the metrics), e.g. to
            report it to Ray Tune (``gridlab.sweep``).
        bounds_time_limit: a POMDP's bounds: seconds of :func:`agents.pomdp.solve` (to a gap of 1e-3).
        value_time_limit: a recurrent agent's history tree: seconds per evaluation.
        wrapper: a MiniGrid agent's observation wrapper (``env -> env``; default the zoo's FlatObsWrapper).

    Example:
        >>> # model.learn(50_000, callback=ExactEvalCallback(env, eval_freq=500, csv_path="run/exact_eval.csv"))
    """

    def __init__(self, env: Any, eval_freq: int = 1000, csv_path: str | Path | None = None,
                 gamma: float | None = None, verbose: int = 0,
                 on_evaluation: Callable[[dict[str, float]], None] | None = None,
                 bounds_time_limit: float = 60.0, value_time_limit: float = 1.0, wrapper: Any = "flat") -> None:
        from envs.pomdp_env import POMDPEnv

        super().__init__(verbose)
        if eval_freq < 1:
            raise ValueError(f"eval_freq must be >= 1, got {eval_freq}")
        self.env, self.eval_freq, self.gamma, self.on_evaluation = env, eval_freq, gamma, on_evaluation
        self.is_pomdp = isinstance(getattr(env, "unwrapped", env), POMDPEnv)
        spec = getattr(env, "spec", None)
        self.minigrid_id = spec.id if spec is not None and is_minigrid(spec.id) else None
        self.wrapper, self._minigrid_cache = wrapper, {}
        self.metrics = POMDP_METRICS if self.is_pomdp else MINIGRID_EVAL_METRICS if self.minigrid_id else EXACT_METRICS
        self.bounds_time_limit, self.value_time_limit = bounds_time_limit, value_time_limit
        self.references = None  # a POMDP's certified bounds and references, computed when training starts
        self.csv_path = Path(csv_path) if csv_path else None
        self.history: list[dict[str, float]] = []
        self._last_logged = -1

    def _on_training_start(self) -> None:
        if self.csv_path:
            self.csv_path.parent.mkdir(parents=True, exist_ok=True)
            with self.csv_path.open("w", newline="") as f:
                csv.writer(f).writerow(["timesteps", *self.metrics])
        if self.is_pomdp and self.references is None:
            self.references = pomdp_references(self.env.unwrapped.pomdp, tol=1e-3, time_limit=self.bounds_time_limit)
        self.evaluate()

    def evaluate(self, final: bool = False) -> dict[str, float]:
        """Run one exact comparison now, log it and return its metrics.

        A second call at the same timestep returns the first's row, except ``final=True`` (at the
        end of training), which measures again and replaces that row: an algorithm's last update
        (PPO's, after its last rollout) comes after the last step's evaluation.
        """
        replace = final and self.num_timesteps == self._last_logged
        if self.num_timesteps == self._last_logged and not replace:
            return self.history[-1]
        if self.is_pomdp:
            c = compare_pomdp(self.model, self.env, references=self.references, tree_time_limit=self.value_time_limit,
                              episodes=500, seed=self.num_timesteps)
        elif self.minigrid_id:
            c = compare_minigrid_seeds(self.model, self.minigrid_id, EVAL_SEEDS, wrapper=self.wrapper,
                                       cache=self._minigrid_cache)
        else:
            c = compare(self.model, self.env, gamma=self.gamma, horizon=None)  # EXACT_METRICS need no time limit
        metrics = c.metrics()
        row = {"timesteps": float(self.num_timesteps), **{k: metrics[k] for k in self.metrics}}
        if replace:
            self.history[-1] = row
        else:
            self.history.append(row)
        self._last_logged = self.num_timesteps
        for k in self.metrics:
            self.logger.record(f"exact/{k}", row[k])
        if self.csv_path:
            if replace:  # the file's last line is this timestep's earlier row
                lines = self.csv_path.read_text().splitlines(keepends=True)
                self.csv_path.write_text("".join(lines[:-1]))
            with self.csv_path.open("a", newline="") as f:
                csv.writer(f).writerow([int(self.num_timesteps), *(row[k] for k in self.metrics)])
        if self.on_evaluation is not None:
            self.on_evaluation(dict(row))
        if self.verbose and self.is_pomdp:
            print(f"exact eval @ {self.num_timesteps}: value [{row['value_lower']:.4f}, {row['value_upper']:.4f}] "
                  f"score >= {row['normalised_score']:.3f}")
        elif self.verbose and self.minigrid_id:
            print(f"exact eval @ {self.num_timesteps}: V^pi(s0) {row['V_pi_s0']:.4f} of V* {row['V_star_s0']:.4f}")
        elif self.verbose:
            print(f"exact eval @ {self.num_timesteps}: gap {row['return_gap']:.4f} rmse_vs_pi {row['rmse_vs_pi']:.4f}")
        return row

    def _on_step(self) -> bool:
        if self.n_calls % self.eval_freq == 0:
            self.evaluate()
        return True

    def _on_training_end(self) -> None:
        self.evaluate(final=True)


class EntropySchedule(BaseCallback):
    r"""Anneal the entropy coefficient: :math:`c_0` (the model's ``ent_coef`` when training starts)
    until a share ``start`` of training is done, then linearly to ``final`` at the share ``end``,
    then ``final``:

    .. math:: c(p) = c_0 + (c_1 - c_0)\,\mathrm{clip}\big((p - \mathrm{start}) / (\mathrm{end} - \mathrm{start}), 0, 1\big)

    A large bonus keeps a policy exploring until it has found the reward; a small one late lets it
    settle on the actions it found, whose exact value no longer pays the bonus's randomness. Set
    before each rollout (PPO and A2C read ``ent_coef`` in their update).

    In a preset (RL Zoo's ``callback`` key, which the zoo reads the same way)::

        callback:
          - agents.callbacks.EntropySchedule: {final: 0.0, start: 0.7}

    Arguments:
        final: the coefficient :math:`c_1` at the end of the schedule, >= 0.
        start, end: the shares of training where the decay starts and ends, 0 <= start < end <= 1.

    Example:
        >>> EntropySchedule(final=0.0, start=0.5, end=1.0).coefficient(0.02, done=0.75)
        0.01
    """

    def __init__(self, final: float = 0.0, start: float = 0.0, end: float = 1.0, verbose: int = 0) -> None:
        super().__init__(verbose)
        if not (isinstance(final, (int, float)) and 0.0 <= final < float("inf")):
            raise ValueError(f"EntropySchedule final must be a number >= 0, got {final!r}")
        if not (isinstance(start, (int, float)) and isinstance(end, (int, float)) and 0.0 <= start < end <= 1.0):
            raise ValueError(f"EntropySchedule needs 0 <= start < end <= 1, got start={start!r}, end={end!r}")
        self.final, self.start, self.end = float(final), float(start), float(end)
        self.initial: float | None = None
        self.total_timesteps = 0

    def coefficient(self, initial: float, done: float) -> float:
        """The coefficient once a share ``done`` of training is done."""
        return initial + (self.final - initial) * min(1.0, max(0.0, (done - self.start) / (self.end - self.start)))

    def _on_training_start(self) -> None:
        if not isinstance(getattr(self.model, "ent_coef", None), (int, float)):
            raise ValueError(f"EntropySchedule needs a fixed numeric ent_coef; {type(self.model).__name__} has "
                             f"{getattr(self.model, 'ent_coef', None)!r}")
        self.initial = float(self.model.ent_coef)
        # learn()'s locals, which SB3 hands every callback: the timestep count training ends at
        # (previous timesteps included when learn continues a model), as SB3's own progress reads it
        self.total_timesteps = int(self.locals["total_timesteps"])

    def _on_rollout_start(self) -> None:
        self.model.ent_coef = self.coefficient(self.initial, self.num_timesteps / max(self.total_timesteps, 1))

    def _on_step(self) -> bool:
        return True
