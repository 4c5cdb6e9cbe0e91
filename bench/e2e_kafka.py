#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""End to end into a real Apache Kafka 4 broker, and where each record's time goes.

  e2e_kafka.py BUILD TMP --secs S [--mock-rate R]   (markdown on stdout, progress on stderr)

Started by scripts/bench (full and quick runs; --smoke leaves it out: it needs Java and the
broker's jars). Starts one real broker (scripts/kafka: Kafka 4, KRaft, combined
broker+controller, loopback, pinned to CPU 0 with the generator) and stops it by PID at the
end, whatever happens. Then, on the same generated NetFlow v9 traffic:

1. The stages in isolation: decode-bench (decode only), encode-bench (protobuf encoding, zstd
   level 3 of the packed messages), and the DPDK net_pcap pipeline with 1 worker into sinks that
   add one stage at a time: discard (rx + decode + ring), file on tmpfs (+ encode, batching,
   zstd, write), netmeta-kafka-mock with compression none and zstd (+ librdkafka produce and
   delivery reports, a broker that stores nothing), the real broker with none and zstd (+ a
   real log: the headline figure). Per run: records/s at saturation and the CPU time of every
   thread of netmeta and of the broker's JVM over the same window, per record.
2. Socket backend against goflow2, each pinned to CPU 1, into the same real broker (zstd),
   generator paced above saturation on CPU 0: delivered records/s at saturation.

Rates are steady-state: the difference between the first and last once-a-second stats line
inside the measuring window (start-up excluded) for netmeta, topic offsets (kcat -Q, one
Kafka message per flow) for goflow2.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (shared helpers: sockets_on, free_port, GOFLOW2)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KAFKA = os.path.join(ROOT, 'scripts', 'kafka')
TCK = os.sysconf('SC_CLK_TCK')
log = peers.log


def tcp_free(port):
    with socket.socket() as s:
        try:
            s.bind(('127.0.0.1', port))
            return True
        except OSError:
            return False


def free_base(start):
    p = start
    while not (tcp_free(p) and tcp_free(p + 1)):
        p += 2
    return p


def threads_cpu(pid):
    """{thread name: CPU seconds} of every thread of pid."""
    out = {}
    try:
        tids = os.listdir('/proc/%d/task' % pid)
    except OSError:
        return out
    for t in tids:
        try:
            s = open('/proc/%d/task/%s/stat' % (pid, t)).read()
        except OSError:
            continue
        name = s[s.index('(') + 1:s.rindex(')')]
        f = s.rsplit(')', 1)[1].split()
        # one bucket per kind of thread: rdk:broker1, rdk:broker-1 ... -> rdk:broker
        name = re.sub(r'[-0-9]+$', '', name) or name
        out[name] = out.get(name, 0.0) + (int(f[11]) + int(f[12])) / TCK
    return out


def cpu_delta(a, b):
    return {k: b.get(k, 0.0) - a.get(k, 0.0) for k in b if b.get(k, 0.0) - a.get(k, 0.0) > 0.005}


