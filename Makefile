# LLM Lab: `make lab` to learn, `make test` to check the whole course.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.llmlab-installed
JOBS ?= 2
# PyTorch: on Linux the default PyPI wheel is a multi-GB CUDA build, so the
# course takes the CPU build; override TORCH_INSTALL to use another one
# (CI: TORCH_INSTALL="torch==2.13.0", a CPU wheel on its machine's disk).
ifeq ($(shell uname -s),Linux)
TORCH_INSTALL ?= torch --index-url https://download.pytorch.org/whl/cpu
else
TORCH_INSTALL ?= torch
endif

.PHONY: lab test unit notebooks site slides assignments lint checkpoint benchmark clean llama-cpp

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet $(TORCH_INSTALL)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## lab: create .venv if missing, install the course, start JupyterLab on notebooks/
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

# Two pytest workers share 2 cores, each notebook kernel with 2 torch threads: OpenMP's
# default busy-waiting then makes a training step several times slower; PASSIVE waiting
# fixes that without changing any result. (make notebooks and make benchmark run one process at a
# time and give it OpenMP's default, as a learner's kernel has: alone on 2 cores, training is ~1.5x
# faster with it.)
export OMP_WAIT_POLICY := PASSIVE

## test: the linters, then the unit tests and every notebook (nbval), in parallel
test: lint
	PYTHONHASHSEED=0 $(BIN)/python -m pytest -n $(JOBS) --dist loadscope -rs \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=900 \
		tests notebooks

## unit: the unit tests only
unit: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) tests

## notebooks: execute every notebook in place (or NB=notebooks/xx.ipynb), record time and memory
notebooks: $(STAMP)
	$(BIN)/python tools/sync_notebooks.py $(NB)
	$(BIN)/python tools/execute_notebooks.py $(NB)

## site: static HTML course site from the committed notebooks (build/site; no execution, no network)
site: $(STAMP)
	$(BIN)/python tools/build_site.py --out build/site

## slides: reveal.js slides of every lesson (or NB=notebooks/xx.ipynb) in build/slides; offline, no execution
slides: $(STAMP)
	$(BIN)/python tools/build_slides.py --out build/slides $(NB)

## assignments: student versions of the lessons and an nbgrader course that grades them (build/assignments; or NB=...;
## CHECK=1 also grades the lessons' own solutions, running each lesson once)
assignments: $(STAMP)
	$(BIN)/python tools/build_assignments.py --out build/assignments $(if $(CHECK),--check-solutions) $(NB)

## checkpoint: retrain the course model shipped in data/mini-gpt (see its MODEL_CARD.md)
checkpoint: $(STAMP)
	$(BIN)/python scripts/train_course_model.py --threads 1 --overwrite

## benchmark: training and generation throughput, the model explorer's update time (benchmarks/RESULTS.md)
benchmark: $(STAMP)
	env -u OMP_WAIT_POLICY $(BIN)/python benchmarks/bench_training.py --threads 2
	env -u OMP_WAIT_POLICY $(BIN)/python benchmarks/bench_generation.py --threads 2
	env -u OMP_WAIT_POLICY $(BIN)/python benchmarks/bench_widgets.py --threads 2

## llama-cpp: build llama-cpp-python from source (several minutes; not part of `make test`) for lesson 07's llama.cpp cell
llama-cpp: $(STAMP)
	$(BIN)/python -m pip install llama-cpp-python

## lint: ruff's checks and its formatting over the code and the notebooks, mypy over lib/
lint: $(STAMP)
	$(BIN)/ruff check lib tests tools scripts benchmarks notebooks
	$(BIN)/ruff format --check lib tests tools scripts benchmarks notebooks
	$(BIN)/python -m mypy

## clean: remove what the build made, except build/assignments (it holds submissions and grades)
clean:
	rm -rf dist .pytest_cache
	if [ -d build ]; then find build -mindepth 1 -maxdepth 1 ! -name assignments -exec rm -rf {} +; fi
