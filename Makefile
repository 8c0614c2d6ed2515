# BalanceLine developer commands. `make serve` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install serve test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

serve: install  ## install, migrate, seed the demo practice on first start, serve on 127.0.0.1:8000
	$(BIN)/balanceline serve

test: install  ## the whole test suite (needs PostgreSQL and Redis on 127.0.0.1)
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install  ## benchmarks; numbers go to docs/benchmarks.md
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
