"""The ``gridlab`` command: ``envs``, ``solve``, ``train``, ``compare``, ``world``, ``demo``.

Every user error ends in one line on stderr and exit status 2; no tracebacks.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

__all__ = ["main", "entry", "build_parser"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog.split()[0]} --help)\n")


def _checked(parse: Callable[[str], Any], ok: Callable[[Any], bool], expected: str) -> Callable[[str], Any]:
    """An argparse type: ``parse`` the text, then refuse a value that is not ``ok``, in one line."""

    def convert(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    return convert


_count = _checked(int, lambda v: v >= 1, "an integer >= 1")
_tolerance = _checked(float, lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
_discount = _checked(float, lambda v: 0.0 < v <= 1.0, "a discount in (0, 1]")  # also refuses nan
_seconds = _checked(float, lambda v: math.isfinite(v) and v > 0, "a number of seconds > 0")
_nonnegative = _checked(int, lambda v: v >= 0, "an integer >= 0")
_seed = _checked(int, lambda v: 0 <= v < 2**32, "a seed in [0, 2**32)")  # numpy's and SB3's range


def _directory(text: str) -> str:
    """A non-empty path (argparse type): an empty --out would write into the working directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a directory path, got an empty string")
    return text


def _cmd_envs(args: argparse.Namespace) -> int:
    from envs import POMDP_SUITE, SUITE, required_kwargs
    from gridlab.envspec import make_env

    print(f"{'env id':28s} {'size':>7s} {'states':>6s} {'slip':>5s} {'max steps':>9s}")
    for env_id, (_, kw, steps) in SUITE.items():
        if needs := required_kwargs(env_id):
            print(f"{env_id:28s} {'any':>7s} {'-':>6s} {'-':>5s} {steps:9d}   (needs "
                  + " ".join(f"--kw {k}=..." for k in needs) + ")")
            continue
        base = make_env(env_id).unwrapped
        print(f"{env_id:28s} {f'{base.height}x{base.width}':>7s} {base.n_states:6d} {base.slip:5.2f} {steps:9d}")
    print(f"\n{'partially observable':28s} {'actions':>7s} {'states':>6s} {'obs':>5s} {'max steps':>9s}")
    for env_id, (_, _, steps) in POMDP_SUITE.items():
        m = make_env(env_id).unwrapped.pomdp
        print(f"{env_id:28s} {m.n_actions:7d} {m.n_states:6d} {m.n_observations:5d} {steps:9d}")
    return 0


def _cmd_solve(args: argparse.Namespace) -> int:
    from gridlab import solve
    from gridlab.output import check_writable
    from gridlab.envspec import UsageError, parse_kwargs

    if args.out:
        check_writable(args.out)
    if args.all:
        rows = solve.solve_suite(args.gamma, args.tol or 1e-6)
        print(solve.format_suite(rows))
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / "suite.json").write_text(json.dumps(rows, indent=1))
        return 0
    if not args.env_id:
        raise UsageError("solve needs an ENV_ID or --all")
    from envs.minigrid import is_minigrid

    if is_minigrid(args.env_id):
        return solve.solve_minigrid_command(args.env_id, args.seed, args.out)
    kwargs = parse_kwargs(args.kw)
    if solve.is_pomdp(args.env_id, kwargs):
        return solve.solve_pomdp_command(args.env_id, kwargs, args.gamma, args.tol or 1e-3, args.time_limit, args.out)
    args.tol = args.tol or 1e-6
    env, sol = solve.solve_one(args.env_id, kwargs, args.gamma, args.method, args.tol)
    print(solve.describe(env, sol))
    verdict = (f"certified |V - V*| <= {sol.error_bound:.2e}" if sol.converged else
               f"NOT certified to --tol {args.tol:g} (bound {sol.error_bound:.2e}: "
               f"{sol.info.get('certificate', 'iteration cap reached')})")
    print(f"\n{sol.method}: {sol.iterations} iterations, {sol.seconds * 1000:.1f} ms, "
          f"Bellman residual {sol.residual:.2e}, {verdict}")
    out = Path(args.out or Path("runs") / "solve" / args.env_id.replace("/", "_"))
    existed = {p.name for p in out.glob("values.*")}
    for p in solve.write_solution(out, args.env_id, kwargs, env, sol):
        print(f"wrote {p}" + (" (replacing the previous solve's)" if p.name in existed else ""))
    return 0


