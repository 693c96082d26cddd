# envqa — `make run` serves the product, `make test` runs the tests. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM := /usr/bin/chromium

.PHONY: run test index install install-test install-eval browser eval bench bench-scale clean

# Serving needs only the core dependencies; the tests add the test extra (which brings the st,
# llm and eval extras), `make eval` the eval extra. Each stamp reinstalls when pyproject.toml changes.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-eval: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[eval]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
install-eval: $(VENV)/.installed-eval

index: install
	$(BIN)/envqa ingest

# Serves as soon as the index is searchable (seconds); the complete index follows once embedded.
run: install
	$(BIN)/envqa serve --ingest --host 127.0.0.1 --port 8000

bench: index
	$(BIN)/envqa bench --url http://127.0.0.1:8000 --requests 2000 --concurrency 32

# The corpus as it is and 100 times the seed documents: build, serve and measure both (many minutes).
bench-scale: install
	$(BIN)/envqa bench-scale --factor 100

# The browser tests drive Debian's Chromium (Playwright's own browser download needs the internet)
# and need a CJK font to render the page; the shared-state tests start Debian's redis-server.
# Installed only when missing, where apt-get can.
browser:
	@missing=""; \
	[ -x $(CHROMIUM) ] || missing="chromium fonts-wqy-zenhei"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
		else \
			echo "missing and not installable here (needs root and apt-get): $$missing;" \
			     "the tests that need them will be skipped"; \
		fi; \
	fi

test: install-test browser
	$(BIN)/python -m pytest

clean:
	rm -rf .envqa

eval: install-eval index
	$(BIN)/envqa eval ../shared/eval/public_examples.jsonl --baseline --ablate --out eval-out
