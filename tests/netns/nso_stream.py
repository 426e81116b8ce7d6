#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""nso_stream.py - long-lived flows that notice every reset, loss and gap.

Used by tests/netns/test_restart.sh to prove that restarting, reloading or
exhausting natsyncd never disturbs the flows it already carries. Python 3
standard library only; one thread, one selector loop per process.

  nso_stream.py server --tcp-port P [--udp-port U ...]
      TCP echo server on P and a UDP echo server on every U.

  nso_stream.py client --host H --tcp-port P --udp-port U --tcp N --udp M
                       --sport-base B --stats FILE [--interval S] [--chunk N]
      N TCP connections and M UDP "connections" (source ports B, B+1, ...),
      each sending a chunk every S seconds and checking what comes back.
      TCP data follows a fixed pseudo-random pattern (period 65521, a prime),
      so a lost, duplicated or corrupted byte shows as a mismatch at its
      offset. UDP datagrams carry (flow, sequence); replies are counted.
      Every 0.1 s the stats are written to FILE (JSON, replaced atomically):
      per flow bytes/datagrams sent and received, errors (reset, EOF,
      corruption), the longest gap between two received chunks overall and
      since the last SIGUSR1 (a "window": the test marks the start of each
      phase), and how long ago the last chunk arrived. SIGTERM writes the
      stats a last time and exits 0.

  nso_stream.py probe --host H --port P --proto tcp|udp --count N
                      --sport-base B [--timeout S]
      Try to open N new flows (source ports B..B+N-1), one echo each; the
      successful ones are kept open until all were tried, and --hold S
      seconds longer (so their sessions stay established meanwhile). Prints
      JSON {"ok": K, "fail": N-K, "failed_sports": [...]} (flushed before
      the hold) and exits 0.

  nso_stream.py flood --host H --sport S --dport-first D --count N
      N UDP datagrams from source port S to ports D..D+N-1 of H, as fast as
      the socket takes them: N new sessions in a burst. Prints {"sent": N}.
