# `make run` runs the main job, `make test` the test suite, `make docs` the documentation site; all create or reuse .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test docs bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,docs,minigrid]'
	$(BIN)/python -c "from agents.topological import load_kernels; print(f'solver kernels ready in {load_kernels():.0f} s (compiled once; numba caches them)')"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gridlab demo

# one pytest worker per core, at most 4 (tests/conftest.py says how they share the tests)
test: $(STAMP)
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4

docs: $(STAMP)
	$(BIN)/python -m sphinx -b html -n -W --keep-going -q docs docs/_build/html
	@echo "docs: docs/_build/html/index.html"

bench: $(STAMP)
	$(BIN)/python -m benchmarks.solver_sizes
	$(BIN)/python -m benchmarks.solvers
	$(BIN)/python -m benchmarks.envs
	$(BIN)/python -m benchmarks.agents
	$(BIN)/python -m benchmarks.world_models
	$(BIN)/python -m benchmarks.dream
	$(BIN)/python -m benchmarks.sweeps
	$(BIN)/python -m benchmarks.pomdp
	$(BIN)/python -m benchmarks.pomdp_agents
	$(BIN)/python -m benchmarks.window_value
	$(BIN)/python -m benchmarks.pomdp_peers
	$(BIN)/python -m benchmarks.minigrid
	$(BIN)/python -m benchmarks.minigrid_agents
	$(BIN)/python -m benchmarks.sequence_models
	$(BIN)/python -m benchmarks.sequence_dream

clean:
	rm -rf $(VENV) build *.egg-info docs/_build docs/reference/_generated
