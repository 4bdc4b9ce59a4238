# SPDX-License-Identifier: BSD-2-Clause
# Postern - build, test, install.  GNU make.
#
#   make                  build libpostern, every daemon and the test programs
#   make check            install missing Debian packages, build with gcc and
#                         clang, run unit, protocol and end-to-end tests
#   make check-sanitize   the same tests on an ASan+UBSan build (build-san/)
#   make check-valgrind   the same tests with unit tests and daemons under valgrind
#                         (postern-suite's variants through Postfix only)
#   make install          honours DESTDIR and PREFIX
#   make demo             private Postfix on 127.0.0.1 with the milters attached
#
# Objects go to $(BUILD)/ (default build/), never beside the sources.

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
BUILD      ?= build
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc

PKGS       := libcrypto libssl json-c libmaxminddb libzstd sqlite3 libidn2 libpq libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN       := -Wall -Wextra -Werror -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
CFLAGS     ?= -O2 -g
ifeq ($(SANITIZE),1)
CFLAGS     += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS    += -fsanitize=address,undefined
endif
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -I. $(PKG_CFLAGS) $(WARN) $(CFLAGS) \
              -MMD -MP -DPOSTERN_VERSION='"$(VERSION)"'
LIBS       := $(PKG_LIBS) -lmilter -lcrypt -lresolv -lpthread

# libpostern: the generic layer (common/) and the milter layer (common/milter/)
COMMON_SRC := $(wildcard common/*.c common/milter/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
LIBPOSTERN := $(BUILD)/libpostern.a

# Each milters/NAME/ with a main.c becomes $(BUILD)/bin/postern-NAME. Its
# other files (engine, glue) also form $(BUILD)/lib/libNAME.a so unit tests
# and fuzz targets can call the engine directly.
MILTERS    := $(patsubst milters/%/main.c,%,$(wildcard milters/*/main.c))
BINS       := $(MILTERS:%=$(BUILD)/bin/postern-%)
MILTER_LIBS:= $(patsubst %,$(BUILD)/lib/lib%.a,$(filter-out suite,$(MILTERS)))
# postern-web is no milter: it serves the archive and the audit trail over
# HTTP through their engines, so it also links their libraries. A static
# library must come before those it calls: libweb.a goes first wherever all
# of them are linked (unit tests, fuzz targets, bench).
WEB_LIB    := $(BUILD)/lib/libweb.a
MILTER_LIBS:= $(filter $(WEB_LIB),$(MILTER_LIBS)) $(filter-out $(WEB_LIB),$(MILTER_LIBS))
LINK_web   := $(BUILD)/lib/libarchive.a $(BUILD)/lib/libaudit.a $(BUILD)/lib/libtls.a

# Test programs: cmocka unit tests and daemons that exist only for tests.
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
TESTD_SRC  := $(wildcard tests/milter/testd/*.c)
TESTD_BIN  := $(if $(TESTD_SRC),$(BUILD)/tests/postern-testd)
TEST_BINS  := $(UNIT_BINS) $(TESTD_BIN)

# Keep objects: make would otherwise delete them as intermediates.
.SECONDARY:

.PHONY: all tests check check-run check-clang check-sanitize check-valgrind install clean deps demo \
        fuzz fuzz-build
all: $(BINS) $(TEST_BINS)
tests: $(TEST_BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBPOSTERN): $(COMMON_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

define milter_rules
$(BUILD)/lib/lib$(1).a: $(patsubst %.c,$(BUILD)/%.o,$(filter-out milters/$(1)/main.c,$(wildcard milters/$(1)/*.c)))
	@mkdir -p $$(@D)
	rm -f $$@
	$$(AR) rcs $$@ $$^
$(BUILD)/bin/postern-$(1): $(BUILD)/milters/$(1)/main.o $(BUILD)/lib/lib$(1).a $(LINK_$(1)) $(LIBPOSTERN)
	@mkdir -p $$(@D)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LIBS)
endef
$(foreach m,$(filter-out suite,$(MILTERS)),$(eval $(call milter_rules,$(m))))

# postern-suite: the four engines in one process, each from its own library
# (milters/suite/ holds only the daemon's main and tools).
SUITE_SRC  := $(filter-out milters/suite/main.c,$(wildcard milters/suite/*.c))
$(BUILD)/bin/postern-suite: $(BUILD)/milters/suite/main.o $(SUITE_SRC:%.c=$(BUILD)/%.o) \
		$(filter-out $(BUILD)/lib/libsuite.a $(WEB_LIB),$(MILTER_LIBS)) $(LIBPOSTERN)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(MILTER_LIBS) $(LIBPOSTERN)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

$(TESTD_BIN): $(TESTD_SRC:%.c=$(BUILD)/%.o) $(LIBPOSTERN)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Fuzz targets: tests/fuzz/fuzz_NAME.c, libFuzzer, clang only. `make check`
# builds them and replays each seed corpus (tests/fuzz/corpus/NAME/) as a
# regression test; `make fuzz` runs each for FUZZ_SECONDS.
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
ifeq ($(FUZZING),1)
FUZZ_BUILD := $(BUILD)
else
FUZZ_BUILD := $(BUILD)-fuzz
endif
FUZZ_BINS  := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_SECONDS ?= 60

fuzz-build:
	$(MAKE) BUILD=$(FUZZ_BUILD) FUZZING=1 CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined" \
	  $(FUZZ_BUILD)/libpostern.a $(FUZZ_BINS)

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(MILTER_LIBS) $(FUZZ_BUILD)/libpostern.a
	@mkdir -p $(@D)
	clang $(FUZZ_FLAGS) -std=c11 -D_GNU_SOURCE -I. $(PKG_CFLAGS) -o $@ $^ $(LIBS)

# FUZZ_RUNS=N instead runs N inputs per target from a fixed seed: the same
# inputs on every machine, so CI cannot turn red by chance while a session
# that ran the same command saw it green.
ifneq ($(FUZZ_RUNS),)
FUZZ_LIMIT := -runs=$(FUZZ_RUNS) -seed=1
FUZZ_WHAT  := $(FUZZ_RUNS) runs, seed 1
else
FUZZ_LIMIT := -max_total_time=$(FUZZ_SECONDS)
FUZZ_WHAT  := $(FUZZ_SECONDS) s
endif

fuzz: fuzz-build
	@for f in $(FUZZ_BINS); do n=$${f##*/fuzz_}; mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  echo "== $$f ($(FUZZ_WHAT))"; \
	  $$f $(FUZZ_LIMIT) -rss_limit_mb=2048 $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n \
	    || exit 1; done

