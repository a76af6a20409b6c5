# Omni: two commands on a fresh machine (Python 3.11 and make).
#   make run   - virtualenv, install, migrate, demo data, serve http://127.0.0.1:8000 (SQLite, Celery eager)
#   make test  - virtualenv, install, `make lint`, the whole test suite (PostgreSQL + Redis when reachable)
#   make lint  - the architecture contracts (import-linter, no cross-app writes) and mypy; config in pyproject.toml
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1:8000
SEED ?= 42

.PHONY: install messages messages-update lint run test migrate demo worker beat check clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

# Translations (locale/tr: the store app and the notifications): the .mo is committed, and compiled again here when gettext's
# msgfmt is on the machine (apt-get install gettext), so an edited .po takes effect.
messages: install
	@if command -v msgfmt >/dev/null 2>&1; then \
		$(PY) manage.py compilemessages -l tr --ignore=$(VENV) --ignore=staticfiles >/dev/null; \
	else echo "messages: msgfmt not found, using the committed .mo files"; fi

messages-update: install
	$(PY) manage.py makemessages -l tr --no-location --no-obsolete -i "$(VENV)/*" -i "inventory/*" -i "allocation/*" \
		-i "orders/*" -i "omni/*" -i "tests/*" -i "templates/admin/*" -i "static/*" -i "staticfiles/*"

migrate: install messages
	$(PY) manage.py migrate --noinput

demo: migrate
	OMNI_SITE_URL=$${OMNI_SITE_URL:-http://$(HOST)} $(PY) manage.py seed_demo --seed $(SEED) --if-empty

run: demo
	$(PY) manage.py runserver $(HOST)

# The same checks as a bare `lint-imports` and a bare `mypy` in the project root (pyproject.toml),
# plus the AST check that no app writes another app's models (tests/test_boundaries.py, which
# `pytest` runs too).
lint: install
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest -q tests/test_boundaries.py

# Uses PostgreSQL and Redis when reachable (DATABASE_URL / REDIS_URL, or the local defaults);
# without them the PostgreSQL/Redis tests skip and say so, except under CI=true where that fails.
# Runs in PYTEST_WORKERS processes (pytest-xdist, a file's tests stay together; most of the wall
# time is waiting on PostgreSQL, workers and the browser): each has its own test database, cloned
# from one migrated template, and its own Redis (tests/parallel.py). PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 3
test: lint messages
	@eval "$$($(PY) tests/services.py)"; \
	echo "make test: DATABASE_URL=$${DATABASE_URL:-<sqlite>} REDIS_URL=$${REDIS_URL:-<none>} workers=$(PYTEST_WORKERS)"; \
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

check: install
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

worker: install
	$(VENV)/bin/celery -A omni worker -Q default,sync,imports --loglevel INFO

beat: install
	$(VENV)/bin/celery -A omni beat --loglevel INFO

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache .mypy_cache .import_linter_cache
