# natsync - one build for the BPF fast path, the daemon, the CLI and the tests.
#
#   make            build build/natsyncd, build/natsyncctl and the BPF objects
#   make test       (root) install missing packages, run every test
#   make demo       (root) the veth-namespace demo
#   make lab        (root) the namespaces of the README's "Run a box by hand"
#                   (configs/single-box.cfg's interfaces); make lab-clean
#   make bench      (root) benchmarks; BENCH_QUICK=1 for a short smoke run
#   make deps       (root) install the Debian packages natsync needs
#   make fuzz       libFuzzer targets, FUZZ_SECONDS (default 60) each
#   make asan-unit  unit tests under AddressSanitizer + UBSan
#   make install    binaries, systemd unit, man pages, example configs
#                   (PREFIX=/usr/local, DESTDIR); make uninstall
#   make man        the man pages, from doc/*.md (pandoc)
#   make install-test  make install into a scratch DESTDIR, checked file by file
#
# Warnings are errors for userspace (-Wall -Wextra -Werror).
# The metrics endpoint links libmicrohttpd (Debian libmicrohttpd-dev, scripts/deps.sh).

CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
PANDOC    ?= pandoc
BUILD     := build
# The multiarch include directory (asm/types.h) of the BPF objects, asked of
# the compiler that builds them. It used to be derived from $(CC), and
# `clang -dumpmachine` says x86_64-pc-linux-gnu, a directory Debian does not
# have: `make CC=clang` failed on asm/types.h.
ARCH_INC  := /usr/include/$(shell $(CLANG) -print-multiarch)

# CFLAGS is the user's (make CFLAGS=..., or the environment): optimisation,
# debug information, hardening. What the build needs is NS_CFLAGS, always
# added: a CFLAGS on the command line replaces the makefile's, so the old
# `CFLAGS += -I. ...` was dropped and `make CFLAGS=-O1` failed on includes.
# CPPFLAGS and LDFLAGS are passed through too (dpkg-buildflags sets them).
CFLAGS    ?= -O2 -g
# libfixbuf (IPFIX export, daemon/ipfix_rec.c) brings GLib: its include
# directories come from pkg-config.
FIXBUF_CFLAGS := $(shell pkg-config --cflags libfixbuf 2>/dev/null)
NS_CFLAGS := -Wall -Wextra -Werror -std=gnu11 -I. -I$(BUILD) -D_GNU_SOURCE $(FIXBUF_CFLAGS)
ALL_CFLAGS = $(NS_CFLAGS) $(CPPFLAGS) $(CFLAGS)
LDLIBS    := -lxdp -lbpf -lelf -lz -lconfig -lsodium -lfixbuf -lglib-2.0 -lmicrohttpd -lpthread

# What `natsyncd --version` and `natsyncctl --version` print: VERSION=...
# when given (a packager's), else `git describe` of this checkout (nearest
# tag, or the commit) with "-dirty" when tracked files have uncommitted
# changes; "unknown" outside git. (--no-optional-locks and no
# `describe --dirty`: neither takes the index lock of a shared checkout.)
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --always 2>/dev/null || echo unknown)$(shell \
	[ -n "$$(git --no-optional-locks status --porcelain -uno 2>/dev/null)" ] && echo -dirty)
endif
BPF_CFLAGS := -g -O2 -target bpf -D__BPF__ -D__TARGET_ARCH_x86 -I$(ARCH_INC) -I. \
	      -Wall -Wno-unused-value -Wno-compare-distinct-pointer-types -Werror

