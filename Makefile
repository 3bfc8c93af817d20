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

.PHONY: all run check unit integration deps deps-test clean san docs bench
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
.SECONDEXPANSION:
$(BUILD)/tests/%: tests/unit/%.c $(LIBA) $$(call test_objs,$$(patsubst %/,%,$$(dir $$*)))
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

docs: $(BIN)/courser
	$(BIN)/courser --config-docs > docs/config.md

bench: all
	bench/relay.sh

clean:
	rm -rf build build-san bin bin-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
