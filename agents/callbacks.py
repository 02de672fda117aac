"""``ExactEvalCallback``: log the exact distance to the truth while an SB3 agent learns."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Callable

from stable_baselines3.common.callbacks import BaseCallback

from agents.compare import compare

__all__ = ["ExactEvalCallback", "EXACT_METRICS"]

EXACT_METRICS = ("return_gap", "relative_gap", "rmse_vs_pi", "rmse_vs_star", "policy_agreement")  # of compare.METRICS


class ExactEvalCallback(BaseCallback):
    """Every ``eval_freq`` calls, compare the model exactly with V^pi and V* and log the result.

    Logs ``exact/return_gap``, ``exact/rmse_vs_pi``, ``exact/rmse_vs_star``, ``exact/policy_agreement``
    (and ``exact/relative_gap``) through SB3's logger, so they reach TensorBoard, and appends a row to
    ``csv_path`` (columns ``timesteps`` then the metrics).

    Arguments:
        env: an env of the same world the model learns in (used for its exact model and encoding).
        eval_freq: evaluate every this many callback calls (each call is one step of all vector envs;
            use ``max(steps // n_envs, 1)`` for a cadence in timesteps). Also evaluates at the end.
        csv_path: where to append rows; ``None`` keeps them in ``self.history`` only.
        gamma: discount of the references; defaults to the model's.
        on_evaluation: called with each evaluation's row (``timesteps`` and the metrics), e.g. to
            report it to Ray Tune (``gridlab.sweep``).

    Example:
        >>> # model.learn(50_000, callback=ExactEvalCallback(env, eval_freq=500, csv_path="run/exact_eval.csv"))
    """

    def __init__(self, env: Any, eval_freq: int = 1000, csv_path: str | Path | None = None,
                 gamma: float | None = None, verbose: int = 0,
                 on_evaluation: Callable[[dict[str, float]], None] | None = None) -> None:
        super().__init__(verbose)
        if eval_freq < 1:
            raise ValueError(f"eval_freq must be >= 1, got {eval_freq}")
        self.env, self.eval_freq, self.gamma, self.on_evaluation = env, eval_freq, gamma, on_evaluation
        self.csv_path = Path(csv_path) if csv_path else None
        self.history: list[dict[str, float]] = []
        self._last_logged = -1

    def _on_training_start(self) -> None:
        if self.csv_path:
            self.csv_path.parent.mkdir(parents=True, exist_ok=True)
            with self.csv_path.open("w", newline="") as f:
                csv.writer(f).writerow(["timesteps", *EXACT_METRICS])
        self.evaluate()

    def evaluate(self) -> dict[str, float]:
        """Run one exact comparison now, log it and return its metrics."""
        if self.num_timesteps == self._last_logged:
            return self.history[-1]
        c = compare(self.model, self.env, gamma=self.gamma, horizon=None)  # EXACT_METRICS need no time limit
        row = {"timesteps": float(self.num_timesteps), **{k: c.metrics()[k] for k in EXACT_METRICS}}
        self.history.append(row)
        self._last_logged = self.num_timesteps
        for k in EXACT_METRICS:
            self.logger.record(f"exact/{k}", row[k])
        if self.csv_path:
            with self.csv_path.open("a", newline="") as f:
                csv.writer(f).writerow([int(self.num_timesteps), *(row[k] for k in EXACT_METRICS)])
        if self.on_evaluation is not None:
            self.on_evaluation(dict(row))
        if self.verbose:
            print(f"exact eval @ {self.num_timesteps}: gap {row['return_gap']:.4f} rmse_vs_pi {row['rmse_vs_pi']:.4f}")
        return row

    def _on_step(self) -> bool:
        if self.n_calls % self.eval_freq == 0:
            self.evaluate()
        return True

    def _on_training_end(self) -> None:
        self.evaluate()
