import json
import subprocess
import sys

import pytest

from gridlab.cli import main


def test_solve_prints_values_and_arrows_and_writes_json_and_png(tmp_path, capsys):
    assert main(["solve", "gridlab/OpenRoom-v0", "--gamma", "0.9", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "greedy policy:" in out and "→" in out and "certified |V - V*|" in out
    record = json.loads((tmp_path / "values.json").read_text())
    assert record["gamma"] == 0.9 and len(record["V"]) == 25
    assert record["V"][23] == pytest.approx(1.0)  # next to the goal
    assert (tmp_path / "values.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_solve_takes_env_kwargs_including_a_layout(tmp_path, capsys):
    assert main(["solve", "gridlab/Grid-v0", "--kw", "layout=S.G/...", "--kw", "slip=0.0", "--gamma", "0.5",
                 "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "values.json").read_text())["V"][:3] == pytest.approx([0.5, 1.0, 0.0])


def test_solve_reads_a_toy_text_env(tmp_path, capsys):
    assert main(["solve", "FrozenLake-v1", "--out", str(tmp_path)]) == 0
    assert len(json.loads((tmp_path / "values.json").read_text())["V"]) == 16


def test_solve_all_prints_a_table_of_the_suite(capsys):
    assert main(["solve", "--all"]) == 0
    out = capsys.readouterr().out
    assert "gridlab/FourRooms-v0" in out and "gridlab/Maze-v0" in out and "V*(s0)" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["solve", "gridlab/FourRoom-v0"], "did you mean 'gridlab/FourRooms-v0'"),
        (["solve", "gridlab/OpenRoom-v0", "--kw", "slipp=0.1"], "unexpected keyword argument 'slipp'"),
        (["solve", "gridlab/OpenRoom-v0", "--kw", "slip=3"], "slip must be in [0, 1], got 3"),
        (["solve", "gridlab/OpenRoom-v0", "--gamma", "1.5"], "expected a discount in (0, 1], got 1.5"),
        (["solve", "gridlab/OpenRoom-v0", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_status_2(argv, message):
    proc = subprocess.run([sys.executable, "-m", "gridlab", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_envs_lists_the_registered_ids(capsys):
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    assert "gridlab/SlipperyLake-v0" in out and "0.20" in out
    assert "gridlab/Tiger-v0                   3      2     2       100" in out  # the POMDPs, with their sizes


def test_importing_envs_and_dp_does_not_import_torch():
    code = "import sys, envs, agents.dp, gridlab.cli; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_train_then_compare_writes_the_comparison_and_figures(tmp_path, capsys):
    hp = tmp_path / "hp.yml"
    hp.write_text("default:\n  n_steps: 64\n  batch_size: 64\n  n_epochs: 1\n")
    run = tmp_path / "run"
    assert main(["train", "gridlab/OpenRoom-v0", "--algo", "ppo", "--steps", "256", "--n-envs", "1", "--gamma", "0.9",
                 "--hyperparams", str(hp), "--out", str(run), "--no-progress"]) == 0
    assert capsys.readouterr().out.strip() == str(run)
    assert main(["compare", str(run)]) == 0
    out = capsys.readouterr().out
    assert "return_gap" in out and "gamma=0.9" in out
    record = json.loads((run / "comparison.json").read_text())
    assert record["algo"] == "ppo" and len(record["V_star"]) == 25
    for png in ("comparison.png", "learning_curves.png"):
        assert (run / png).read_bytes()[:4] == b"\x89PNG"


def test_compare_of_a_directory_that_is_not_a_run_is_a_one_line_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gridlab", "compare", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "not a complete run directory" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_world_train_score_and_rollout(tmp_path, capsys):
    run = tmp_path / "wm"
    assert main(["world", "train", "gridlab/Grid-v0", "--kw", "layout=S.G/...", "--kw", "slip=0.2", "--family", "vae",
                 "--samples", "2000", "--epochs", "3", "--device", "cpu", "--out", str(run), "--no-progress"]) == 0
    assert capsys.readouterr().out.strip() == str(run)
    assert {"model.pt", "held_out.npz", "config.json"} <= {p.name for p in run.iterdir()}
    assert main(["world", "score", str(run), "--samples", "50", "--horizon", "3"]) == 0
    out = capsys.readouterr().out
    assert "forward_kl" in out and "reverse_kl" in out and "held-out NLL" in out
    record = json.loads((run / "score.json").read_text())
    assert 0.0 <= record["tv"] <= 1.0 and len(record["rollout_tv"]) == 3
    assert main(["world", "rollout", str(run), "--policy", "optimal", "--horizon", "4"]) == 0
    for png in ("score.png", "rollout.png"):
        assert (run / png).read_bytes()[:4] == b"\x89PNG"


def test_world_train_refuses_index_observations():
    proc = subprocess.run([sys.executable, "-m", "gridlab", "world", "train", "gridlab/OpenRoom-v0", "--obs-mode", "index"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "invalid choice: 'index'" in proc.stderr
