# Everything runs from a project-local virtualenv that these targets create on first use.
# Needs only python3 (3.11+) and make.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STACK  ?= prod

.PHONY: setup lint typecheck dynalite unit test preview review schema demo bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy .

# dynalite (DynamoDB on Node.js) from npm, at the version bench/dynalite/package-lock.json pins,
# into bench/dynalite/node_modules. Without node or npm it says what will not run, and succeeds.
dynalite: setup
	$(BIN)/python -m bench.server install-dynalite

# One worker per core: every test owns its moto account, ports and temporary files.
unit: setup dynalite
	$(BIN)/pytest -n auto

## make test: virtualenv, install, lint, type check, tests.
test: lint typecheck unit

## make preview STACK=prod [FORMAT=json]: the real program against a bundled sample FormKiQ,
## offline. Only the render goes to stdout (`> review.txt`): setup's output and make's echo go
## elsewhere. FORMAT=json: the render as the document docs/preview.schema.json describes.
preview:
	@$(MAKE) --no-print-directory -s setup >&2
	@$(BIN)/python -m formkiq_backup.offline.preview --stack $(STACK) $(if $(FORMKIQ_VERSION),--formkiq-version $(FORMKIQ_VERSION)) $(if $(FORMAT),--format $(FORMAT))

## make review FROM=prod TO=prod:enhanced [FORMAT=markdown|json]: what changing FROM's config to
## TO's does to the backups, data-loss risks first. The command exits 0 (no risk), 1 (risks) or
## 2 (error); make reports any non-zero as its own exit 2 ("Error 1" = risks found).
review:
	@$(MAKE) --no-print-directory -s setup >&2
	@$(BIN)/python -m formkiq_backup.offline.review --from $(FROM) --to $(TO) $(if $(FORMAT),--format $(FORMAT))

## make schema: rewrite tiers/components.py and schema.json (the tier components' arguments and
## outputs, and the schema other Pulumi languages use) from formkiq_backup/config.py and
## tiers/outputs.py, after a setting or an output changes.
schema: setup
	$(BIN)/python -m tiers.codegen

## make demo: formkiq-dr against a FormKiQ in moto_server on 127.0.0.1, incident and recovery;
## the drill report lands in reports/.
demo: setup
	$(BIN)/python -m formkiq_backup.dr.demo reports

## make bench: repair and drill against raw scans and a jq pipeline, in moto_server and in
## dynalite, then the export path (DuckDB against the in-process compare, 1,000,000 items; see
## docs/benchmarks.md); figures to reports/benchmarks.json. BENCH_ARGS="--help".
bench: setup dynalite
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
