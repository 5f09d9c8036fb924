# micro-grpc: every task a developer runs, from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROTOS := $(shell find protos -name '*.proto')

.PHONY: install proto bench-proto golden run test lint typecheck pytest bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# Generated example code lives in gen/; make it importable in the venv.
	echo "$(CURDIR)/gen" > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/micro-grpc-gen.pth"
	touch $@

# Regenerates the Python code kept in gen/ for every proto in protos/. The
# include path adds the installed packages so google/api/*.proto resolve.
proto: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m grpc_tools.protoc -I protos \
		-I "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
		--python_out=gen --mypy_out=gen --micro_out=gen $(PROTOS)

# The benchmark's own stubs, for micro-grpc, raw grpc.aio and grpclib.
bench-proto: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m grpc_tools.protoc -I bench/protos \
		--python_out=. --mypy_out=. --grpc_python_out=. --mypy_grpc_out=. \
		--grpclib_python_out=. --micro_out=. bench/protos/bench/gen/echo.proto

golden: install
	$(BIN)/python -m tests.plugin.golden --update

run: install
	$(BIN)/python -m examples.greeter.run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy micro_grpc protoc_gen_micro examples gen bench

pytest: install
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: install
	$(BIN)/python -m bench --rounds 11 --duration 1

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
