# Two commands on a fresh machine: `make demo` (embedded defaults) and `make test`.
# Both first check the Debian packages they need (scripts/system-deps.sh, every time: dpkg is
# fast): as root they install the missing ones, otherwise they stop with the command to run.
# `$(PYTHON) -m venv` needs Debian's python3-venv with the system Python (not with pyenv's).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_BROKER ?= redis://127.0.0.1:6379/14

.PHONY: demo test system-deps-demo system-deps-test lint typecheck check bench-import bench \
	bench-load clean

$(STAMP): requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	touch $(STAMP)

system-deps-demo system-deps-test: system-deps-%:
	bash scripts/system-deps.sh $*

## demo: SQLite under var/, eager Celery, console e-mail, demo accounts, http://127.0.0.1:8000
demo: system-deps-demo $(STAMP)
	mkdir -p var
	DJANGO_SETTINGS_MODULE=essms_portal.settings.local $(PY) manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=essms_portal.settings.local $(PY) manage.py createcachetable
	DJANGO_SETTINGS_MODULE=essms_portal.settings.local $(PY) manage.py seed_demo
	DJANGO_SETTINGS_MODULE=essms_portal.settings.local $(PY) manage.py seed_follow_up
	DJANGO_SETTINGS_MODULE=essms_portal.settings.local $(PY) manage.py runserver 127.0.0.1:8000

## test: the whole suite (PostgreSQL when DATABASE_URL is set, SQLite otherwise)
test: system-deps-test $(STAMP)
	mkdir -p var
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

check: lint typecheck
	DJANGO_SETTINGS_MODULE=essms_portal.settings.test $(PY) manage.py makemigrations --check --dry-run

bench-import: $(STAMP)
	$(PY) scripts/bench_import.py

## bench: project against baselines on the national dataset (DATABASE_URL, seeded if absent;
## default postgres://postgres@127.0.0.1:5432/bench_national), BENCH_REPEAT pairs (7),
## BENCH_IMPORT_LINES (100000), BENCH_NOTE (a caveat for the page); the decision measures use
## CELERY_BROKER_URL, by default BENCH_BROKER, a Redis database of its own (the run purges its
## queue); prints one `bench` line per
## measure and writes docs/performance.md (issue #13)
bench: system-deps-demo $(STAMP)
	CELERY_BROKER_URL="$${CELERY_BROKER_URL:-$(BENCH_BROKER)}" $(PY) scripts/bench.py

## bench-load: locust against gunicorn (3 workers, 127.0.0.1), BENCH_LOAD_USERS (30) for
## BENCH_LOAD_DURATION seconds (60), mixed pages against /healthz/
bench-load: system-deps-demo $(STAMP)
	$(PY) scripts/bench_load.py

clean:
	rm -rf $(VENV) var
