# Two commands on a fresh machine: `make demo` (embedded defaults) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck check bench-import clean

$(STAMP): requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	touch $(STAMP)

## demo: SQLite under var/, eager Celery, console e-mail, demo accounts, http://127.0.0.1:8000
demo: $(STAMP)
	mkdir -p var
	DJANGO_SETTINGS_MODULE=essms_portal.settings.local $(PY) manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=essms_portal.settings.local $(PY) manage.py seed_demo
	DJANGO_SETTINGS_MODULE=essms_portal.settings.local $(PY) manage.py runserver 127.0.0.1:8000

## test: the whole suite (PostgreSQL when DATABASE_URL is set, SQLite otherwise)
test: $(STAMP)
	mkdir -p var
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy .

check: lint typecheck
	DJANGO_SETTINGS_MODULE=essms_portal.settings.test $(PY) manage.py makemigrations --check --dry-run

bench-import: $(STAMP)
	$(PY) scripts/bench_import.py

clean:
	rm -rf $(VENV) var
