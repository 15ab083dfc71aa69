# newsstand - build, run, test.
#
#   make            build ./newsstand
#   make run        install what is missing, build, load the demo gazetteer and corpus,
#                   serve on :8080
#   make test       unit + end-to-end tests, plain and under ASan/UBSan, and the OpenAPI
#                   document checked by a linter and, through a validating proxy,
#                   against the server (tests/openapi), and the fuzz corpora replayed
#   make check-hard make test, then the long runs: crash loops and faults (tests/hard),
#                   fuzzing (10 min a harness) and valgrind (tests/fuzz/fuzz.mk)
#   make bench      benchmarks (bench/README.md)
#   make clean
#
# Warnings are errors. Objects go to build/release and build/asan.

CC       ?= cc
PKGS     := libmicrohttpd jansson sqlite3 libsodium libutf8proc zlib
# The build's Debian packages are listed once, in docker/build.sh (the image's
# build runs it too); tests and benchmarks add these.
TEST_PKGS := libcmocka-dev python3 curl wrk
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wstrict-prototypes -Wformat=2
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) -Isrc -Ibuild/gen $(PKG_CFLAGS) -MMD -MP
LIBS     := $(PKG_LIBS) -lpthread -lm

RELEASE_CFLAGS := $(BASE_CFLAGS) -O2 -g
ASAN_FLAGS     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASAN_CFLAGS    := $(BASE_CFLAGS) -O1 -g $(ASAN_FLAGS)