def _one_torch_thread() -> None:
    """Small MLPs on CPU run fastest on one thread (two threads make SB3's PPO 4.5x slower on 2 cores).

    Set here, at the entry point, for the commands that train or sample networks: the process is ours.
    """
    import torch

    torch.set_num_threads(1)


def _cmd_train(args: argparse.Namespace) -> int:
    from gridlab.agents_cmd import train_run
    from gridlab.envspec import parse_kwargs
    from gridlab.output import check_writable

    if args.out:
        check_writable(Path(args.out).parent, args.out)

    _one_torch_thread()
    run_dir = train_run(args.env_id, args.algo, args.steps, args.seed, args.gamma, args.n_envs, args.hyperparams,
                        parse_kwargs(args.kw), args.out, args.device, progress_bar=not args.no_progress)
    print(run_dir)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from gridlab.agents_cmd import compare_run

    _one_torch_thread()
    from agents.minigrid_compare import MiniGridSeedsComparison
    from agents.pomdp_compare import POMDPComparison

    c, written = compare_run(args.run_dir, args.gamma, args.weighting, args.time_limit)
    if isinstance(c, POMDPComparison):
        print(f"exact comparison of {args.run_dir} on a POMDP (values at b0, the model's discount)")
    elif isinstance(c, MiniGridSeedsComparison):
        print(f"exact comparison of {args.run_dir} under MiniGrid's objective")
    else:
        print(f"exact comparison of {args.run_dir} (gamma={c.gamma}, errors over live states, {c.weighting} weights)")
    print(c.table())
    for p in written:
        print(f"wrote {p}")
    return 0


