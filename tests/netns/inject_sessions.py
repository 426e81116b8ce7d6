#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""inject_sessions.py PIN_DIR N [AGE_S]: write N established NAPT44 UDP
sessions into a natsyncd's pinned maps, as its fast path would have created
them: ns_ports binding, ns_session_rev entry, ns_sessions entry (in that
order), batch-updated through the bpf(2) syscall (stdlib only). Subscribers
100.80.0.0 + i, pool 203.0.113.128-255 from port 1024, remote
198.51.100.200:53, service set 0; created AGE_S seconds ago (default 10),
last seen now. Used by test_failover.sh (200,000 extra replicated sessions)
and test_chassis_pair.sh (sessions older than the seed's 180 s threshold);
test_sync.sh imports its bpf(2) helpers (PYTHONPATH=tests/netns).
"""
import ctypes, os, socket, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
SYS_BPF, OBJ_GET, UPDATE_BATCH = 321, 7, 26

def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(SYS_BPF, cmd, buf, 128)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r

def obj_get(path):
    p = ctypes.create_string_buffer(path.encode())
    return bpf(OBJ_GET, struct.pack("<QII", ctypes.addressof(p), 0, 0))

def update_batch(fd, keys, vals, n):
    kb, vb = ctypes.create_string_buffer(keys), ctypes.create_string_buffer(vals)
    bpf(UPDATE_BATCH, struct.pack("<QQQQIIQQ", 0, 0, ctypes.addressof(kb),
                                  ctypes.addressof(vb), n, fd, 0, 0))

def tup(sa, da, sp, dp, proto=17):
    return struct.pack("<4s4s2s2sB3x", sa, da, struct.pack(">H", sp), struct.pack(">H", dp), proto)

def main():
    pin, n = sys.argv[1], int(sys.argv[2])
    age = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    fds = {m: obj_get("%s/%s" % (pin, m)) for m in ("ns_sessions", "ns_session_rev", "ns_ports")}
    # Sessions are dated age seconds back on the kernel's monotonic clock, which
    # the fast path and natsyncd share: on a machine booted less than that ago,
    # wait until the date exists (bounded by age itself).
    while time.clock_gettime_ns(time.CLOCK_MONOTONIC) < (age + 1) * 10**9:
        time.sleep(0.5)
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    remote = socket.inet_aton("198.51.100.200")
    step = 10000
    for base in range(0, n, step):
        sk, sv, rk, rv, pk, pv = [], [], [], [], [], []
        m = min(step, n - base)
        for i in range(base, base + m):
            inside = struct.pack(">I", 0x64500000 + i)          # 100.80.0.0 + i
            sport = 10000 + i % 50000
            pool = struct.pack(">I", 0xcb007180 + i % 128)      # 203.0.113.128-255
            pport = 1024 + i // 128
            ik, ok = tup(inside, remote, sport, 53), tup(remote, pool, 53, pport)
            sk.append(ik)
            sv.append(ik + ok + struct.pack("<QQQQQQIHHHBBBB2x", now - age * 10**9, now,
                                            1, 1, 100, 100, 1, 0, 0, 0xffff, 3, 0, 0, 0))
            rk.append(ok)
            rv.append(ik)
            pk.append(struct.pack("<4s2sBx", pool, struct.pack(">H", pport), 17))
            pv.append(struct.pack("<4s2sBBHHIQQ", inside, struct.pack(">H", sport), 0, 0, 0, 0,
                                  0, now, 0))
        # Binding first, then the reverse entry, then the session: the order
        # the fast path itself creates them in.
        update_batch(fds["ns_ports"], b"".join(pk), b"".join(pv), m)
        update_batch(fds["ns_session_rev"], b"".join(rk), b"".join(rv), m)
        update_batch(fds["ns_sessions"], b"".join(sk), b"".join(sv), m)
    print("injected", n)


if __name__ == "__main__":
    main()
