#!/usr/bin/python3
"""netmeta-gen's DPDK TX output (--dpdk net_pcap0,tx_pcap=F) sends exactly the
frames it writes with -o: netmeta-decode gives the same records for both
(receive times aside, and sFlow flow times, which derive from them).
Skips (77) when this build has no DPDK."""
import json
import os
import subprocess
import sys
import tempfile


def records(decode, pcap):
    out = subprocess.run([decode, pcap], capture_output=True, text=True, check=True).stdout
    r = []
    for line in out.splitlines():
        d = json.loads(line)
        for k in ('TimeReceived', 'TimeReceivedNs'):
            d.pop(k, None)
        if d['Type'] in ('SFLOW_5', 'SFLOW_5_COUNTERS'):
            for k in ('TimeFlowStart', 'TimeFlowEnd', 'TimeFlowStartNs', 'TimeFlowEndNs'):
                d.pop(k, None)
        r.append(json.dumps(d, sort_keys=True))
    return r


def main():
    gen, decode = sys.argv[1:3]
    with tempfile.TemporaryDirectory() as tmp:
        a, b = os.path.join(tmp, 'file.pcap'), os.path.join(tmp, 'dpdk.pcap')
        args = [gen, '--proto', 'all', '--exporters', '3', '--datagrams', '400']
        subprocess.run(args + ['-o', a], check=True, capture_output=True)
        p = subprocess.run(args + ['--dpdk', 'net_pcap0,tx_pcap=' + b], capture_output=True,
                           text=True)
        if 'built without DPDK' in p.stderr:
            print('netmeta-gen has no DPDK output in this build: skipped')
            return 77
        if p.returncode != 0:
            print(p.stderr)
            return 1
        if 'dpdk: 400 frames sent, 0 refused' not in p.stderr:
            print('unexpected summary:', p.stderr[-300:])
            return 1
        ra, rb = records(decode, a), records(decode, b)
        if not ra or ra != rb:
            print('records differ: %d from -o, %d from --dpdk' % (len(ra), len(rb)))
            return 1
        print('%d records, identical from -o and from --dpdk' % len(ra))
        return 0


if __name__ == '__main__':
    sys.exit(main())