LIB_SRCS := $(sort $(wildcard src/*/*.c))
SCHEMA   := $(sort $(wildcard schema/*.sql))
OPENAPI  := src/api/openapi.json
GEN_SRCS := build/gen/schema_files.c build/gen/openapi_files.c
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
# the OpenAPI linter and validating proxy, pinned by tests/openapi/package-lock.json
NODE_TOOLS := tests/openapi/node_modules/.installed

DB       ?= ./newsstand.db
PORT     ?= 8080
DEMO     := server/demo/articles.ndjson
GAZETTEER := server/demo/gazetteer.ndjson

.PHONY: all run test unit e2e deps test-deps clean asan
all: newsstand

# --- generated sources: migrations and the OpenAPI document built into the binary
build/gen/schema_files.c: $(SCHEMA) schema/embed.sh
	@mkdir -p build/gen
	sh schema/embed.sh $@ schema_files $(SCHEMA)

build/gen/openapi_files.c: $(OPENAPI) schema/embed.sh
	@mkdir -p build/gen
	sh schema/embed.sh $@ openapi_files $(OPENAPI)

# --- one pattern per flavour: release and asan
define flavour
build/$(1)/%.o: %.c | $(GEN_SRCS)
	@mkdir -p $$(dir $$@)
	@echo "CC [$(1)] $$<"
	@$$($(3)) $$($(2)) -c $$< -o $$@

build/$(1)/libnewsstand.a: $$(patsubst %.c,build/$(1)/%.o,$$(LIB_SRCS) $$(GEN_SRCS))
	@echo "AR [$(1)] $$@"
	@ar rcs $$@ $$^

build/$(1)/newsstand: build/$(1)/server/main.o build/$(1)/libnewsstand.a
	@echo "LD [$(1)] $$@"
	@$$($(3)) $$($(2)) -o $$@ $$^ $$(LIBS)

build/$(1)/tests/unit/%: build/$(1)/tests/unit/%.o build/$(1)/libnewsstand.a
	@echo "LD [$(1)] $$@"
	@$$($(3)) $$($(2)) -o $$@ $$^ $$(LIBS) -lcmocka
endef
$(eval $(call flavour,release,RELEASE_CFLAGS,CC))
$(eval $(call flavour,asan,ASAN_CFLAGS,CC))

newsstand: build/release/newsstand
	cp $< $@.tmp && mv -f $@.tmp $@

asan: build/asan/newsstand

UNIT_BINS_ASAN := $(patsubst tests/unit/%.c,build/asan/tests/unit/%,$(UNIT_SRCS))

# the allocation-failure test counts (and fails) every allocation newsstand's own code makes
build/asan/tests/unit/test_alloc_fail build/release/tests/unit/test_alloc_fail: \
    LIBS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup

include tests/fuzz/fuzz.mk

deps:
	sh docker/build.sh --deps-only $(TEST_PKGS)

# the tests also need Node and npm for the OpenAPI checks (there when the commands are,
# whoever packaged them: Debian 12's nodejs 18 and npm 9 do) and the pinned tools
test-deps:
	@missing=""; command -v node >/dev/null 2>&1 || missing="nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	$(MAKE) $(NODE_TOOLS)

# npm ci: exactly the versions in package-lock.json (install scripts off: the only one,
# core-js's, prints an advertisement)
$(NODE_TOOLS): tests/openapi/package.json tests/openapi/package-lock.json
	cd tests/openapi && npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

# --- the server on the demo corpus
run: deps
	$(MAKE) newsstand
	@if [ ! -f $(DB) ]; then \
	    ./newsstand entities import $(GAZETTEER) --db $(DB) && \
	    ./newsstand import $(DEMO) --db $(DB) || { rm -f $(DB); exit 1; }; fi
	./newsstand serve --db $(DB) --port $(PORT)

# --- tests: unit tests under sanitizers, the end-to-end suites against both builds, the
# OpenAPI lint and the API suites again through the validating proxy (tests/openapi)
# (docker/build.sh installs what is missing and builds ./newsstand exactly as the image does)
test: test-deps
	sh docker/build.sh $(TEST_PKGS)
	$(MAKE) build/asan/newsstand $(UNIT_BINS_ASAN) $(FUZZ_REPLAY_BINS)
	sh tests/run.sh $(UNIT_BINS_ASAN) $(FUZZ_REPLAY_BINS)

# --- the long runs: hundreds of SIGKILLs, faults again and again (tests/hard/crash_loop.sh)
.PHONY: check-hard crash-loop
check-hard: crash-loop
crash-loop: test
	sh tests/hard/crash_loop.sh

# --- benchmarks on Reuters-21578 in ../shared/data (research use only: read there, never copied)
# BENCH_QUICK=1 for a short run while developing; BENCH_REBUILD=1 rebuilds the cached database.
BENCH_DATA ?= ../shared/data
PEER_DIR   := bench/peer

.PHONY: bench bench-deps
bench/matcher_bench: bench/matcher_bench.c build/release/libnewsstand.a $(wildcard src/*/*.h)
	@echo "LD [release] $@"
	@$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g -Isrc $(PKG_CFLAGS) -o $@ $< \
	    build/release/libnewsstand.a $(LIBS)

bench/ceiling: bench/ceiling.c
	@echo "LD [release] $@"
	@$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g $(shell pkg-config --cflags libmicrohttpd) \
	    -o $@ $< $(shell pkg-config --libs libmicrohttpd) -lpthread

# The peer's packages, exactly as locked; node and npm from Debian when missing (a C++
# compiler too: better-sqlite3 builds from source where no prebuilt binary fits).
bench-deps:
	@missing=""; command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v g++ >/dev/null || missing="$$missing g++"; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(PEER_DIR)/node_modules/.installed: $(PEER_DIR)/package.json $(PEER_DIR)/package-lock.json
	cd $(PEER_DIR) && npm ci --no-audit --no-fund
	@touch $@

bench: deps bench-deps
	$(MAKE) newsstand bench/matcher_bench bench/ceiling $(PEER_DIR)/node_modules/.installed
	bench/matcher_bench --data $(BENCH_DATA)
	python3 bench/linking_eval.py --data $(BENCH_DATA)
	python3 bench/suite.py --data $(BENCH_DATA)

clean:
	rm -rf build newsstand bench/matcher_bench bench/ceiling $(PEER_DIR)/node_modules

-include $(shell find build -name '*.d' 2>/dev/null)
