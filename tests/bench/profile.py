#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""profile.py - where natsync's time goes (established in->out, session
setup), from a perf profile of `bench_pkt profile` (run.sh, section 1).

    perf script -i perf.data | profile.py PROFILE_JSON_LINE PERIOD_NS

perf samples the process with the software cpu-clock event (the VM has no
PMU) and call chains. A sample counts when bpf_test_run() is on its stack
and the frame it called is the program (natsync's XDP program or the XDP
dispatcher): those are the program's own code and the kernel helpers it
called. natsync's JIT code is recognised by address (bench_pkt prints the
JIT ranges of its program and subprograms): perf's names for BPF programs
go stale when other programs are loaded and unloaded on the machine during
the recording (other jobs do), kernel symbols do not. The test_run harness (its timer, the syscall, the packet copies)
is left out. Each category's cost per packet = its samples x the sampling
period / the packets run; its share is of the program's samples. Prints
JSON lines (section "profile") for report.py.
"""
import collections
import json
import sys

# (category, leaf symbol prefixes), first match wins; the program's own
# JIT code is matched separately.
CATEGORIES = (
    ("bpf_fib_lookup (route + neighbour)",
     # make_kuid/map_id_range_down: the flow's uid (sock_net_uid) it fills in
     ("bpf_xdp_fib_lookup", "bpf_ipv4_fib_lookup", "fib_", "ip_mtu_from_fib",
      "dev_get_by_index", "find_exception", "__ipv4_neigh", "neigh", "l3mdev", "ip_fib",
      "make_kuid", "map_id_range_down")),
    ("bpf_ktime_get_ns (clock read)",
     ("read_tsc", "ktime_get_mono_fast", "bpf_ktime_get", "kvm_clock", "pvclock")),
    ("hash map inserts/deletes (element alloc, bucket locks)",
     ("htab_map_update", "htab_map_delete", "alloc_htab_elem", "pcpu_freelist", "___pcpu_freelist",
      "__pcpu_freelist", "htab_lock_bucket", "htab_unlock_bucket", "_raw_spin", "queued_spin",
      "native_queued", "free_htab_elem", "check_and_free", "copy_map_value")),
    ("random numbers (port allocation)", ("bpf_user_rnd", "prandom", "get_random")),
    ("hash map lookups (sessions, interfaces)",
     ("lookup_nulls_elem_raw", "lookup_elem_raw", "htab_", "__htab_", "memcmp", "jhash")),
    ("devmap lookup + redirect",
     ("dev_map_", "__dev_map_", "dev_hash_map_redirect", "bpf_xdp_redirect", "xdp_do_")),
    ("array / per-CPU array lookups", ("array_map_", "percpu_array")),
    ("memory copies", ("__pi_memcpy", "memcpy", "__memcpy", "__pi_memset", "memset")),
    ("ring buffer events", ("bpf_ringbuf", "__bpf_ringbuf")),
    ("XDP dispatcher", ("bpf_dispatcher_xdp",)),
)


def jit_index(ranges, ip):
    """Index of the JIT range holding ip (0 = the main program), or -1."""
    for k, (start, length) in enumerate(ranges):
        if start <= ip < start + length:
            return k
    return -1


def category(ranges, ip, leaf):
    k = jit_index(ranges, ip)
    if k == 0:
        return "natsync program code (JIT: parse, rules, NAT, checksums, control flow)"
    if k > 0:
        return "natsync subprograms (JIT)"
    if leaf.startswith("bpf_prog_") or leaf == "[unknown]":
        return "other BPF code (not natsync's: stale perf symbol?)"
    for name, prefixes in CATEGORIES:
        if leaf.startswith(prefixes):
            return name
    return "other kernel code called by the program"


def samples(lines):
    """Call chains (leaf first, (address, symbol) pairs) of perf script's output."""
    chain = []
    for line in lines:
        if not line.strip():
            if chain:
                yield chain
            chain = []
            continue
        if line[0] in " \t":
            parts = line.split()
            if len(parts) >= 2:
                try:
                    ip = int(parts[0], 16)
                except ValueError:
                    ip = 0
                chain.append((ip, parts[1].split("+")[0]))
    if chain:
        yield chain


def main():
    info = json.loads(sys.argv[1])
    period = float(sys.argv[2])
    runs = info["profile_runs"]
    cats = collections.Counter()
    leaves = collections.defaultdict(collections.Counter)
    in_prog = harness = 0
    ranges = info.get("jit", [])
    for chain in samples(sys.stdin):
        names = [sym for _, sym in chain]
        if "bpf_test_run" not in names:
            continue
        i = names.index("bpf_test_run")
        if i == 0 or not (jit_index(ranges, chain[i - 1][0]) >= 0 or
                          names[i - 1].startswith("bpf_dispatcher_xdp")):
            harness += 1
            continue
        in_prog += 1
        c = category(ranges, chain[0][0], names[0])
        cats[c] += 1
        leaves[c][names[0] if jit_index(ranges, chain[0][0]) < 0 else "JIT"] += 1
    case = info.get("case", "established in->out")
    how = (f"perf record -e cpu-clock (software, {1e9 / period:.0f} Hz) -g around {runs:,} "
           f"test_run calls of repeat 1 ({case}; a fresh packet each, caches colder than in "
           f"the repeat-250 rows), {info['sessions']:,} sessions in the maps; samples with "
           f"the program below bpf_test_run, by leaf symbol; ns = samples x "
           f"{period / 1000:.0f} us / runs; {info['counted']:,} runs counted as "
           f"{info['counter']}")
    base = {"section": "profile", "sessions": info["sessions"], "unit": "ns/pkt",
            "n": 1, "target": None}
    if not in_prog:
        print(json.dumps(dict(base, name=f"profile: {case}", median=None,
                              min=None, max=None, n=0, how=how,
                              note="n/a (no sample inside the program: no JIT ranges, "
                                   "or perf without call chains?)")))
        return
    total = in_prog * period / runs
    print(json.dumps(dict(base, name=f"profile: {case}: whole program (sampled)",
                          median=total, min=None, max=None, how=how,
                          note=f"{in_prog} samples in the program, {harness} in the test_run "
                               f"harness (left out); kernel-timed mean of one call "
                               f"{info['mean_ns']:.0f} ns")))
    for c, k in cats.most_common():
        note = (f"{100.0 * k / in_prog:.1f} % of the program's samples; top symbols: " +
                ", ".join(f"{s} {100.0 * v / k:.0f} %" for s, v in leaves[c].most_common(4)))
        print(json.dumps(dict(base, name=f"profile: {case}: {c}", median=k * period / runs,
                              min=None,
                              max=None, how=how, note=note)))


if __name__ == "__main__":
    main()
