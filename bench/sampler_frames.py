# SPDX-License-Identifier: BSD-3-Clause
"""Writes the capture sampler-bench replays with net_pcap infinite_rx:
N frames of 64 bytes (60 on the wire without the FCS), IPv4 TCP and UDP
from varied sources, so a sample walks Ethernet, IPv4 and L4 as on a real
link.   /usr/bin/python3 bench/sampler_frames.py OUT.pcap [N]"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'dataplane'))
from dplib import eth, tcp4, udp4, write_pcap  # noqa: E402


def main(argv):
    out, n = argv[1], int(argv[2]) if len(argv) > 2 else 1024
    frames = []
    for i in range(n):
        src, dst = '10.%d.%d.%d' % (i % 5, i // 250 % 250, 1 + i % 250), '192.0.2.%d' % (1 + i % 200)
        if i % 3:
            fr = eth(tcp4(src, dst, 1024 + i, 443, b''))
        else:
            fr = eth(udp4(src, dst, 1024 + i, 53, b''))
        frames.append(fr + bytes(max(0, 60 - len(fr))))
    write_pcap(out, frames)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
