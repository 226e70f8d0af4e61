# Two commands matter: `make run` (serve the API with the seed data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run serve security-check test bench lint format migrations-check reload-fixtures ci clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# Where `make run` and `make serve` listen: `make run PORT=8080 HOST=0.0.0.0`. Read from make's
# command line only, not from the environment, where zsh keeps the machine's name in HOST.
HOST := 127.0.0.1
PORT := 8000
# gunicorn's BIND (config/gunicorn.py): HOST:PORT when either is given to make, else BIND
# from the environment (docs/operations.md), else the defaults above.
SERVE_BIND = $(if $(filter command line,$(origin HOST) $(origin PORT)),$(HOST):$(PORT),$(or $(BIND),$(HOST):$(PORT)))

run: $(STAMP)  ## Create the database, load the seed records it lacks (never overwriting edits) and serve on http://127.0.0.1:8000 (PORT=, HOST=)
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py load_seeds
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

serve: $(STAMP)  ## Production server: gunicorn (config/gunicorn.py) on 127.0.0.1:8000 (PORT=, HOST=; set SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL; see docs/operations.md)
	DEBUG=false $(BIN)/python manage.py collectstatic --no-input -v0
	DEBUG=false $(BIN)/python manage.py migrate --no-input
	DEBUG=false BIND=$(SERVE_BIND) $(BIN)/gunicorn --config config/gunicorn.py

security-check: $(STAMP)  ## The security suite against the production setup over real HTTP (docs/security.md)
	$(BIN)/python -m ops.security_check

test: $(STAMP)  ## The whole test suite, on SQLite unless DATABASE_URL says otherwise
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)  ## Benchmarks against a raw floor and Datasette (docs/benchmarks.md); BENCH_ARGS=--quick for a short run
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations-check: $(STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run

reload-fixtures: $(STAMP)  ## Make fixtures/ records as the files say; lists curated changes it would undo, YES=1 undoes them
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py load_seeds --replace $(if $(YES),--yes)

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
