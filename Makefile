# `make test` and `make demo` create or update the local virtualenv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test,serving,demo]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) -m train.demo --workdir runs/demo
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) -m serving.demo --workdir runs/demo

test: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) -m pytest -q --durations=15

test-fast: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) .pytest_cache
