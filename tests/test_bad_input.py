"""Every bad input to the CLI ends in one line on stderr naming the value, exit status 2, and
nothing written. The cases are those of issue 15 and more of the same kind."""

import json
import shutil

import pytest

from gridlab.cli import main

SMALL = ["--kw", "layout=S.G"]


def _one_line(capsys, status, argv, message):
    assert main(argv) == status
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert message in err, err
    return err


@pytest.mark.parametrize("argv, message", [
    (["solve", "gridlab/FourRooms-v0", "--tol", "-1"], "argument --tol: expected a finite number > 0, got -1"),
    (["solve", "gridlab/FourRooms-v0", "--tol", "nan"], "argument --tol: expected a finite number > 0, got nan"),
    (["solve", "gridlab/FourRooms-v0", "--tol", "tiny"], "argument --tol: expected a finite number > 0, got 'tiny'"),
    (["solve", "gridlab/Grid-v0", *SMALL, "--kw", "step_reward=nan"], "step_reward must be a finite number, got nan"),
    (["solve", "gridlab/Grid-v0", *SMALL, "--kw", "goal_reward=inf"], "goal_reward must be a finite number, got inf"),
    (["solve", "--all", "--gamma", "nan"], "argument --gamma: expected a discount in (0, 1], got nan"),
    (["solve", "--all", "--gamma", "0"], "argument --gamma: expected a discount in (0, 1], got 0"),
    (["train", "gridlab/FourRooms-v0", "--steps", "-5"], "argument --steps: expected an integer >= 1, got -5"),
    (["train", "gridlab/FourRooms-v0", "--steps", "0"], "argument --steps: expected an integer >= 1, got 0"),
    (["train", "gridlab/FourRooms-v0", "--n-envs", "0"], "argument --n-envs: expected an integer >= 1, got 0"),
    (["train", "gridlab/FourRooms-v0", "--seed", "-1"], "argument --seed: expected a seed in [0, 2**32), got -1"),
    (["train", "gridlab/FourRooms-v0", "--gamma", "1.5"], "argument --gamma: expected a discount in (0, 1], got 1.5"),
    (["compare", "x", "--gamma", "-1"], "argument --gamma: expected a discount in (0, 1], got -1"),
    (["world", "train", "gridlab/SlipperyLake-v0", "--samples", "0"], "argument --samples: expected an integer >= 1, got 0"),
    (["world", "train", "gridlab/SlipperyLake-v0", "--samples", "-3"], "argument --samples: expected an integer >= 1, got -3"),
    (["world", "train", "gridlab/SlipperyLake-v0", "--epochs", "0"], "argument --epochs: expected an integer >= 1, got 0"),
    (["world", "score", "x", "--samples", "0"], "argument --samples: expected an integer >= 1, got 0"),
    (["world", "score", "x", "--horizon", "0"], "argument --horizon: expected an integer >= 1, got 0"),
    (["world", "rollout", "x", "--horizon", "-4"], "argument --horizon: expected an integer >= 1, got -4"),
    (["demo", "--out", ""], "argument --out: expected a directory path, got an empty string"),
    (["solve", "gridlab/Maze-v0", "--kw", "size=3.5"], "maze size must be an integer, got 3.5"),
])
def test_a_bad_option_is_one_line_and_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as stop:  # argparse exits; a value error returns 2
        _one_line(capsys, 2, argv, message)
        raise SystemExit(2)
    assert stop.value.code == 2


