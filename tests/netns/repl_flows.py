#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# repl_flows.py - the traffic of test_repl.sh (python3 stdlib only).
#
#   server SPEC...        echo servers; SPEC = tcp:ADDR:PORT or udp:ADDR:PORT.
#                         Every line (TCP) or datagram (UDP) comes back with
#                         " from=IP:PORT" appended: the source the server saw.
#   client STATUS STOP FLOW...
#                         long-lived flows; FLOW = name,proto,src,sport,dst,dport.
#                         Each sends a numbered line every 0.2 s and checks the
#                         answers; STATUS (JSON, rewritten every 0.25 s) holds
#                         per flow: answers, the sources the server saw, the
#                         error that ended it (if any). Runs until STOP exists.
#   once SRC SPORT DST DPORT TIMEOUT [rst]
#                         one TCP connection: one line there and back, prints
#                         the server's "from=..." and closes (with a RST when
#                         "rst" is given: SO_LINGER 0). Exit 1 on any failure.
#   retry SRC SPORT DST DPORT SECONDS
#                         as once (1 s timeout), again every second until one
#                         succeeds or SECONDS pass; prints the CLOCK_MONOTONIC
#                         time (ns) the successful attempt started and its
#                         "from=...", and how many attempts failed before.
#   keep SRC SPORT DST DPORT OUT
#                         as once, writes "from=..." to OUT, then stays open.
#   listen SRC SPORT DST DPORT OUT
#                         UDP: one datagram from SRC:SPORT to DST:DPORT (an
#                         echo server), then never sends again; every
#                         datagram that arrives, from anyone, is a line of OUT:
#                         "peer=IP:PORT DATA" (the echo's DATA ends in the
#                         "from=..." the server saw). Runs until killed.
#   send SRC SPORT DST DPORT DATA
#                         UDP: one datagram DATA from SRC:SPORT to DST:DPORT.
import json
import os
import selectors
import socket
import struct
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def server(specs):
    sel = selectors.DefaultSelector()
    for spec in specs:
        proto, rest = spec.split(":", 1)
        addr, port = rest.rsplit(":", 1)
        s = socket.socket(family(addr), socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(port)))
        if proto == "tcp":
            s.listen(128)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, proto)
    conns = {}
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if key.data == "tcp":
                c, a = s.accept()
                c.setblocking(False)
                conns[c] = b""
                sel.register(c, selectors.EVENT_READ, ("conn", a))
            elif key.data == "udp":
                while True:
                    try:
                        d, a = s.recvfrom(2048)
                    except BlockingIOError:
                        break
                    s.sendto(d.rstrip(b"\n") + b" from=%s:%d\n" % (a[0].encode(), a[1]), a)
            else:
                a = key.data[1]
                try:
                    d = s.recv(65536)
                except ConnectionError:
                    d = b""
                if not d:
                    sel.unregister(s)
                    s.close()
                    conns.pop(s, None)
                    continue
                buf = conns[s] + d
                *lines, conns[s] = buf.split(b"\n")
                out = b"".join(l + b" from=%s:%d\n" % (a[0].encode(), a[1]) for l in lines)
                s.setblocking(True)
                s.sendall(out)
                s.setblocking(False)


