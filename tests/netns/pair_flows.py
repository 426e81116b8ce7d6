# SPDX-License-Identifier: GPL-2.0
# pair_flows.py - the long-lived flows of the pair scenarios (test_failover.sh,
# test_srd.sh; python3, stdlib only).
#   pair_flows.py server TCP_PORT UDP_PORT
#   pair_flows.py client SRV TCP_PORT UDP_PORT NTCP NUDP STOPFILE PHASEFILE REPORT STATUS
# server: TCP echo + UDP echo that reports the source it saw.
# client: N TCP connections and M UDP flows sending continuously; every TCP
# byte is checked against what was sent (order and content), resets and
# EOFs are counted, UDP replies report the source address:port the server
# saw (a changed NAT binding shows as a change). The longest silence of any
# flow is charged to the phase named in PHASEFILE when the silence ends.
import json, os, selectors, socket, sys, time

def server(tport, uport):
    sel = selectors.DefaultSelector()
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", tport)); ls.listen(1024); ls.setblocking(False)
    us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); us.bind(("0.0.0.0", uport))
    us.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, "l"); sel.register(us, selectors.EVENT_READ, "u")
    peers = {}
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if key.data == "l":
                c, a = s.accept(); c.setblocking(False); peers[c] = a
                sel.register(c, selectors.EVENT_READ, "c")
            elif key.data == "u":
                while True:
                    try:
                        d, a = s.recvfrom(2048)
                    except BlockingIOError:
                        break
                    s.sendto(d + (" %s:%d" % a).encode(), a)
            else:
                try:
                    d = s.recv(65536)
                except ConnectionError:
                    d = b""
                if not d:
                    sel.unregister(s); s.close(); continue
                s.setblocking(True); s.sendall(d); s.setblocking(False)

def client(srv, tport, uport, ntcp, nudp, stopfile, phasefile, report, status):
    t0 = time.monotonic()
    conns = []
    for i in range(ntcp):
        s = socket.create_connection((srv, tport), timeout=5); s.setblocking(False)
        conns.append({"s": s, "id": i, "sent": 0, "got": 0, "last": time.monotonic(),
                      "dead": None, "gap": 0.0})
    udps = []
    for i in range(nudp):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.connect((srv, uport))
        u.setblocking(False)
        udps.append({"s": u, "id": i, "seq": 0, "got": 0, "last": time.monotonic(),
                     "src": None, "srcs": set(), "gap": 0.0})
    phase, gaps, udp_gaps = "steady", {}, {}
    def charge(d, name, g):
        d[name] = max(d.get(name, 0.0), g)
    def pattern(cid, off, n):
        # byte k of connection cid's stream: deterministic, so the check
        # needs no copy of what was sent
        return bytes(((cid * 7 + off + k) * 31) & 0xff for k in range(n))
    last_status = next_send = 0.0
    while not os.path.exists(stopfile):
        now = time.monotonic()
        if now - last_status > 0.25:
            try:
                with open(phasefile) as f:
                    phase = f.read().strip() or phase
            except OSError:
                pass
            alive = sum(1 for c in conns if c["dead"] is None)
            st = {"tcp_alive": alive, "tcp_bytes": sum(c["got"] for c in conns),
                  "udp_rx": sum(u["got"] for u in udps), "t": now - t0, "phase": phase}
            with open(status + ".tmp", "w") as f:
                json.dump(st, f)
            os.replace(status + ".tmp", status)
            last_status = now
        if now >= next_send:
            next_send = now + 0.05
            for c in conns:
                if c["dead"] is None and c["sent"] - c["got"] < 65536:
                    d = pattern(c["id"], c["sent"], 100)
                    try:
                        n = c["s"].send(d)
                        c["sent"] += n
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        c["dead"] = "send: %s" % e
            for u in udps:
                u["seq"] += 1
                try:
                    u["s"].send(b"%d %d" % (u["id"], u["seq"]))
                except OSError:
                    pass
        for c in conns:
            if c["dead"] is not None:
                continue
            try:
                d = c["s"].recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                c["dead"] = "recv: %s" % e
                continue
            if not d:
                c["dead"] = "EOF"
                continue
            if d != pattern(c["id"], c["got"], len(d)):
                c["dead"] = "data mismatch at byte %d" % c["got"]
                continue
            c["got"] += len(d)
            g = now - c["last"]
            c["last"] = now
            c["gap"] = max(c["gap"], g)
            charge(gaps, phase, g)
        for u in udps:
            while True:
                try:
                    d = u["s"].recv(2048)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                src = d.split()[-1].decode()
                u["srcs"].add(src)
                u["got"] += 1
                g = now - u["last"]
                u["last"] = now
                charge(udp_gaps, phase, g)
        time.sleep(0.005)
    # Stop sending, then wait for every byte in flight: "nothing lost"
    # means every byte sent came back, checked byte for byte.
    end = time.monotonic() + 10
    while time.monotonic() < end and any(c["dead"] is None and c["got"] < c["sent"]
                                           for c in conns):
        for c in conns:
            if c["dead"] is not None or c["got"] >= c["sent"]:
                continue
            try:
                d = c["s"].recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                c["dead"] = "recv: %s" % e
                continue
            if not d:
                c["dead"] = "EOF"
            elif d != pattern(c["id"], c["got"], len(d)):
                c["dead"] = "data mismatch at byte %d" % c["got"]
            else:
                c["got"] += len(d)
        time.sleep(0.01)
    rep = {
        "tcp": ntcp, "tcp_dead": [(c["id"], c["dead"]) for c in conns if c["dead"]],
        "tcp_bytes": sum(c["got"] for c in conns),
        "tcp_min_bytes": min([c["got"] for c in conns] or [0]),
        "tcp_unacked": sum(c["sent"] - c["got"] for c in conns),
        "tcp_gap_ms": {k: round(v * 1000) for k, v in gaps.items()},
        "udp": nudp, "udp_sent": sum(u["seq"] for u in udps),
        "udp_rx": sum(u["got"] for u in udps),
        "udp_binding_changes": [(u["id"], sorted(u["srcs"])) for u in udps if len(u["srcs"]) > 1],
        "udp_gap_ms": {k: round(v * 1000) for k, v in udp_gaps.items()},
        "tcp_sources": [], "duration_s": round(time.monotonic() - t0, 1),
    }
    with open(report, "w") as f:
        json.dump(rep, f, indent=1)

if sys.argv[1] == "server":
    server(int(sys.argv[2]), int(sys.argv[3]))
else:
    client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]),
           sys.argv[7], sys.argv[8], sys.argv[9], sys.argv[10])
