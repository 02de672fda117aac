"""A world model with memory's run directory: :func:`~generative.sequence_run.train` into it,
:func:`~generative.sequence_run.load` from it, :func:`~generative.sequence_run.save_score` beside
it (the sequence twin of ``generative.run``).

A run directory holds

- ``model.pt``: weights and configuration (``SequenceWorldModel.save``; read with ``weights_only=True``);
- ``held_out.npz``: the episodes kept out of training (``SequenceDataset``), scored by default;
- ``config.json``: ``"kind": "sequence"``, the env id, family, episodes, budget, seed, device,
  training time and history;
- ``score.json`` and ``score.png`` once scored, written together or not at all.

Example:
    >>> model = train("gridlab/TMaze-v0", "hmm", episodes=200, steps=100, out_dir="runs/tm",
    ...               progress=False, device="cpu")  # doctest: +SKIP
    >>> model, held_out = load("runs/tm")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import gymnasium as gym

from envs.rundir import atomic_file, atomic_run_dir, atomic_write_text
from generative.sequence_model import SequenceWorldModel, train_sequence_model
from generative.sequences import SequenceDataset, collect_sequences, pomdp_of

__all__ = ["train", "load", "save_score", "is_sequence_run", "HELD_OUT"]

HELD_OUT = 0.2  # share of the collected episodes kept out of training


def train(env_id: str, family: str = "hmm", *, episodes: int = 500, seed: int = 0, device: str = "auto",
          steps: int | None = None, out_dir: str | Path | None = None, progress: bool = True,
          restarts: int = 1, **hparams: Any) -> SequenceWorldModel:
    """Play ``episodes`` uniform-policy episodes of a POMDP id, train a sequence family on 80% of
    them, and write its run directory.

    Arguments:
        env_id: a registered POMDP id (``gridlab/TMaze-v0``, ``gridlab/Tiger-v0``, ...).
        family: a registered sequence family (``generative.registry.sequence_family_names()``).
        episodes: episodes to collect (20% held out).
        seed: seeds the collection, the split and training.
        steps: gradient steps (default the family's).
        restarts: models to train (seeds ``seed``, ``seed + 1``, ...), keeping the one that predicts
            a tenth of the training episodes, held out, best (:func:`~generative.sequence_model.train_sequence_model`).
        out_dir: the run directory (must not exist, or be empty); default
            ``runs/world_<family>_<env>_s<seed>_<time>``.
        **hparams: the family's architecture arguments.

    Raises:
        TypeError: ``env_id`` is not a partially observed world.
    """
    env = gym.make(env_id)
    pomdp_of(env)  # a fully observed world: one line, before any work
    run_dir = Path(out_dir) if out_dir else Path("runs") / f"world_{family}_{env_id.split('/')[-1]}_s{seed}_{time.strftime('%Y%m%d-%H%M%S')}"
    with atomic_run_dir(run_dir) as tmp:
        data = collect_sequences(env, episodes, seed=seed)
        train_data, held = data.split(1.0 - HELD_OUT, seed=seed)
        model = train_sequence_model(train_data, family, seed=seed, device=device, steps=steps, progress=progress,
                                     restarts=restarts, **hparams)
        model.save(tmp / "model.pt")
        held.save(tmp / "held_out.npz")
        (tmp / "config.json").write_text(json.dumps({
            "kind": "sequence", "env_id": env_id, "family": family, "episodes": episodes, "steps": steps,
            "hparams": hparams, "seed": seed, "restarts": restarts, "restart_losses": model.restart_losses,
            "device": str(model.device), "train_seconds": model.train_seconds,
            "history": model.history}, indent=1))
    model.run_dir = run_dir
    return model


def is_sequence_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` is a sequence world model's run directory (its ``config.json`` says so)."""
    config = Path(run_dir) / "config.json"
    try:
        return config.is_file() and json.loads(config.read_text()).get("kind") == "sequence"
    except (OSError, ValueError):
        return False


def load(run_dir: str | Path, device: str = "cpu") -> tuple[SequenceWorldModel, SequenceDataset | None]:
    """The model of a run directory and its held-out episodes (None when the file is absent).

    Raises:
        ValueError: ``run_dir`` holds no ``model.pt``, or one that is not a sequence world model.
    """
    from generative.run import read_run_dir

    model, held = read_run_dir(run_dir, SequenceWorldModel, SequenceDataset, device)
    model.env_id = json.loads((Path(run_dir) / "config.json").read_text())["env_id"]
    return model, held


def save_score(run_dir: str | Path, result: dict[str, Any]) -> list[Path]:
    """Write ``score.json`` and ``score.png`` (``generative.plotting.sequence_score_figure``), both or neither."""
    from generative.plotting import sequence_score_figure

    path = Path(run_dir)
    with atomic_file(path / "score.png") as png:
        sequence_score_figure(result).savefig(png, dpi=110, format="png")
        atomic_write_text(path / "score.json", json.dumps(result))
    return [path / "score.json", path / "score.png"]
