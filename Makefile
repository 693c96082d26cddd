# envqa — `make run` serves the product, `make test` runs the tests. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: run test index install browser eval bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[st,test]'
	touch $(STAMP)

install: $(STAMP)

index: install
	$(BIN)/envqa ingest

run: index
	$(BIN)/envqa serve --host 127.0.0.1 --port 8000

bench: index
	$(BIN)/envqa bench --url http://127.0.0.1:8000 --requests 2000 --concurrency 32

# The browser tests drive Debian's Chromium (Playwright's own browser download needs the internet)
# and need a CJK font to render the page; installed only when missing, where apt-get can.
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-wqy-zenhei; \
		else \
			echo "$(CHROMIUM) is missing and cannot be installed here (needs root and apt-get):" \
			     "the browser tests will be skipped"; \
		fi; \
	fi

test: install browser
	$(BIN)/python -m pytest

clean:
	rm -rf .envqa

eval: index
	$(BIN)/envqa eval ../shared/eval/public_examples.jsonl --baseline --ablate --out eval-out
