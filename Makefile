# Thin wrapper over CMake.  `make test` and `make demo` do all set-up on a
# fresh clone (see README).
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build test demo bench install clean

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test:
	@tools/run-tests.sh

demo: build
	@tools/demo.sh

bench: build
	@tools/bench.sh $(if $(QUICK),--quick,)

install: build
	@cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX),)

clean:
	rm -rf build build-*
