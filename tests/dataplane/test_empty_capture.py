#!/usr/bin/python3
"""--exit-idle on a capture with no packet at all (issue 17 item 5).

netmeta replaying an empty pcap through a net_pcap vdev with --exit-idle 1
used to wait forever (the idle clock only started at the first packet). It
must stop by itself after S + 10 s of start-up grace, exit 0, say why, and
count nothing.

  test_empty_capture.py NETMETA
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dplib  # noqa: E402


def main():
    (netmeta,) = dplib.args_or_usage(sys.argv, ['NETMETA'])
    why = dplib.dpdk_usable(netmeta)
    if why:
        dplib.skip('netmeta has no DPDK backend: ' + why)
    with tempfile.TemporaryDirectory() as d:
        pcap = os.path.join(d, 'empty.pcap')
        dplib.write_pcap(pcap, [])
        cfg = {'backend': 'dpdk', 'workers': 1,
               'ports': [{'device': 'net_pcap0,rx_pcap=%s' % pcap,
                          'accept_any_destination': True}]}
        # generous deadline: the product promises 11 s; a loaded machine adds start-up
        nm = dplib.Netmeta(netmeta, d, cfg, eal=dplib.eal_args('0-1'), exit_idle=1).run(
            timeout=90)
        dplib.log('rc %s after %.1f s; %s' % (nm.rc, nm.elapsed, nm.summary()))
        bad = []
        if nm.rc != 0:
            bad.append('exit status %s (90 s deadline: never stopped by itself?)' % nm.rc)
        if 'no packet at all' not in nm.err:
            bad.append('no "no packet at all" message: %s' % nm.err[-1500:])
        if nm.counters.get('RX_PACKETS', -1) != 0 or nm.records:
            bad.append('counted or wrote something: %s, %d records'
                       % (nm.summary(), len(nm.records)))
        if nm.elapsed < 11:
            bad.append('stopped after %.1f s, before S + 10 s of grace' % nm.elapsed)
        if bad:
            for b in bad:
                print('FAIL: ' + b)
            sys.exit(1)
        print('ok: empty capture, stopped by itself after %.1f s, nothing counted' % nm.elapsed)


if __name__ == '__main__':
    main()
