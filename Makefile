# Xiuhua: `make run` serves the demo, `make test` runs every check. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)
export FLASK_APP := wsgi.py

.PHONY: venv migrate demo-data run worker test test-pg fuzz lint format schemas schemas-check clean
.PHONY: bench bench-photos bench-toilets bench-stalls bench-open311

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $@

migrate: venv
	mkdir -p instance
	$(BIN)/flask db upgrade

demo-data: migrate
	$(BIN)/flask demo-data --if-empty

# Demo server on http://127.0.0.1:8000 with fake WeChat login, plus the job worker.
run: export APP_ENV ?= development
run: export WECHAT_MODE ?= fake
run: demo-data
	$(BIN)/huey_consumer server.jobs.tasks.huey --workers 1 --quiet & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

worker: venv
	$(BIN)/huey_consumer server.jobs.tasks.huey --workers 2

test: venv
	$(BIN)/pytest
	$(MAKE) --no-print-directory schemas-check
	$(MAKE) --no-print-directory lint

# The same suite on PostgreSQL + Redis (see .ci/run).
test-pg: export TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
test-pg: export TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
test-pg: venv
	$(BIN)/pytest

# A longer, still deterministic, schemathesis run than the one in `make test`.
fuzz: venv
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} $(BIN)/pytest tests/test_fuzz.py

# ruff, and the import-linter contracts in pyproject.toml (imports flow one way).
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Booking storm against gunicorn (bench/stalls/run.py); BENCH_DATABASE_URL for PostgreSQL.
bench-stalls: venv
	APP_ENV=testing $(BIN)/python -m bench.stalls.run

schemas: venv
	APP_ENV=testing $(BIN)/flask schemas export

schemas-check: venv
	APP_ENV=testing $(BIN)/flask schemas check

# Photo processing time and peak memory (bench/uploads/photos.py; figures in bench/RESULTS.md).
bench-photos: venv
	PYTHONPATH=. $(BIN)/python bench/uploads/photos.py

# Toilet finder benchmark (a few minutes; needs wrk and PostgreSQL): bench/RESULTS.md.
bench-toilets: venv
	$(BIN)/python bench/toilets/run.py

# Open311 GET requests at 1000 rows, JSON and XML (in-process; BENCH_DATABASE_URL for PostgreSQL).
bench-open311: venv
	$(BIN)/python bench/open311/requests_list.py $(if $(BENCH_DATABASE_URL),--database-url $(BENCH_DATABASE_URL))

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .coverage

# The whole service under load, as deployed (issue 7; ≈ 10 minutes, bounded by `timeout`):
# SQLite, then PostgreSQL (BENCH_DATABASE_URL, a dedicated database) + Redis (BENCH_REDIS_URL).
# Installs wrk (Debian package) when missing. Figures: bench/out/perf-*.json, bench/RESULTS.md.
bench: venv
	command -v wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk)
	timeout 15m $(BIN)/python -m bench.perf.run
