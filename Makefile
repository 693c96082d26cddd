# envqa — `make run` serves the product, `make test` runs the tests. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test index install eval clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[st,test]'
	touch $(STAMP)

install: $(STAMP)

index: install
	$(BIN)/envqa ingest

run: index
	@echo "Index ready. Try:  $(BIN)/envqa search \"GB 13456-2012\""

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf .envqa

eval: index
	$(BIN)/envqa eval ../shared/eval/public_examples.jsonl --baseline --ablate --out eval-out
