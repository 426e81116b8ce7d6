# natsync - one build for the BPF fast path, the daemon, the CLI and the tests.
#
#   make            build build/natsyncd, build/natsyncctl and the BPF objects
#   make test       (root) install missing packages, run every test
#   make demo       (root) the veth-namespace demo
#   make bench      (root) benchmarks; BENCH_QUICK=1 for a short smoke run
#   make deps       (root) install the Debian packages natsync needs
#
# Warnings are errors for userspace (-Wall -Wextra -Werror).

CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
BUILD     := build
ARCH_INC  := /usr/include/$(shell $(CC) -dumpmachine)

CFLAGS    ?= -O2 -g
CFLAGS    += -Wall -Wextra -Werror -std=gnu11 -I. -I$(BUILD) -D_GNU_SOURCE
LDLIBS    := -lxdp -lbpf -lelf -lz -lconfig -lsodium
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
BPFT_SRCS := $(wildcard tests/bpf/*.c)
BENCH_SRCS := $(filter-out %.bpf.c,$(wildcard tests/bench/*.c))

.PHONY: all clean test demo bench deps unit bpftest netns fuzz
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
	$(CC) $(CFLAGS) -I$(BUILD)/bpf -c $< -o $@

$(BUILD)/libnatsync.a: $(LIB_OBJS)
	ar rcs $@ $^

$(BUILD)/natsyncd: $(BUILD)/daemon/natsyncd.o $(BUILD)/libnatsync.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/natsyncctl: $(BUILD)/daemon/natsyncctl.o $(BUILD)/libnatsync.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test_unit: $(UNIT_SRCS) $(BUILD)/libnatsync.a $(HDRS)
	$(CC) $(CFLAGS) -I$(BUILD)/bpf -o $@ $(UNIT_SRCS) $(BUILD)/libnatsync.a -lcriterion $(LDLIBS)

$(BUILD)/test_bpf: $(BPFT_SRCS) $(wildcard tests/bpf/*.h) $(BUILD)/libnatsync.a $(SKELS) $(HDRS)
	$(CC) $(CFLAGS) -I$(BUILD)/bpf -o $@ $(filter %.c,$(BPFT_SRCS)) $(BUILD)/libnatsync.a -lcriterion $(LDLIBS)

$(BUILD)/bench_pkt: $(BENCH_SRCS) $(wildcard tests/bench/*.h) $(BUILD)/libnatsync.a $(SKELS) $(HDRS)
	$(CC) $(CFLAGS) -I$(BUILD)/bpf -I$(BUILD)/tests/bench -o $@ $(BENCH_SRCS) $(BUILD)/libnatsync.a $(LDLIBS) -lm

# Targets that need root re-run themselves as root (through sudo) first.
AS_ROOT = if [ "$$(id -u)" -ne 0 ]; then exec sudo $(MAKE) $@; fi

deps:
	@$(AS_ROOT); scripts/deps.sh

unit: $(BUILD)/test_unit
	$(BUILD)/test_unit

bpftest: all $(BUILD)/test_bpf
	@$(AS_ROOT); $(BUILD)/test_bpf

netns: all
	@$(AS_ROOT); NATSYNC_BUILD=$(BUILD) tests/netns/run-all.sh

test:
	@$(AS_ROOT); scripts/deps.sh && $(MAKE) all $(BUILD)/test_unit $(BUILD)/test_bpf && \
		$(MAKE) unit && $(MAKE) bpftest && $(MAKE) netns && echo "make test: all suites passed"

demo:
	@$(AS_ROOT); scripts/deps.sh && $(MAKE) all && NATSYNC_BUILD=$(BUILD) scripts/demo.sh

bench:
	@$(AS_ROOT); scripts/deps.sh && $(MAKE) all $(BUILD)/bench_pkt && BUILD=$(BUILD) tests/bench/run.sh

clean:
	rm -rf $(BUILD)
