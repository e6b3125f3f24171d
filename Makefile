# Two commands on a fresh machine: `make demo` (the plugin in a demo host against the fake
# HubSpot, on SQLite) and `make test` (the whole suite, and the example host's tests in
# examples/fastapi_panel and examples/django_panel, written with the test kit; the Django
# one runs apart, as Django is set up once per process). Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Options for the demo, e.g. make demo ARGS="--data-dir ~/skypanel-demo --port 8001"
ARGS ?=

.PHONY: demo test lint bench dist

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[demo,test,dev]'
	touch $@

demo: $(VENV)/.installed
	$(PY) -m skypanel_hubspot_plugin.demo $(ARGS)

test: $(VENV)/.installed
	$(PY) -m pytest
	cd examples/django_panel && $(CURDIR)/$(PY) -m pytest

# The sdist and the wheel in dist/, e.g. for `pip install dist/skypanel_hubspot_plugin-*.whl`.
# Built with this venv's setuptools (no download), from a clean dist/.
dist: $(VENV)/.installed
	rm -rf dist build
	$(PY) -m build --no-isolation --outdir dist .

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy skypanel_hubspot_plugin hooks

bench: $(VENV)/.installed
	$(PY) benchmarks/page_head.py
	$(PY) benchmarks/host_cost.py
	$(PY) benchmarks/backfill.py
	$(PY) benchmarks/sync_contacts.py
	$(PY) benchmarks/update_bursts.py
	$(PY) benchmarks/idle_worker.py
	$(PY) benchmarks/throughput.py
	$(PY) benchmarks/conversation.py
	$(PY) benchmarks/batch_failures.py
	$(PY) benchmarks/metrics_cost.py
