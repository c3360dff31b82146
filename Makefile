# `make demo` trains the default job; `make test` runs the test suite. Both set everything up first.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ganforge-setup
DEMO := runs/mnist-cgan-w64-demo

.PHONY: setup demo test test-slow clean

$(STAMP): pyproject.toml scripts/setup.sh
	VENV=$(VENV) scripts/setup.sh
	touch $@

setup: $(STAMP)

demo: $(STAMP)
	$(PY) -m ganforge train --resume auto
	$(PY) -m ganforge generate $(DEMO) -n 64 --out $(DEMO)/generated.png
	@echo "pictures: $(DEMO)/real_vs_fake.png $(DEMO)/losses.png $(DEMO)/samples.gif $(DEMO)/generated.png"

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

clean:
	rm -rf $(VENV) runs .pytest_cache
