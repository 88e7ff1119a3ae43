# TradeSim — the commands a newcomer needs: `make run`, `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
HOST   ?= 127.0.0.1
PORT   ?= 8000

# Python 3.11 to 3.13: the code needs 3.11 (datetime.UTC and the like) and is tested on it;
# 3.13 is the newest that every pinned package supports (gunicorn 27.0.1). Checked before
# a venv is made, so a wrong Python stops here with this message, not in pip.
PYTHON_VERSIONS := 3.11 3.12 3.13
define check_python
	@version=$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); \
	case " $(PYTHON_VERSIONS) " in *" $$version "*) ;; *) \
	  found=$${version:+Python $$version}; \
	  echo "TradeSim needs Python 3.11, 3.12 or 3.13, and $(PYTHON) is $${found:-not found}." >&2; \
	  echo "Install one of them and name it, for example: make PYTHON=python3.12 run" >&2; \
	  exit 1 ;; esac
endef

.PHONY: run serve test install install-test python-version env migrate market demo lint check \
	bench-tick bench-orders bench-volatility clean screenshots

## make run: install, migrate, offer the demo classroom (first run), load the sample market,
## serve on http://127.0.0.1:8000
run: install env migrate
	@$(PY) manage.py shell -c "from django.contrib.auth import get_user_model as g; import sys; sys.exit(0 if g().objects.filter(is_staff=True).exists() else 1)" \
	  || { if [ -t 0 ]; then \
	         printf "No instructor yet. Create the demo classroom (an instructor login, 25 students, 3 days of history)? [y/N] "; \
	         read answer; case "$$answer" in [yY]*) $(PY) manage.py seed_demo ;; \
	           *) echo "Later: 'make demo', or '$(PY) manage.py create_instructor USERNAME --email EMAIL'." ;; esac; \
	       else echo "No instructor yet: run 'make demo' for a demo classroom with an instructor login, or '$(PY) manage.py create_instructor USERNAME --email EMAIL'."; fi; }
	@$(MAKE) --no-print-directory market
	@echo "TradeSim is serving on http://$(HOST):$(PORT)/  (Ctrl-C stops it; move the market with '$(PY) manage.py tick_prices --every 5')"
	$(PY) manage.py runserver $(HOST):$(PORT)

## make serve: the class on this machine, over the school network (tradesim/serve.py):
## migrate, load the sample market, collect the static files, create an instructor login
## `teacher` on the first start (its password printed once), then gunicorn on 0.0.0.0:PORT
## with DEBUG off and plain HTTP, and the ticker (`manage.py tick_prices --every 60`;
## TICK_SECONDS=N changes it). Ctrl-C stops both; if one stops, so does the other.
serve: install env
	$(PY) -m tradesim.serve --port $(PORT)

## make test: install with the test tools, then the whole suite (DATABASE_URL picks the
## database)
test: install-test env
	$(PY) -m pytest $(PYTEST_ARGS)

## make install: the runtime (requirements.txt), for run and serve; make install-test: the
## test, lint and benchmark tools too (requirements-test.txt). Each reinstalls when its
## requirements change.
install: $(STAMP)

install-test: $(TEST_STAMP)

python-version:
	$(check_python)

$(PY):
	$(check_python)
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(PY)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(TEST_STAMP): requirements-test.txt $(STAMP)
	$(PIP) install --quiet -r requirements-test.txt
	touch $@

## .env for local use: DEBUG on, a random SECRET_KEY and this machine's TIME_ZONE, each written
## once when missing, never overwritten
env:
	@test -f .env || { \
	  echo "# Written by 'make' for local development; see .env.example for every setting." > .env; \
	  echo "DEBUG=True" >> .env; \
	  echo "SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" >> .env; \
	  echo "Wrote .env (DEBUG=True and a random SECRET_KEY)"; }
	@grep -q '^SECRET_KEY=' .env || { \
	  echo "SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" >> .env; \
	  echo "Added a random SECRET_KEY to .env"; }
	@grep -q '^TIME_ZONE=' .env || { \
	  zone=$$($(PY) -c 'from tradesim.envvars import machine_time_zone; print(machine_time_zone())' 2>/dev/null || echo UTC); \
	  echo "TIME_ZONE=$${zone:-UTC}" >> .env; \
	  echo "Added TIME_ZONE=$$zone to .env (this machine's time zone; pages and exports show times in it)"; }

migrate: install env
	$(PY) manage.py migrate --noinput

market: migrate
	@if $(PY) manage.py help load_market >/dev/null 2>&1; then $(PY) manage.py load_market; fi

## make demo: a ready classroom (instructor login printed) with a few days of history; it
## lists the sample market itself, so the history starts with the listing
demo: migrate
	$(PY) manage.py seed_demo

## make screenshots: retake the README's screenshots (docs/screenshots/, desktop and phone)
## in Chromium
screenshots: install-test
	README_SCREENSHOTS=1 $(PY) -m pytest -p no:cacheprovider -q tests/e2e/test_screenshots.py

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff format --check . || true

check: install-test env
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

bench-tick: install-test env
	$(PY) bench/tick.py

## make bench-orders: a tick's resting orders on both databases — finding the reached ones at
## 20,000 to 200,000 open, and the fills per second (docs/performance.md); about 8 minutes
bench-orders: install-test env
	$(PY) bench/tick.py --orders

## make bench-volatility: a 5,000-symbol tick with calm and stormy regimes against one with a
## single volatility, within a day and opening one, on both databases; about 3 minutes
bench-volatility: install-test env
	$(PY) bench/tick.py --volatility

## make bench-api: market buys through the JSON API beside the same buys through the order
## form, against one gunicorn server, in interleaved rounds (docs/performance.md, "API");
## about two minutes; needs PostgreSQL and Redis running locally (bench/README.md)
.PHONY: bench-api
bench-api: install-test env
	$(PY) bench/api.py $(BENCH_ARGS)

## make mutants: mutation testing (mutmut) of ledger/services.py, trading/services.py and
## portfolio/units.py against their tests, on SQLite, in a venv of its own; one test process
## at a time (MUTANTS_CHILDREN). Not part of `make test` or CI: it takes tens of minutes.
## Survivors: `.venv-mutants/bin/mutmut results`, `.venv-mutants/bin/mutmut show NAME`.
MUTANTS_VENV     := .venv-mutants
MUTANTS_CHILDREN ?= 1

.PHONY: mutants
mutants: $(MUTANTS_VENV)/.installed
	rm -rf mutants
	env -u DATABASE_URL DEBUG=True $(MUTANTS_VENV)/bin/mutmut run --max-children $(MUTANTS_CHILDREN)
	@$(MUTANTS_VENV)/bin/mutmut results --all true | awk -F': ' '{ sub(/^ +/, "", $$1); split($$1, n, "."); \
	  f = n[1] "/" n[2] ".py"; total[f]++; if ($$2 == "killed") killed[f]++ } \
	  END { for (f in total) printf "%-22s %4d killed of %4d\n", f, killed[f], total[f] }' | sort

$(MUTANTS_VENV)/bin/python:
	$(check_python)
	$(PYTHON) -m venv $(MUTANTS_VENV)

$(MUTANTS_VENV)/.installed: requirements.txt requirements-test.txt requirements-mutants.txt \
		| $(MUTANTS_VENV)/bin/python
	$(MUTANTS_VENV)/bin/pip install --quiet --upgrade pip
	$(MUTANTS_VENV)/bin/pip install --quiet -r requirements-test.txt -r requirements-mutants.txt
	touch $@

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
