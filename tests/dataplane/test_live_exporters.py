#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Live exporters: softflowd (NetFlow v5, v9, IPFIX) and pmacctd (nfprobe v9,
nfprobe IPFIX, sfprobe sFlow) in a network namespace, fed one traffic
capture made here, exporting over a veth pair to the collector on the host
end.

  test_live_exporters.py dpdk|socket NETMETA NETMETA_DECODE

dpdk:   the collector reads the host veth end through a net_af_packet vdev
        and owns 198.18.K.1 and 2001:db8:K::1 there (the host end has no
        address): the namespace resolves it by ARP (ARP_REPLIED), pings it
        (ICMP_REPLIED) and does neighbour discovery and ICMPv6 echo against
        it (ND_REPLIED). softflowd's IPFIX goes over IPv6 (a static
        neighbour entry makes that independent of the ND check).
socket: the host veth end gets the addresses; the socket backend listens.

Both: tcpdump records the exports on the host veth end; the collector's
records must equal netmeta-decode's for that capture (multisets, receive
times left out), and per exporter the flow totals (sum of Packets and Bytes
per protocol) must equal what the exporter was fed: every IPv4 and IPv6
packet for v9/IPFIX, IPv4 only for v5, and for sFlow (sampling 1/1) one
sample per packet with Bytes = frame length + 4 (FCS). pmacctd's sfprobe
does not export the last packet or two it reads before exiting: the
capture ends with 16 packets of protocol 253 that only need to be there
"at most".

