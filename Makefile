# The documented commands. Each creates the virtual environment (.venv) when it needs it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?= -n 2

.PHONY: demo review test lint format requirements bench bench-recognizer serve samples build clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The demo needs the package, the emulated AWS (moto, aws-sam-translator) and the recognizer.
$(VENV)/.local-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[local,recognizer]"
	touch $@

$(VENV)/.dev-installed: pyproject.toml $(VENV)/.local-installed
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

# IMAGE is one path, spaces allowed: make demo IMAGE="my photo.jpg"; ARGS passes other options.
demo: $(VENV)/.local-installed  ## the main job, offline: make demo [IMAGE="my photo.jpg"] [ARGS=--keep]
	$(BIN)/vehicle-license-intake demo $(if $(IMAGE),--image "$(IMAGE)") $(ARGS)

review: $(VENV)/.local-installed  ## the review desk on http://127.0.0.1:8780 with the samples processed [ARGS=--port N]
	$(BIN)/vehicle-license-intake review $(ARGS)

# The coverage of the three source roots (src, recognizer, tools), printed after the tests. Its
# data is one file per run, in the virtual environment: two runs in one work tree would
# otherwise combine (and delete) each other's worker data.
COVERAGE_ARGS ?= --cov=vehicle_license_intake --cov=vehicle_license_recognizer --cov=vehicle_license_tools \
	--cov-report=term:skip-covered

test: $(VENV)/.dev-installed wheelhouse browser
	COVERAGE_FILE=$(VENV)/.coverage.$$$$ $(BIN)/python -m pytest $(PYTEST_ARGS) $(COVERAGE_ARGS); \
	status=$$?; rm -f $(VENV)/.coverage.$$$$; exit $$status

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(BIN)/python scripts/sync_requirements.py --check

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

requirements: $(BIN)/python
	$(BIN)/python scripts/sync_requirements.py

samples: $(VENV)/.dev-installed  ## needs a CJK font: apt-get install fonts-wqy-microhei
	$(BIN)/python scripts/render_samples.py

bench: $(VENV)/.dev-installed wheelhouse
	$(BIN)/python benchmarks/run.py

bench-recognizer: $(VENV)/.dev-installed  ## accuracy, speed, memory of the offline recognizer (200+ images)
	$(BIN)/python benchmarks/recognizer.py $(ARGS)

serve: $(VENV)/.local-installed  ## the offline recognizer behind the upstream's HTTP contract
	$(BIN)/vehicle-license-intake serve $(ARGS)

# The browser tests drive Debian's Chromium (Playwright's own browser download does not install
# everywhere): installed once with apt, as root or through sudo.
CHROMIUM ?= /usr/bin/chromium
.PHONY: browser
browser: $(CHROMIUM)

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium chromium-driver

.PHONY: wheelhouse artifact
WHEELHOUSE := .wheelhouse
ARTIFACT ?= .aws-sam/artifact

# The function's wheels for python3.13/arm64 (and the benchmarks' variants), downloaded once:
# the only step that uses the network. The artifact test and `make bench` build offline from it.
$(WHEELHOUSE)/.complete: pyproject.toml src/requirements.txt | $(BIN)/python
	$(BIN)/python scripts/build_function.py --download --wheelhouse $(WHEELHOUSE)
	touch $@

wheelhouse: $(WHEELHOUSE)/.complete

artifact: $(WHEELHOUSE)/.complete  ## the function's zip content as `sam build` makes it, with its size
	$(BIN)/python scripts/build_function.py $(ARTIFACT) --clean --wheelhouse $(WHEELHOUSE)

build:  ## optional: needs the SAM CLI and python3.13 (see README)
	sam build --template template.yaml

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