def _cmd_world(args: argparse.Namespace) -> int:
    from gridlab import world_cmd
    from gridlab.envspec import parse_kwargs
    from gridlab.output import check_writable

    _one_torch_thread()
    if args.world_command == "train":
        if args.out:
            check_writable(Path(args.out).parent, args.out)
        frames = {k: v for k, v in (("cell_px", args.cell_px), ("pixel_noise", args.pixel_noise),
                                    ("distractors", args.distractors)) if v is not None}
        print(world_cmd.world_train(args.env_id, args.family, args.obs_mode, args.samples, args.epochs, args.device,
                                    args.seed, {**parse_kwargs(args.kw), **frames}, args.out, progress=not args.no_progress,
                                    episodes=args.episodes, steps=args.steps, restarts=args.restarts))
    elif args.world_command == "score":
        result, written = world_cmd.world_score(args.run_dir, args.samples, args.horizon)
        print(world_cmd.format_score(result))
        for p in written:
            print(f"wrote {p}")
    else:
        print(f"wrote {world_cmd.world_rollout(args.run_dir, args.policy, args.horizon, args.seed)}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from gridlab.envspec import UsageError, parse_kwargs
    from gridlab.sweep import SweepSpec, parse_seeds, run_sweep

    try:
        if args.spec:
            spec = SweepSpec.from_file(args.spec)
        elif args.kind:
            methods = args.algos if args.kind == "agents" else args.families
            grid = {k: v if isinstance(v, list) else [v] for k, v in parse_kwargs(args.hp).items()}
            spec = SweepSpec(args.kind, tuple(filter(None, (args.worlds or "").split(","))),
                             tuple(filter(None, (methods or "").split(","))), parse_seeds(args.seeds), steps=args.steps,
                             evals=args.evals, samples=args.samples, hyperparams=grid)
        else:
            spec = None
        if spec is None and not args.resume:
            raise UsageError("give a kind (agents or world) with its flags, --spec FILE, or --resume")
        if spec is not None and args.kind and args.spec and spec.kind != args.kind:
            raise UsageError(f"--spec {args.spec} is a {spec.kind} sweep, not {args.kind}")
        out = args.out or "runs/sweep"
        agg = run_sweep(spec, out, address=args.address, resume=args.resume, retries=args.retries)
    except ValueError as e:
        raise UsageError(str(e)) from None
    for method, a in agg.items():
        iqm = f"IQM {a['iqm'][0]:.3f} [{a['iqm'][1]:.3f}, {a['iqm'][2]:.3f}]" if "iqm" in a else "no complete run"
        print(f"{method:8s} {iqm}  ({a['runs']} runs x {a['worlds']} worlds)")
    print(Path(out).resolve() / "report.html")
    return 0


def _cmd_tune(args: argparse.Namespace) -> int:
    from gridlab.envspec import UsageError
    from gridlab.sweep import parse_seeds
    from gridlab.tune import tune_preset

    try:
        result = tune_preset(args.world, args.algo, args.out, seeds=parse_seeds(args.seeds), steps=args.steps,
                             trials=args.trials, space=args.space, address=args.address, seed=args.seed)
    except ValueError as e:
        raise UsageError(str(e)) from None
    preset = result["preset_score"]
    print(f"best of {result['trials']} configurations: mean exact normalised score {result['best_score']:.4f}"
          + (f" (the preset: {preset:.4f})" if preset is not None else ""))
    for k, v in result["best"].items():
        print(f"  {k}: {v}")
    print(Path(args.out).resolve() / "best.yml")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from gridlab.demo import run_demo

    _one_torch_thread()
    print(run_demo(args.out, quick=args.quick, device=args.device))
    return 0


def _cmd_explore(args: argparse.Namespace) -> int:
    from gridlab.envspec import UsageError
    from gridlab.explore import serve

    try:
        serve(args.runs, port=args.port, open_browser=not args.no_browser, world=args.world,
              announce=lambda url: print(f"gridlab explorer at {url} (127.0.0.1 only; Ctrl-C stops it)", flush=True))
    except ValueError as e:  # a run directory that is not one, an unknown world
        raise UsageError(str(e)) from None
    print("gridlab explorer stopped", flush=True)  # Ctrl-C ends the server: the normal way to stop it
    return 0


DEVICES = ["auto", "cpu", "cuda"]  # "auto": envs.resources.resolve_device


def build_parser() -> argparse.ArgumentParser:
    from agents.algos import ALGOS  # the registries load what they list lazily: a cheap --help
    from envs.gridworld import OBS_MODES
    from agents.solvers import METHODS
    from generative.registry import family_names, sequence_family_names
    from gridlab.sweep import KINDS

    families = family_names()
    sequence_families = sequence_family_names()
    p = _Parser(prog="gridlab", description="A lab for RL and generative world models judged against exact ground truth.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    e = sub.add_parser("envs", help="list the registered worlds")
    e.set_defaults(func=_cmd_envs)
    s = sub.add_parser("solve", help="solve a world exactly (value/policy iteration)")
    s.add_argument("env_id", nargs="?", help="a registered id, e.g. gridlab/FourRooms-v0, FrozenLake-v1, "
                                             "gridlab/Tiger-v0 or MiniGrid-DoorKey-8x8-v0, or a Cassandra .pomdp file")
    s.add_argument("--all", action="store_true", help="solve the whole registered suite and print a table")
    s.add_argument("--gamma", type=_discount, default=None, help="discount in (0, 1]; default: the world's own (0.99)")
    s.add_argument("--method", choices=["auto", *METHODS], default="auto",
                   help="auto picks by size and gamma; " + "; ".join(f"{m.name}: {m.title}" for m in METHODS.values()))
    s.add_argument("--tol", type=_tolerance, default=None,
                   help="certified bound on |V - V*| (default 1e-6); for a POMDP the gap at b0 (default 1e-3)")
    s.add_argument("--time-limit", type=_seconds, default=60.0, help="a POMDP solve's time limit in seconds (default 60)")
    s.add_argument("--seed", type=_seed, default=0, help="a MiniGrid world's reset seed: the layout modelled (default 0)")
    s.add_argument("--kw", action="append", metavar="KEY=VALUE", help="env keyword argument (repeatable); layout rows split on '/'")
    s.add_argument("--out", type=_directory, help="output directory (default runs/solve/<id>)")
    s.set_defaults(func=_cmd_solve)

    t = sub.add_parser("train", help="train a Stable-Baselines3 agent (PPO, A2C, DQN) on a world")
    t.add_argument("env_id", help="a registered id, e.g. gridlab/FourRooms-v0")
    t.add_argument("--algo", choices=list(ALGOS), default="ppo", help="a registered algorithm (SB3, sb3-contrib)")
    t.add_argument("--steps", type=_count, default=None, help="timesteps (default: the preset's n_timesteps)")
    t.add_argument("--seed", type=_seed, default=0, help="seed of the model, the envs and the evaluation (default 0)")
    t.add_argument("--gamma", type=_discount, default=None,
                   help="the agent's discount in (0, 1] (default: a POMDP's own discount, else 0.99)")
    t.add_argument("--n-envs", type=_count, default=None, help="parallel training envs (default: the preset's n_envs)")
    t.add_argument("--hyperparams", help="YAML file in RL Zoo's format overriding the shipped presets")
    t.add_argument("--kw", action="append", metavar="KEY=VALUE", help="env keyword argument (repeatable)")
    t.add_argument("--out", type=_directory, help="run directory (default runs/<algo>_<env>_s<seed>_<time>)")
    t.add_argument("--device", default="auto", choices=DEVICES, help="torch device (auto: CUDA when there is one)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=_cmd_train)

    c = sub.add_parser("compare", help="compare a trained run exactly with V^pi and V*")
    c.add_argument("run_dir", help="a run directory of gridlab train (or an RL Zoo run folder)")
    c.add_argument("--gamma", type=_discount, default=None, help="default: the agent's own gamma")
    c.add_argument("--weighting", choices=["uniform", "visitation"], default="uniform",
                   help="weights of the rmse over states: uniform, or the policy's exact discounted visitation")
    c.add_argument("--time-limit", type=_seconds, default=60.0,
                   help="a POMDP run: seconds for the certified bounds, and for a recurrent agent's history tree (default 60)")
    c.set_defaults(func=_cmd_compare)

    w = sub.add_parser("world", help=f"generative world models ({', '.join(families)}) scored against the true dynamics")
    wsub = w.add_subparsers(dest="world_command", required=True, parser_class=_Parser)
    wt = wsub.add_parser("train", help="collect transitions and train a world model")
    wt.add_argument("env_id", help="a registered id, e.g. gridlab/SlipperyLake-v0")
    wt.add_argument("--family", choices=families + sequence_families, default=families[0],
                    help=f"a registered world-model family; on a POMDP one with memory ({', '.join(sequence_families)})")
    wt.add_argument("--obs-mode", choices=[m for m in OBS_MODES if m != "index"], default="onehot",
                    help="observation format the model learns (index is a number, not an observation to model)")
    wt.add_argument("--cell-px", type=_count, help="pixels: pixels per cell (default 4)")
    wt.add_argument("--pixel-noise", type=float, help="pixels: Gaussian pixel noise, a fraction of 255 (default 0)")
    wt.add_argument("--distractors", type=int, help="pixels: flickering cells in a strip under the grid (default 0)")
    wt.add_argument("--samples", type=_count, default=50_000, help="transitions to collect (10%% held out)")
    wt.add_argument("--epochs", type=_count, default=None, help="default: the family's")
    wt.add_argument("--episodes", type=_count, default=500, help="a POMDP: whole episodes to collect (20%% held out)")
    wt.add_argument("--steps", type=_count, default=None, help="a POMDP: gradient steps (default: the family's)")
    wt.add_argument("--restarts", type=_count, default=1,
                    help="a POMDP: models to train, keeping the one that predicts held-out episodes best (default 1)")
    wt.add_argument("--device", default="auto", choices=DEVICES, help="torch device (auto: CUDA when there is one)")
    wt.add_argument("--seed", type=_seed, default=0, help="seed of the data and the training (default 0)")
    wt.add_argument("--kw", action="append", metavar="KEY=VALUE", help="env keyword argument (repeatable)")
    wt.add_argument("--out", type=_directory, help="run directory (default runs/world_<family>_<env>_s<seed>_<time>)")
    wt.add_argument("--no-progress", action="store_true", help="no progress bar")
    ws = wsub.add_parser("score", help="score a world model exactly (TV, KL both ways, JSD, mode recall, rollout TV)")
    ws.add_argument("run_dir", help="a run directory of gridlab world train")
    ws.add_argument("--samples", type=_count, default=1000, help="model samples per (state, action)")
    ws.add_argument("--horizon", type=_count, default=20, help="rollout TV is measured at steps 1..horizon (default 20)")
    wr = wsub.add_parser("rollout", help="PNG strip of an imagined rollout above a real one")
    wr.add_argument("run_dir", help="a run directory of gridlab world train")
    wr.add_argument("--policy", choices=["uniform", "optimal"], default="uniform", help="the policy both rollouts follow")
    wr.add_argument("--horizon", type=_count, default=10, help="steps per rollout (default 10)")
    wr.add_argument("--seed", type=_seed, default=0, help="seed of the start state and both rollouts (default 0)")
    w.set_defaults(func=_cmd_world)

    sw = sub.add_parser("sweep", help="seeds x algorithms (or families) x worlds on Ray Tune, with interval estimates")
    sw.add_argument("kind", nargs="?", choices=KINDS, help="what to sweep (or give --spec / --resume)")
    sw.add_argument("--spec", help="a YAML sweep file (the fields of gridlab.sweep.SweepSpec)")
    sw.add_argument("--worlds", help="comma-separated registered ids, e.g. gridlab/FourRooms-v0,gridlab/OpenRoom-v0")
    sw.add_argument("--algos", help=f"agents: comma-separated, of {', '.join(ALGOS)}")
    sw.add_argument("--families", help=f"world: comma-separated, of {', '.join(families)}")
    sw.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,1,2 (default 0-4)")
    sw.add_argument("--steps", type=_count, default=None, help="agent timesteps or world-model gradient steps per trial")
    sw.add_argument("--evals", type=_count, default=10, help="exact evaluations during each agent's training")
    sw.add_argument("--samples", type=_count, default=20_000, help="world: transitions collected per trial")
    sw.add_argument("--hp", action="append", metavar="KEY=VALUE", help="agents: a preset override, a list for a grid "
                    "(--hp learning_rate=[1e-3,3e-4]); repeatable")
    sw.add_argument("--out", type=_directory, help="sweep directory (default runs/sweep)")
    sw.add_argument("--address", help="a Ray cluster (ray start --head prints it); default RAY_ADDRESS or a local Ray")
    sw.add_argument("--resume", action="store_true", help="continue the sweep in --out: finished trials are not re-run")
    sw.add_argument("--retries", type=_nonnegative, default=0, help="times a failed trial is restarted (for clusters that lose nodes)")
    sw.set_defaults(func=_cmd_sweep)

    tu = sub.add_parser("tune", help="search an agent's hyperparameters (Optuna + ASHA on Ray Tune), objective the exact "
                        "normalised score over seeds; writes the best as a zoo preset block")
    tu.add_argument("world", help="a registered id, e.g. gridlab/CliffWalk-v0")
    tu.add_argument("algo", choices=list(ALGOS), help="a registered algorithm")
    tu.add_argument("--seeds", default="0-2", help="seeds every configuration trains with, at least 3 (default 0-2)")
    tu.add_argument("--steps", type=_count, default=None, help="timesteps per seed (default: the preset's)")
    tu.add_argument("--trials", type=_count, default=16, help="configurations to try (default 16)")
    tu.add_argument("--space", help="a YAML search space, {key: {loguniform|uniform|int|choice: [...]}} "
                    "(default gridlab.tune.SEARCH_SPACES)")
    tu.add_argument("--seed", type=_seed, default=0, help="the sampler's seed")
    tu.add_argument("--out", type=_directory, default="runs/tune", help="output directory (default runs/tune)")
    tu.add_argument("--address", help="a Ray cluster; default RAY_ADDRESS or a local Ray")
    tu.set_defaults(func=_cmd_tune)

    x = sub.add_parser("explore", help="an interactive explorer in the browser: edit a world, step its Bellman "
                       "backups, see agent and world-model runs against the truth")
    x.add_argument("runs", nargs="*", metavar="RUN_DIR", help="agent (gridlab train) or world-model (gridlab world "
                   "train) run directories to open")
    x.add_argument("--world", default="gridlab/FourRooms-v0", help="the registered world to open with")
    x.add_argument("--port", type=int, default=0, help="the port on 127.0.0.1 (default: a free one)")
    x.add_argument("--no-browser", action="store_true", help="print the URL without opening a browser")
    x.set_defaults(func=_cmd_explore)

    d = sub.add_parser("demo", help="run the whole lab end to end and write an HTML report")
    d.add_argument("--out", type=_directory, default="gridlab-demo", help="output directory (default gridlab-demo)")
    d.add_argument("--quick", action="store_true", help="tiny budgets, for a smoke run (about a minute)")
    d.add_argument("--device", default="auto", choices=DEVICES, help="device of the world models")
    d.set_defaults(func=_cmd_demo)
    return p


_interrupted = False  # main has ended on a KeyboardInterrupt


def _handle_interrupts() -> None:
    """Make Ctrl-C always end the command (entry point only: this changes the process).

    Python's own SIGINT handler is installed even when the parent left SIGINT ignored (a
    background job of a non-interactive shell does). A KeyboardInterrupt raised where Python
    cannot propagate it (inside an import lock's callback, a finaliser) is reported through
    ``sys.unraisablehook`` and dropped; the hook below raises it again 50 ms later, in the main
    thread, where it ends the command.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if not hasattr(signal, "setitimer"):  # no SIGALRM (Windows): the default handler only
        return

    def redeliver(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, redeliver)
    previous = sys.unraisablehook

    def hook(unraisable: object) -> None:
        if isinstance(getattr(unraisable, "exc_value", None), KeyboardInterrupt):
            if not _interrupted:  # once main has ended on an interrupt, one is enough
                signal.setitimer(signal.ITIMER_REAL, 0.05)
            return
        previous(unraisable)

    sys.unraisablehook = hook


def _warning_line(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> str:
    """A warning as the command prints it: one line, no source location."""
    return f"gridlab: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit status (0, 2 for bad input, 130 when interrupted)."""
    from gridlab.envspec import UsageError

    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.formatwarning = _warning_line
    try:
        return int(args.func(args) or 0)
    except (UsageError, MemoryError) as e:  # a MemoryError is refused up front with its estimate (envs.resources)
        print(f"gridlab: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a read-only or missing directory, a full disk: one line naming the file
        where = f"{e.filename}: " if e.filename else ""
        print(f"gridlab: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # a sweep's says what finished and how to go on
        global _interrupted
        _interrupted = True
        print(f"gridlab: interrupted{f': {e}' if str(e) else ''}", file=sys.stderr)
        return 130


def entry() -> None:
    """The ``gridlab`` console command: Ctrl-C handling for the process, then :func:`main`."""
    _handle_interrupts()
    try:
        status = main()
    except KeyboardInterrupt:  # a re-delivered interrupt that reached here after main returned
        if not _interrupted:
            print("gridlab: interrupted", file=sys.stderr)
        status = 130
    finally:
        if hasattr(signal, "setitimer"):  # no re-delivery after this point
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
    if status == 130:
        # An interrupted command ends here, now, with 130. Left to Python's own exit, 1 run in 12
        # of `gridlab demo` interrupted while training printed its line and then died of SIGINT
        # (status -2) without a traceback: CPython re-raises SIGINT at exit when it recorded a
        # KeyboardInterrupt as unhandled, which a library running Python code from C can make it
        # do even after our code caught it. Nothing is left to finalise: the run directory was
        # removed when the interrupt unwound through it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(status)


if __name__ == "__main__":
    entry()
