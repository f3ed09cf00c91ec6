# xswarm-billing: one static library (common/, in layer folders), the
# programs (cgi/), tests.
#
#   make            build everything into $(BUILD)
#   make run        install what's missing, build, start the sandbox stack
#   make test       unit + integration tests (SANITIZE=1: under ASan+UBSan)
#   make bench      throughput/latency/memory figures (never part of test)
#   make soak       the billing lifecycle at length: SEED= CUSTOMERS= CYCLES=
#   make lint       include direction (scripts/lint-layers) + cppcheck + shellcheck
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
CFLAGS	+= -pthread -std=c11 -D_GNU_SOURCE -fno-strict-aliasing $(WARN) $(PKG_CFLAGS) -Icommon
LDLIBS	+= $(PKG_LIBS) -lm -pthread
ifneq ($(SANITIZE),)
CFLAGS	+= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
endif

LIB_SRCS  = $(sort $(wildcard common/*/*.c))
LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB	  = $(BUILD)/libxsb.a
PROG_SRCS = $(sort $(wildcard cgi/*.c))
PROGS	  = $(PROG_SRCS:cgi/%.c=$(BUILD)/bin/xsb-%)
UNIT_SRCS = $(sort $(wildcard tests/unit/check_*.c))
UNITS	  = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# Tools the integration tests run (tests/tools/: stmt-sql prints a statement,
# jobs-probe claims and records jobs a step at a time).
TOOLS	  = $(patsubst tests/tools/%.c,$(BUILD)/tests/%,$(wildcard tests/tools/*.c))

export XSB_BIN := $(abspath $(BUILD)/bin)

.PHONY: all deps run test unit peers integration bench lint install clean \
	test-cluster soak \
	stop fuzz fuzz-regress
.SECONDARY:

# The test tools too: scripts/integration run alone (README) needs them.
all: $(PROGS) $(TOOLS)

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

$(BUILD)/tests/%: $(BUILD)/obj/tests/tools/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

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

# Two app nodes on a three-node Galera cluster, then on a primary and its
# semi-synchronous replica (scripts/test-cluster; XSB_TEST_CLUSTER_PHASES).
test-cluster: all deps
	@scripts/test-cluster

# The randomized billing lifecycle (tests/integration/lifecycle.test.mjs) at
# length: SEED (default: a random one, printed), CUSTOMERS (default 200),
# CYCLES (default 3). `make test` runs it with a fixed seed and 50 customers.
soak: all
	@seed=$${SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	echo "soak: seed $$seed, $${CUSTOMERS:-200} customers, $${CYCLES:-3} cycles (make soak SEED=$$seed CUSTOMERS=$${CUSTOMERS:-200} CYCLES=$${CYCLES:-3} to replay)"; \
	XSB_LIFECYCLE_SEED=$$seed XSB_LIFECYCLE_CUSTOMERS=$${CUSTOMERS:-200} \
	XSB_LIFECYCLE_CYCLES=$${CYCLES:-3} \
	scripts/integration tests/integration/lifecycle.test.mjs; \
	rc=$$?; echo "soak: seed $$seed"; exit $$rc

# The test peers' own tests: the Stripe stand-in (versions, parameters
# against the stripe package's types, faults, shapes) and the test helpers.
peers:
	@cd tests && node --test peers/*.selftest.mjs integration/lib/lib.selftest.mjs

test: deps
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz-regress
	@$(MAKE) --no-print-directory peers
	@$(MAKE) --no-print-directory integration

bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/bench

# The layers of common/ depend downward only (docs/ARCHITECTURE.md):
# scripts/lint-layers checks every #include, and its own test plants
# breaches in a copy of the tree to show that it catches them.
lint:
	scripts/lint-layers common
	tests/lint/lint-layers.test.sh
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    --inline-suppr -Icommon common cgi
	shellcheck $(filter-out %.mjs %.example scripts/systemd scripts/monitoring,$(wildcard scripts/*)) \
	    .ci/run tests/lint/*.sh

# Programs and xsb-admin to $(PREFIX)/bin; migrations, migrate, the nginx
# template and the env file example to $(SHAREDIR); the systemd units,
# with their ExecStart pointed at $(PREFIX)/bin, to $(SYSTEMDDIR) (for
# PREFIX=/usr that is /usr/lib/systemd/system, the packages' place on
# Debian; for /usr/local, /usr/local/lib/systemd/system, which systemd
# also reads); the system user and groups as a sysusers.d file (created
# by systemd-sysusers).  docs/OPERATIONS.md goes on from there.
SHAREDIR   ?= $(PREFIX)/share/xswarm-billing
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SHAREDIR)/sql \
	    $(DESTDIR)$(SHAREDIR)/nginx $(DESTDIR)$(SHAREDIR)/monitoring \
	    $(DESTDIR)$(SYSTEMDDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(PROGS) scripts/xsb-admin $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 sql/*.sql $(DESTDIR)$(SHAREDIR)/sql/
	install -m 0755 scripts/migrate scripts/backup $(DESTDIR)$(SHAREDIR)/
	install -m 0644 nginx/production.conf.in nginx/fastcgi.conf \
	    nginx/admin-allow.conf nginx/metrics-allow.conf \
	    $(DESTDIR)$(SHAREDIR)/nginx/
	install -m 0644 scripts/monitoring/*.yml \
	    scripts/monitoring/grafana-dashboard.json \
	    $(DESTDIR)$(SHAREDIR)/monitoring/
	install -m 0644 scripts/systemd/xswarm-billing.sysusers \
	    $(DESTDIR)$(SYSUSERSDIR)/xswarm-billing.conf
	install -m 0644 scripts/xswarm-billing.env.example $(DESTDIR)$(SHAREDIR)/
	for u in scripts/systemd/*.service; do \
	    sed 's|@BINDIR@|$(PREFIX)/bin|g' $$u >$(DESTDIR)$(SYSTEMDDIR)/$${u##*/} && \
	    chmod 0644 $(DESTDIR)$(SYSTEMDDIR)/$${u##*/} || exit 1; \
	done

clean:
	rm -rf build

# Fuzzing (docs/FUZZING.md): one libFuzzer target per tests/fuzz/fuzz_*.c,
# linked with the library rebuilt by clang under ASan+UBSan in build/fuzz.
# `make fuzz` runs each target FUZZ_SECONDS on build/fuzz/corpus (seeded
# from tests/fuzz/corpus and tests/fuzz/regress) and fails if any crashes;
# `make fuzz-regress` runs every seed and regression input once.
FUZZ_SECONDS ?= 30
FUZZ_CC	?= clang
FUZZ_FLAGS ?=
FUZZ_DIR  = build/fuzz
FUZZ_SAN  = -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS = -O1 -g -std=c11 -D_GNU_SOURCE -fno-strict-aliasing $(WARN) \
	    $(PKG_CFLAGS) -Icommon $(FUZZ_SAN)
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS = $(FUZZ_TARGETS:%=$(FUZZ_DIR)/bin/fuzz_%)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/libxsb.a: $(LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_DIR)/bin/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_DIR)/libxsb.a
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $< $(FUZZ_DIR)/libxsb.a $(LDLIBS)

# A crash leaves its input in build/fuzz/crashes/<target>/; the run goes on
# with the other targets and fails at the end.
fuzz: $(FUZZ_BINS)
	@fail=0; for n in $(FUZZ_TARGETS); do \
	    c=$(FUZZ_DIR)/corpus/$$n; a=$(FUZZ_DIR)/crashes/$$n/; \
	    log=$(FUZZ_DIR)/fuzz_$$n.log; d=tests/fuzz/$$n.dict; \
	    mkdir -p $$c $$a; \
	    find tests/fuzz/corpus/$$n tests/fuzz/regress/$$n -type f \
	        -exec cp {} $$c/ \; 2>/dev/null; \
	    echo "== fuzz_$$n: $(FUZZ_SECONDS) s on $$c (log: $$log)"; \
	    if $(FUZZ_DIR)/bin/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) \
	        -timeout=10 -max_len=8192 -artifact_prefix=$$a \
	        $$(test -f $$d && echo -dict=$$d) $(FUZZ_FLAGS) $$c \
	        >$$log 2>&1; then grep '^Done' $$log; \
	    else fail=1; tail -n 30 $$log; \
	        sed -n 's|.*Test unit written to \(.*\)|CRASH: \1 (replay: '$(FUZZ_DIR)/bin/fuzz_$$n' \1)|p' \
	            $$log; fi; \
	done; test $$fail -eq 0

fuzz-regress: $(FUZZ_BINS)
	@fail=0; for n in $(FUZZ_TARGETS); do \
	    f=$$(find tests/fuzz/corpus/$$n tests/fuzz/regress/$$n -type f \
	        2>/dev/null | sort); test -n "$$f" || continue; \
	    log=$(FUZZ_DIR)/regress_$$n.log; \
	    if $(FUZZ_DIR)/bin/fuzz_$$n $$f >$$log 2>&1; then \
	        echo "ok   fuzz_$$n: $$(echo "$$f" | wc -l) inputs"; \
	    else fail=1; echo "FAIL fuzz_$$n:"; tail -n 40 $$log; fi; \
	done; test $$fail -eq 0

-include $(shell find build -name '*.d' 2>/dev/null)
