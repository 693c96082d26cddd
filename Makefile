# envqa — `make run` serves the product, `make test` runs the tests. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test index install eval bench clean

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

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf .envqa

eval: index
	$(BIN)/envqa eval ../shared/eval/public_examples.jsonl --baseline --ablate --out eval-out
