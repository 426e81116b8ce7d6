#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""nst_pkt.py - hand-made packets for the namespace tests (stdlib only).

  nst_pkt.py tcp SRC DST SPORT DPORT FLAGS [COUNT]
      send COUNT (default 1) TCP segments with FLAGS (letters of "FSRPAU",
      e.g. "A" for a bare ACK, "PA" for data) from SRC:SPORT to DST:DPORT
      through a raw socket; the kernel adds the IP header, we compute the
      TCP checksum ourselves (no offload on a raw socket's payload).

Used to check that a TCP session must start with a SYN: a mid-stream ACK
from a subscriber must create no session and must not leave the box.
"""
import socket
import struct
import sys

FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20}


def csum(data):
    """RFC 1071 Internet checksum of data."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_segment(src, dst, sport, dport, flags, payload=b""):
    """A TCP header (no options) + payload with a correct checksum."""
    bits = 0
    for f in flags:
        bits |= FLAG_BITS[f]
    seq, ack, win = 0x12345678, 0x9ABCDEF0 if bits & 0x10 else 0, 64240
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, bits, win, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack(
        "!BBH", 0, socket.IPPROTO_TCP, len(hdr) + len(payload))
    c = csum(pseudo + hdr + payload)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload


def cmd_tcp(args):
    src, dst, sport, dport, flags = args[0], args[1], int(args[2]), int(args[3]), args[4]
    count = int(args[5]) if len(args) > 5 else 1
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    s.bind((src, 0))
    seg = tcp_segment(src, dst, sport, dport, flags, b"x" * 16 if "P" in flags else b"")
    for _ in range(count):
        s.sendto(seg, (dst, 0))
    s.close()
    return 0


def main(argv):
    if len(argv) >= 6 and argv[0] == "tcp":
        return cmd_tcp(argv[1:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
