# Thin wrapper over CMake: the two README commands and a few conveniences.
#   make demo      the main job (Table 3 reproduction, quick size)
#   make test      configure, build and run every test (float build)
#   make test-double   the same in the double-precision build
#   make memcheck  the test suite under valgrind
#   make sanitize  the test suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz      each file reader's libFuzzer harness for FUZZ_SECONDS (clang)
#   make bench     build the benchmarks (run them from build/bench/)
JOBS ?= $(shell nproc)
BUILD ?= build
BUILD_DOUBLE ?= build-double
BUILD_SANITIZE ?= build-sanitize
# float-cast-overflow: a double out of an integer's range converted to it is
# undefined behaviour that gcc's "undefined" group does not include.
SANITIZERS ?= address,undefined,float-cast-overflow
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=

.PHONY: all deps build build-double demo test test-double memcheck sanitize fuzz bench clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j $(JOBS)

build-double: deps
	cmake -S . -B $(BUILD_DOUBLE) -DCMAKE_BUILD_TYPE=Release -DNDE_REAL=double $(CMAKE_FLAGS)
	cmake --build $(BUILD_DOUBLE) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure

test-double: build-double
	cd $(BUILD_DOUBLE) && ctest --output-on-failure

demo: build
	bash scripts/demo.sh $(BUILD)

# Every test runner under valgrind: zero errors and zero leaks required.
memcheck: build
	bash scripts/memcheck.sh $(BUILD)

# The tests under ASan + UBSan with every finding fatal, leaks included
# (scripts/sanitize.sh gives the options).
sanitize: deps
	cmake -S . -B $(BUILD_SANITIZE) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DNDE_SANITIZE=$(SANITIZERS) $(CMAKE_FLAGS)
	cmake --build $(BUILD_SANITIZE) -j $(JOBS)
	bash scripts/sanitize.sh $(BUILD_SANITIZE)

# The fuzz harnesses of tests/fuzz (libFuzzer, ASan + UBSan), each run for
# FUZZ_SECONDS; any finding fails (scripts/fuzz.sh).
fuzz:
	@bash scripts/install-deps.sh fuzz
	JOBS=$(JOBS) bash scripts/fuzz.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

bench: build

clean:
	rm -rf $(BUILD) $(BUILD_DOUBLE) $(BUILD_SANITIZE) $(BUILD_FUZZ)
