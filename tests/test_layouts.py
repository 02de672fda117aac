import pytest

from envs.layouts import parse_layout, random_maze


def test_layout_accepts_string_and_list_forms_alike():
    assert parse_layout("S.\n.G").rows() == parse_layout(["S.", ".G"]).rows()


@pytest.mark.parametrize(
    "layout, message",
    [
        ("S.X", "unknown layout character 'X' at row 0, column 2"),
        (["S..", ".G"], "row 1 '.G' has length 2"),
        ("...\n..G", "no start"),
        ("", "empty"),
    ],
)
def test_bad_layout_names_the_problem(layout, message):
    with pytest.raises(ValueError, match=message):
        parse_layout(layout)


def test_maze_is_reproducible_from_its_seed_and_differs_across_seeds():
    assert random_maze(6, seed=3) == random_maze(6, seed=3)
    assert random_maze(6, seed=3) != random_maze(6, seed=4)


def test_maze_is_perfect_every_room_connected():
    from envs import GridWorldEnv
    from agents.dp import policy_iteration

    env = GridWorldEnv(random_maze(8, seed=1))
    V = policy_iteration(env.mdp, 0.99).V
    assert (V[~env.mdp.terminal] > 0).all()  # the goal is reachable from every floor cell
    # a perfect maze on n x n rooms is a tree: rooms + corridors = 2 n^2 - 1 floor cells
    assert env.n_states == 2 * 8 * 8 - 1
