#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""report.py - turn the JSON lines of `make bench` into the table on stdout
and one JSON document.

    report.py BENCH.jsonl BENCH.json "machine/run description"

Every figure keeps how it was measured; ratios are computed here from
figures of the same run; targets are compared with the median and a missed
target is printed as MISSED, never dropped. A measurement that failed (its
note begins "error:") or whose own checks did not hold (a median with a note
beginning "WARNING:") is listed at the end and makes the exit status 1, so
`make bench` does not end in success on a run that measured less than it
printed.
"""
import json
import sys


def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def verdict(median, target):
    """'met', 'MISSED' or '' for a target like '<= 80' or '>= 1000000'."""
    if not target or median is None:
        return ""
    op, _, num = target.partition(" ")
    try:
        limit = float(num)
    except ValueError:
        return ""
    ok = median <= limit if op == "<=" else median >= limit
    return "met" if ok else "MISSED"


def find(figs, name, sessions="any"):
    for f in figs:
        if f["name"] == name and (sessions == "any" or f.get("sessions") == sessions):
            if f.get("median") is not None:
                return f
    return None


def ratio(figs, num, den, label, target=None, sessions="any"):
    a, b = find(figs, num, sessions), find(figs, den, sessions)
    r = {"section": "ratio", "name": label, "sessions": None, "unit": "x",
         "median": None, "min": None, "max": None, "n": 0,
         "how": f"median of [{num}] / median of [{den}], same run",
         "note": None, "target": target}
    if a and b and b["median"]:
        r["median"] = a["median"] / b["median"]
        r["n"] = 1
    else:
        missing = num if not a else den
        r["note"] = f"n/a ({missing}: not measured)"
    return r


# Section 2's ratios, for each generator and pattern, in this order: (row,
# numerator case, denominator case, what is compared, target for
# established flows, what the label ends with); {big} stands for each
# prefilled natsync case measured.
FWD_RATIOS = (
    ("box cost", "natsync", "nftables", "natsync / nftables SNAT", None, ""),
    ("box cost", "natsync", "xdp-min", "natsync / minimal XDP forwarder", "<= 1.25", ""),
    ("box cost", "natsync", "xdp-static", "natsync / static-MAC XDP forwarder", None, ""),
    ("box cost", "xdp-min", "xdp-static", "fib-lookup / static-MAC XDP forwarder", None, ""),
    ("delivered rate", "natsync", "xdp-static", "natsync / xdp-static", None, ""),
    ("delivered rate", "natsync", "xdp-min", "natsync / xdp-min", None, ""),
    ("delivered rate", "natsync", "kernel", "natsync / kernel", None, ""),
    ("box cost", "{big}", "natsync", "{big} / natsync", None, " (table size)"),
    ("box cost", "{big}", "xdp-min", "{big} / minimal XDP forwarder", "<= 1.25", ""),
    ("box cost", "nftables", "kernel", "nftables SNAT / kernel forwarding", None, ""),
)


def ratios(figs):
    out = []
    sizes = sorted({f["sessions"] for f in figs
                    if f["name"].startswith("natsync NAPT44") and f.get("sessions")})
    for n in sizes:
        out.append(ratio(figs, "natsync NAPT44 established in->out",
                         "parse + 1 hash lookup (xdp_min, ref 45 ns)",
                         f"test_run NAPT44 in->out / parse+lookup, {n} sessions", sessions=n))
    fwd = "minimal XDP forwarder: parse + fib + redirect"
    a = find(figs, "natsync NAPT44 established in->out")
    if a:
        out.append(ratio([a] + figs, a["name"], fwd,
                         "test_run NAPT44 in->out / minimal XDP forwarder"))
    names = {f["name"] for f in figs}
    for g in ("sgen", "xdp-gen", "trafgen"):
        for p in ("1", "64", "4096", "new"):
            def cost(case):
                return f"{case}: box cost per packet, {p} flows, {g}"
            def rate(case):
                return f"{case}: delivered rate, {p} flows, {g}"
            # a generator that could not send here has its rows say why,
            # and no ratios of nothing
            if not any(find(figs, cost(c)) for c in ("kernel", "xdp-min", "natsync")):
                continue
            bigs = [b for b in ("natsync-1M", "natsync-100k") if find(figs, cost(b))]
            for kind, num, den, what, target, end in FWD_RATIOS:
                row = cost if kind == "box cost" else rate
                for big in (bigs if "{big}" in num else [None]):
                    out.append(ratio(figs, row(num.format(big=big)), row(den),
                                     f"{kind} {what}, {p} flows, {g}{end}".format(big=big),
                                     target if p != "new" else None))
    if "conntrackd bulk resync rate" in names:
        out.append(ratio(figs, "natsync bulk sync rate", "conntrackd bulk resync rate",
                         "sync: natsync bulk rate / conntrackd bulk resync rate"))
        out.append(ratio(figs, "natsync bytes per session on the wire",
                         "conntrackd bytes per entry on the wire",
                         "sync: natsync / conntrackd bytes per session on the wire"))
    out += setup_flatness(figs)
    out += failover_ratios(figs)
    return out


SETUP = "natsync session setup (new flow), net of no-op"


def setup_flatness(figs):
    """Session setup with a full table / with an empty one (issue 5: "flat
    from an empty table to 10M sessions"; both with the same map size)."""
    out = []
    sizes = {f["sessions"] for f in figs if f["name"] == SETUP and f.get("sessions")
             and f["sessions"] > 1000}
    if not sizes:
        return out
    for n in sorted(sizes | {10000000}):
        r = ratio(figs, SETUP, SETUP, f"session setup {n:,} / empty table (flatness)")
        a, b = find(figs, SETUP, n), find(figs, SETUP, 0)
        r["how"] = f"[{SETUP}] with {n:,} sessions / with 0, same run, same map size"
        if a and b and b["median"]:
            r["median"], r["n"], r["note"] = a["median"] / b["median"], 1, None
        else:
            why = next((f.get("note") for f in figs if f["name"] == SETUP
                        and f.get("sessions") == n and f.get("note")), None)
            r["median"], r["n"] = None, 0
            r["note"] = why or "n/a (not measured)"
        out.append(r)
    return out


LADDER = (("breakdown 1: parse + session lookup (96 B value) + accounting",
           "no-op XDP, repeat-250 method",
           "parse + session lookup in a natsync-sized table + packets/bytes/last_seen"),
          ("breakdown 2: 1 + fib lookup + TTL + MACs + redirect",
           "breakdown 1: parse + session lookup (96 B value) + accounting",
           "bpf_fib_lookup + TTL + MACs + bpf_redirect"),
          ("breakdown 3: 2 + source NAT + incremental checksums (minimal NAPT44)",
           "breakdown 2: 1 + fib lookup + TTL + MACs + redirect",
           "source address/port rewrite + IPv4/UDP checksums"),
          ("breakdown 4: 3 + natsync's config lookups, 2 counters, devmap redirect",
           "breakdown 3: 2 + source NAT + incremental checksums (minimal NAPT44)",
           "iface/config/service-set lookups, rx + verdict counters, devmap"),
          ("natsync NAPT44 established in->out",
           "breakdown 4: 3 + natsync's config lookups, 2 counters, devmap redirect",
           "the rest of natsync's program (natsync - step 4)"),
          ("breakdown 3: 2 + source NAT + incremental checksums (minimal NAPT44)",
           "breakdown 3 with a cached next hop instead of bpf_fib_lookup",
           "bpf_fib_lookup vs. a cached next hop (step 3 - cached)"))


def breakdown(figs):
    """Step-to-step differences of the cost ladder (ladder.c), at the size
    the ladder ran with; each row is the difference of two medians."""
    sizes = [f["sessions"] for f in figs if f["name"] == LADDER[0][0] and f.get("sessions")]
    if not sizes:
        return []
    n = sizes[0]
    out = []
    for num, den, label in LADDER:
        a = find(figs, num, n) or find(figs, num, None)
        b = find(figs, den, n) or find(figs, den, None)
        r = {"section": "breakdown", "name": label, "sessions": n, "unit": "ns/pkt",
             "median": None, "min": None, "max": None, "n": 0,
             "how": f"median of [{num}] - median of [{den}], same run", "note": None,
             "target": None}
        if a and b:
            r["median"], r["n"] = a["median"] - b["median"], 1
        else:
            r["note"] = "n/a (a step was not measured)"
        out.append(r)
    return out


def failover_ratios(figs):
    """Gap and takeover time with the most replicated sessions / with the
    fewest (1M / 1k; quick: 100k / 1k). Issue 5's "takeover gap independent
    of table size" counts as met when the ratio is <= 1.5: the gap's floor
    is the dead interval (500 ms) plus the flows' 50 ms send period, and one
    run of each size varies by a send period or two; a gap that grew with
    the table (a takeover walking it) would exceed 1.5 x at 1000 x the size.
    """
    out = []
    for name, target in (("longest TCP gap at failover", "<= 1.5"),
                         ("longest UDP gap at failover", "<= 1.5"),
                         ("time to take over (kill -> backup primary)", None)):
        sizes = sorted(f["sessions"] for f in figs if f["name"] == name
                       and f.get("sessions") and f.get("median") is not None)
        if len(sizes) < 2:
            continue
        lo, hi = sizes[0], sizes[-1]
        r = ratio(figs, name, name, f"failover: {name}, {hi:,} / {lo:,} sessions", target)
        a, b = find(figs, name, hi), find(figs, name, lo)
        r["section"] = "failover"
        r["how"] = f"[{name}] with {hi:,} / with {lo:,} replicated sessions, same run"
        r["median"] = a["median"] / b["median"] if b["median"] else None
        r["n"] = 1 if r["median"] is not None else 0
        r["note"] = None if r["median"] is not None else "n/a (zero gap)"
        out.append(r)
    return out


def table(rows):
    hdr = ("figure", "sessions", "median", "min-max", "unit", "target", "")
    lines = []
    for r in rows:
        sess = "" if r.get("sessions") is None else f"{r['sessions']:,}"
        if r.get("median") is None:
            med, rng = (r.get("note") or "n/a"), ""
        else:
            med = fmt(r["median"])
            rng = "" if r.get("n", 0) <= 1 else f"{fmt(r['min'])}-{fmt(r['max'])}"
        lines.append((r["name"], sess, med, rng, r.get("unit") or "",
                      r.get("target") or "", verdict(r.get("median"), r.get("target"))))
    w = [max(len(str(x[i])) for x in lines + [hdr]) for i in range(len(hdr))]
    w[2] = min(w[2], 60)
    out = []
    for line in [hdr] + lines:
        out.append("  ".join(str(c).ljust(w[i]) if i != 2 or len(str(c)) <= 60 else str(c)
                             for i, c in enumerate(line)).rstrip())
    return out


def main():
    src, dst, machine = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else ""
    figs = []
    with open(src) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                figs.append(json.loads(line))
    rats = ratios(figs) + breakdown(figs)
    titles = {"testrun": "1. BPF_PROG_TEST_RUN per-packet cost",
              "forward": "2. forwarding through a veth box (generator -> box -> sink)",
              "ratio": "ratios (same run)",
              "profile": "perf profile of natsync: established NAPT44 in->out and session setup "
                         "(test_run calls of repeat 1, colder caches; ns per packet by where the "
                         "samples fell)",
              "breakdown": "where the established NAPT44 in->out time goes (differences of the "
                           "breakdown steps of section 1, same run)",
              "scale": "3. scale",
              "logs": "port-block-allocation: NAT log volume (natsyncd's formatters, no kernel)",
              "sync": "4. sync",
              "failover": "5. failover: hard failure of the primary with long-lived flows"}
    print(f"\nnatsync benchmarks: {machine}")
    for sec in ("testrun", "breakdown", "profile", "logs", "forward", "ratio", "scale", "sync",
                "failover"):
        rows = [r for r in figs + rats if r["section"] == sec]
        if not rows:
            continue
        print(f"\n{titles[sec]}")
        for line in table(rows):
            print("  " + line)
    print("\nhow each figure was measured:")
    seen = set()
    for r in figs:
        key = (r["name"], r.get("how"))
        if r.get("how") and key not in seen:
            seen.add(key)
            note = f"  [{r['note']}]" if r.get("note") and r.get("median") is not None else ""
            print(f"  - {r['name']}: {r['how']}{note}")
    missed = [r["name"] + (f" ({r['sessions']:,} sessions)" if r.get("sessions") is not None
                           else "")
              for r in figs + rats if verdict(r.get("median"), r.get("target")) == "MISSED"]
    print(f"\ntargets missed: {', '.join(missed) if missed else 'none'}")
    failed = [label(r) for r in figs
              if r.get("median") is None and (r.get("note") or "").startswith("error:")]
    warned = [label(r) for r in figs
              if r.get("median") is not None and (r.get("note") or "").startswith("WARNING")]
    for title, rows in (("measurements failed", failed),
                        ("measured, but their checks did not hold (not valid)", warned)):
        if rows:
            print(f"\n{title}: {len(rows)}")
            for r in rows:
                print(f"  - {r}")
    with open(dst, "w") as f:
        json.dump({"machine": machine, "figures": figs, "ratios": rats,
                   "targets_missed": missed, "failed": failed, "not_valid": warned},
                  f, indent=1)
    print(f"JSON: {dst}")
    if failed or warned:
        print(f"bench: {len(failed)} measurements failed, {len(warned)} not valid",
              file=sys.stderr)
        return 1
    return 0


def label(r):
    """A figure's name, its table size and its note, for the lists above."""
    sess = f" ({r['sessions']:,} sessions)" if r.get("sessions") is not None else ""
    return f"{r['name']}{sess}: {r.get('note')}"


if __name__ == "__main__":
    sys.exit(main())
