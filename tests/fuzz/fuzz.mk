# tests/fuzz/fuzz.mk - fuzzing and the other hard checks; included by the Makefile.
#
#   make fuzz          each libFuzzer harness for FUZZ_SECONDS (default 20), one at a
#                      time, from its corpus in tests/fuzz/corpus/; prints executions
#   make fuzz-merge    folds what `make fuzz` found into tests/fuzz/corpus/ (-merge=1)
#   make valgrind      the unit tests, the corpus replays and the end-to-end suites
#                      under valgrind memcheck (release builds: no sanitizers in the way)
#   make check-hard    make test, then fuzz for FUZZ_SECONDS=600 each, then valgrind
#
# The harnesses are built with clang (libFuzzer, ASan, UBSan); `make test` replays
# the corpora with gcc builds of the same harnesses (replay_NAME), so it needs no clang.

FUZZ_NAMES   := article bodies params cursor search auth netaddr request
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 20
FUZZ_DEB_PKGS := clang libclang-rt-dev valgrind

# FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION: cheap password hashing (readers.c), fuzz builds
# only. clang's -Wstring-concatenation misreads the multi-line SQL in arrays of statements.
FUZZ_CFLAGS := $(BASE_CFLAGS) -Wno-string-concatenation -O1 -g $(ASAN_FLAGS) \
               -fsanitize=fuzzer-no-link -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
$(eval $(call flavour,fuzz,FUZZ_CFLAGS,FUZZ_CC))

FUZZ_SEED   := tests/e2e/fixtures/readers_gazetteer.ndjson tests/e2e/fixtures/readers_articles.ndjson
FUZZ_COMMON := tests/fuzz/util.c tests/fuzz/seed.c build/gen/fuzz_seed_files.c
FUZZ_BINS   := $(FUZZ_NAMES:%=build/fuzz/bin/fuzz_%)
FUZZ_REPLAY_BINS := $(FUZZ_NAMES:%=build/asan/tests/fuzz/replay_%)
FUZZ_REPLAY_BINS_RELEASE := $(FUZZ_NAMES:%=build/release/tests/fuzz/replay_%)
UNIT_BINS_RELEASE := $(patsubst tests/unit/%.c,build/release/tests/unit/%,$(UNIT_SRCS))

build/gen/fuzz_seed_files.c: $(FUZZ_SEED) schema/embed.sh
	@mkdir -p build/gen
	sh schema/embed.sh $@ fuzz_seed_files $(FUZZ_SEED)

build/fuzz/bin/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o \
                       $(patsubst %.c,build/fuzz/%.o,$(FUZZ_COMMON)) build/fuzz/libnewsstand.a
	@mkdir -p $(dir $@)
	@echo "LD [fuzz] $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

# the replays, with gcc: under ASan/UBSan for make test, plain for valgrind
define fuzz_replay
build/$(1)/tests/fuzz/replay_%: build/$(1)/tests/fuzz/fuzz_%.o build/$(1)/tests/fuzz/replay.o \
                                $$(patsubst %.c,build/$(1)/%.o,$$(FUZZ_COMMON)) build/$(1)/libnewsstand.a
	@echo "LD [$(1)] $$@"
	@$$(CC) $$($(2)) -o $$@ $$^ $$(LIBS)
endef
$(eval $(call fuzz_replay,asan,ASAN_CFLAGS))
$(eval $(call fuzz_replay,release,RELEASE_CFLAGS))

.PHONY: fuzz fuzz-deps fuzz-build fuzz-merge valgrind check-hard
.PRECIOUS: build/fuzz/%.o build/asan/%.o build/release/%.o

fuzz-deps:
	@missing=""; for p in $(FUZZ_DEB_PKGS); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

fuzz-build: deps fuzz-deps
	$(MAKE) $(FUZZ_BINS)

fuzz: fuzz-build
	sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-merge: fuzz-build
	sh tests/fuzz/merge.sh $(FUZZ_NAMES)

valgrind: deps fuzz-deps
	$(MAKE) newsstand $(UNIT_BINS_RELEASE) $(FUZZ_REPLAY_BINS_RELEASE)
	sh tests/valgrind.sh $(UNIT_BINS_RELEASE) $(FUZZ_REPLAY_BINS_RELEASE)

check-hard: test
	$(MAKE) fuzz FUZZ_SECONDS=$(if $(filter command line,$(origin FUZZ_SECONDS)),$(FUZZ_SECONDS),600)
	$(MAKE) valgrind
