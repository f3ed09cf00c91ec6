# xswarm-billing: one static library (common/), four programs (cgi/), tests.
#
#   make            build everything into $(BUILD)
#   make run        install what's missing, build, start the sandbox stack
#   make test       unit + integration tests (SANITIZE=1: under ASan+UBSan)
#   make bench      throughput/latency/memory figures (never part of test)
#   make lint       cppcheck + shellcheck
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX	?= /usr/local
DESTDIR	?=
CC	?= cc
SANITIZE ?=
BUILD	?= build/$(if $(SANITIZE),asan,rel)

PKGS	 = libcurl libmariadb json-c libsodium libcrypto
# pkg-config is asked only when building, so `make deps` works on a bare machine.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lfcgi
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

WARN	 = -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes \
	   -Wmissing-prototypes -Wformat=2 -Wno-missing-field-initializers \
	   -Wno-unused-parameter -Wvla
ifneq ($(CI),)
WARN	+= -Werror
endif
OPT	?= -O2
CFLAGS	?= $(OPT) -g
CFLAGS	+= -std=c11 -D_GNU_SOURCE -fno-strict-aliasing $(WARN) $(PKG_CFLAGS) -Icommon
LDLIBS	+= $(PKG_LIBS) -lm
ifneq ($(SANITIZE),)
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
endif

LIB_SRCS  = $(sort $(wildcard common/*.c))
LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB	  = $(BUILD)/libxsb.a
PROG_SRCS = $(sort $(wildcard cgi/*.c))
PROGS	  = $(PROG_SRCS:cgi/%.c=$(BUILD)/bin/xsb-%)
UNIT_SRCS = $(sort $(wildcard tests/unit/check_*.c))
UNITS	  = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

export XSB_BIN := $(abspath $(BUILD)/bin)

.PHONY: all deps run test unit integration bench lint install clean stop
.SECONDARY:

all: $(PROGS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/bin/xsb-%: $(BUILD)/obj/cgi/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/tests/check_%: $(BUILD)/obj/tests/unit/check_%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(CHECK_LIBS) $(LDLIBS)

deps:
	@scripts/install-deps

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/stack up
	@scripts/stack info

stop:
	@scripts/stack down

# Each Check binary prints its own summary and exits non-zero on failure.
unit: $(UNITS)
	@fail=0; for t in $(UNITS); do echo "== $$t"; $$t || fail=1; done; \
	test $$fail -eq 0

integration: all
	@scripts/integration

test: deps
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory integration

bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/bench

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    --inline-suppr -Icommon common cgi
	shellcheck scripts/* .ci/run

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/xswarm-billing/sql
	install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 sql/*.sql $(DESTDIR)$(PREFIX)/share/xswarm-billing/sql/
	install -m 0755 scripts/migrate $(DESTDIR)$(PREFIX)/share/xswarm-billing/

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