"""

import argparse
import errno
import json
import os
import random
import selectors
import signal
import socket
import struct
import sys
import time

PERIOD = 65521
_rng = random.Random(0x6e73)
_BASE = bytes(_rng.getrandbits(8) for _ in range(PERIOD))
PATTERN = _BASE * 3             # any slice of up to 2 * PERIOD bytes at any offset
UDP_MAGIC = 0x6e736f31          # "nso1"
UDP_HDR = struct.Struct("!IIQd")  # magic, flow, sequence, send time
UDP_SIZE = 200


def pattern(off, n):
    """The n stream bytes starting at stream offset off."""
    o = off % PERIOD
    out = b""
    while n > 0:
        take = min(n, PERIOD)
        out += PATTERN[o:o + take]
        n -= take
        o = (o + take) % PERIOD
    return out


# ---- server ----------------------------------------------------------------

def serve(args):
    sel = selectors.DefaultSelector()
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("0.0.0.0", args.tcp_port))
    lst.listen(256)
    lst.setblocking(False)
    sel.register(lst, selectors.EVENT_READ, ("listen", None))
    for p in args.udp_port:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        u.bind(("0.0.0.0", p))
        u.setblocking(False)
        sel.register(u, selectors.EVENT_READ, ("udp", None))
    pending = {}        # conn -> bytes still to echo

    def close(c):
        sel.unregister(c)
        pending.pop(c, None)
        c.close()

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    while True:
        for key, ev in sel.select(1.0):
            kind, _ = key.data
            s = key.fileobj
            if kind == "listen":
                try:
                    c, _ = s.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                pending[c] = b""
                sel.register(c, selectors.EVENT_READ, ("tcp", None))
            elif kind == "udp":
                try:
                    data, peer = s.recvfrom(65535)
                    s.sendto(data, peer)
                except OSError:
                    pass
            else:
                if ev & selectors.EVENT_READ and not pending[s]:
                    try:
                        data = s.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        data = None
                    except OSError:
                        close(s)
                        continue
                    if data == b"":
                        close(s)
                        continue
                    if data:
                        pending[s] = data
                if pending.get(s):
                    try:
                        n = s.send(pending[s])
                        pending[s] = pending[s][n:]
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        close(s)
                        continue
                    # wait for writability while there is a backlog, stop
                    # reading meanwhile (TCP flow control to the client)
                    sel.modify(s, selectors.EVENT_WRITE if pending[s] else selectors.EVENT_READ,
                               ("tcp", None))


# ---- client ----------------------------------------------------------------

class Flow:
    """One long-lived flow and what happened to it."""

    def __init__(self, kind, idx, sport):
        self.kind = kind
        self.idx = idx
        self.sport = sport
        self.sock = None
        self.sent = 0           # bytes (tcp) or datagrams (udp)
        self.recv = 0
        self.errors = []
        self.alive = False
        self.first_rx = None
        self.last_rx = None
        self.max_gap = 0.0
        self.win_max_gap = 0.0
        self.outbuf = b""

    def got(self, now):
        if self.last_rx is not None:
            gap = now - self.last_rx
            self.max_gap = max(self.max_gap, gap)
            self.win_max_gap = max(self.win_max_gap, gap)
        else:
            self.first_rx = now
        self.last_rx = now

    def fail(self, what):
        self.errors.append(what)
        self.alive = False

    def stats(self, now):
        cur = now - self.last_rx if self.last_rx is not None else None
        return {
            "kind": self.kind, "idx": self.idx, "sport": self.sport,
            "sent": self.sent, "recv": self.recv, "alive": self.alive,
            "errors": self.errors, "max_gap": round(self.max_gap, 4),
            "win_max_gap": round(self.win_max_gap, 4),
            "since_last_rx": round(cur, 4) if cur is not None else None,
        }


def client(args):
    sel = selectors.DefaultSelector()
    flows = []
    for i in range(args.tcp):
        f = Flow("tcp", i, args.sport_base + i)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.bind(("0.0.0.0", f.sport))
        s.settimeout(5)
        try:
            s.connect((args.host, args.tcp_port))
        except OSError as e:
            f.fail("connect: %s" % e)
            s.close()
            flows.append(f)
            continue
        s.setblocking(False)
        f.sock = s
        f.alive = True
        sel.register(s, selectors.EVENT_READ, f)
        flows.append(f)
    for i in range(args.udp):
        f = Flow("udp", args.tcp + i, args.sport_base + args.tcp + i)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", f.sport))
        s.connect((args.host, args.udp_port))
        s.setblocking(False)
        f.sock = s
        f.alive = True
        sel.register(s, selectors.EVENT_READ, f)
        flows.append(f)

    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))

    def reset_window(*_):
        for f in flows:
            f.win_max_gap = 0.0
    signal.signal(signal.SIGUSR1, reset_window)

    def write_stats(now):
        doc = {"t": now, "flows": [f.stats(now) for f in flows]}
        tmp = args.stats + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(doc, fh)
        os.replace(tmp, args.stats)

    next_send = next_stats = time.monotonic()
    while not stop:
        now = time.monotonic()
        if now >= next_send:
            for f in flows:
                if f.alive:
                    send_one(f, args, now)
            next_send += args.interval
            if next_send < now:
                next_send = now + args.interval
        if now >= next_stats:
            write_stats(now)
            next_stats = now + 0.1
        timeout = max(0.0, min(next_send, next_stats) - time.monotonic())
        try:
            events = sel.select(timeout)
        except InterruptedError:
            continue
        for key, _ in events:
            f = key.data
            if f.alive:
                receive(f, time.monotonic())
            if not f.alive and f.sock is not None:
                sel.unregister(f.sock)
                f.sock.close()
                f.sock = None
    write_stats(time.monotonic())


def send_one(f, args, now):
    if f.kind == "udp":
        msg = UDP_HDR.pack(UDP_MAGIC, f.idx, f.sent, now).ljust(UDP_SIZE, b"u")
        try:
            f.sock.send(msg)
            f.sent += 1
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as e:
            # ICMP errors (port unreachable) arrive as ECONNREFUSED here:
            # the path answered, but not the server; that is a failure
            f.fail("udp send: %s" % e)
        return
    # TCP: a new chunk only once the previous one left (no unbounded queue
    # while the path is stalled: the stall shows up as a gap instead)
    if not f.outbuf:
        f.outbuf = pattern(f.sent, args.chunk)
    try:
        n = f.sock.send(f.outbuf)
        f.outbuf = f.outbuf[n:]
        f.sent += n
    except (BlockingIOError, InterruptedError):
        pass
    except OSError as e:
        f.fail("tcp send: %s" % e)


def receive(f, now):
    if f.kind == "udp":
        while True:
            try:
                data = f.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                f.fail("udp recv: %s" % e)
                return
            if len(data) != UDP_SIZE:
                f.fail("udp: reply of %d bytes" % len(data))
                return
            magic, idx, _seq, _t = UDP_HDR.unpack_from(data)
            if magic != UDP_MAGIC or idx != f.idx:
                f.fail("udp: foreign reply")
                return
            f.recv += 1
            f.got(now)
    try:
        data = f.sock.recv(65536)
    except (BlockingIOError, InterruptedError):
        return
    except ConnectionResetError:
        f.fail("tcp reset")
        return
    except OSError as e:
        f.fail("tcp recv: %s" % (errno.errorcode.get(e.errno, e),))
        return
    if data == b"":
        f.fail("tcp eof")
        return
    if data != pattern(f.recv, len(data)):
        f.fail("tcp data mismatch at offset %d" % f.recv)
        return
    f.recv += len(data)
    f.got(now)


# ---- probe -----------------------------------------------------------------

def probe(args):
    held, failed = [], []
    for i in range(args.count):
        sport = args.sport_base + i
        kind = socket.SOCK_STREAM if args.proto == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args.src, sport))
        s.settimeout(args.timeout)
        msg = b"probe %d" % sport
        try:
            s.connect((args.host, args.port))
            s.send(msg)
            ok = s.recv(1024) == msg
        except OSError:
            ok = False
        if ok:
            held.append(s)
        else:
            failed.append(sport)
            s.close()
    print(json.dumps({"ok": len(held), "fail": len(failed), "failed_sports": failed}),
          flush=True)
    time.sleep(args.hold)
    for s in held:
        s.close()


# ---- flood -----------------------------------------------------------------

def flood(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.src, args.sport))
    sent = 0
    for i in range(args.count):
        # Pace the burst a little (32 datagrams, then 0.5 ms): a sender on a
        # veth overruns the receiving side's 256-frame ring long before the
        # box is busy, and frames dropped there never reach natsync. What
        # the burst tests (the ring buffer filling while natsyncd is
        # stopped) does not depend on its speed.
        if i % 32 == 31:
            time.sleep(0.0005)
        while True:
            try:
                s.sendto(b"flood", (args.host, args.dport_first + i))
                sent += 1
                break
            except (BlockingIOError, ConnectionRefusedError, InterruptedError):
                # a full queue, or an ICMP error of an earlier datagram
                # reported on this socket: try this one again
                time.sleep(0.001)
    print(json.dumps({"sent": sent}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    sv = sub.add_parser("server")
    sv.add_argument("--tcp-port", type=int, required=True)
    sv.add_argument("--udp-port", type=int, action="append", default=[])
    cl = sub.add_parser("client")
    cl.add_argument("--host", required=True)
    cl.add_argument("--tcp-port", type=int, required=True)
    cl.add_argument("--udp-port", type=int, required=True)
    cl.add_argument("--tcp", type=int, default=4)
    cl.add_argument("--udp", type=int, default=2)
    cl.add_argument("--sport-base", type=int, required=True)
    cl.add_argument("--stats", required=True)
    cl.add_argument("--interval", type=float, default=0.01)
    cl.add_argument("--chunk", type=int, default=1024)
    pr = sub.add_parser("probe")
    pr.add_argument("--host", required=True)
    pr.add_argument("--port", type=int, required=True)
    pr.add_argument("--proto", choices=("tcp", "udp"), required=True)
    pr.add_argument("--count", type=int, required=True)
    pr.add_argument("--sport-base", type=int, required=True)
    pr.add_argument("--timeout", type=float, default=1.0)
    pr.add_argument("--hold", type=float, default=0.0)
    pr.add_argument("--src", default="0.0.0.0", help="source address (a subscriber)")
    fl = sub.add_parser("flood")
    fl.add_argument("--host", required=True)
    fl.add_argument("--sport", type=int, required=True)
    fl.add_argument("--dport-first", type=int, required=True)
    fl.add_argument("--count", type=int, required=True)
    fl.add_argument("--src", default="0.0.0.0", help="source address (a subscriber)")
    args = ap.parse_args()
    {"server": serve, "client": client, "probe": probe, "flood": flood}[args.mode](args)


if __name__ == "__main__":
    main()
