"""A world model's run directory: :func:`~generative.run.train` into it, :func:`~generative.run.load` from it, :func:`~generative.run.save_score`
beside it.

It mirrors ``agents.sb3.train`` / ``agents.sb3.load`` for agents. A run directory holds

- ``model.pt``: weights and configuration (``WorldModel.save``; read with ``weights_only=True``);
- ``held_out.npz``: the transitions kept out of training, for the held-out NLL;
- ``config.json``: env id and keyword arguments, family, budget, seed, device, training time, history;
- ``score.json`` and ``score.png`` once scored, written together or not at all.

It is built under a temporary name and renamed when complete (``envs.rundir.atomic_run_dir``),
so an interrupted run leaves nothing a later command would read as finished.

Example:
    >>> model = train("gridlab/Grid-v0", "vae", env_kwargs={"layout": "S.G"}, samples=2000, steps=200,
    ...               out_dir="runs/w", progress=False, device="cpu")  # doctest: +SKIP
    >>> model, held_out = load("runs/w")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym

from envs.rundir import atomic_file, atomic_run_dir, atomic_write_text
from generative.data import ThinDataWarning, TransitionDataset, collect_transitions
from generative.world_model import WorldModel, train_world_model

__all__ = ["train", "load", "save_score", "read_run_dir", "HELD_OUT"]

HELD_OUT = 0.1  # share of the collected transitions kept out of training


def train(env_id: str, family: str = "vae", *, env_kwargs: dict[str, Any] | None = None, samples: int = 50_000,
          seed: int = 0, device: str = "auto", epochs: int | None = None, steps: int | None = None,
          out_dir: str | Path | None = None, progress: bool = True) -> WorldModel:
    """Collect transitions from ``env_id``, train a world model on 90% of them, write its run directory.

    Arguments:
        env_id: a registered gridlab id (``gym.make(env_id, **env_kwargs)``), with vector
            observations (``obs_mode`` ``"onehot"``, ``"coords"`` or ``"image"`` in ``env_kwargs``).
        family: a registered family (``generative.registry.family_names()``).
        samples: transitions to collect (``collect_transitions``: every live (state, action) in turn).
        seed: seeds the collection, the split and training.
        epochs, steps: training budget; default the family's ``defaults``.
        out_dir: the run directory (must not exist, or be empty); default
            ``runs/world_<family>_<env>_s<seed>_<time>``.

    Returns:
        The trained model; ``model.run_dir`` is the run directory.
    """
    kwargs = dict(env_kwargs or {})
    run_dir = Path(out_dir) if out_dir else Path("runs") / f"world_{family}_{env_id.split('/')[-1]}_s{seed}_{time.strftime('%Y%m%d-%H%M%S')}"
    env = gym.make(env_id, **kwargs)
    with atomic_run_dir(run_dir) as tmp:
        with warnings.catch_warnings():  # train_world_model warns of the pairs its training split leaves unseen
            warnings.simplefilter("ignore", ThinDataWarning)
            data = collect_transitions(env, samples, seed=seed)
        train_data, held = data.split(1.0 - HELD_OUT, seed=seed)
        model = train_world_model(train_data, family, seed=seed, device=device, epochs=epochs, steps=steps,
                                  progress=progress)
        model.save(tmp / "model.pt")
        held.save(tmp / "held_out.npz")
        (tmp / "config.json").write_text(json.dumps({
            "env_id": env_id, "env_kwargs": kwargs, "family": family, "samples": samples, "epochs": epochs,
            "steps": steps, "seed": seed, "device": str(model.device), "train_seconds": model.train_seconds,
            "history": model.history}, indent=1))
    model.run_dir = run_dir
    return model


def load(run_dir: str | Path, device: str = "cpu") -> tuple[WorldModel, TransitionDataset | None]:
    """The model of a run directory and its held-out transitions (None when the file is absent).

    Raises:
        ValueError: ``run_dir`` holds no ``model.pt``, or one that is not a readable world model.
    """
    return read_run_dir(run_dir, WorldModel, TransitionDataset, device)


def read_run_dir(run_dir: str | Path, model_cls: Any, data_cls: Any, device: str = "cpu") -> tuple[Any, Any]:
    """``model_cls.load`` of ``run_dir/model.pt`` and ``data_cls.load`` of its ``held_out.npz``
    (None when absent), with ``model.run_dir`` set: what every world-model run directory holds.

    Raises:
        ValueError: no ``model.pt``, or one ``model_cls`` cannot read (naming the directory).
    """
    path = Path(run_dir)
    if not (path / "model.pt").is_file():
        raise ValueError(f"{str(run_dir)!r} is not a world-model run directory (no model.pt)")
    held = data_cls.load(path / "held_out.npz") if (path / "held_out.npz").is_file() else None
    try:
        model = model_cls.load(path / "model.pt", device=device)
    except ValueError as e:  # a truncated or foreign model.pt
        raise ValueError(f"{run_dir}: {e}") from None
    model.run_dir = path
    return model, held


def save_score(run_dir: str | Path, model: WorldModel, result: dict[str, Any],
               limits: dict[str, float] | None = None) -> list[Path]:
    """Write ``score.json`` and ``score.png`` (``generative.plotting.score_figure``) into ``run_dir``.

    Both or neither: the figure is drawn under a temporary name before either file is replaced.
    """
    from generative.plotting import score_figure

    path = Path(run_dir)
    with atomic_file(path / "score.png") as png:
        score_figure(model, result, limits).savefig(png, dpi=110, format="png")
        atomic_write_text(path / "score.json", json.dumps(result))
    return [path / "score.json", path / "score.png"]