BPF_SRCS  := $(wildcard bpf/*.bpf.c) $(wildcard tests/bench/*.bpf.c)
BPF_OBJS  := $(patsubst %.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst %.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS  := $(wildcard bpf/*.h) $(wildcard common/*.h)

# Every daemon/*.c except the two mains is library code shared by natsyncd,
# natsyncctl and the tests.
LIB_SRCS  := $(filter-out daemon/natsyncd.c daemon/natsyncctl.c,$(wildcard daemon/*.c))
LIB_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
HDRS      := $(wildcard daemon/*.h) $(wildcard common/*.h)

UNIT_SRCS := $(wildcard tests/unit/*.c)
# The C test toolkit (packet builders and checkers, tuples), header-only,
# shared by the unit tests, the BPF suite and the benchmarks.
TEST_HDRS := $(wildcard tests/bpf/*.h)
BPFT_SRCS := $(wildcard tests/bpf/*.c)
BENCH_SRCS := $(filter-out %.bpf.c,$(wildcard tests/bench/*.c))
# natsyncd and natsyncctl under ASan+UBSan (tests/netns/test_asan_daemon.sh)
ASAN_BINS := $(BUILD)/asan/natsyncd $(BUILD)/asan/natsyncctl

.PHONY: all clean test demo bench deps unit bpftest netns ha-load fuzz fuzz-regress asan-unit FORCE \
	man install uninstall install-test lab lab-clean
# keep the BPF objects (intermediates of the skeletons) for bpftool and the loader
.SECONDARY:
all: $(BUILD)/natsyncd $(BUILD)/natsyncctl

$(BUILD)/%.bpf.o: %.bpf.c $(BPF_HDRS)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst .bpf.o,,$(notdir $<))_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/daemon/%.o: daemon/%.c $(HDRS) $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -I$(BUILD)/bpf -c $< -o $@

# NS_VERSION for --version. Rewritten only when it changes (no relink for
# nothing); an "unknown" (git cannot read the checkout, e.g. `sudo make
# install` in another user's tree) keeps the version the build was made with.
$(BUILD)/natsync_version.h: FORCE
	@mkdir -p $(dir $@)
	@v='$(VERSION)'; if [ "$$v" = unknown ] && [ -f $@ ]; then exit 0; fi; \
	printf '#define NS_VERSION "%s"\n' "$$v" >$@.tmp; \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/daemon/natsyncd.o $(BUILD)/daemon/natsyncctl.o $(BUILD)/daemon/metrics.o: \
	$(BUILD)/natsync_version.h
$(BUILD)/asan/daemon/natsyncd.o $(BUILD)/asan/daemon/natsyncctl.o \
	$(BUILD)/asan/daemon/metrics.o $(BUILD)/fuzz/daemon/metrics.o: $(BUILD)/natsync_version.h

$(BUILD)/libnatsync.a: $(LIB_OBJS)
	ar rcs $@ $^

$(BUILD)/natsyncd: $(BUILD)/daemon/natsyncd.o $(BUILD)/libnatsync.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/natsyncctl: $(BUILD)/daemon/natsyncctl.o $(BUILD)/libnatsync.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test_unit: $(UNIT_SRCS) $(TEST_HDRS) $(BUILD)/libnatsync.a $(HDRS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -I$(BUILD)/bpf -o $@ $(UNIT_SRCS) $(BUILD)/libnatsync.a -lcriterion $(LDLIBS)

$(BUILD)/test_bpf: $(BPFT_SRCS) $(TEST_HDRS) $(BUILD)/libnatsync.a $(SKELS) $(HDRS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -I$(BUILD)/bpf -o $@ $(filter %.c,$(BPFT_SRCS)) $(BUILD)/libnatsync.a -lcriterion $(LDLIBS)

$(BUILD)/bench_pkt: $(BENCH_SRCS) $(wildcard tests/bench/*.h) $(TEST_HDRS) $(BUILD)/libnatsync.a $(SKELS) $(HDRS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -I$(BUILD)/bpf -I$(BUILD)/tests/bench -o $@ $(BENCH_SRCS) $(BUILD)/libnatsync.a $(LDLIBS) -lm

# A hostile sync peer on the real encoder (tests/netns/test_sync_attack.sh).
$(BUILD)/sync_inject: tests/netns/sync_inject.c $(BUILD)/libnatsync.a $(HDRS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -I$(BUILD)/bpf -o $@ $< $(BUILD)/libnatsync.a $(LDLIBS)

# Targets that need root re-run themselves as root (through sudo) first.
AS_ROOT = if [ "$$(id -u)" -ne 0 ]; then \
	exec sudo $(MAKE) BUILD=$(BUILD) CRITERION_ARGS='$(CRITERION_ARGS)' $@; fi

deps:
	@$(AS_ROOT); scripts/deps.sh

# Extra arguments for the Criterion runners (test-all.sh: --tap=FILE).
CRITERION_ARGS ?=

unit: $(BUILD)/test_unit
	$(BUILD)/test_unit $(CRITERION_ARGS)

bpftest: all $(BUILD)/test_bpf
	@$(AS_ROOT); $(BUILD)/test_bpf $(CRITERION_ARGS)

netns: all $(ASAN_BINS) $(BUILD)/sync_inject
	@$(AS_ROOT); NATSYNC_BUILD=$(BUILD) tests/netns/run-all.sh

# The HA pair under a CPU hog with 1M sessions (issue 10; about 6 minutes,
# 4 GB of kernel memory): not part of `make test`, see doc/testing.md.
ha-load: all
	@$(AS_ROOT); NATSYNC_BUILD=$(BUILD) NATSYNC_AGING_ENGINE=in-kernel bash tests/netns/ha_load.sh

# Six suites (unit asan-unit fuzz-regress install-test bpftest netns), each run even
# when an earlier one failed; scripts/test-all.sh counts what each ran and
# ends with "suites: N passed, M failed, K skipped". It fails on any failure
# and on any skip whose reason README.md does not accept ("Accepted skips").
# Logs: $(BUILD)/test-logs/.
test:
	@$(AS_ROOT); scripts/deps.sh && BUILD=$(BUILD) MAKE="$(MAKE)" scripts/test-all.sh

demo:
	@$(AS_ROOT); scripts/deps.sh && $(MAKE) all && NATSYNC_BUILD=$(BUILD) scripts/demo.sh

# The README's "Run a box by hand" lab: nsd-cli -- nsd-box -- nsd-srv, left
# in place (scripts/lab.sh); lab-clean stops its natsyncd and purges its pins.
lab:
	@$(AS_ROOT); NATSYNC_BUILD=$(BUILD) scripts/lab.sh up

lab-clean:
	@$(AS_ROOT); NATSYNC_BUILD=$(BUILD) scripts/lab.sh down

bench:
	@$(AS_ROOT); scripts/deps.sh && $(MAKE) all $(BUILD)/bench_pkt && BUILD=$(BUILD) tests/bench/run.sh

# ---- man pages and install ------------------------------------------------
# Each man page is its doc: doc/man/PAGE.md holds the man header (NAME, and
# the sections the doc has not) and a "<!-- body -->" line, replaced by the
# doc without its title line; every heading is raised one level and pandoc
# writes the page (doc/man/links.lua drops in-tree link targets).
MAN_PAGES := $(BUILD)/man/natsyncd.8 $(BUILD)/man/natsyncctl.8 $(BUILD)/man/natsync.conf.5
$(BUILD)/man/natsyncd.8: doc/man/natsyncd.8.md doc/daemon.md
$(BUILD)/man/natsyncctl.8: doc/man/natsyncctl.8.md doc/natsyncctl.md
$(BUILD)/man/natsync.conf.5: doc/man/natsync.conf.5.md doc/config.md
$(MAN_PAGES): doc/man/links.lua $(BUILD)/natsync_version.h
	@command -v $(PANDOC) >/dev/null || { echo "$(PANDOC) not found: the man pages" \
		"are made with it (apt-get install pandoc, or make deps)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	sed '1{/^# /d}' $(filter-out doc/man/%,$(filter doc/%.md,$^)) >$@.body.md
	sed -e '/^<!-- body -->$$/{r $@.body.md' -e 'd;}' $(filter doc/man/%.md,$^) | \
	$(PANDOC) -f markdown -t man -s --shift-heading-level-by=-1 \
		--lua-filter=doc/man/links.lua -M footer='natsync $(VERSION)' \
		-M date="$$(git log -1 --format=%cs -- $(filter doc/%.md,$^) 2>/dev/null)" \
		-o $@.tmp
	rm -f $@.body.md
	mv $@.tmp $@

man: $(MAN_PAGES)

# make install [PREFIX=/usr/local] [DESTDIR=]: the two binaries, the man
# pages, the systemd unit natsyncd@.service (one instance per config:
# $(CONFDIR)/NAME.cfg) and the configs/ examples as $(CONFDIR)/NAME.cfg.example
# (an operator's NAME.cfg is never written). No BPF object: natsyncd
# carries its programs (bpftool skeletons, compiled in), and libxdp's
# dispatcher is not used (loader.c). make uninstall removes exactly these
# files, and $(CONFDIR) if that leaves it empty.
PREFIX    ?= /usr/local
SBINDIR   ?= $(PREFIX)/sbin
MANDIR    ?= $(PREFIX)/share/man
UNITDIR   ?= $(PREFIX)/lib/systemd/system
CONFDIR   ?= /etc/natsync
INSTALL   ?= install
EXAMPLES  := $(notdir $(wildcard configs/*.cfg))

install: $(BUILD)/natsyncd $(BUILD)/natsyncctl $(MAN_PAGES)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(CONFDIR)
	$(INSTALL) -m 0755 $(BUILD)/natsyncd $(BUILD)/natsyncctl $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0644 $(BUILD)/man/natsyncd.8 $(BUILD)/man/natsyncctl.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 $(BUILD)/man/natsync.conf.5 $(DESTDIR)$(MANDIR)/man5/
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@CONFDIR@|$(CONFDIR)|g' dist/natsyncd@.service.in \
		>$(BUILD)/natsyncd@.service
	$(INSTALL) -m 0644 $(BUILD)/natsyncd@.service $(DESTDIR)$(UNITDIR)/
	for f in $(EXAMPLES); do \
		$(INSTALL) -m 0644 configs/$$f $(DESTDIR)$(CONFDIR)/$$f.example || exit 1; \
	done
	@[ -n "$(DESTDIR)" ] || echo "installed; systemctl daemon-reload, then:" \
		"cp $(CONFDIR)/single-box.cfg.example $(CONFDIR)/NAME.cfg;" \
		"systemctl enable --now natsyncd@NAME"

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/natsyncd $(DESTDIR)$(SBINDIR)/natsyncctl \
		$(DESTDIR)$(MANDIR)/man8/natsyncd.8 $(DESTDIR)$(MANDIR)/man8/natsyncctl.8 \
		$(DESTDIR)$(MANDIR)/man5/natsync.conf.5 $(DESTDIR)$(UNITDIR)/natsyncd@.service \
		$(addprefix $(DESTDIR)$(CONFDIR)/,$(addsuffix .example,$(EXAMPLES)))
	[ ! -d $(DESTDIR)$(CONFDIR) ] || rmdir --ignore-fail-on-non-empty $(DESTDIR)$(CONFDIR)

# The install checked file by file in a scratch DESTDIR, the unit by
# systemd-analyze, the man pages rendered, --version, uninstall; and
# make CC=clang, make CFLAGS=... (tests/install/test_install.sh; no root).
install-test:
	BUILD=$(BUILD) MAKE="$(MAKE)" tests/install/test_install.sh

# ---- sanitizers and fuzzing (tests/fuzz, doc/hardening.md) ----------------
# A second build of the library, natsyncd, natsyncctl and the unit tests
# under AddressSanitizer + UndefinedBehaviorSanitizer in $(BUILD)/asan; any
# report aborts (no recovery), so a test that trips one fails.
SAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_CFLAGS := -O1 -g $(SAN_FLAGS) -Wall -Wextra -Werror -std=gnu11 -I. -I$(BUILD) -D_GNU_SOURCE $(FIXBUF_CFLAGS)
ASAN_OBJS   := $(patsubst %.c,$(BUILD)/asan/%.o,$(LIB_SRCS))
# Leak checking at exit is on; ASan stops at the first report.
SAN_ENV     := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1 \
	       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	       LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp

$(BUILD)/asan/daemon/%.o: daemon/%.c $(HDRS) $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(ASAN_CFLAGS) -I$(BUILD)/bpf -c $< -o $@

$(BUILD)/asan/libnatsync.a: $(ASAN_OBJS)
	ar rcs $@ $^

$(BUILD)/asan/natsyncd: $(BUILD)/asan/daemon/natsyncd.o $(BUILD)/asan/libnatsync.a
	$(CC) $(ASAN_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/asan/natsyncctl: $(BUILD)/asan/daemon/natsyncctl.o $(BUILD)/asan/libnatsync.a
	$(CC) $(ASAN_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/asan/test_unit: $(UNIT_SRCS) $(TEST_HDRS) $(BUILD)/asan/libnatsync.a $(HDRS)
	$(CC) $(ASAN_CFLAGS) -I$(BUILD)/bpf -o $@ $(UNIT_SRCS) $(BUILD)/asan/libnatsync.a \
		-lcriterion $(LDLIBS)

asan-unit: $(BUILD)/asan/test_unit
	$(SAN_ENV) $(BUILD)/asan/test_unit $(CRITERION_ARGS)

# libFuzzer targets: clang, coverage-instrumented library code, ASan+UBSan.
# tests/fuzz/run.sh replays the kept corpora (regress) or fuzzes (fuzz).
FUZZ_SECONDS ?= 60
TEST_FUZZ_SECONDS ?= 5
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer-no-link $(SAN_FLAGS) -Wall -Wextra -Werror \
	       -std=gnu11 -I. -I$(BUILD) -D_GNU_SOURCE $(FIXBUF_CFLAGS)
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS   := $(patsubst %.c,$(BUILD)/fuzz/%.o,$(LIB_SRCS))

$(BUILD)/fuzz/daemon/%.o: daemon/%.c $(HDRS) $(SKELS)
	@mkdir -p $(dir $@)
	$(CLANG) $(FUZZ_CFLAGS) -I$(BUILD)/bpf -c $< -o $@

$(BUILD)/fuzz/libnatsync.a: $(FUZZ_OBJS)
	ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/fuzz/libnatsync.a $(HDRS)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -I$(BUILD)/bpf -o $@ $< \
		$(BUILD)/fuzz/libnatsync.a $(LDLIBS)

fuzz-regress: $(FUZZ_BINS)
	FUZZ_BUILD=$(BUILD)/fuzz tests/fuzz/run.sh regress $(TEST_FUZZ_SECONDS)

fuzz: $(FUZZ_BINS)
	FUZZ_BUILD=$(BUILD)/fuzz tests/fuzz/run.sh fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD)