def connect(src, sport, dst, dport, timeout):
    s = socket.socket(family(dst), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    s.settimeout(timeout)
    s.connect((dst, dport))
    return s


def source_of(line):
    return line.split(b" from=")[1].strip().decode() if b" from=" in line else "?"


def client(status, stop, specs):
    flows = []
    for spec in specs:
        name, proto, src, sport, dst, dport = spec.split(",")
        f = {"name": name, "proto": proto, "got": 0, "seq": 0, "srcs": set(), "dead": None,
             "buf": b"", "last": time.monotonic()}
        try:
            if proto == "tcp":
                f["s"] = connect(src, int(sport), dst, int(dport), 5)
            else:
                f["s"] = socket.socket(family(dst), socket.SOCK_DGRAM)
                f["s"].bind((src, int(sport)))
                f["s"].connect((dst, int(dport)))
            f["s"].setblocking(False)
        except OSError as e:
            f["dead"] = "open: %s" % e
        flows.append(f)
    next_send = next_status = 0.0
    while not os.path.exists(stop):
        now = time.monotonic()
        if now >= next_send:
            next_send = now + 0.2
            for f in flows:
                if f["dead"]:
                    continue
                f["seq"] += 1
                try:
                    f["s"].send(b"%s %d\n" % (f["name"].encode(), f["seq"]))
                except BlockingIOError:
                    pass
                except OSError as e:
                    if f["proto"] == "tcp":
                        f["dead"] = "send: %s" % e
        for f in flows:
            if f["dead"]:
                continue
            while True:
                try:
                    d = f["s"].recv(65536)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                except OSError as e:
                    f["dead"] = "recv: %s" % e
                    break
                if not d:
                    f["dead"] = "EOF"
                    break
                if f["proto"] == "udp":
                    lines = [d]
                else:
                    buf = f["buf"] + d
                    *lines, f["buf"] = buf.split(b"\n")
                for l in lines:
                    f["srcs"].add(source_of(l))
                    f["got"] += 1
                    f["last"] = now
        if now >= next_status:
            next_status = now + 0.25
            st = {f["name"]: {"got": f["got"], "srcs": sorted(f["srcs"]), "dead": f["dead"],
                              "idle_s": round(now - f["last"], 2)} for f in flows}
            with open(status + ".tmp", "w") as fp:
                json.dump(st, fp)
            os.replace(status + ".tmp", status)
        time.sleep(0.01)


def once(src, sport, dst, dport, timeout, rst):
    s = connect(src, sport, dst, dport, timeout)
    s.sendall(b"hello\n")
    buf = b""
    while b"\n" not in buf:
        d = s.recv(4096)
        if not d:
            raise SystemExit("closed before the answer")
        buf += d
    print("from=" + source_of(buf.split(b"\n")[0]))
    sys.stdout.flush()
    if rst:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return s


def main():
    a = sys.argv[1:]
    if a[0] == "server":
        server(a[1:])
    elif a[0] == "client":
        client(a[1], a[2], a[3:])
    elif a[0] == "once":
        try:
            s = once(a[1], int(a[2]), a[3], int(a[4]), float(a[5]), len(a) > 6 and a[6] == "rst")
        except OSError as e:
            print("failed: %s" % e)
            return 1
        s.close()
    elif a[0] == "retry":
        end = time.monotonic() + float(a[5])
        failed = 0
        while time.monotonic() < end:
            t = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            try:
                s = connect(a[1], int(a[2]), a[3], int(a[4]), 1)
                s.sendall(b"hello\n")
                s.settimeout(2)
                line = s.recv(4096)
                s.close()
                print(t, "from=" + source_of(line.split(b"\n")[0]), "after", failed, "failed")
                return 0
            except OSError:
                failed += 1
            time.sleep(max(0.0, t / 1e9 + 1 - time.monotonic()))
        print("no connection in", a[5], "s,", failed, "attempts failed")
        return 1
    elif a[0] == "listen":
        u = socket.socket(family(a[3]), socket.SOCK_DGRAM)
        u.bind((a[1], int(a[2])))
        u.sendto(b"listen\n", (a[3], int(a[4])))
        with open(a[5], "w") as out:
            while True:
                d, peer = u.recvfrom(2048)
                out.write("peer=%s:%d %s\n" % (peer[0], peer[1], d.decode(errors="replace").strip()))
                out.flush()
    elif a[0] == "send":
        u = socket.socket(family(a[3]), socket.SOCK_DGRAM)
        u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        u.bind((a[1], int(a[2])))
        u.sendto(a[5].encode() + b"\n", (a[3], int(a[4])))
    elif a[0] == "keep":
        with open(a[5], "w") as out:
            sys.stdout = out
            s = once(a[1], int(a[2]), a[3], int(a[4]), 5, False)
        while True:
            time.sleep(60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
