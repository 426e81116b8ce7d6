#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""nfr_udp.py - big UDP datagrams for test_frag.sh and test_frag64.sh
(fragments through the NAT and through NAT64).

Every datagram's payload is the pattern byte[i] = (i * 7 + 3) & 0xff, so a
receiver can tell a whole, intact datagram from anything else.

  nfr_udp.py serve PORT REPLY_LEN
      receive one datagram on PORT, print "from=ADDR:PORT len=N intact=0|1",
      answer with a REPLY_LEN-byte datagram (0: no answer)
  nfr_udp.py ask DST PORT SPORT LEN
      send a LEN-byte datagram from SPORT, wait (10 s) for the answer, print
      "reply len=N intact=0|1"
  nfr_udp.py hello-wait DST PORT SPORT
      send "hello" from SPORT to DST:PORT, then wait (20 s) for one datagram
      on SPORT, print "got from=ADDR:PORT len=N intact=0|1"
  nfr_udp.py reorder SRC DST SPORT DPORT LEN
      (scapy) build a LEN-byte UDP datagram SRC:SPORT -> DST:DPORT, cut it
      into fragments of 1480 bytes (IPv6: 1280-byte packets with a Fragment
      header) and send them last one first

ask and hello-wait speak IPv6 when DST is an IPv6 address (serve is IPv4).
"""
import socket
import sys


def pattern(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


def intact(data):
    return 1 if data == pattern(len(data)) else 0


def cmd_serve(port, reply_len):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    data, peer = s.recvfrom(65535)
    print("from=%s:%d len=%d intact=%d" % (peer[0], peer[1], len(data), intact(data)),
          flush=True)
    if reply_len:
        s.sendto(pattern(reply_len), peer)
    return 0


def client_socket(dst, sport):
    v6 = ":" in dst
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("::" if v6 else "0.0.0.0", sport))
    return s


def cmd_ask(dst, port, sport, n):
    s = client_socket(dst, sport)
    s.settimeout(10)
    s.sendto(pattern(n), (dst, port))
    try:
        data, _ = s.recvfrom(65535)
    except socket.timeout:
        print("reply none")
        return 1
    print("reply len=%d intact=%d" % (len(data), intact(data)))
    return 0


def cmd_hello_wait(dst, port, sport):
    s = client_socket(dst, sport)
    s.settimeout(20)
    s.sendto(b"hello", (dst, port))
    try:
        data, peer = s.recvfrom(65535)
    except socket.timeout:
        print("got none", flush=True)
        return 1
    print("got from=%s:%d len=%d intact=%d" % (peer[0], peer[1], len(data), intact(data)),
          flush=True)
    return 0


def cmd_reorder(src, dst, sport, dport, n):
    from scapy.all import IP, IPv6, IPv6ExtHdrFragment, UDP, fragment, fragment6, send

    if ":" in dst:
        pkt = (IPv6(src=src, dst=dst) / IPv6ExtHdrFragment(id=0x4e46f64) /
               UDP(sport=sport, dport=dport) / pattern(n))
        frags = fragment6(pkt, 1280)
    else:
        pkt = IP(src=src, dst=dst, id=0x4e46) / UDP(sport=sport, dport=dport) / pattern(n)
        frags = fragment(pkt, fragsize=1480)
    if len(frags) < 2:
        sys.exit("datagram too small to fragment")
    if ":" in dst:
        # scapy's IPv6 routing knows no route to a pref64 (64:ff9b::/96 is
        # outside 2000::/3, no source candidate): the kernel routes them,
        # headers as built (IPPROTO_RAW: header included)
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        for f in reversed(frags):
            s.sendto(bytes(f), (dst, 0))
        s.close()
    else:
        send(list(reversed(frags)), verbose=False)
    print("sent %d fragments, last first" % len(frags))
    return 0


def main(argv):
    try:
        if argv[0] == "serve":
            return cmd_serve(int(argv[1]), int(argv[2]))
        if argv[0] == "ask":
            return cmd_ask(argv[1], int(argv[2]), int(argv[3]), int(argv[4]))
        if argv[0] == "hello-wait":
            return cmd_hello_wait(argv[1], int(argv[2]), int(argv[3]))
        if argv[0] == "reorder":
            return cmd_reorder(argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5]))
    except (IndexError, ValueError):
        pass
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
