# station — the two set-up commands are `make demo` and `make test`; both build .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test soak bench lint pg clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/station demo

# PostgreSQL for the centre's second back end: started and provisioned here, never by hand.
pg:
	@bash .ci/pg-setup > .pg-dsn

lint: $(STAMP)
	$(BIN)/ruff check station tests bench
	$(BIN)/lint-imports

# pytest exits 5 when it collected nothing: that is a broken suite, never a pass.
test: $(STAMP) pg lint
	STATION_TEST_PG_DSN="$$(cat .pg-dsn)" $(BIN)/python -m pytest -n 2 -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest ran no tests" >&2; exit 1; fi; exit $$rc

soak: $(STAMP) pg
	STATION_TEST_PG_DSN="$$(cat .pg-dsn)" STATION_SOAK=1 $(BIN)/python -m pytest -q -m soak --timeout=7200

bench: $(STAMP) pg
	STATION_TEST_PG_DSN="$$(cat .pg-dsn)" $(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pg-dsn .pytest_cache build *.egg-info
