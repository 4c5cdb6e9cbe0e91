#!/usr/bin/python3
"""Threads where DPDK wants them (issue 10 part 5).

With the DPDK backend on EAL lcores 0-1 (main lcore 0, worker lcore 1), the
sink thread (zstd, librdkafka) and the stats thread must never be allowed on
the worker lcore's CPU: they are DPDK control threads. The worker lcore's
thread itself must be pinned to CPU 1 alone. Read from /proc while netmeta
runs a looping net_pcap capture.

  test_threads.py NETMETA NETMETA_GEN
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dplib  # noqa: E402


def cpus(spec):
    out = set()
    for part in spec.split(','):
        if '-' in part:
            a, b = part.split('-')
            out.update(range(int(a), int(b) + 1))
        elif part:
            out.add(int(part))
    return out


def threads(pid):
    """{thread name: [allowed CPU sets]} of a running process."""
    got = {}
    for tid in os.listdir('/proc/%d/task' % pid):
        try:
            with open('/proc/%d/task/%s/comm' % (pid, tid)) as f:
                name = f.read().strip()
            with open('/proc/%d/task/%s/status' % (pid, tid)) as f:
                allowed = [l.split(':', 1)[1].strip() for l in f
                           if l.startswith('Cpus_allowed_list')][0]
        except OSError:
            continue  # the thread ended meanwhile
        got.setdefault(name, []).append(cpus(allowed))
    return got


def main():
    netmeta, gen = dplib.args_or_usage(sys.argv, ['NETMETA', 'NETMETA_GEN'])
    why = dplib.dpdk_usable(netmeta)
    if why:
        dplib.skip('netmeta has no DPDK backend: ' + why)
    if os.cpu_count() < 2:
        dplib.skip('one CPU: a worker lcore and a control CPU need two')
    with tempfile.TemporaryDirectory() as d:
        pcap = os.path.join(d, 'v9.pcap')
        subprocess.run([gen, '--proto', 'v9', '--exporters', '2', '--datagrams', '256',
                        '-o', pcap], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        cfg = {'backend': 'dpdk', 'workers': 1, 'mbufs': 4096, 'stats_interval': 1,
               'ports': [{'device': 'net_pcap0,rx_pcap=%s,infinite_rx=1' % pcap,
                          'accept_any_destination': True}],
               'sinks': [{'type': 'discard'}]}
        bad = []
        for lcores in ('0-1', '0@0,1@0'):
            bad += run(netmeta, d, cfg, lcores)
        if bad:
            for b in bad:
                print('FAIL: ' + b)
            sys.exit(1)
        print('ok: nm-sink and nm-stats never share a CPU with the worker lcore')


def run(netmeta, d, cfg, lcores):
    """One run; the list of what is wrong."""
    nm = dplib.Netmeta(netmeta, d, cfg, eal=dplib.eal_args(lcores)).start()
    try:
        seen = {}
        end = time.time() + 30
        while time.time() < end and nm.proc.poll() is None:
            seen = threads(nm.proc.pid)
            if 'nm-sink' in seen and 'nm-stats' in seen and 'netmeta: rx ' in nm.stderr():
                break
            time.sleep(0.2)
        if nm.proc.poll() is not None:
            return ['lcores %s: netmeta exited: %s' % (lcores, nm.stderr()[-2000:])]
    finally:
        nm.stop()
    dplib.log('lcores %s: threads %s' % (lcores, {k: [sorted(s) for s in v]
                                                   for k, v in sorted(seen.items())}))
    bad = []
    workers = seen.get('rte-worker-1', [])
    if len(workers) != 1:
        return ['lcores %s: no worker lcore thread: %s' % (lcores, sorted(seen))]
    wcpus = workers[0]
    for name in ('nm-sink', 'nm-stats'):
        if name not in seen:
            bad.append('no thread named %s' % name)
            continue
        for allowed in seen[name]:
            if allowed & wcpus:
                bad.append('%s may run on CPU %s, the worker lcore\'s'
                           % (name, sorted(allowed & wcpus)))
    if nm.rc != 0:
        bad.append('netmeta exit status %s' % nm.rc)
    if nm.counters.get('RECORDS_SENT', 0) <= 0:
        bad.append('no record decoded: %s' % nm.summary())
    return ['lcores %s: %s' % (lcores, x) for x in bad]

if __name__ == '__main__':
    main()
