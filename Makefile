# Audio Exchange: `make run` serves the app, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
# Tests use the real services: PostgreSQL and Redis on this machine (scripts/test-services.sh).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test test-fast lint format services clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

run: $(BIN)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py createroom demo --name "Demo room" --exist-ok
	@echo "Serving on http://$(HOST):$(PORT)/ (sign up there, or: $(BIN)/python manage.py createsuperuser)"
	DAPHNE=$(BIN)/daphne HOST=$(HOST) PORT=$(PORT) scripts/web.sh

services:
	bash scripts/test-services.sh
	bash scripts/install-deploy-tools.sh

# Every test against PostgreSQL and channels-redis, then the in-process suite again on the
# embedded defaults (SQLite, in-memory layer), so both configurations stay green.
test: $(BIN)/.installed services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest -m "not browser and not slow" -p no:cacheprovider

test-fast: $(BIN)/.installed
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest -m "not browser and not slow"

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: $(BIN)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .mypy_cache .ruff_cache
