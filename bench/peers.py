#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Socket-level benchmarks of netmeta against peer collectors, run by scripts/bench.

  peers.py sweep    BUILD TMP JSON --rates R,R.. --secs S [--quick]
  peers.py saturate BUILD TMP JSON --secs S
  peers.py e2e      BUILD TMP JSON --rates R,R.. --secs S
  peers.py report   JSON OUTDIR DATE     (markdown on stdout, PNG plots in OUTDIR)

goflow2 (a pinned tagged release, `go install`ed by scripts/bench into a cache
outside the repository) joins every run when $NM_GOFLOW2 names its binary.

Every collector runs pinned to CPU 1 (taskset), netmeta-gen to CPU 0 (--cpu 0),
over loopback. For each run: sent (netmeta-gen), the collector's own count
where it prints one (netmeta UDP_DATAGRAMS/decode_records, nfcapd/sfcapd
"Flows:"), the kernel's drop counter of the collector's socket (last column of
/proc/net/udp{,6}, read once the socket's receive queue has drained), and the
time from the first datagram sent to the drained queue.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

CPU_COLL = '1'
CPU_GEN = '0'
NF_PORT, SF_PORT = 23055, 23343


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def sockets_on(port):
    """(rx_queue bytes, drops, sockets) over every UDP socket bound to port."""
    rxq = drops = n = 0
    for fn in ('/proc/net/udp', '/proc/net/udp6'):
        try:
            lines = open(fn).read().splitlines()[1:]
        except OSError:
            continue
        for l in lines:
            f = l.split()
            if int(f[1].split(':')[1], 16) != port:
                continue
            rxq += int(f[4].split(':')[1], 16)
            drops += int(f[-1])
            n += 1
    return rxq, drops, n


def tree_cpu(pid):
    """CPU seconds (user + system) used so far by pid and its children: on
    a shared machine a collector's records per CPU-second is its cost per
    record, whatever share of the core the other jobs left it."""
    tck = os.sysconf('SC_CLK_TCK')
    try:
        out = subprocess.run(['ps', '-o', 'pid=', '--ppid', str(pid)], capture_output=True,
                             text=True).stdout
        kids = [int(x) for x in out.split()]
    except OSError:
        kids = []
    tot = 0.0
    for p in [pid] + kids:
        try:
            f = open('/proc/%d/stat' % p).read().rsplit(')', 1)[1].split()
            tot += (int(f[11]) + int(f[12])) / tck
        except (OSError, IndexError, ValueError):
            pass
    return tot


def free_port(base):
    p = base
    while sockets_on(p)[2]:
        p += 1
    return p


def kill_tree(pid, sig=signal.SIGKILL):
    """Kills pid and its children (pmacct forks plugin processes), by PID."""
    kids = []
    try:
        out = subprocess.run(['ps', '-o', 'pid=', '--ppid', str(pid)], capture_output=True,
                             text=True).stdout
        kids = [int(x) for x in out.split()]
    except OSError:
        pass
    for p in [pid] + kids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


class Collector:
    """One collector process pinned to CPU_COLL."""
    name = '?'
    proto = 'v9'

    def __init__(self, build, tmp, port):
        self.build, self.tmp, self.port = build, tmp, port
        self.dir = os.path.join(tmp, self.name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.errf = os.path.join(self.dir, 'err')

    def cmd(self):
        raise NotImplementedError

    def start(self):
        self.p = subprocess.Popen(['taskset', '-c', CPU_COLL] + self.cmd(), stdout=open(self.errf + '.out', 'w'),
                                  stderr=open(self.errf, 'w'), cwd=self.dir)
        for _ in range(100):
            if sockets_on(self.port)[2]:
                break
            if self.p.poll() is not None:
                raise RuntimeError('%s exited at start: %s' % (self.name, open(self.errf).read()[-500:]))
            time.sleep(0.05)
        time.sleep(0.3)
        return self

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kill_tree(self.p.pid)
            self.p.wait()
        self.out = open(self.errf).read() + open(self.errf + '.out').read()

    def own_count(self):
        """(datagrams, records) by the collector's own count, or None."""
        return None

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Netmeta(Collector):
    name = 'netmeta'

    def __init__(self, build, tmp, port, proto='v9', kafka=None):
        self.proto = proto
        self.name = 'netmeta-' + proto
        self.kafka = kafka
        super().__init__(build, tmp, port)

    def cmd(self):
        cfg = os.path.join(self.dir, 'nm.yaml')
        lis = {'sflow': 'sflow', 'ipfix': 'ipfix'}.get(self.proto, 'netflow')
        sink = '  - type: discard\n'
        if self.kafka:
            sink = '  - type: kafka\n    brokers: "%s"\n    topic: %s\n' % self.kafka
        open(cfg, 'w').write('workers: 1\nbind: 127.0.0.1\nlisten:\n  %s: [%d]\nstats_interval: %d\n'
                             'sinks:\n%s' % (lis, self.port, 1 if self.kafka else 0, sink))
        return [os.path.join(self.build, 'netmeta'), '--config', cfg]

    def counters(self):
        return {l.split()[0]: l.split()[1] for l in self.out.splitlines()
                if re.match(r'^[A-Za-z0-9_]+ \S+$', l.strip())}

    def own_count(self):
        c = self.counters()
        return int(c.get('UDP_DATAGRAMS', 0)), int(c.get('decode_records', 0))

    def delivered(self):
        """Latest kafka delivered count from the once-a-second stats lines."""
        try:
            txt = open(self.errf).read()
        except OSError:
            return 0
        m = re.findall(r'kafka delivered (\d+)', txt)
        return int(m[-1]) if m else 0


class Nfdump(Collector):
    """nfcapd / sfcapd from nfdump 1.7: files on tmpfs, counts printed on SIGTERM."""

    def __init__(self, build, tmp, port, which, proto=None):
        self.name = which if proto in (None, 'v9', 'sflow') else which + '-' + proto
        self.proto = proto or ('sflow' if which == 'sfcapd' else 'v9')
        self.prog = which
        super().__init__(build, tmp, port)

    def cmd(self):
        return [self.prog, '-b', '127.0.0.1', '-p', str(self.port), '-B', '4194304', '-w', self.dir,
                '-t', '300', '-P', os.path.join(self.dir, 'pid')]

    def own_count(self):
        m = re.search(r'Flows: (\d+)', self.out)
        return (None, int(m.group(1))) if m else None


class Pmacct(Collector):
    """nfacctd / sfacctd: the cheapest plugin (print, aggregate proto) or Kafka."""

    def __init__(self, build, tmp, port, which, kafka=None, proto=None):
        self.name = which if proto in (None, 'v9', 'sflow') else which + '-' + proto
        self.proto = proto or ('sflow' if which == 'sfacctd' else 'v9')
        self.prog = which
        self.kafka = kafka
        super().__init__(build, tmp, port)

    def cmd(self):
        d = self.prog
        conf = ['daemonize: false', '%s_ip: 127.0.0.1' % d, '%s_port: %d' % (d, self.port),
                '%s_pipe_size: 4194304' % d]
        if self.kafka:
            host, port = self.kafka[0].rsplit(':', 1)
            conf += ['plugins: kafka[k]', 'kafka_broker_host[k]: ' + host, 'kafka_broker_port[k]: ' + port,
                     'kafka_topic[k]: ' + self.kafka[1], 'kafka_output[k]: json',
                     'kafka_refresh_time[k]: 1', 'kafka_history[k]: 1m',
                     'plugin_buffer_size[k]: 102400', 'plugin_pipe_size[k]: 10240000',
                     'aggregate[k]: src_host, dst_host, src_port, dst_port, proto, timestamp_start']
        else:
            conf += ['plugins: print[p]', 'aggregate[p]: proto', 'print_output[p]: csv',
                     'print_output_file[p]: %s/out-%%s.csv' % self.dir, 'print_refresh_time[p]: 1',
                     'print_history[p]: 1m']
        cf = os.path.join(self.dir, 'pm.conf')
        open(cf, 'w').write('\n'.join(conf) + '\n')
        return [d, '-f', cf]

    def stop(self):
        # The core process ignores SIGTERM: kill it and its plugins by PID.
        kill_tree(self.p.pid)
        self.p.wait()
        self.out = open(self.errf).read()


GOFLOW2 = os.environ.get('NM_GOFLOW2', '')
GOFLOW2_VERSION = os.environ.get('NM_GOFLOW2_VERSION', '?')


def goflow2_config(proto, port, mport):
    """goflow2's command line as the benchmark runs it (also printed in the results)."""
    scheme = 'sflow' if proto == 'sflow' else 'netflow'
    # One socket, one decode worker, GOMAXPROCS=1 and taskset: one core, as
    # every collector here. blocking=true with a short queue makes a saturated
    # goflow2 drop in the kernel socket (counted like every other peer)
    # instead of in an internal queue of a million datagrams.
    return ['env', 'GOMAXPROCS=1', GOFLOW2, '-listen',
            '%s://127.0.0.1:%d?count=1&workers=1&blocking=true&queue_size=64' % (scheme, port),
            '-addr', '127.0.0.1:%d' % mport, '-format', 'bin', '-transport', 'file',
            '-transport.file', '/dev/null', '-loglevel', 'error']


class Goflow2(Collector):
    """goflow2 v2: protobuf (`-format bin`) records to /dev/null, metrics on HTTP."""

    def __init__(self, build, tmp, port, proto):
        self.proto = proto
        self.name = 'goflow2-' + proto
        super().__init__(build, tmp, port)
        self.mport = free_tcp_port(28080)

    def cmd(self):
        return goflow2_config(self.proto, self.port, self.mport)

    def metrics(self):
        try:
            return urllib.request.urlopen('http://127.0.0.1:%d/metrics' % self.mport, timeout=5).read().decode()
        except OSError:
            return ''

    def stop(self):
        self.metrics_txt = self.metrics()
        super().stop()

    def extra_fields(self, rpd):
        """goflow2's own decode time (its decoding_time_seconds summary: decoding
        and building the messages, without the socket and the output), as
        records/s: the most favourable figure for goflow2."""
        scheme = 'sflow' if self.proto == 'sflow' else 'netflow'
        tsum = cnt = 0.0
        for l in self.metrics_txt.splitlines():
            if 'name="%s"' % scheme not in l:
                continue
            if l.startswith('goflow2_flow_decoding_time_seconds_sum'):
                tsum = float(l.split()[-1])
            elif l.startswith('goflow2_flow_decoding_time_seconds_count'):
                cnt = float(l.split()[-1])
        own = self.own_count()
        recs = own[1] if own else cnt * rpd
        return {'decode_only_records_s': recs / tsum if tsum else 0, 'decode_secs': tsum}

    def own_count(self):
        """Data records decoded (NetFlow v9/IPFIX data flowset records; sFlow: None)."""
        if self.proto == 'sflow':
            return None
        n = 0
        for l in self.metrics_txt.splitlines():
            if l.startswith('goflow2_flow_process_nf_flowset_records_total') and 'type="DataFlowSet"' in l:
                n += int(float(l.split()[-1]))
        return (None, n)


def free_tcp_port(base):
    import socket
    p = base
    while True:
        with socket.socket() as so:
            try:
                so.bind(('127.0.0.1', p))
                return p
            except OSError:
                p += 1


def gen(build, proto, port, records, pps, secs=None, datagrams=None, extra=()):
    a = [os.path.join(build, 'netmeta-gen'), '--proto', proto, '--exporters', '8', '--records', str(records),
         '--udp', '127.0.0.1', '--port', str(port), '--cpu', CPU_GEN] + list(extra)
    if pps:
        a += ['--pps', str(pps), '--seconds', str(secs)]
    else:
        a += ['--datagrams', str(datagrams)]
    p = subprocess.run(a, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError('netmeta-gen: ' + p.stderr)
    m = re.search(r'sent (\d+) datagrams in ([\d.]+) s', p.stderr)
    recs = sum(int(x) for x in re.findall(r'records (\d+)', p.stderr))
    return int(m.group(1)), float(m.group(2)), recs


def one_run(c, build, records, pps, secs=None, datagrams=None, extra=()):
    """Starts c, offers traffic, waits for its socket to drain, stops it."""
    c.start()
    rxq0, drops0, _ = sockets_on(c.port)
    cpu0 = tree_cpu(c.p.pid)
    sent, gsecs, recs = gen(build, c.proto, c.port, records, pps, secs, datagrams, extra)
    # Time: netmeta-gen's own sending time (building its pool excluded) plus
    # the time the collector still needed to empty its socket afterwards.
    t0 = time.monotonic() - gsecs
    # Drained: receive queue empty twice in a row (max 10 s).
    empty = 0
    for _ in range(400):
        rxq, drops, _ = sockets_on(c.port)
        empty = empty + 1 if rxq == 0 else 0
        if empty >= 2:
            break
        time.sleep(0.025)
    el = time.monotonic() - t0 - 0.025
    rxq, drops, _ = sockets_on(c.port)
    drops -= drops0
    cpu = tree_cpu(c.p.pid) - cpu0
    c.stop()
    own = c.own_count()
    c.cleanup()
    rpd = recs / sent if sent else 0
    proc = sent - drops
    r = {'collector': c.name, 'proto': c.proto, 'offered_pps': pps, 'sent': sent, 'gen_secs': gsecs,
         'sent_pps': sent / gsecs if gsecs else 0, 'records_sent': recs, 'kernel_drops': drops,
         'left_in_queue': rxq, 'secs': el, 'rec_per_dgram': rpd,
         'processed_records_s': proc * rpd / el if el > 0 else 0,
         'loss_pct': 100.0 * (sent - proc) / sent if sent else 0,
         'cpu_secs': cpu, 'records_per_cpu_s': proc * rpd / cpu if cpu > 0 else 0}
    if hasattr(c, 'extra_fields'):
        r.update(c.extra_fields(rpd))
    if own:
        dg, rc = own
        r['own_datagrams'], r['own_records'] = dg, rc
        r['own_loss_pct'] = 100.0 * (recs - rc) / recs if recs else 0
    log('  %-14s offered %8s dg/s sent %7d (%.0f/s) drops %7d loss %6.2f %% -> %.0f rec/s, %.0f per CPU-s%s' % (
        c.name, pps or 'max', sent, r['sent_pps'], drops, r['loss_pct'], r['processed_records_s'],
        r['records_per_cpu_s'],
        ' own %s' % (own,) if own else ''))
    return r


def collectors(build, tmp, proto):
    gf = [lambda: Goflow2(build, tmp, free_port(SF_PORT if proto == 'sflow' else NF_PORT), proto)] \
        if GOFLOW2 and os.access(GOFLOW2, os.X_OK) else []
    if proto in ('v9', 'ipfix'):
        return [lambda: Netmeta(build, tmp, free_port(NF_PORT), proto),
                lambda: Nfdump(build, tmp, free_port(NF_PORT), 'nfcapd', proto),
                lambda: Pmacct(build, tmp, free_port(NF_PORT), 'nfacctd', proto=proto)] + gf
    return [lambda: Netmeta(build, tmp, free_port(SF_PORT), 'sflow'),
            lambda: Nfdump(build, tmp, free_port(SF_PORT), 'sfcapd'),
            lambda: Pmacct(build, tmp, free_port(SF_PORT), 'sfacctd')] + gf


RECS = {'v9': 24, 'ipfix': 24, 'sflow': 8}       # realistic datagrams (~1.9 KB, ~1.9 KB)
SAT_RECS = {'v9': 96, 'ipfix': 96, 'sflow': 32}  # large datagrams: per-record work dominates


def sweep(build, tmp, rates, secs):
    res = []
    for r in rates:
        for proto in ('v9', 'sflow'):
            for mk in collectors(build, tmp, proto):
                try:
                    res.append(one_run(mk(), build, RECS[proto], r, secs=secs))
                except Exception as e:  # a peer failing must not stop the run
                    log('  run failed: %s' % e)
    return res


def saturate(build, tmp, secs):
    res = []
    for proto in ('v9', 'ipfix', 'sflow'):
        for mk in collectors(build, tmp, proto):
            # Unpaced: as fast as netmeta-gen goes on its core, for about secs.
            n = int(30000 * secs) if proto != 'sflow' else int(40000 * secs)
            try:
                res.append(one_run(mk(), build, SAT_RECS[proto], 0, datagrams=n,
                                   extra=['--pool', '4096']))
            except Exception as e:
                log('  run failed: %s' % e)
    return res


def stop_mock(mock):
    # netmeta-kafka-mock keeps running after EOF on stdin: send quit.
    try:
        mock.stdin.write(b'quit\n')
        mock.stdin.close()
    except OSError:
        pass
    try:
        mock.wait(timeout=10)
    except subprocess.TimeoutExpired:
        mock.kill()
        mock.wait()


def kafka_offsets(bs, topic):
    p = subprocess.run(['kcat', '-b', bs, '-Q'] + sum([['-t', '%s:%d:-1' % (topic, i)] for i in range(4)], []),
                       capture_output=True, text=True, timeout=20)
    return sum(int(x) for x in re.findall(r'offset (\d+)', p.stdout))


def e2e(build, tmp, rates, secs):
    """netmeta socket -> Kafka sink vs nfacctd -> Kafka plugin, same mock broker."""
    res = []
    pf = os.path.join(tmp, 'e2e-bs')
    mock = subprocess.Popen(['taskset', '-c', CPU_GEN, os.path.join(build, 'netmeta-kafka-mock'), '--topic', 'nm',
                             '--topic', 'pm', '--port-file', pf], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(pf) and open(pf).read().strip():
                break
            time.sleep(0.1)
        bs = open(pf).read().strip()
        for r in rates:
            for who in ('netmeta', 'nfacctd'):
                port = free_port(NF_PORT)
                topic = 'nm' if who == 'netmeta' else 'pm'
                c = (Netmeta(build, tmp, port, 'v9', kafka=(bs, topic)) if who == 'netmeta'
                     else Pmacct(build, tmp, port, 'nfacctd', kafka=(bs, topic)))
                base = kafka_offsets(bs, topic) if who == 'nfacctd' else 0
                c.start()
                # netmeta-gen moves NetFlow's export time on by a minute per
                # pass over its pool, so records stay distinct for pmacct's
                # cache (its key includes timestamp_start).
                sent, gsecs, recs = gen(build, 'v9', port, RECS['v9'], r, secs=secs)
                t0 = time.monotonic() - gsecs
                _, drops, _ = sockets_on(port)
                last, t_last, t_end = -1, time.monotonic(), time.monotonic() + 30
                while time.monotonic() < t_end:
                    d = c.delivered() if who == 'netmeta' else kafka_offsets(bs, topic) - base
                    if d != last:
                        last, t_last = d, time.monotonic()
                    elif time.monotonic() - t_last > 3:
                        break
                    time.sleep(0.25)
                c.stop()
                if who == 'netmeta':
                    cc = c.counters()
                    last = max(last, int(cc.get('kafka0_delivered', 0)))
                    wd = int(cc.get('RECORDS_NO_BATCH', 0)) + int(cc.get('RECORDS_RING_FULL', 0))
                else:
                    wd = 0
                el = t_last - t0
                row = {'collector': who + '->kafka', 'offered_pps': r, 'sent': sent,
                       'sent_pps': sent / gsecs, 'records_sent': recs, 'kernel_drops': drops,
                       'delivered': last, 'secs': el, 'worker_drops': wd, 'delivered_s': last / el if el > 0 else 0}
                log('  e2e %-8s offered %d dg/s sent %d: delivered %d in %.1f s = %.0f/s, drops %d' % (
                    who, r, sent, last, el, row['delivered_s'], drops))
                c.cleanup()
                res.append(row)
    finally:
        stop_mock(mock)
    return res


def perf_top(data, title, n=14):
    p = subprocess.run(['perf', 'report', '-i', data, '--stdio', '--no-children', '--sort', 'dso,symbol',
                        '--percent-limit', '1'], capture_output=True, text=True)
    lines = [l.rstrip() for l in p.stdout.splitlines() if l.strip() and not l.startswith('#')]
    return '%s (perf record -e cpu-clock, self time, symbols above 1 %%):\n\n```\n%s\n```\n' % (
        title, '\n'.join(lines[:n]) or p.stderr[-400:])


def profile(what, build, tmp):
    """Markdown: where the time goes, for a missed target."""
    data = os.path.join(tmp, 'perf-%s.data' % what)
    if what in ('decode_v9', 'decode_ipfix', 'decode_sflow'):
        t = {'decode_v9': 'NETFLOW_V9', 'decode_ipfix': 'IPFIX'}.get(what, 'SFLOW_5')
        subprocess.run(['perf', 'record', '-q', '-e', 'cpu-clock', '-F', '1999', '-o', data, '--', 'taskset', '-c',
                        CPU_COLL, os.path.join(build, 'bench', 'decode-bench'), '--seconds', '2', '--only', t],
                       capture_output=True)
        return perf_top(data, 'decode-bench --only %s on CPU 1' % t)
    kafka = None
    mock = None
    if what == 'e2e':
        pf = os.path.join(tmp, 'prof-bs')
        mock = subprocess.Popen(['taskset', '-c', CPU_GEN, os.path.join(build, 'netmeta-kafka-mock'), '--topic',
                                 'nm', '--port-file', pf], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(pf) and open(pf).read().strip():
                break
            time.sleep(0.1)
        kafka = (open(pf).read().strip(), 'nm')
    try:
        c = Netmeta(build, tmp, free_port(NF_PORT), 'v9', kafka=kafka).start()
        pr = subprocess.Popen(['perf', 'record', '-q', '-e', 'cpu-clock', '-F', '1999', '-o', data, '-p',
                               str(c.p.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        if what == 'e2e':
            gen(build, 'v9', c.port, RECS['v9'], 60000, secs=3)
        else:
            gen(build, 'v9', c.port, SAT_RECS['v9'], 0, datagrams=90000, extra=['--pool', '4096'])
        time.sleep(1)
        pr.send_signal(signal.SIGINT)
        pr.wait()
        c.stop()
        c.cleanup()
    finally:
        if mock:
            stop_mock(mock)
    what_s = ('netmeta socket backend -> Kafka sink, NetFlow v9 at 60 k datagrams/s' if what == 'e2e'
              else 'netmeta socket backend (1 worker, discard) at saturation, NetFlow v9')
    return perf_top(data, what_s + ', all its threads on CPU 1', 18)


def main(argv):
    mode = argv[1]
    if mode == 'profile':
        build, tmp = [os.path.abspath(x) for x in argv[3:5]]
        print(profile(argv[2], build, tmp))
        return 0
    if mode == 'report':
        import report
        report.main(argv[2:])
        return 0
    build, tmp, js = [os.path.abspath(x) for x in argv[2:5]]
    opts = dict(zip(argv[5::2], argv[6::2]))
    secs = float(opts.get('--secs', '3'))
    rates = [int(x) for x in opts.get('--rates', '').split(',') if x]
    data = json.load(open(js)) if os.path.exists(js) else {}
    data.setdefault('load', {})[mode] = [open('/proc/loadavg').read().split()[:3]]
    if mode == 'sweep':
        data['sweep'] = sweep(build, tmp, rates, secs)
    elif mode == 'saturate':
        data['saturate'] = saturate(build, tmp, secs)
    elif mode == 'e2e':
        data['e2e'] = e2e(build, tmp, rates, secs)
    data['load'][mode].append(open('/proc/loadavg').read().split()[:3])
    json.dump(data, open(js, 'w'), indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
