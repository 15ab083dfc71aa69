# newsstand - build, run, test.
#
#   make            build ./newsstand
#   make run        install what is missing, build, load the demo gazetteer and corpus,
#                   serve on :8080
#   make test       unit + end-to-end tests, plain and under ASan/UBSan, and the fuzz
#                   corpora replayed under ASan/UBSan
#   make check-hard make test, then fuzzing (10 min a harness) and valgrind: see
#                   tests/fuzz/fuzz.mk for make fuzz, fuzz-merge and valgrind
#   make bench      benchmarks (bench/README.md)
#   make clean
#
# Warnings are errors. Objects go to build/release and build/asan.

CC       ?= cc
PKGS     := libmicrohttpd jansson sqlite3 libsodium libutf8proc zlib
DEB_PKGS := gcc make pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libsodium-dev \
            libutf8proc-dev libcmocka-dev zlib1g-dev python3 curl wrk
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

DB       ?= ./newsstand.db
PORT     ?= 8080
DEMO     := server/demo/articles.ndjson
GAZETTEER := server/demo/gazetteer.ndjson

.PHONY: all run test unit e2e deps clean asan
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

include tests/fuzz/fuzz.mk

# --- install what of the packages $(1) a fresh Debian 12 machine lacks (as root, or with sudo)
define apt_install
	@missing=""; for p in $(1); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call apt_install,$(DEB_PKGS))

# --- the server on the demo corpus
run: deps
	$(MAKE) newsstand
	@if [ ! -f $(DB) ]; then \
	    ./newsstand entities import $(GAZETTEER) --db $(DB) && \
	    ./newsstand import $(DEMO) --db $(DB) || { rm -f $(DB); exit 1; }; fi
	./newsstand serve --db $(DB) --port $(PORT)

# --- tests: unit tests under sanitizers, then the end-to-end suite against both builds
test: deps
	$(MAKE) newsstand build/asan/newsstand $(UNIT_BINS_ASAN) $(FUZZ_REPLAY_BINS)
	sh tests/run.sh $(UNIT_BINS_ASAN) $(FUZZ_REPLAY_BINS)

# --- benchmarks on Reuters-21578 in ../shared/data (research use only: read there, never copied)
BENCH_DATA ?= ../shared/data

.PHONY: bench
bench/matcher_bench: bench/matcher_bench.c build/release/libnewsstand.a $(wildcard src/*/*.h)
	@echo "LD [release] $@"
	@$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g -Isrc $(PKG_CFLAGS) -o $@ $< \
	    build/release/libnewsstand.a $(LIBS)

bench: deps
	$(MAKE) newsstand bench/matcher_bench
	bench/matcher_bench --data $(BENCH_DATA)
	python3 bench/linking_eval.py --data $(BENCH_DATA)
	sh bench/search_bench.sh $(BENCH_DATA)
	sh bench/readers_bench.sh $(BENCH_DATA)

clean:
	rm -rf build newsstand bench/matcher_bench

-include $(shell find build -name '*.d' 2>/dev/null)
