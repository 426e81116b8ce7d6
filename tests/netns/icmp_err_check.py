#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""icmp_err_check.py - check the ICMP errors a subscriber received through
the NAT, from a capture taken on the subscriber's own interface.

  icmp_err_check.py PCAP SUBSCRIBER EXPECT...

EXPECT is TYPE/CODE/PROTO/SENDER: at least one ICMP error of that type and
code, quoting a PROTO (tcp, udp) packet, sent by SENDER (the outer source
address), must be in the capture.

Every ICMP error to SUBSCRIBER in the capture (whatever EXPECT says) is
checked, each checksum recomputed here with scapy, never taken from the
packet:
  - the outer IPv4 header checksum and the ICMP checksum;
  - the quoted IPv4 header checksum;
  - the quoted packet is translated back: it is one the subscriber sent
    (found in the same capture: same addresses, protocol, ports, IPv4
    identification and TCP sequence number), its source is the
    subscriber's private address, and every quoted byte equals what the
    subscriber sent except the TTL and the IPv4 header checksum (routers
    on the way decrement the TTL);
  - the quoted TCP/UDP checksum is right for the datagram as sent: it is
    recomputed over the quoted transport bytes completed with the rest of
    the subscriber's datagram when the quote is shorter (a quote of less
    than the checksum field's end has none to check, and is reported).
Exit 0 when every error is right and every EXPECT was met.
"""
import sys

from scapy.all import ICMP, IP, rdpcap
from scapy.layers.inet import in4_chksum
from scapy.utils import checksum

PROTOS = {"tcp": 6, "udp": 17}
CSUM_OFF = {6: 16, 17: 6}  # checksum field offset in the L4 header


def ip_bytes(pkt):
    """The IPv4 packet of a captured frame, cut to its total length."""
    b = bytes(pkt[IP])
    return b[: int.from_bytes(b[2:4], "big")]


def originals(pkts, sub):
    """Every TCP/UDP packet the subscriber sent, by (proto, ports, key)."""
    out = {}
    for p in pkts:
        if IP not in p or p[IP].src != sub or p[IP].proto not in (6, 17):
            continue
        b = ip_bytes(p)
        hl = (b[0] & 0xF) * 4
        l4 = b[hl:]
        ports = (b[9], b[12:20], l4[0:4])
        out.setdefault(ports, []).append(b)
    return out


def find_original(origs, q):
    """The packet the quote @q was taken from, or None."""
    hl = (q[0] & 0xF) * 4
    l4 = q[hl:]
    for b in origs.get((q[9], q[12:20], l4[0:4]), []):
        bl4 = b[(b[0] & 0xF) * 4:]
        if b[4:6] != q[4:6]:
            continue  # another packet of this flow (IPv4 identification)
        if q[9] == 6 and len(l4) >= 8 and bl4[4:8] != l4[4:8]:
            continue  # another segment (sequence number)
        return b
    return None


def masked(b):
    """IPv4 header bytes without TTL and checksum (what routers change)."""
    return b[:8] + b[9:10] + b[12:]


def check_error(p, origs, sub):
    """Problems with one captured ICMP error (empty list: right)."""
    probs = []
    b = ip_bytes(p)
    hl = (b[0] & 0xF) * 4
    if checksum(b[:hl]) != 0:
        probs.append("outer IPv4 checksum wrong")
    icmp = b[hl:]
    if checksum(icmp) != 0:
        probs.append("ICMP checksum wrong")
    q = icmp[8:]
    if len(q) < 20:
        return probs + ["quote shorter than an IPv4 header"]
    qhl = (q[0] & 0xF) * 4
    if checksum(q[:qhl]) != 0:
        probs.append("quoted IPv4 checksum wrong")
    qsrc = IP(q[:qhl]).src
    if qsrc != sub:
        probs.append("quoted source %s is not the subscriber's %s" % (qsrc, sub))
    orig = find_original(origs, q)
    if orig is None:
        return probs + ["the quoted packet is none the subscriber sent (not translated back?)"]
    n = min(len(q), len(orig))
    if masked(q[:qhl]) != masked(orig[:qhl]) or q[qhl:n] != orig[qhl:n]:
        mq, mo = masked(q[:qhl]) + q[qhl:n], masked(orig[:qhl]) + orig[qhl:n]
        i = next(i for i in range(len(mq)) if mq[i] != mo[i])
        probs.append("quoted bytes differ from what the subscriber sent, from byte %d of %d "
                     "(IPv4 header without TTL and checksum first): %s, sent %s"
                     % (i, len(mq), mq[i:i + 8].hex(), mo[i:i + 8].hex()))
    proto = q[9]
    ql4 = q[qhl:]
    ol4 = orig[(orig[0] & 0xF) * 4:]
    off = CSUM_OFF[proto]
    if len(ql4) < off + 2:
        print("    (quote of %d transport bytes: no checksum in it)" % len(ql4))
        return probs
    full = bytearray(ql4 + ol4[len(ql4):])
    field = int.from_bytes(full[off:off + 2], "big")
    if proto == 17 and field == 0:
        return probs  # UDP without checksum
    full[off:off + 2] = b"\0\0"
    want = in4_chksum(proto, IP(q[:qhl]), bytes(full))
    if proto == 17 and want == 0:
        want = 0xFFFF
    if want != field:
        probs.append("quoted %s checksum 0x%04x, recomputed 0x%04x (over %d bytes, %d quoted)"
                     % ("TCP" if proto == 6 else "UDP", field, want, len(full), len(ql4)))
    return probs


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    pcap, sub = argv[0], argv[1]
    expect = {}
    for e in argv[2:]:
        t, c, proto, sender = e.split("/")
        expect[(int(t), int(c), PROTOS[proto], sender)] = 0
    pkts = rdpcap(pcap)
    origs = originals(pkts, sub)
    bad = total = 0
    for p in pkts:
        if IP not in p or ICMP not in p or p[IP].dst != sub or p[ICMP].type not in (3, 4, 11, 12):
            continue
        total += 1
        b = ip_bytes(p)
        icmp = b[(b[0] & 0xF) * 4:]
        q = icmp[8:]
        proto = q[9] if len(q) >= 20 else 0
        key = (icmp[0], icmp[1], proto, p[IP].src)
        qhl = (q[0] & 0xF) * 4 if q else 0
        ports = q[qhl:qhl + 4]
        desc = "ICMP %d/%d from %s quoting %s %s:%d -> %s:%d, %d bytes" % (
            icmp[0], icmp[1], p[IP].src, {6: "tcp", 17: "udp"}.get(proto, str(proto)),
            IP(q[:20]).src if len(q) >= 20 else "?",
            int.from_bytes(ports[0:2], "big") if len(ports) == 4 else 0,
            IP(q[:20]).dst if len(q) >= 20 else "?",
            int.from_bytes(ports[2:4], "big") if len(ports) == 4 else 0, len(q))
        probs = check_error(p, origs, sub)
        if probs:
            bad += 1
            print("BAD  " + desc + ": " + "; ".join(probs))
        else:
            print("ok   " + desc)
            if key in expect:
                expect[key] += 1
    rc = 0
    for (t, c, proto, sender), n in expect.items():
        if not n:
            print("missing: a right ICMP %d/%d from %s quoting proto %d" % (t, c, sender, proto))
            rc = 1
    print("%d ICMP errors to %s, %d wrong" % (total, sub, bad))
    return 1 if bad or rc else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