class Broker:
    """One real Kafka 4 broker under TMP, stopped by PID in stop()."""

    def __init__(self, tmp):
        # Not under TMP (scripts/bench puts it on tmpfs): a run writes gigabytes into the log,
        # so on disk, with segments of 32 MB deleted past 64 MB per partition, checked
        # every second, their files removed a second later; the whole directory in stop()
        import tempfile
        self.dir = tempfile.mkdtemp(prefix='nm-e2e-kafka-', dir=os.environ.get('TMPDIR', '/var/tmp'))
        self.port = free_base(29200 + os.getpid() % 400 * 2)
        t = time.monotonic()
        p = subprocess.run(['taskset', '-c', peers.CPU_GEN, KAFKA, 'start', self.dir, '-p', str(self.port),
                            '-c', 'log.segment.bytes=33554432', '-c', 'log.retention.bytes=67108864',
                            '-c', 'log.retention.check.interval.ms=1000', '-c', 'log.segment.delete.delay.ms=1000'],
                           capture_output=True, text=True)
        self.start_secs = time.monotonic() - t
        if p.returncode:
            self.stop()
            raise RuntimeError('scripts/kafka start: ' + p.stderr.strip()[-400:])
        self.bs = p.stdout.strip().splitlines()[-1]
        self.pid = int(open(os.path.join(self.dir, 'b0', 'pid')).read())

    def topic(self, name, parts=4):
        subprocess.run([KAFKA, 'topic', self.dir, name, str(parts), '1'], check=True,
                       capture_output=True)

    def offsets(self, topic, parts=4):
        return peers.kafka_offsets(self.bs, topic) if parts == 4 else 0

    def stop(self):
        subprocess.run([KAFKA, 'stop', self.dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class Mock:
    def __init__(self, build, tmp):
        pf = os.path.join(tmp, 'e2e-mock-bs')
        self.p = subprocess.Popen(['taskset', '-c', peers.CPU_GEN, os.path.join(build, 'netmeta-kafka-mock'),
                                   '--topic', 'flows', '--port-file', pf], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.p.pid
        for _ in range(600):
            if os.path.exists(pf) and open(pf).read().strip():
                break
            time.sleep(0.1)
        self.bs = open(pf).read().strip()

    def stop(self):
        peers.stop_mock(self.p)


def stats_lines(errf):
    try:
        return [l for l in open(errf) if l.startswith('netmeta: rx ')]
    except OSError:
        return []


def counter(line, what):
    m = re.search(what + r' (\d+)', line)
    return int(m.group(1)) if m else 0


def measure(pid, errf, what, secs, other=None):
    """Steady rate of the stats counter `what` over about secs, and the CPU seconds of
    every thread of pid (and of other's process) over the same window."""
    n0 = len(stats_lines(errf))
    deadline = time.monotonic() + 60
    while len(stats_lines(errf)) < n0 + 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    l0 = stats_lines(errf)
    c0, o0, t0 = threads_cpu(pid), threads_cpu(other) if other else {}, time.monotonic()
    time.sleep(secs)
    while len(stats_lines(errf)) == len(l0) and time.monotonic() < deadline:
        time.sleep(0.02)
    # wait for the next line so the window ends on a line, as it started
    n1 = len(stats_lines(errf))
    while len(stats_lines(errf)) == n1 and time.monotonic() < deadline:
        time.sleep(0.02)
    l1 = stats_lines(errf)
    c1, o1, t1 = threads_cpu(pid), threads_cpu(other) if other else {}, time.monotonic()
    n = len(l1) - len(l0)
    rate = (counter(l1[-1], what) - counter(l0[-1], what)) / n if n > 0 else 0.0
    return rate, cpu_delta(c0, c1), cpu_delta(o0, o1), t1 - t0


def dpdk_run(build, tmp, pcap, name, sink, secs, other=None):
    cfg = os.path.join(tmp, 'e2e-%s.yaml' % name)
    errf = os.path.join(tmp, 'e2e-%s.err' % name)
    open(cfg, 'w').write('backend: dpdk\nworkers: 1\nports:\n  - device: net_pcap0,rx_pcap=%s,infinite_rx=1\n'
                         '    accept_any_destination: true\nmbufs: 16384\nmbuf_size: 9216\nstats_interval: 1\n'
                         'sinks:\n%s' % (pcap, sink))
    # as the DPDK runs of scripts/bench: the worker lcore on CPU 1, the main lcore, the sink
    # thread and librdkafka's threads on CPU 0 with the broker. (All on one CPU, the worker,
    # fed without end by infinite_rx, decodes and drops what the sink cannot take and
    # halves the sink thread's share of the core: a figure of the layout, not of the stages.)
    p = subprocess.Popen([os.path.join(build, 'netmeta'), '--no-huge', '-m', '1024', '--no-pci',
                          '--file-prefix=nme2e%d%s' % (os.getpid(), name), '-l', '0-1', '--no-telemetry', '--',
                          '--config', cfg], stdout=subprocess.DEVNULL, stderr=open(errf, 'w'))
    try:
        # start-up (EAL, producer connection) excluded: two stats lines first
        deadline = time.monotonic() + 60
        while len(stats_lines(errf)) < 2 and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        what = 'kafka delivered' if 'kafka' in sink else 'written'
        rate, cpu, ocpu, el = measure(p.pid, errf, what, secs, other)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    txt = open(errf).read()
    c = dict(l.split(None, 1) for l in txt.splitlines() if re.match(r'^[A-Za-z0-9_]+ \S+$', l.strip()))
    row = {'name': name, 'rate': rate, 'cpu': cpu, 'ocpu': ocpu, 'secs': el,
           'identity': c.get('kafka0_identity', '').strip(), 'qfull': c.get('kafka0_queue_full_waits', '').strip(),
           'bytes': int(c.get('kafka0_bytes', 0)), 'messages': int(c.get('kafka0_messages', 0)),
           'handed': int(c.get('kafka0_handed', 0))}
    log('  e2e %-12s %12.0f records/s  cpu %s  other %s' % (
        name, rate, {k: round(v, 2) for k, v in cpu.items()}, {k: round(v, 2) for k, v in ocpu.items()}))
    return row


def socket_run(build, tmp, who, broker, topic, secs):
    """Collector on CPU 1 -> real broker, netmeta-gen on CPU 0, delivered/s."""
    port = peers.free_port(peers.NF_PORT)
    d = os.path.join(tmp, 'e2e-sock-' + who)
    os.makedirs(d, exist_ok=True)
    errf = os.path.join(d, 'err')
    if who == 'netmeta':
        cfg = os.path.join(d, 'nm.yaml')
        open(cfg, 'w').write('workers: 1\nbind: 127.0.0.1\nlisten:\n  netflow: [%d]\nstats_interval: 1\n'
                             'sinks:\n  - type: kafka\n    brokers: "%s"\n    topic: %s\n' % (port, broker.bs, topic))
        cmd = [os.path.join(build, 'netmeta'), '--config', cfg]
    else:
        cmd = goflow2_kafka_cmd(port, peers.free_tcp_port(28180), broker.bs, topic,
                                '20ms' if who == 'goflow2-20ms' else None)
    p = subprocess.Popen(['taskset', '-c', peers.CPU_COLL] + cmd, stdout=subprocess.DEVNULL,
                         stderr=open(errf, 'w'), cwd=d)
    g = None
    try:
        for _ in range(600):
            if peers.sockets_on(port)[2] or p.poll() is not None:
                break
            time.sleep(0.05)
        time.sleep(0.5)
        # 15 000 datagrams/s of 96 records (1.44 M records/s offered, above what either
        # collector delivers into the real broker here; unpaced, the generator would take
        # CPU 0 from the broker), for longer than the window; 4096 distinct datagrams
        g = subprocess.Popen([os.path.join(build, 'netmeta-gen'), '--proto', 'v9', '--exporters', '8',
                              '--records', '96', '--udp', '127.0.0.1', '--port', str(port), '--cpu', peers.CPU_GEN,
                              '--pool', '4096', '--pps', '15000', '--seconds', str(secs + 6)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)
        if who == 'netmeta':
            rate, cpu, _, el = measure(p.pid, errf, 'kafka delivered', secs)
        else:
            o0, c0, t0 = broker.offsets(topic), threads_cpu(p.pid), time.monotonic()
            time.sleep(secs)
            o1, c1, t1 = broker.offsets(topic), threads_cpu(p.pid), time.monotonic()
            rate, cpu, el = (o1 - o0) / (t1 - t0), cpu_delta(c0, c1), t1 - t0
        _, drops, _ = peers.sockets_on(port)
    finally:
        if g:
            if g.poll() is None:
                g.terminate()
            g.wait()
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            peers.kill_tree(p.pid)
            p.wait()
    wd = 0
    if who == 'netmeta':
        c = dict(l.split(None, 1) for l in open(errf) if re.match(r'^[A-Za-z0-9_]+ \S+$', l.strip()))
        wd = int(c.get('RECORDS_NO_BATCH', 0)) + int(c.get('RECORDS_RING_FULL', 0))
    row = {'name': who, 'rate': rate, 'cpu': cpu, 'secs': el, 'drops': drops, 'wdrops': wd}
    log('  e2e socket %-8s %12.0f records/s delivered, cpu %.2f s in %.1f s' % (who, rate, sum(cpu.values()), el))
    return row


def goflow2_kafka_cmd(port, mport, bs, topic, flush=None):
    """goflow2 as in the decode runs (one socket, one worker, GOMAXPROCS=1), with its Kafka
    transport and protobuf format into the same broker, zstd; flush: its flush frequency
    (default 5 s, which makes its deliveries lumpy over a window of seconds; 20ms = our linger)."""
    extra = ['-transport.kafka.flushfreq', flush] if flush else []
    return ['env', 'GOMAXPROCS=1', peers.GOFLOW2] + extra + ['-listen',
            'netflow://127.0.0.1:%d?count=1&workers=1&blocking=true&queue_size=64' % port,
            '-addr', '127.0.0.1:%d' % mport, '-format', 'bin', '-transport', 'kafka',
            '-transport.kafka.brokers', bs, '-transport.kafka.topic', topic,
            '-transport.kafka.compression', 'zstd', '-loglevel', 'error']


def isolated(build, secs):
    """ns/record of decode and of encode + zstd, from the bench binaries."""
    r = {}
    p = subprocess.run([os.path.join(build, 'bench', 'decode-bench'), '--seconds', str(secs), '--cpu', '1',
                        '--records', '96', '--only', 'NETFLOW_V9'], capture_output=True, text=True)
    # its thread's CPU-time rate (the last Mrec/s of the line): the load of a shared machine
    # stretches the wall clock, not this
    m = re.search(r'cpu [\d.]+ s ([\d.]+) Mrec/s', p.stdout)
    r['decode_line'] = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else p.stderr[-200:]
    r['decode'] = 1e3 / float(m.group(1)) if m else None
    p = subprocess.run([os.path.join(build, 'bench', 'encode-bench'), '--seconds', str(secs), '--cpu', '1'],
                       capture_output=True, text=True)
    r['encode_lines'] = [l for l in p.stdout.splitlines() if l.startswith('NETFLOW_V9')]
    m = re.search(r'NETFLOW_V9\s+specialised\s+([\d.]+) ns/record', p.stdout)
    r['encode'] = float(m.group(1)) if m else None
    m = re.search(r'NETFLOW_V9\s+zstd level 3:\s+([\d.]+) ns/record.*level 1:\s+([\d.]+) ns/record', p.stdout)
    r['zstd'] = float(m.group(1)) if m else None
    r['zstd1'] = float(m.group(2)) if m else None
    m = re.search(r'NETFLOW_V9\s+in the topic: ([\d.]+) bytes/record protobuf, ([\d.]+) after zstd', p.stdout)
    r['bytes'] = (float(m.group(1)), float(m.group(2))) if m else None
    return r


def ns(rate):
    return '%.0f' % (1e9 / rate) if rate > 0 else 'n/a'


JIT = ('C1 CompilerThre', 'C2 CompilerThre')  # the JVM's compilers: warm-up, not per-record work


def cpu_ns(cpu, rate, secs, keys, exclude=()):
    tot = sum(v for k, v in cpu.items() if any(k.startswith(x) for x in keys) and k not in exclude)
    return tot * 1e9 / (rate * secs) if rate > 0 and secs > 0 else 0.0


def report(iso, rows, sock, broker, mock_rate, secs):
    o = []
    w = o.append
    byname = {r['name']: r for r in rows}
    real, mock = byname.get('real-zstd'), byname.get('mock-zstd')
    w('Method: the DPDK path as above (net_pcap infinite_rx=1 looping 4096 generated NetFlow v9 datagrams,')
    w('4 exporters, 24 records each; --no-huge), one worker, %s s per run after start-up. EAL -l 0-1 as in' % secs)
    w('the DPDK runs above: the worker lcore on CPU 1; the main lcore, the sink thread and librdkafka\'s')
    w('threads on CPU 0, shared with the broker (real or mock, pinned to CPU 0). (With everything of the')
    w('collector on one CPU, the worker, fed without end by infinite_rx, decodes and drops what the sink')
    w('cannot take and halves the sink thread\'s share: tried, file sink 0.42 M/s, not a stage figure.)')
    w('Kafka: Apache Kafka 4.1.1 (scripts/kafka: 1 broker, KRaft, combined broker+controller, loopback,')
    w('JVM pinned to CPU 0, started in %.0f s), topic of 4 partitions, replication factor 1; the sink\'s' % broker.start_secs)
    w('defaults: acks=all, idempotence on, linger 20 ms, messages up to 900 000 bytes / 50 000 records.')
    w('records/s = kafka0_delivered (delivery reports) per second between the first and last stats line of')
    w('the window; discard and file sinks: records written per second. ns/record = 10^9 / records/s of')
    w('the whole pipeline (the stages overlap on two CPUs, so the slowest thread bounds it). CPU columns:')
    w('each thread\'s CPU time over the window (/proc/PID/task/*/stat) per delivered record.')
    w('The machine is shared with other jobs (load averages in each section): figures move between runs;')
    w('compare the ratios, measured in the same run.')
    w('')
    if real and mock:
        w('**Headline: real broker %s records/s delivered (zstd, acks=all) vs mock %s: ratio real/mock %.2f.**' % (
            '{:,.0f}'.format(real['rate']), '{:,.0f}'.format(mock['rate']), real['rate'] / mock['rate'] if mock['rate'] else 0))
        if mock_rate:
            w('(The mock run of the section above, same run: %s records/s.)' % '{:,.0f}'.format(mock_rate))
        w('')
    disc = byname.get('discard')
    w('| run (sink) | stages it adds | records/s | ns/record | ratio to discard | worker CPU ns/rec | sink thread | librdkafka threads | broker process | bytes/record handed |')
    w('|---|---|---|---|---|---|---|---|---|---|')
    adds = {'discard': 'rx (pcap PMD copy) + decode + ring', 'file': '+ encode + batching + zstd-3 + write (tmpfs)',
            'mock-none': '+ encode + batching + librdkafka + mock broker', 'mock-zstd': '+ zstd in librdkafka',
            'real-none': 'encode + librdkafka + real broker, no compression', 'real-zstd': '+ zstd (the default, level 1): **the end-to-end figure**',
            'real-zstd3': 'knob: zstd level 3 (librdkafka\'s default)', 'real-lz4': 'knob: lz4 instead of zstd'}
    for r in rows:
        rate, s = r['rate'], r['secs']
        work = cpu_ns(r['cpu'], rate, s, ('rte-worker',))
        sink = cpu_ns(r['cpu'], rate, s, ('nm-sink',))
        rdk = cpu_ns(r['cpu'], rate, s, ('rdk:',))
        oth = cpu_ns(r['ocpu'], rate, s, ('',), JIT) if r['ocpu'] else 0
        w('| %s | %s | %s | %s | %s | %.0f | %.0f | %.0f | %s | %s |' % (
            r['name'], adds.get(r['name'], ''), '{:,.0f}'.format(rate), ns(rate),
            '%.2f' % (rate / disc['rate']) if disc and disc['rate'] else 'n/a', work, sink, rdk,
            '%.0f' % oth if r['ocpu'] else '-', '%.0f' % (r['bytes'] / r['handed']) if r['handed'] else '-'))
    w('')
    w('Threads seen per run (CPU seconds over the window): ' + '; '.join(
        '%s: %s' % (r['name'], ', '.join('%s %.2f' % kv for kv in sorted(r['cpu'].items(), key=lambda kv: -kv[1])))
        for r in rows))
    w('')
    w('Broker threads per run (CPU seconds over the window; the broker column above leaves out the JIT')
    w('compiler threads, still compiling after a warm-up run of the same length): ' + '; '.join(
        '%s: %s' % (r['name'], ', '.join('%s %.2f' % kv for kv in sorted(r['ocpu'].items(), key=lambda kv: -kv[1])[:5]))
        for r in rows if r['ocpu']))
    w('')
    w('### Stages in isolation (one pinned core, ns/record)')
    w('')
    w('| stage | ns/record | how measured |')
    w('|---|---|---|')
    w('| decode (NetFlow v9, 96 records/datagram) | %s | decode-bench --only NETFLOW_V9 --records 96, per CPU-s of its thread |' % (
        '%.0f' % iso['decode'] if iso['decode'] else 'n/a'))
    w('| protobuf encode (specialised) | %s | encode-bench (wall clock) |' % ('%.0f' % iso['encode'] if iso['encode'] else 'n/a'))
    w('| zstd level 1 (the sink\'s default) of the packed 900 kB messages | %s | encode-bench (ZSTD_compress, thread CPU time, best of 3) |' % (
        '%.0f' % iso['zstd1'] if iso.get('zstd1') else 'n/a'))
    w('| zstd level 3 of the same | %s | the same |' % ('%.0f' % iso['zstd'] if iso['zstd'] else 'n/a'))
    if disc:
        w('| rx + decode + ring, 1 worker (pipeline, discard) | %s | DPDK run, discard sink |' % ns(disc['rate']))
    for n, what in (('file', 'encode + batching + zstd + write, on the sink thread'),
                    ('mock-none', 'librdkafka produce + delivery, no compression (mock broker)'),
                    ('mock-zstd', 'librdkafka with zstd (mock broker)'),
                    ('real-none', 'real broker, no compression'), ('real-zstd', 'real broker, zstd')):
        r = byname.get(n)
        if r:
            w('| %s: whole pipeline | %s | DPDK run, %s sink |' % (what, ns(r['rate']), n))
    if real:
        w('| real broker alone (its JVM\'s CPU per record without the JIT, zstd run) | %.0f | /proc of the broker over the window |' % (
            cpu_ns(real['ocpu'], real['rate'], real['secs'], ('',), JIT)))
        rn = byname.get('real-none')
        if rn:
            w('| real broker alone, no compression | %.0f | same, real-none run |' % (
                cpu_ns(rn['ocpu'], rn['rate'], rn['secs'], ('',), JIT)))
        w('| librdkafka threads alone (zstd run) | %.0f | /proc: rdk:* threads over the window |' % (
            cpu_ns(real['cpu'], real['rate'], real['secs'], ('rdk:',))))
    if iso['bytes']:
        w('')
        w('Bytes per v9 record: %.1f protobuf, %.1f after zstd (encode-bench).' % iso['bytes'])
    w('')
    w('decode-bench: `%s`' % iso['decode_line'].strip())
    for l in iso['encode_lines']:
        w('encode-bench: `%s`' % l.strip())
    if sock:
        w('')
        w('### Socket backend vs goflow2, same real broker, same traffic')
        w('')
        w('Method: the collector pinned to CPU 1 with all its threads (taskset), netmeta-gen on CPU 0 beside the')
        w('broker at 15 000 datagrams/s (NetFlow v9, 8 exporters, 96 records per datagram: 1.44 M records/s')
        w('offered, above what either delivers here; 4096 distinct datagrams);')
        w('%s s window starting 3 s after the traffic. netmeta: 1 worker, Kafka sink defaults (zstd, acks=all);' % secs)
        w('records/s = kafka0_delivered per second. goflow2 %s: one Kafka message per flow, so records/s =' % peers.GOFLOW2_VERSION)
        w('the topic\'s offsets per second (kcat -Q); its Kafka transport (sarama) has no acks option and')
        w('waits for the leader only (acks=1), a weaker guarantee than ours. Its command line:')
        w('')
        w('```')
        w(' '.join(goflow2_kafka_cmd(2055, 8080, 'BROKER', 'TOPIC')).replace(peers.GOFLOW2, 'goflow2'))
        w('```')
        w('')
        w('goflow2-20ms: the same with `-transport.kafka.flushfreq 20ms` (our linger_ms) instead of its 5 s.')
        w('')
        w('| collector -> real Kafka | delivered records/s | CPU ns/record (all threads) | kernel drops (datagrams) | worker drops (records, no free batch) | ratio to goflow2\'s better run (wall / per CPU-s) |')
        w('|---|---|---|---|---|---|')
        # the ratio to goflow2's better configuration
        gf = max((s for s in sock if s['name'].startswith('goflow2')), key=lambda s: s['rate'], default=None)

        def cns(s):
            return sum(s['cpu'].values()) * 1e9 / (s['rate'] * s['secs']) if s['rate'] else 0
        for s in sock:
            w('| %s | %s | %.0f | %d | %s | %s |' % (
                s['name'], '{:,.0f}'.format(s['rate']), cns(s), s['drops'], s['wdrops'] if s['name'] == 'netmeta' else '-',
                '%.1f / %.1f' % (s['rate'] / gf['rate'], cns(gf) / cns(s)) if gf and gf['rate'] and cns(s) else 'n/a'))
    return '\n'.join(o)


def main(argv):
    # absolute: the socket runs start the collector in their own directory
    build, tmp = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    secs = float(argv[argv.index('--secs') + 1]) if '--secs' in argv else 6
    mock_rate = float(argv[argv.index('--mock-rate') + 1]) if '--mock-rate' in argv else 0
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    if shutil.which('java') is None or shutil.which('kcat') is None:
        print('(left out: java or kcat is not installed, no real broker here)')
        return 0
    pcap = os.path.join(tmp, 'e2e-v9.pcap')
    subprocess.run([os.path.join(build, 'netmeta-gen'), '--proto', 'v9', '--exporters', '4', '--datagrams',
                    '4096', '-o', pcap], check=True, capture_output=True)
    log('e2e: stages in isolation')
    iso = isolated(build, max(2.0, secs / 2))
    log('e2e: starting a real Kafka broker')
    broker = Broker(tmp)
    mock = None
    rows, sock = [], []
    try:
        for t in ('warm', 'flows', 'flowsnone', 'nmsock', 'gfsock', 'gfsock20'):  # 4 partitions, RF 1
            broker.topic(t)
        mock = Mock(build, tmp)
        kafka = '  - type: kafka\n    brokers: "%s"\n    topic: %s\n    compression: %s\n'
        fdir = os.path.join(tmp, 'e2e-files')
        os.makedirs(fdir, exist_ok=True)
        rows.append(dpdk_run(build, tmp, pcap, 'discard', '  - type: discard\n', secs))
        rows.append(dpdk_run(build, tmp, pcap, 'file', '  - type: file\n    path: %s\n' % fdir, secs))
        shutil.rmtree(fdir, ignore_errors=True)
        rows.append(dpdk_run(build, tmp, pcap, 'mock-none', kafka % (mock.bs, 'flows', 'none'), secs, mock.pid))
        rows.append(dpdk_run(build, tmp, pcap, 'mock-zstd', kafka % (mock.bs, 'flows', 'zstd'), secs, mock.pid))
        mock.stop()
        mock = None
        # the broker's JIT compiles its hot paths during the first seconds: a run not reported
        dpdk_run(build, tmp, pcap, 'warm-up', kafka % (broker.bs, 'warm', 'zstd'), secs, broker.pid)
        rows.append(dpdk_run(build, tmp, pcap, 'real-none', kafka % (broker.bs, 'flowsnone', 'none'), secs, broker.pid))
        rows.append(dpdk_run(build, tmp, pcap, 'real-zstd', kafka % (broker.bs, 'flows', 'zstd'), secs, broker.pid))
        # two knobs of issue 12 item 4: zstd level 3 (the sink's default before level 1), lz4
        rows.append(dpdk_run(build, tmp, pcap, 'real-zstd3', kafka % (broker.bs, 'flows', 'zstd') +
                             '    properties:\n      compression.level: "3"\n', secs, broker.pid))
        rows.append(dpdk_run(build, tmp, pcap, 'real-lz4', kafka % (broker.bs, 'flows', 'lz4'), secs, broker.pid))
        log('e2e: socket backend and goflow2 into the real broker')
        sock.append(socket_run(build, tmp, 'netmeta', broker, 'nmsock', secs))
        if peers.GOFLOW2 and os.access(peers.GOFLOW2, os.X_OK):
            for who, t in (('goflow2', 'gfsock'), ('goflow2-20ms', 'gfsock20')):
                try:
                    sock.append(socket_run(build, tmp, who, broker, t, secs))
                except Exception as e:  # a peer failing must not stop the run
                    log('  %s run failed: %s' % (who, e))
    finally:
        if mock:
            mock.stop()
        broker.stop()
    print(report(iso, rows, sock, broker, mock_rate, secs))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