deps:
	@sh packaging/deps.sh

# check: the README's test command. Builds with gcc and with clang (both
# -Werror), then runs every test from the gcc build.
check: deps
	$(MAKE) all
	$(MAKE) check-clang
	$(MAKE) fuzz-build
	$(MAKE) check-run

check-clang:
	$(MAKE) BUILD=$(BUILD)-clang CC=clang all

check-run:
	sh tests/run.sh $(BUILD)

check-valgrind: deps
	$(MAKE) all
	POSTERN_SKIP="e2e/test_packages.py" POSTERN_VALGRIND=1 POSTERN_SUITE=postfix sh tests/run.sh $(BUILD)

check-sanitize: deps
	$(MAKE) BUILD=build-san SANITIZE=1 all
	POSTERN_SKIP="e2e/test_packages.py" $(MAKE) BUILD=build-san SANITIZE=1 check-run

demo: deps
	$(MAKE) all
	python3 tests/e2e/demo.py $(BUILD)

install: $(BINS)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8
	for b in $(BINS); do install -m 0755 $$b $(DESTDIR)$(SBINDIR)/; done
	install -d $(DESTDIR)$(PREFIX)/share/doc/postern/examples
	for c in $(wildcard milters/*/*.conf milters/*/*.json milters/tls/tls_policy); do \
	  case $$c in */bench.conf) continue ;; esac; \
	  install -m 0644 $$c $(DESTDIR)$(PREFIX)/share/doc/postern/examples/; done
	install -m 0644 packaging/postgresql/roles.sql \
	  $(DESTDIR)$(PREFIX)/share/doc/postern/examples/postgresql-roles.sql
	install -m 0644 packaging/nginx/postern-web.conf \
	  $(DESTDIR)$(PREFIX)/share/doc/postern/examples/postern-web.nginx.conf
	install -m 0644 packaging/prometheus/postern-alerts.yml \
	  $(DESTDIR)$(PREFIX)/share/doc/postern/examples/postern-alerts.yml
	for m in $(wildcard milters/*/*.8 milters/*/*.5); do \
	  s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
	  install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done

clean:
	rm -rf $(BUILD) $(BUILD)-clang $(BUILD)-fuzz build-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# --- bench (tests/bench) ---
# make bench: figures, never pass/fail (tests/bench/bench.py explains them).
# refmilter is plain libmilter without libpostern: the protocol floor.
# Every tests/bench/micro_*.c is an engine micro-benchmark; it may call any
# daemon's engine (libNAME.a) and prints "bench NAME VALUE UNIT" lines.
BENCH_MICRO := $(patsubst tests/bench/%.c,$(BUILD)/tests/bench/%,$(wildcard tests/bench/micro_*.c))
BENCH_BINS  := $(BUILD)/tests/bench/refmilter $(BENCH_MICRO)

.PHONY: bench
bench:
	$(MAKE) all
	$(MAKE) $(BENCH_BINS)
	python3 tests/bench/bench.py $(BUILD)

$(BUILD)/tests/bench/refmilter: tests/bench/refmilter.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $< -lmilter -lpthread

$(BENCH_MICRO): $(BUILD)/tests/bench/%: $(BUILD)/tests/bench/%.o $(MILTER_LIBS) $(LIBPOSTERN)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
# --- end bench ---

# --- packaging (packaging/) ---
# make deb: Debian packages in $(DEB_DIR): postern-common and one
# postern-NAME per daemon (packaging/debian/README.Debian says why).
# dpkg-buildpackage wants debian/ at the top of the source, so the files the
# build needs are copied (working files, not git: new daemons count) to
# $(DEB_DIR)/src with packaging/debian as debian/; the .deb files land in
# $(DEB_DIR). DEB_DAEMONS=NAMES packages only those daemons. Needs
# dpkg-dev, debhelper and fakeroot.
DEB_DIR     ?= $(BUILD)/deb
DEB_DAEMONS ?= $(MILTERS)

.PHONY: deb
deb:
	rm -rf $(DEB_DIR)/src
	rm -f $(DEB_DIR)/*.deb $(DEB_DIR)/*.changes $(DEB_DIR)/*.buildinfo
	mkdir -p $(DEB_DIR)/src/milters
	cp -R Makefile README.md common packaging $(DEB_DIR)/src/
	for d in $(DEB_DAEMONS); do cp -R milters/$$d $(DEB_DIR)/src/milters/ || exit 1; done
	cp -R packaging/debian $(DEB_DIR)/src/debian
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b -jauto
	@ls -1 $(DEB_DIR)/*.deb
# --- end packaging ---
