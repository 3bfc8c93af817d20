# Courser build. `make` builds every program into bin/; `make run` starts
# Courser in the foreground; `make check` runs every test.
#
# Layout rule (DESIGN.md §7): each daemon folder holds that daemon's sources;
# lib/ is linked into every program as build/libcourser.a.  Each daemon's
# main() lives in DAEMON/main.c so that unit tests can link the rest.

CC       ?= cc
PKGS     := libuv libcares libsodium openssl libpcre2-8 lmdb
OPT      ?= -O2 -g
CFLAGS   += $(OPT) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
            -Wno-unused-parameter -fno-strict-aliasing -Ilib \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
SAN      ?=
ifneq ($(SAN),)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=address,undefined
endif
BUILD    ?= build
BIN      ?= bin

DAEMONS  := master smtpd qmgr smtp-out bounced dkimsign acctd mtactl
PROG_master := courser

LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIBA     := $(BUILD)/libcourser.a

prog_name = $(if $(PROG_$(1)),$(PROG_$(1)),$(1))
PROGS    := $(foreach d,$(DAEMONS),$(BIN)/$(call prog_name,$(d)))

UNIT_SRCS := $(wildcard tests/unit/*/*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all run check unit integration deps deps-test clean san docs bench deb
all: $(PROGS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBA): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define daemon_rule
$(1)_SRCS := $$(wildcard $(1)/*.c)
$(1)_OBJS := $$($(1)_SRCS:%.c=$(BUILD)/%.o)
$(1)_LIBOBJS := $$(filter-out $(BUILD)/$(1)/main.o,$$($(1)_OBJS))
$(BIN)/$(call prog_name,$(1)): $$($(1)_OBJS) $(LIBA)
	@mkdir -p $(BIN)
	$$(CC) $$(LDFLAGS) -o $$@ $$($(1)_OBJS) $(LIBA) $$(LDLIBS)
endef
$(foreach d,$(DAEMONS),$(eval $(call daemon_rule,$(d))))

# Unit test tests/unit/DAEMON/NAME.c links lib and DAEMON's objects except
# main.o; tests/unit/lib/NAME.c links lib only.
test_objs = $(if $(filter lib,$(1)),,$($(1)_LIBOBJS))
# (a '%' written in a pattern rule's prerequisites is replaced by the stem,
# so the daemon's folder is taken from the stem by a function defined here)
test_daemon = $(patsubst %/,%,$(dir $(1)))
.SECONDEXPANSION:
$(BUILD)/tests/%: tests/unit/%.c $(LIBA) $$(call test_objs,$$(call test_daemon,$$*))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(call test_objs,$(patsubst %/,%,$(dir $*))) $(LIBA) $(LDLIBS) -lcmocka

deps:
	@scripts/deps.sh run

deps-test:
	@scripts/deps.sh check

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run.sh

unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

integration: all
	@scripts/run-integration.sh

check: deps-test
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory integration

san:
	$(MAKE) BUILD=build-san BIN=bin-san SAN=1 OPT="-O1 -g" all $(patsubst $(BUILD)/%,build-san/%,$(UNIT_BINS))
	SAN=1 scripts/run-unit.sh $(patsubst $(BUILD)/%,build-san/%,$(UNIT_BINS))
	COURSER_BIN=$(CURDIR)/bin-san scripts/run-integration.sh

docs: $(BIN)/courser
	$(BIN)/courser --config-docs > docs/config.md

bench: all
	bench/relay.sh

# Debian package build/courser_VERSION_ARCH.deb (packaging/deb/build.sh)
deb: all
	packaging/deb/build.sh $(BUILD)

clean:
	rm -rf build build-san build-fuzz bin bin-san bin-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Fuzz targets (libFuzzer, clang): tests/fuzz/NAME.c.  A target whose name
# starts with a daemon's name (smtpd_, bounced_, smtp-out_) also links that
# daemon's objects.  `make fuzz` builds them; `make fuzz-smoke` runs each
# for FUZZ_SECONDS.
FUZZ_SRCS := $(wildcard tests/fuzz/*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/fuzz/%)
FUZZ_SECONDS ?= 20
fuzz_daemon = $(firstword $(foreach d,smtpd bounced smtp-out qmgr acctd,$(if $(filter $(d)_%,$(1)),$(d))))
fuzz_objs = $(if $(call fuzz_daemon,$(1)),$(patsubst $(BUILD)/%,build-fuzz/%,$($(call fuzz_daemon,$(1))_LIBOBJS)))

.PHONY: fuzz fuzz-smoke
fuzz:
	$(MAKE) CC=clang BUILD=build-fuzz BIN=bin-fuzz SAN=1 OPT="-O1 -g -fsanitize=fuzzer-no-link" \
	    build-fuzz/libcourser.a $(foreach f,$(FUZZ_SRCS),$(call fuzz_objs,$(notdir $(f:.c=))))
	@mkdir -p build-fuzz/fuzz
	@set -e; for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	    echo "fuzz target $$n"; \
	    clang -O1 -g -std=c11 -D_GNU_SOURCE -Ilib -fsanitize=fuzzer,address,undefined \
	        -o build-fuzz/fuzz/$$n $$f $$($(MAKE) -s --no-print-directory fuzz-objs-$$n) \
	        build-fuzz/libcourser.a $(LDLIBS); done

fuzz-objs-%:
	@echo $(call fuzz_objs,$*)

fuzz-smoke: fuzz
	@set -e; for b in $(FUZZ_BINS); do echo "fuzzing $$b for $(FUZZ_SECONDS)s"; \
	    mkdir -p build-fuzz/corpus/$$(basename $$b); \
	    $$b -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 build-fuzz/corpus/$$(basename $$b) 2>&1 | tail -2; done
