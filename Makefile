# ironrack — top-level build.
#   make              build ironrack-regiond, ironrack-rackd, ironrack (build/)
#   make check        install missing deps, check formatting (.clang-format),
#                     build, run unit tests, fuzz-check, system tests, then the
#                     same unit and system tests against an ASan+UBSan build
#   make check SANITIZE=1   only the sanitizer pass
#   make demo         region on embedded PostgreSQL + a rack in a network namespace
#   make bench        peer benchmarks (tests/bench)
#   make fuzz         run each libFuzzer target for FUZZ_SECONDS (clang)
#   make format       clang-format the tree (make check runs format-check)
#   make fuzz-check   replay every fuzz corpus + a few seconds per target
#                     (in make check's first pass; the fuzzers carry ASan+UBSan)

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD   ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD   ?= build
SANFLAGS =
endif

CC      ?= cc
PKGS    = grpc libprotobuf-c libevent libevent_pthreads libevent_openssl jansson libpq openssl libcurl libfreeipmi libpcap
WARN    = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu17 $(WARN) $(SANFLAGS) -D_GNU_SOURCE -I. -I$(BUILD)/gen \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS += $(SANFLAGS)
LDLIBS  = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

PROTOS      = $(filter-out %_service.proto,$(wildcard proto/ironrack/v1/*.proto))
PROTO_C     = $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_H     = $(PROTO_C:.c=.h)
MIGRATIONS  = $(sort $(wildcard region/db/migrations/*.sql))

COMMON_SRC  = $(shell find common -name '*.c' | sort)
REGION_SRC  = $(filter-out region/main.c region/cli/%,$(shell find region -name '*.c' | sort))
CLI_SRC     = $(shell find region/cli -name '*.c' | sort)
RACK_SRC    = $(filter-out rack/main.c,$(shell find rack -name '*.c' | sort))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ  = $(call obj,$(COMMON_SRC)) $(PROTO_C:.c=.o)
REGION_OBJ  = $(call obj,$(REGION_SRC)) $(BUILD)/gen/migrations.o
RACK_OBJ    = $(call obj,$(RACK_SRC))
CLI_OBJ     = $(call obj,$(CLI_SRC))

BINS = $(BUILD)/ironrack-regiond $(BUILD)/ironrack-rackd $(BUILD)/ironrack
UNIT_SRC  = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
UNIT_BINS_SAN = $(patsubst tests/unit/%.c,build-san/tests/%,$(UNIT_SRC))
TOOL_SRC  = $(sort $(wildcard tests/tools/*.c))
TOOL_BINS = $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))

PYTEST = /usr/bin/python3 -m pytest
export IRONRACK_BUILD := $(abspath $(BUILD))

.PHONY: all deps check check-san unit system demo bench bench-ipam fuzz fuzz-bins clean format ephemeral
# The ephemeral environment (deploy/ephemeral/build: Debian's kernel and
# busybox-static via apt-get download). Not rebuilt for the sanitizer pass:
# the system tests use build/ephemeral.
EPHEMERAL = $(BUILD)/ephemeral/amd64/initrd.img
all: $(BINS) $(TOOL_BINS) $(if $(filter 1,$(SANITIZE)),,ephemeral)
ephemeral: $(EPHEMERAL)
$(EPHEMERAL): $(wildcard deploy/ephemeral/*) $(BUILD)/ironrack-imgwrite
	deploy/ephemeral/build --out $(BUILD)/ephemeral
# The deploy test image (deploy/testimage/build: the ephemeral build's
# .debs, mkfs.fat, mtools, syslinux) for tests/system/test_deploy*.py.
.PHONY: testimage
TESTIMAGE = $(BUILD)/testimage/ironrack-test.img
all: $(if $(filter 1,$(SANITIZE)),,testimage)
testimage: $(TESTIMAGE)
$(TESTIMAGE): $(wildcard deploy/testimage/*) deploy/ephemeral/lib.sh $(EPHEMERAL)
	deploy/testimage/build --out $(BUILD)/testimage

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -Iproto $<

# SQL migrations are compiled into the region binary so it never depends on
# an installed data directory; see region/db/migrate.h.
$(BUILD)/gen/migrations.c: $(MIGRATIONS) Makefile
	@mkdir -p $(BUILD)/gen
	@{ echo '#include "region/db/migrate.h"'; \
	   echo 'const struct migration db_migrations[] = {'; \
	   for f in $(MIGRATIONS); do \
	     b=$$(basename $$f .sql); n=$${b%%_*}; \
	     printf '{ %s, "%s", \n' "$$(expr $$n + 0)" "$$b"; \
	     sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $$f; \
	     echo '},'; \
	   done; \
	   echo '};'; \
	   echo 'const size_t db_migrations_n = sizeof(db_migrations) / sizeof(db_migrations[0]);'; } > $@.tmp
	@mv $@.tmp $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -Wno-error -c -o $@ $<

$(BUILD)/obj/%.o: %.c $(PROTO_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libcommon.a: $(COMMON_OBJ)
	@rm -f $@ && ar rcs $@ $^
$(BUILD)/libregion.a: $(REGION_OBJ)
	@rm -f $@ && ar rcs $@ $^
$(BUILD)/librack.a: $(RACK_OBJ)
	@rm -f $@ && ar rcs $@ $^

LIBS = $(BUILD)/libregion.a $(BUILD)/librack.a $(BUILD)/libcommon.a

$(BUILD)/ironrack-regiond: $(call obj,region/main.c) $(BUILD)/libregion.a $(BUILD)/libcommon.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/ironrack-rackd: $(call obj,rack/main.c) $(BUILD)/librack.a $(BUILD)/libcommon.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/ironrack: $(CLI_OBJ) $(BUILD)/libcommon.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  CC+LD   $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS) -lcmocka
$(BUILD)/tools/%: tests/tools/%.c $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  CC+LD   $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

# ironrack-imgwrite (deploy/ephemeral/imgwrite/): the ephemeral agent's
# image writer, linked statically and stripped for the initramfs (busybox
# and nothing else there): zlib, libzstd, libcrypto's SHA-256. Its codec
# and pipeline are unit-tested (tests/unit/test_imgwrite_*.c, linked
# dynamically, also under the sanitizers) and fuzzed like the daemons'.
IMGW_SRC     = $(sort $(wildcard deploy/ephemeral/imgwrite/*.c))
IMGW_LIB_OBJ = $(call obj,$(filter-out %/main.c,$(IMGW_SRC)))
IMGW_LIBS    = -lzstd -lz -lcrypto
$(BUILD)/ironrack-imgwrite: $(call obj,$(IMGW_SRC)) $(call obj,common/util.c)
	@echo "  LD      $@ (static)"
	@$(CC) $(LDFLAGS) -static -s -o $@ $^ $(IMGW_LIBS)
$(BUILD)/tests/test_imgwrite_%: tests/unit/test_imgwrite_%.c $(IMGW_LIB_OBJ) $(LIBS)
	@mkdir -p $(dir $@)
	@echo "  CC+LD   $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(IMGW_LIB_OBJ) $(LIBS) $(LDLIBS) $(IMGW_LIBS) -lcmocka

deps:
	@deploy/install-deps

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

# Most system tests wait on daemons, timers and clients, not on a CPU: they
# run in TEST_JOBS parallel workers (pytest-xdist; each module on one
# worker, every test in its own namespaces, ports and state directory; the
# tests that boot QEMU guests one at a time, tests/system/conftest.py), then
# those marked `alone` (load generators, timing comparisons) one at a time
# with nothing beside them. On 2 CPUs, 3 workers take the plain pass from 15
# to about 8 minutes. TEST_JOBS=1 runs everything in one process, in order.
TEST_JOBS ?= $(shell echo $$(( $$(nproc) + 1 )))
PYTEST_RUN = $(PYTEST) -q -p no:cacheprovider
system: all
	@if [ "$(TEST_JOBS)" -gt 1 ] && /usr/bin/python3 -c 'import xdist' 2>/dev/null; then \
		rc=0; \
		echo "system: the parallel phase, $(TEST_JOBS) workers"; \
		$(PYTEST_RUN) --durations=25 -n $(TEST_JOBS) --dist loadgroup -m 'not alone' tests/system $(PYTEST_ARGS); \
		r=$$?; [ $$r = 0 ] || [ $$r = 5 ] || rc=$$r; \
		echo "system: the tests that run alone"; \
		$(PYTEST_RUN) --durations=10 -m alone tests/system $(PYTEST_ARGS); \
		r=$$?; [ $$r = 0 ] || [ $$r = 5 ] || rc=$$r; \
		exit $$rc; \
	else \
		$(PYTEST_RUN) --durations=25 tests/system $(PYTEST_ARGS); \
	fi

# make check builds with one job per CPU (the tests themselves run one at a
# time); JOBS=1 for a serial build.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# The sanitizer pass reuses the same unit and system tests on build-san/.
check-san:
	$(MAKE) -j$(JOBS) SANITIZE=1 all $(UNIT_BINS_SAN)
	$(MAKE) SANITIZE=1 unit
	$(MAKE) SANITIZE=1 system

ifeq ($(SANITIZE),1)
check: deps check-san
else
check: deps
	$(MAKE) format-check
	$(MAKE) -j$(JOBS) all $(UNIT_BINS)
	$(MAKE) unit
	$(MAKE) -j$(JOBS) fuzz-build
	$(MAKE) fuzz-check
	$(MAKE) system
	$(MAKE) check-san
endif

demo: deps all
	deploy/demo/run $(BUILD)

bench: all
	tests/bench/run $(BUILD)

# IPAM next-free micro-benchmark, built and run by hand (tests/bench/ipam_next_free.c).
IPAM_OBJ = $(call obj,$(sort $(wildcard region/ipam/*.c)))
$(BUILD)/bench/ipam_next_free: tests/bench/ipam_next_free.c $(IPAM_OBJ) $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	@echo "  CC+LD   $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(IPAM_OBJ) $(BUILD)/libcommon.a $(LDLIBS)
bench-ipam: $(BUILD)/bench/ipam_next_free
	$<

# Lease store commit/compact/reopen timing, built and run by hand
# (tests/bench/lease_store.c; it used to be a timed unit test).
$(BUILD)/bench/lease_store: tests/bench/lease_store.c $(BUILD)/librack.a $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	@echo "  CC+LD   $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/librack.a $(BUILD)/libcommon.a $(LDLIBS)
bench-leases: $(BUILD)/bench/lease_store
	$<

# libFuzzer targets tests/fuzz/fuzz_NAME.c, built with clang and ASan+UBSan
# into build-fuzz/ against the same libraries (region, rack, common).
#   make fuzz        each target for FUZZ_SECONDS with its seed corpus
#                    tests/fuzz/corpus/NAME/ read-only; new inputs and
#                    crashes land in build-fuzz/ (keep a crash as a named
#                    file in the corpus once fixed).
#   make fuzz-check  (part of make check) replays every committed corpus
#                    file, then fuzzes each target FUZZ_CHECK_SECONDS from
#                    its seeds: a few seconds each, so a regression in a
#                    parser fails check, not only the next long fuzz run.
# FUZZ_CHECK_SKIP names targets left out of fuzz-check (a known crash in
# the corpus whose fix has not landed); say why beside it when set.
FUZZ_SECONDS ?= 30
FUZZ_CHECK_SECONDS ?= 5
FUZZ_CHECK_SKIP ?=
FUZZ_SRC  = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS = $(patsubst tests/fuzz/%.c,build-fuzz/%,$(FUZZ_SRC))
FUZZ_SAN  = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_RUN  = -timeout=10 -rss_limit_mb=2048

.PHONY: fuzz-build fuzz-check
# The libraries through this Makefile's own rules (BUILD=build-fuzz),
# instrumented for coverage; then each target links them.
fuzz-build:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang SANFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
		fuzz-bins

ifeq ($(BUILD),build-fuzz)
fuzz-bins: $(FUZZ_BINS)
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIBS)
	@echo "  CC+LD   $@"
	@clang -O1 -g -std=gnu17 -D_GNU_SOURCE -I. -Ibuild-fuzz/gen $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer \
		$(shell pkg-config --cflags jansson 2>/dev/null) -o $@ $< $(LIBS) $(LDLIBS)
build-fuzz/fuzz_imgwrite_%: tests/fuzz/fuzz_imgwrite_%.c $(IMGW_LIB_OBJ) $(LIBS)
	@echo "  CC+LD   $@"
	@clang -O1 -g -std=gnu17 -D_GNU_SOURCE -I. -Ibuild-fuzz/gen $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer \
		-o $@ $< $(IMGW_LIB_OBJ) $(LIBS) $(LDLIBS) $(IMGW_LIBS)
endif

fuzz: fuzz-build
	@set -e; for bin in $(FUZZ_BINS); do \
		name=$$(basename $$bin); seeds=tests/fuzz/corpus/$${name#fuzz_}; \
		echo "  FUZZ    $$name for $(FUZZ_SECONDS) s"; \
		mkdir -p build-fuzz/corpus/$$name $$seeds; \
		$$bin $(FUZZ_RUN) -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build-fuzz/$$name- \
			build-fuzz/corpus/$$name $$seeds; \
	done

# One make target per fuzzer, so fuzz-check runs JOBS of them at a time.
FUZZ_CHECKS = $(addprefix fuzz-check-,$(filter-out $(FUZZ_CHECK_SKIP),$(notdir $(FUZZ_BINS))))
fuzz-check: fuzz-build
	@for name in $(FUZZ_CHECK_SKIP); do echo "  SKIP    $$name (FUZZ_CHECK_SKIP)"; done
	@$(MAKE) --no-print-directory -j$(JOBS) $(FUZZ_CHECKS)

fuzz-check-%:
	@name=$*; seeds=tests/fuzz/corpus/$${name#fuzz_}; bin=build-fuzz/$$name; \
		test -n "$$(ls -A $$seeds 2>/dev/null)" || { echo "$$name: no seed corpus in $$seeds" >&2; exit 1; }; \
		echo "  REPLAY  $$name: $$(ls $$seeds | wc -l) inputs"; \
		$$bin $(FUZZ_RUN) $$seeds/* >build-fuzz/$$name-replay.log 2>&1 \
			|| { tail -40 build-fuzz/$$name-replay.log >&2; exit 1; }; \
		echo "  FUZZ    $$name for $(FUZZ_CHECK_SECONDS) s"; \
		rm -rf build-fuzz/check/$$name; mkdir -p build-fuzz/check/$$name; \
		$$bin $(FUZZ_RUN) -max_total_time=$(FUZZ_CHECK_SECONDS) -artifact_prefix=build-fuzz/$$name- \
			build-fuzz/check/$$name $$seeds >build-fuzz/$$name-check.log 2>&1 \
			|| { tail -40 build-fuzz/$$name-check.log >&2; exit 1; }

clean:
	rm -rf build build-san build-fuzz

# The tree follows .clang-format; check refuses a file that does not
# (make format rewrites them).
FORMAT_SRC = $(shell find common region rack tests deploy/ephemeral/imgwrite -name '*.[ch]' | sort)
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	@clang-format --dry-run -Werror $(FORMAT_SRC) || \
		{ echo "format-check: run 'make format' (clang-format, .clang-format)" >&2; exit 1; }

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