Needs root, iproute2 (netns, veth), softflowd, pmacctd, tcpdump.
Exit: 0 pass, 1 failure, 77 skipped.
"""

import atexit
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dplib  # noqa: E402
from dplib import log  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PAD = 16
_cleanup = []
_procs = []


def sh(*args, check=True, ns=None):
    cmd = (['ip', 'netns', 'exec', ns] if ns else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise RuntimeError('%s: %s' % (' '.join(cmd), p.stderr.strip()))
    return p


def do_cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    while _cleanup:
        fn = _cleanup.pop()
        try:
            fn()
        except Exception as e:  # cleanup goes on
            log('cleanup: %s' % e)


def on_signal(sig, frame):
    do_cleanup()
    sys.exit(1)


def popen(args, out_path, ns=None):
    cmd = (['ip', 'netns', 'exec', ns] if ns else []) + list(args)
    f = open(out_path, 'w')
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
    p.out_path = out_path
    _procs.append(p)
    return p


def prerequisites(mode, netmeta):
    if os.geteuid() != 0:
        dplib.skip('not root: network namespaces and veth pairs need root')
    for tool in ('ip', 'softflowd', 'pmacctd', 'tcpdump'):
        if shutil.which(tool) is None and not os.path.exists('/usr/sbin/' + tool):
            dplib.skip('%s not installed (scripts/install-deps installs it)' % tool)
    if mode == 'dpdk':
        why = dplib.dpdk_usable(netmeta)
        if why:
            dplib.skip('netmeta has no DPDK backend: ' + why)


def pick_subnet():
    used = sh('ip', '-4', 'addr', 'show').stdout + sh('ip', '-4', 'route', 'show', 'table', 'all').stdout
    for k in [(os.getpid() + i) % 200 + 20 for i in range(200)]:
        if ('198.18.%d.' % k) not in used:
            return k
    raise RuntimeError('no free 198.18.K.0/24')


def setup_net(mode):
    sfx = '%x' % (os.getpid() & 0xfffff)
    ns, hv, nv = 'nmdp' + sfx, 'nmh' + sfx, 'nmn' + sfx
    k = pick_subnet()
    a = {'ns': ns, 'host_if': hv, 'ns_if': nv, 'c4': '198.18.%d.1' % k, 'e4': '198.18.%d.2' % k,
         'c6': '2001:db8:%x::1' % k, 'e6': '2001:db8:%x::2' % k}
    sh('ip', 'netns', 'add', ns)
    _cleanup.append(lambda: sh('ip', 'netns', 'del', ns, check=False))
    sh('ip', 'link', 'add', hv, 'type', 'veth', 'peer', 'name', nv)
    _cleanup.append(lambda: sh('ip', 'link', 'del', hv, check=False))
    sh('ip', 'link', 'set', nv, 'netns', ns)
    if mode == 'dpdk':
        # the host kernel must neither answer for nor route what arrives here
        sh('sysctl', '-qw', 'net.ipv6.conf.%s.disable_ipv6=1' % hv)
        sh('sysctl', '-qw', 'net.ipv4.conf.%s.forwarding=0' % hv)
    else:
        sh('ip', 'addr', 'add', a['c4'] + '/24', 'dev', hv)
        sh('ip', 'addr', 'add', a['c6'] + '/64', 'dev', hv, 'nodad')
    sh('ip', 'link', 'set', hv, 'up')
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up')
    sh('ip', '-n', ns, 'addr', 'add', a['e4'] + '/24', 'dev', nv)
    sh('ip', '-n', ns, 'addr', 'add', a['e6'] + '/64', 'dev', nv, 'nodad')
    sh('ip', '-n', ns, 'link', 'set', nv, 'up')
    a['host_mac'] = open('/sys/class/net/%s/address' % hv).read().strip()
    log('namespace %s: %s %s/%s  <->  host %s %s (%s/%s, mac %s)' % (
        ns, nv, a['e4'], a['e6'], hv, '(collector via DPDK)' if mode == 'dpdk' else '(addresses)',
        a['c4'], a['c6'], a['host_mac']))
    return a


def stats_datagrams(nm):
    m = dplib.STATS_RE.findall(nm.stderr())
    return int(m[-1][1]) if m else 0


def exporter_totals(recs, port_owner):
    """-> {exporter: {(Etype, Proto): [packets, bytes, records]}}"""
    out = collections.defaultdict(lambda: collections.defaultdict(lambda: [0, 0, 0]))
    for r in recs:
        if r.get('Type') == 'SFLOW_5_COUNTERS':
            continue
        e = port_owner.get(r.get('ExporterPort'), 'port %s' % r.get('ExporterPort'))
        t = out[e][(r['Etype'], r['Proto'])]
        t[0] += r['Packets']
        t[1] += r['Bytes']
        t[2] += 1
    return out


def fed_totals(traffic, v4_only=False, l2=False):
    """What an exporter was fed, per (Etype, Proto): [packets, bytes]."""
    out = {}
    for (ver, proto), (n, b) in traffic['by_proto'].items():
        if v4_only and ver == 6:
            continue
        out[(0x0800 if ver == 4 else 0x86dd, proto)] = [n, b + 18 * n if l2 else b]
    return out


def run(mode, netmeta, decode, work, ck):
    a = setup_net(mode)
    traffic_path = os.path.join(work, 'traffic.pcap')
    traffic = dplib.make_traffic(traffic_path, pad=PAD)
    log('traffic: %d packets: %s' % (traffic['packets'], ', '.join(
        'IPv%d/%d %d pkts %d bytes' % (k[0], k[1], v[0], v[1]) for k, v in sorted(traffic['by_proto'].items()))))
    names = ['softflowd-v5', 'softflowd-v9', 'softflowd-ipfix6', 'pmacctd-v9', 'pmacctd-ipfix',
             'pmacctd-sflow']
    ports = dict(zip(names, dplib.free_udp_ports(len(names))))
    listen = {'netflow': [ports['softflowd-v5'], ports['softflowd-v9'], ports['pmacctd-v9']],
              'ipfix': [ports['softflowd-ipfix6'], ports['pmacctd-ipfix']],
              'sflow': [ports['pmacctd-sflow']]}
    if mode == 'dpdk':
        cfg = {'backend': 'dpdk', 'stats_interval': 1, 'listen': listen,
               'ports': [{'device': 'net_af_packet0,iface=%s,framecnt=4096' % a['host_if'],
                          'addresses': [a['c4'], a['c6']]}]}
        nm = dplib.Netmeta(netmeta, work, cfg, eal=dplib.eal_args('0-1'), tag='live_dpdk').start()
        _procs.append(nm.proc)
        if not ck.check(nm.wait_ready('(net_af_packet0)', timeout=30), 'DPDK port on %s started' % a['host_if'],
                        nm.stderr()[-1500:]):
            return
        # ARP + echo, then ND + ICMPv6 echo, from the namespace
        p4 = sh('/usr/bin/python3', os.path.join(HERE, 'dplib.py'), 'ping', a['c4'], ns=a['ns'], check=False)
        neigh4 = sh('ip', '-n', a['ns'], 'neigh', 'show', a['c4']).stdout.strip()
        ck.check(p4.returncode == 0, 'ping %s from the namespace answered (%s)' % (a['c4'], p4.stdout.strip()),
                 p4.stderr)
        ck.check(a['host_mac'] in neigh4, 'namespace resolved %s by ARP to the port\'s MAC: %s'
                 % (a['c4'], neigh4))
        p6 = sh('/usr/bin/python3', os.path.join(HERE, 'dplib.py'), 'ping', a['c6'], ns=a['ns'], check=False)
        neigh6 = sh('ip', '-n', a['ns'], '-6', 'neigh', 'show', a['c6']).stdout.strip()
        ck.check(a['host_mac'] in neigh6 and 'FAILED' not in neigh6,
                 'namespace resolved %s by neighbour discovery: "%s"' % (a['c6'], neigh6))
        ck.check(p6.returncode == 0, 'ping %s from the namespace answered (%s)' % (a['c6'], p6.stdout.strip()))
        # IPv6 exports must not depend on the ND check above
        sh('ip', '-n', a['ns'], '-6', 'neigh', 'replace', a['c6'], 'lladdr', a['host_mac'], 'dev',
           a['ns_if'], 'nud', 'permanent')
        p6 = sh('/usr/bin/python3', os.path.join(HERE, 'dplib.py'), 'ping', a['c6'], ns=a['ns'], check=False)
        ck.check(p6.returncode == 0, 'ping %s with a static neighbour entry answered (%s)'
                 % (a['c6'], p6.stdout.strip()))
    else:
        cfg = {'backend': 'socket', 'stats_interval': 1, 'bind': '::', 'listen': listen}
        nm = dplib.Netmeta(netmeta, work, cfg, tag='live_socket').start()
        _procs.append(nm.proc)
        allp = [p for v in listen.values() for p in v]
        if not ck.check(dplib.wait_bound(nm, allp, 1), 'socket backend listening', nm.stderr()[-1000:]):
            return
    # tcpdump on the host end
    cap = os.path.join(work, 'exports.pcap')
    td = popen(['tcpdump', '-i', a['host_if'], '-w', cap, '-U', '--immediate-mode', '-B', '32768', '-s', '9000', '-n',
                'udp and (dst host %s or dst host %s)' % (a['c4'], a['c6'])], os.path.join(work, 'tcpdump.out'))
    end = time.time() + 10
    while time.time() < end and 'listening on' not in open(td.out_path).read():
        time.sleep(0.05)
    # the exporters, all at once
    pm_conf = os.path.join(work, 'pmacctd.conf')
    with open(pm_conf, 'w') as f:
        f.write('daemonize: false\npcap_savefile: %s\n'
                'plugins: nfprobe[v9], nfprobe[v10], sfprobe[sf]\n'
                'nfprobe_receiver[v9]: %s:%d\nnfprobe_version[v9]: 9\n'
                'nfprobe_receiver[v10]: %s:%d\nnfprobe_version[v10]: 10\n'
                'sfprobe_receiver[sf]: %s:%d\nsfprobe_agentip[sf]: %s\nsampling_rate[sf]: 1\n'
                % (traffic_path, a['c4'], ports['pmacctd-v9'], a['c4'], ports['pmacctd-ipfix'],
                   a['c4'], ports['pmacctd-sflow'], a['e4']))
    t0 = time.time()
    ex = {
        'softflowd-v5': popen(['softflowd', '-r', traffic_path, '-d', '-v', '5', '-n',
                               '%s:%d' % (a['c4'], ports['softflowd-v5'])], os.path.join(work, 'sf5.out'), a['ns']),
        'softflowd-v9': popen(['softflowd', '-r', traffic_path, '-d', '-v', '9', '-n',
                               '%s:%d' % (a['c4'], ports['softflowd-v9'])], os.path.join(work, 'sf9.out'), a['ns']),
        'softflowd-ipfix6': popen(['softflowd', '-r', traffic_path, '-d', '-v', '10', '-n',
                                   '[%s]:%d' % (a['c6'], ports['softflowd-ipfix6'])],
                                  os.path.join(work, 'sf10.out'), a['ns']),
        'pmacctd': popen(['pmacctd', '-f', pm_conf], os.path.join(work, 'pmacctd.out'), a['ns']),
    }
    for name, p in ex.items():
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = 'killed after 30 s'
        ck.check(rc == 0, '%s ran (exit %s)' % (name, rc), open(p.out_path).read()[-800:])
    # pmacctd's plugins are processes of their own that flush after the
    # core exits: wait until nothing runs in the namespace any more
    end = time.time() + 20
    while time.time() < end and sh('ip', 'netns', 'pids', a['ns'], check=False).stdout.strip():
        time.sleep(0.1)
    left = sh('ip', 'netns', 'pids', a['ns'], check=False).stdout.split()
    ck.check(not left, 'every exporter process finished (left: %s)' % ' '.join(left))
    log('exporters done in %.1f s' % (time.time() - t0))
    # then until the collector's datagram count stands still (stats every 1 s)
    last, since = -1, time.time()
    while time.time() - since < 1.5 and time.time() - t0 < 60:
        n = stats_datagrams(nm)
        if n != last:
            last, since = n, time.time()
        time.sleep(0.1)
    td.send_signal(signal.SIGINT)
    td.wait(timeout=10)
    tdout = open(td.out_path).read()
    m = re.search(r'(\d+) packets dropped by kernel', tdout)
    ck.check(m is not None and m.group(1) == '0', 'tcpdump dropped nothing', tdout)
    want, wdec = dplib.decode(decode, [cap])
    ndg = wdec.get('datagrams', 0)
    log('tcpdump: %d export datagrams, netmeta-decode: %d objects (%s)' % (
        ndg, len(want), ', '.join('%s %d' % (k, v) for k, v in wdec.items() if k.startswith('datagrams_'))))
    end = time.time() + 15
    while time.time() < end and stats_datagrams(nm) < ndg and nm.proc.poll() is None:
        time.sleep(0.1)
    time.sleep(0.3)
    nm.stop()
    c = nm.counters
    log('netmeta exit %s; %s' % (nm.rc, nm.summary()))
    ck.eq(nm.rc, 0, 'netmeta exits 0 on SIGTERM')
    if mode == 'dpdk':
        ck.check(c.get('ARP_REPLIED', 0) > 0, 'ARP_REPLIED > 0 (%s)' % c.get('ARP_REPLIED', 0))
        ck.check(c.get('ICMP_REPLIED', 0) >= 3, 'ICMP_REPLIED >= 3 (%s)' % c.get('ICMP_REPLIED', 0))
        ck.check(c.get('ND_REPLIED', 0) > 0, 'ND_REPLIED > 0 (%s)' % c.get('ND_REPLIED', 0))
        ck.eq(c.get('TX_FAILED', 0), 0, 'TX_FAILED')
        got, rx = dplib.rx_invariant(c)
        ck.eq(got, rx, 'every packet counted once')
    else:
        ck.eq(c.get('KERNEL_DROPS', 0), 0, 'KERNEL_DROPS')
    ck.eq(c.get('UDP_DATAGRAMS'), ndg, 'UDP_DATAGRAMS = export datagrams tcpdump saw')
    ck.eq({k: v for k, v in c.items() if k.startswith('err_')},
          {k: v for k, v in wdec.items() if k.startswith('err_')}, 'err_* = netmeta-decode\'s')
    ok, diff = dplib.compare(want, nm.records)
    ck.check(ok, 'records == netmeta-decode of the tcpdump capture (%d objects)' % len(want), diff)
    # who is who: exporter source port -> collector port -> exporter name
    owner_of_dport = {v: k for k, v in ports.items()}
    port_owner = {}
    for _, f in dplib.read_pcap(cap)[1]:
        p = dplib.parse_frame(f)
        if p and p['sport'] is not None and p['dport'] in owner_of_dport:
            port_owner[p['sport']] = owner_of_dport[p['dport']]
    tot = exporter_totals(nm.records, port_owner)
    for name in names:
        if name not in tot:
            ck.check(False, '%s: records received' % name)
            continue
        got = {k: v[:2] for k, v in tot[name].items()}
        sflow = name.endswith('sflow')
        fed = fed_totals(traffic, v4_only=name.endswith('v5'), l2=sflow)
        pad_key = (0x0800, 253)
        if sflow and pad_key in fed:
            # trailing padding: sfprobe may leave out its last packet or two
            g, f_ = got.pop(pad_key, [0, 0]), fed.pop(pad_key)
            ck.check(f_[0] - 4 <= g[0] <= f_[0], '%s: protocol 253 padding %d of %d packets'
                     % (name, g[0], f_[0]))
        ok = got == fed
        detail = '\n'.join('%s/%d: got %s, fed %s' % ('IPv4' if k[0] == 0x800 else 'IPv6', k[1],
                                                    got.get(k), fed.get(k))
                           for k in sorted(set(got) | set(fed)) if got.get(k) != fed.get(k))
        ck.check(ok, '%s: %d records; packets and bytes per protocol = what it was fed' % (
            name, sum(v[2] for v in tot[name].values())), detail)
    extra = set(tot) - set(names)
    ck.check(not extra, 'no records from anyone else (%s)' % ', '.join(sorted(extra)))


def main(argv):
    if len(argv) < 2 or argv[1] not in ('dpdk', 'socket'):
        print(__doc__)
        return 2
    mode = argv[1]
    netmeta, decode = dplib.args_or_usage(argv[1:], ['NETMETA', 'NETMETA_DECODE'])
    prerequisites(mode, netmeta)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    atexit.register(do_cleanup)
    work = tempfile.mkdtemp(prefix='nm-live-%s-' % mode)
    ck = dplib.Checks()
    try:
        run(mode, netmeta, decode, work, ck)
    except RuntimeError as e:
        if 'netns add' in str(e) or 'veth' in str(e):
            do_cleanup()
            dplib.skip('cannot create a network namespace / veth pair here: %s' % e)
        raise
    finally:
        do_cleanup()
    rc = ck.finish()
    if rc:
        log('work files kept in ' + work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv))
