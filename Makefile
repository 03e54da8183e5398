# Each target makes its own virtualenv in .venv, so a fresh machine needs only python3 and make.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint venv clean wheel-smoke

$(BIN)/vconsole: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(BIN)/vconsole

venv: $(BIN)/vconsole

# The embedded lab, even on a host whose real providers (LXC, ...) would be detected.
run: venv
	VCONSOLE_PROVIDERS=lab $(BIN)/vconsole

test: lint
	$(BIN)/pytest

# ruff, mypy --strict, and the layers of docs/architecture.md (import-linter, pyproject.toml).
lint: venv
	$(BIN)/ruff check vconsole tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

# The wheel as a user gets it: built, installed in a fresh virtualenv outside the checkout,
# then --version, ls on the lab and a coloured `vconsole show` in tmux (scripts/wheel_smoke.py).
wheel-smoke: venv
	$(BIN)/python scripts/wheel_smoke.py

clean:
	rm -rf $(VENV)

# SVGs of the TUI's main views, from a real run on a private lab (scripts/screenshots.py).
.PHONY: screenshots
screenshots: venv
	$(BIN)/python scripts/screenshots.py screenshots
