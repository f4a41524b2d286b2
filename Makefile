# Audio Exchange: `make run` serves the app, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
# Tests use the real services: PostgreSQL and Redis on this machine (scripts/test-services.sh).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# `make run` signs sessions with a key made on its first run and kept here (git-ignored), so
# logins survive restarts; an exported SECRET_KEY wins.
SECRET_KEY_FILE ?= .secret_key
RUN_ENV = SECRET_KEY="$${SECRET_KEY:-$$(cat $(SECRET_KEY_FILE))}"

.PHONY: run test test-fast lint format services clean translations

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

$(SECRET_KEY_FILE):
	umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@

run: $(BIN)/.installed $(SECRET_KEY_FILE)
	$(RUN_ENV) $(BIN)/python manage.py migrate --noinput
	$(RUN_ENV) $(BIN)/python manage.py collectstatic --noinput -v0
	$(RUN_ENV) $(BIN)/python manage.py createroom demo --name "Demo room" --exist-ok
	@echo "Serving on http://$(HOST):$(PORT)/ (sign up there, or: SECRET_KEY=\$$(cat $(SECRET_KEY_FILE)) $(BIN)/python manage.py createsuperuser)"
	$(RUN_ENV) DAPHNE=$(BIN)/daphne HOST=$(HOST) PORT=$(PORT) scripts/web.sh

services:
	bash scripts/test-services.sh
	bash scripts/install-deploy-tools.sh

# Every test against PostgreSQL and channels-redis, and the in-process suite again on the
# embedded defaults (SQLite, in-memory layer), so both configurations stay green. The second
# pass shares nothing with the first (no Redis, its own SQLite), so it runs beside it while the
# first waits on browsers and servers; its output is printed once both are done.
EMBEDDED_LOG ?= .embedded-tests.log
test: $(BIN)/.installed services
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest -m "not browser and not slow" -p no:cacheprovider \
		> $(EMBEDDED_LOG) 2>&1 & embedded=$$!; \
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest --durations=30; first=$$?; \
	wait $$embedded; second=$$?; \
	echo "--- the embedded pass (SQLite, in-memory layer) ---"; cat $(EMBEDDED_LOG); \
	echo "passes: PostgreSQL + Redis exit $$first, embedded exit $$second"; \
	test $$first -eq 0 && test $$second -eq 0

test-fast: $(BIN)/.installed
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest -m "not browser and not slow"

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports --no-logo
	$(BIN)/python scripts/check_translations.py

# After adding or changing strings: update locale/*/LC_MESSAGES/*.po (translate what is new
# there), then compile the .mo files the app reads. Needs GNU gettext (README, "Languages").
translations: $(BIN)/.installed
	$(BIN)/python scripts/check_translations.py || true
	DJANGO_SETTINGS_MODULE=audioexchange.settings_test $(BIN)/python manage.py compilemessages -v0 --ignore=.venv

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
