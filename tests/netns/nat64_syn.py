#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""nat64_syn.py - the TCP traffic and captures of test_nat64_syn.sh.

  sniff IFACE OUT
      (scapy) capture on IFACE; one line of OUT per TCP segment with SYN
      set: "FLAGS SRC SPORT DST DPORT MSS" (MSS "-" without the option),
      "ready" first, once the capture runs. Runs until killed.
  connect SRC SPORT DST DPORT TIMEOUT [send TEXT | recv]
      one TCP connect() from SRC:SPORT (SO_REUSEADDR) with TIMEOUT seconds;
      prints "connected T" or "error ERRNO_NAME T" (T: seconds it took);
      once connected, "send" writes TEXT and a newline, "recv" prints
      "got LINE" for the first line that comes. Exit 0 when connected.
  hold SRC SPORT DST DPORT SECONDS
      connect, print "connected", keep the connection open SECONDS.
"""
import errno
import socket
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def sniff(iface, out):
    from scapy.all import IP, IPv6, TCP, AsyncSniffer  # python3-scapy

    fp = open(out, "w", buffering=1)

    def line(p):
        ip = p[IP] if IP in p else p[IPv6]
        t = p[TCP]
        mss = [v for k, v in t.options if k == "MSS"]
        fp.write("%s %s %d %s %d %s\n" % (t.sprintf("%TCP.flags%"), ip.src, t.sport, ip.dst,
                                          t.dport, mss[0] if mss else "-"))

    # SYN set; IPv6: no extension header, the flags at 40 + 13
    s = AsyncSniffer(iface=iface, filter="(ip and tcp and tcp[13] & 2 != 0) or "
                     "(ip6 and ip6[6] == 6 and ip6[53] & 2 != 0)", prn=line, store=False,
                     started_callback=lambda: fp.write("ready\n"))
    s.start()
    while True:
        time.sleep(3600)


def connect(src, sport, dst, dport, timeout):
    s = socket.socket(family(dst), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    s.settimeout(timeout)
    t0 = time.monotonic()
    try:
        s.connect((dst, dport))
    except OSError as e:
        name = errno.errorcode.get(e.errno, "timeout") if e.errno else "timeout"
        print("error %s %.2f" % (name, time.monotonic() - t0), flush=True)
        return None
    print("connected %.2f" % (time.monotonic() - t0), flush=True)
    return s


def main(a):
    if a[0] == "sniff":
        sniff(a[1], a[2])
    elif a[0] == "connect":
        s = connect(a[1], int(a[2]), a[3], int(a[4]), float(a[5]))
        if not s:
            return 1
        if len(a) > 7 and a[6] == "send":
            s.sendall(a[7].encode() + b"\n")
        elif len(a) > 6 and a[6] == "recv":
            buf = b""
            while b"\n" not in buf:
                d = s.recv(4096)
                if not d:
                    break
                buf += d
            print("got %s" % buf.split(b"\n")[0].decode(errors="replace"), flush=True)
        s.close()
    elif a[0] == "hold":
        s = connect(a[1], int(a[2]), a[3], int(a[4]), 5)
        if not s:
            return 1
        time.sleep(float(a[5]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
