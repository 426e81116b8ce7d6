#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# repl_compare.py - what the backup holds after replication, key by key:
# every entry of the primary's pinned session and binding maps must be in
# the backup's pinned maps, equal in every field that must travel.
#
# usage: repl_compare.py PIN_A PIN_B [--need-types 0,1,...] [--tolerance-ms N]
#   PIN_x   <pin-path>/<abi subdir> of the primary (A) and the backup (B)
#   --need-types  nat types (enum ns_nat_type) the primary must hold
#                 sessions of (the scenario opened them)
# Reads the maps with bpftool -j (BTF-formatted). Prints one line per map
# ("ns_sessions: 12 on the primary, 12 equal on the backup") and every
# difference; exits 0 when nothing differs.
#
# Fields compared (doc/sync.md, "What the backup holds"):
#   ns_sessions, ns_nat64_sess: out_key, the flags that travel, svc_set,
#     nat_term, fw_term, nat_type, tcp_state, origin, pool_id; created_ns
#     within the tolerance (both boxes run on one host: one monotonic
#     clock, so the rebased value must land next to the original);
#     the backup's copy carries NS_SF_REPLICATED. Not compared: packet and
#     byte counters (not replicated), last_seen_ns (refreshed on the
#     primary by every packet, on the backup by updates only).
#   ns_session_rev, ns_nat64_rev: the value (the session key).
#   ns_ports: in_addr, in_port, flags (EIM, EIF, HOLD), pool_id, svc_set,
#     nat_term; for a held entry released_ns within the tolerance.
#   ns_eim: out_addr, out_port, flags, pool_id.
#   ns_paired: out_addr.
import json
import subprocess
import sys

SF_NAT_SRC, SF_NAT_DST, SF_EIM, SF_EIF = 1, 2, 4, 8
SF_FIN_IN, SF_FIN_OUT, SF_REPLICATED, SF_SYSLOG = 16, 32, 64, 128
SF_WIRE = SF_NAT_SRC | SF_NAT_DST | SF_EIM | SF_EIF | SF_FIN_IN | SF_FIN_OUT | SF_SYSLOG
PORT_F_HOLD = 4


def dump(pin, name):
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", "%s/%s" % (pin, name)],
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit("bpftool map dump %s/%s: %s" % (pin, name, out.stderr.strip()))
    m = {}
    for e in json.loads(out.stdout):
        f = e.get("formatted")
        if f is None:
            raise SystemExit("%s/%s: no BTF-formatted entry: %r" % (pin, name, e))
        m[canon(f["key"])] = f["value"]
    return m


def canon(x):
    """A hashable form of a formatted key, padding left out."""
    if isinstance(x, dict):
        return tuple(sorted((k, canon(v)) for k, v in x.items() if not k.startswith("_pad")))
    if isinstance(x, list):
        return tuple(canon(v) for v in x)
    return x


def strip(x):
    return canon(x)


def near(a, b, tol_ns):
    return abs(int(a) - int(b)) <= tol_ns


def cmp_session(va, vb, tol_ns):
    bad = []
    for f in ("out_key", "svc_set", "nat_term", "fw_term", "nat_type", "tcp_state", "origin",
              "pool_id"):
        if strip(va[f]) != strip(vb[f]):
            bad.append("%s %r != %r" % (f, va[f], vb[f]))
    if va["flags"] & SF_WIRE != vb["flags"] & SF_WIRE:
        bad.append("flags %#x != %#x" % (va["flags"] & SF_WIRE, vb["flags"] & SF_WIRE))
    if not vb["flags"] & SF_REPLICATED:
        bad.append("backup copy not flagged replicated")
    if not near(va["created_ns"], vb["created_ns"], tol_ns):
        bad.append("created_ns differs by %d ms" % ((vb["created_ns"] - va["created_ns"]) // 1000000))
    return bad


def cmp_fields(fields):
    def f(va, vb, tol_ns):
        return ["%s %r != %r" % (k, va[k], vb[k]) for k in fields if strip(va[k]) != strip(vb[k])]
    return f


def cmp_port(va, vb, tol_ns):
    bad = cmp_fields(("in_addr", "in_port", "flags", "pool_id", "svc_set", "nat_term"))(va, vb, tol_ns)
    if va["flags"] & PORT_F_HOLD and not near(va["released_ns"], vb["released_ns"], tol_ns):
        bad.append("held: released_ns differs by %d ms" %
                   ((vb["released_ns"] - va["released_ns"]) // 1000000))
    return bad


def cmp_rev(va, vb, tol_ns):
    return [] if strip(va) == strip(vb) else ["value %r != %r" % (va, vb)]


MAPS = [
    ("ns_sessions", cmp_session),
    ("ns_session_rev", cmp_rev),
    ("ns_ports", cmp_port),
    ("ns_eim", cmp_fields(("out_addr", "out_port", "flags", "pool_id"))),
    ("ns_paired", cmp_fields(("out_addr",))),
    ("ns_nat64_sess", cmp_session),
    ("ns_nat64_rev", cmp_rev),
]


def main():
    args = sys.argv[1:]
    need = set()
    tol_ms = 1500
    while len(args) > 2:
        if args[-2] == "--need-types":
            need = {int(x) for x in args[-1].split(",") if x}
        elif args[-2] == "--tolerance-ms":
            tol_ms = int(args[-1])
        else:
            raise SystemExit("usage: repl_compare.py PIN_A PIN_B [--need-types T,..] "
                             "[--tolerance-ms N]")
        args = args[:-2]
    pin_a, pin_b = args
    tol_ns = tol_ms * 1000000
    problems = 0
    types = set()
    for name, cmp in MAPS:
        a, b = dump(pin_a, name), dump(pin_b, name)
        equal = 0
        for k, va in a.items():
            if name in ("ns_sessions", "ns_nat64_sess"):
                types.add(va["nat_type"])
            vb = b.get(k)
            if vb is None:
                print("%s: missing on the backup: %r -> %r" % (name, dict(k), va))
                problems += 1
                continue
            bad = cmp(va, vb, tol_ns)
            if bad:
                print("%s: %r differs: %s" % (name, dict(k), "; ".join(bad)))
                problems += 1
                continue
            equal += 1
        extra = [k for k in b if k not in a]
        for k in extra:
            # held entries may outlive the primary's by a cycle; anything
            # else the primary does not have is stale on the backup
            print("%s: only on the backup: %r -> %r" % (name, dict(k), b[k]))
            problems += 1
        print("%s: %d on the primary, %d equal on the backup, %d only on the backup" %
              (name, len(a), equal, len(extra)))
    missing = need - types
    if missing:
        print("the primary holds no session of nat type(s) %s (has %s)" %
              (sorted(missing), sorted(types)))
        problems += 1
    print("nat types on the primary: %s; %d problem(s)" % (sorted(types), problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
