# ironrack — top-level build.
#   make              build ironrack-regiond, ironrack-rackd, ironrack (build/)
#   make check        install missing deps, build, run unit + system tests, then
#                     the same unit and system tests against an ASan+UBSan build
#   make check SANITIZE=1   only the sanitizer pass
#   make demo         region on embedded PostgreSQL + a rack in a network namespace
#   make bench        peer benchmarks (tests/bench)
#   make fuzz         run each libFuzzer target for FUZZ_SECONDS (clang)

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD   ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD   ?= build
SANFLAGS =
endif

CC      ?= cc
PKGS    = grpc libprotobuf-c libevent libevent_pthreads libevent_openssl jansson libpq openssl libcurl
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

.PHONY: all deps check check-san unit system demo bench bench-ipam fuzz clean format
all: $(BINS) $(TOOL_BINS)

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

deps:
	@deploy/install-deps

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

system: all
	$(PYTEST) -q -p no:cacheprovider tests/system $(PYTEST_ARGS)

# The sanitizer pass reuses the same unit and system tests on build-san/.
check-san:
	$(MAKE) SANITIZE=1 all $(UNIT_BINS_SAN)
	$(MAKE) SANITIZE=1 unit
	$(MAKE) SANITIZE=1 system

ifeq ($(SANITIZE),1)
check: deps check-san
else
check: deps
	$(MAKE) all $(UNIT_BINS)
	$(MAKE) unit
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

# libFuzzer targets tests/fuzz/fuzz_NAME.c, built with clang into build-fuzz/
# against the same libraries. Each runs FUZZ_SECONDS with its seed corpus
# tests/fuzz/corpus/NAME/ read-only; new inputs and crashes land in
# build-fuzz/ (keep a crash as a named file in the corpus once fixed).
FUZZ_SECONDS ?= 30
FUZZ_SRC = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
fuzz:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang SANFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
		$(subst $(BUILD)/,build-fuzz/,$(PROTO_H)) build-fuzz/libcommon.a build-fuzz/librack.a
	@set -e; for src in $(FUZZ_SRC); do \
		name=$$(basename $$src .c); seeds=tests/fuzz/corpus/$${name#fuzz_}; \
		echo "  FUZZ    $$name for $(FUZZ_SECONDS) s"; \
		clang -O1 -g -std=gnu17 -D_GNU_SOURCE -I. $(FUZZ_SAN) -fsanitize=fuzzer -o build-fuzz/$$name $$src \
			build-fuzz/librack.a build-fuzz/libcommon.a $(LDLIBS); \
		mkdir -p build-fuzz/corpus/$$name $$seeds; \
		build-fuzz/$$name -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build-fuzz/$$name- \
			build-fuzz/corpus/$$name $$seeds; \
	done

clean:
	rm -rf build build-san build-fuzz

format:
	clang-format -i $$(find common region rack tests -name '*.[ch]')

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