@pytest.mark.parametrize("argv", [
    ["solve", "gridlab/OpenRoom-v0", "--out", "/proc/gridlab-no"],
    ["solve", "--all", "--out", "/proc/gridlab-no"],
    ["train", "gridlab/OpenRoom-v0", "--steps", "64", "--out", "/proc/gridlab-no"],
    ["world", "train", "gridlab/Grid-v0", *SMALL, "--samples", "50", "--out", "/proc/gridlab-no"],
])
def test_an_unwritable_out_is_refused_before_any_work(capsys, argv):
    _one_line(capsys, 2, argv, "cannot write to --out '/proc/gridlab-no'")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny agent run and a tiny world-model run, copied per test before being damaged."""
    root = tmp_path_factory.mktemp("runs")
    assert main(["train", "gridlab/OpenRoom-v0", "--steps", "64", "--n-envs", "1", "--no-progress",
                 "--out", str(root / "agent")]) == 0
    assert main(["world", "train", "gridlab/Grid-v0", *SMALL, "--samples", "100", "--epochs", "1", "--no-progress",
                 "--out", str(root / "world")]) == 0
    return root


def _copy(runs, name, tmp_path):
    return shutil.copytree(runs / name, tmp_path / name)


def test_compare_on_a_world_model_run_says_what_it_is(capsys, runs):
    _one_line(capsys, 2, ["compare", str(runs / "world")], "is a world-model run (use gridlab world score)")


def test_world_score_on_an_agent_run_says_what_is_missing(capsys, runs):
    _one_line(capsys, 2, ["world", "score", str(runs / "agent")], "is not a world-model run directory (no model.pt)")


def test_a_missing_model_zip_is_named_once(capsys, runs, tmp_path):
    run = _copy(runs, "agent", tmp_path)
    (run / "model.zip").unlink()
    _one_line(capsys, 2, ["compare", str(run)], "model.zip' is not a readable SB3 model.zip")
    assert "model.zip.zip" not in capsys.readouterr().err


def test_a_corrupt_config_is_named(capsys, runs, tmp_path):
    run = _copy(runs, "agent", tmp_path)
    (run / "config.json").write_text("{not json")
    _one_line(capsys, 2, ["compare", str(run)], "config.json: not a readable run config")


def test_a_truncated_model_zip_is_named(capsys, runs, tmp_path):
    run = _copy(runs, "agent", tmp_path)
    (run / "model.zip").write_bytes((runs / "agent" / "model.zip").read_bytes()[:500])
    _one_line(capsys, 2, ["compare", str(run)], "is not a readable SB3 model.zip (File is not a zip file)")


@pytest.mark.parametrize("command", [["world", "score"], ["world", "rollout"]])
def test_a_truncated_world_model_is_named(capsys, runs, tmp_path, command):
    run = _copy(runs, "world", tmp_path)
    (run / "model.pt").write_bytes((runs / "world" / "model.pt").read_bytes()[:500])
    _one_line(capsys, 2, [*command, str(run)], "model.pt is not a gridlab world model that torch.load(weights_only=True) can read")


def test_a_refused_score_leaves_the_previous_score_whole(capsys, runs, tmp_path):
    run = _copy(runs, "world", tmp_path)
    assert main(["world", "score", str(run), "--samples", "20", "--horizon", "2"]) == 0
    before = (run / "score.json").read_text()
    with pytest.raises(SystemExit):
        main(["world", "score", str(run), "--samples", "0"])
    assert (run / "score.json").read_text() == before and json.loads(before)["n_samples"] == 20
    assert not [p for p in run.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("argv, message", [
    (["solve", "gridlab/Maze-v0", "--kw", "size=100000"], "a maze of size 100000 (200001 cells square) needs about"),
    (["world", "train", "gridlab/OpenRoom-v0", "--samples", "100000000000"], "100,000,000,000 transitions of 25 floats"),
])
def test_a_request_too_big_for_memory_is_refused_up_front_with_its_estimate(capsys, argv, message):
    err = _one_line(capsys, 2, argv, message)
    assert "GB; this machine has" in err and err.endswith("GB of memory")


def test_a_layout_without_goal_or_hole_is_solved_with_a_warning(capsys):
    with pytest.warns(UserWarning, match="layout has no goal 'G' or hole 'H'"):
        assert main(["solve", "gridlab/Grid-v0", "--kw", "layout=S../...", "--out", "/tmp/gridlab-nogoal"]) == 0


def test_solving_again_says_it_replaces_the_previous_result(capsys, tmp_path):
    argv = ["solve", "gridlab/OpenRoom-v0", "--out", str(tmp_path / "s")]
    assert main(argv) == 0
    assert "replacing" not in capsys.readouterr().out
    assert main(argv) == 0
    assert "values.json (replacing the previous solve's)" in capsys.readouterr().out


@pytest.mark.parametrize("make, kind", [
    (lambda tmp: "/dev/null", "is a character device, not a regular file"),
    (lambda tmp: str(tmp), "is a directory, not a regular file"),
    (lambda tmp: str(tmp / "none.yml"), "does not exist"),
    (lambda tmp: (__import__("os").mkfifo(tmp / "pipe"), str(tmp / "pipe"))[1], "is a named pipe, not a regular file"),
])
def test_a_hyperparameter_path_that_is_not_a_regular_file_is_named_for_what_it_is(capsys, tmp_path, make, kind):
    path = make(tmp_path)
    _one_line(capsys, 2, ["train", "gridlab/OpenRoom-v0", "--steps", "64", "--hyperparams", path],
              f"hyperparameter file {path!r} {kind}")




@pytest.mark.parametrize("edit, message", [
    (("O: listen\n0.85 0.15", "O: listen\n0.85 0.25"), "sums to 1.1"),  # (the tiger file of test_pomdp, edited)  # a bad row
    (("O: open-left\n", "O: open-middle\n"), "unknown action 'open-middle'"),  # an unknown name
    (("observations: tiger-left tiger-right\n", ""), "no 'observations:' line"),  # a missing section
    (("0.85 0.15\n0.15 0.85", "1.5 -0.5\n0.15 0.85"), "1.5"),  # a probability above 1
    (("0.15 0.85\n\nO: open-left", "0.15\n\nO: open-left"), "a truncated matrix"),
    (("discount: 0.95", "discount: 1"), "solve needs a discount below 1, got 1"),  # discount 1, no horizon
])
def test_a_bad_pomdp_file_is_one_line_naming_it(capsys, tmp_path, edit, message):
    from test_pomdp import TIGER_FILE

    assert edit[0] in TIGER_FILE
    path = tmp_path / "bad.pomdp"
    path.write_text(TIGER_FILE.replace(*edit))
    err = _one_line(capsys, 2, ["solve", str(path), "--out", str(tmp_path / "out")], message)
    out = tmp_path / "out"
    assert str(path) in err and not (out.exists() and any(out.iterdir()))  # no bounds or alpha vectors written


def test_the_good_tiger_file_of_those_cases_solves(capsys, tmp_path):
    from test_pomdp import TIGER_FILE

    path = tmp_path / "tiger.pomdp"
    path.write_text(TIGER_FILE)
    assert main(["solve", str(path), "--out", str(tmp_path / "out")]) == 0
    assert "V*(b0) in [19.37" in capsys.readouterr().out


def test_pomdp_library_calls_refuse_a_fully_observed_model_a_bad_belief_and_an_impossible_observation():
    from agents.pomdp import solve
    from envs import GridWorldEnv
    from envs.pomdp_worlds import t_maze, tiger

    with pytest.raises(TypeError, match="this TabularMDP is fully observed: solve it exactly with agents.dp.solve"):
        solve(GridWorldEnv("S.G").mdp)
    m = tiger()
    with pytest.raises(ValueError, match=r"belief must sum to 1 \(within 1e-09\), got 0.9"):
        m.belief_update([0.5, 0.4], 0, 0)
    maze = t_maze(4)
    with pytest.raises(ValueError, match="'junction' has probability 0"):  # one step right shows the cue
        maze.belief_update(maze.b0, "right", "junction")
    with pytest.raises(ValueError, match="step 1: observation 'junction' has probability 0 after action 'right'"):
        maze.filter([1], [maze.observations.index("junction")], strict=True)
