# The two commands a newcomer types:
#   make demo   -- set up a virtualenv and run the whole system on embedded defaults
#   make test   -- set up a virtualenv and run the whole test suite against real components
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format venv clean bench i18n

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s); set PYTHON=python3.11" % sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,homeserver]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/dsx up

test: $(STAMP)
	bash deploy/setup-test-deps.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-extract the public pages' messages and merge them into every catalog (then translate
# the new empty entries; tests/web/test_i18n_catalog.py fails until Spanish is complete).
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k N_plural:1,2 --no-location --sort-output \
		--project=dsx-coordinator --version=0.1.0 --copyright-holder="the DSX coordinator authors" \
		-o coordinator/locale/messages.pot .
	$(BIN)/pybabel update -i coordinator/locale/messages.pot -d coordinator/locale \
		--no-fuzzy-matching --ignore-obsolete

bench: $(STAMP)
	$(BIN)/python bench/trust_graph.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache
