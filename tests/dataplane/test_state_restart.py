#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Decoder state across a restart (issue 13, item 5; config `state`).

  test_state_restart.py NETMETA NETMETA_DECODE NETMETA_GEN

A NetFlow v9 and an IPFIX stream that send their templates (and options:
the sampling rate) only in their first datagram (`--template-every 0`) are
cut in two. The socket backend gets the first half, is stopped (SIGTERM:
state saved), started again (state loaded) and gets the second half from
the same exporter address and port. Without the saved state the second
half could not be decoded at all (no template); with it:
 - the records of both runs together are exactly netmeta-decode's for the
   whole capture (SamplerAddress 192.0.2.1 -> 127.0.0.1, ExporterPort left
   out), sampling rates included;
 - the second run counts no data set without its template and no sequence
   gap or reset.
Then the state file is damaged (one byte) and the collector restarted: it
says why it refuses the file, starts clean, and the same second half is
counted as data without templates, as records (RECORDS_NO_TEMPLATE).
Then a crash: with state.interval 1 the collector is killed (SIGKILL) once
a snapshot taken after the first half is on disk (its header's time says
so); restarted, it decodes the second half as after a clean shutdown.
Last, two workers, the exporters steered to different ones: each worker
saves and loads its own file and the restart loses nothing.
The state keys' errors are --check errors with their path.

Exit: 0 pass, 1 failure, 77 skipped.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dplib  # noqa: E402
from dplib import log  # noqa: E402

DGRAMS = 40  # per stream; the first 20 before the restart


def payloads(gen, proto, work):
    path = os.path.join(work, proto + '.pcap')
    p = subprocess.run([gen, '--proto', proto, '--exporters', '1', '--datagrams', str(DGRAMS),
                        '--template-every', '0', '-o', path], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    _, frames = dplib.read_pcap(path)
    return path, [dplib.udp_payload(fr)[2] for _, fr in frames]


def data_sets(pl, hdr):
    """Data sets (ID >= 256) of a v9 (hdr 20) or IPFIX (hdr 16) payload,
    read here independently of the decoders."""
    n, off = 0, hdr
    while off + 4 <= len(pl):
        sid, slen = int.from_bytes(pl[off:off + 2], 'big'), int.from_bytes(pl[off + 2:off + 4], 'big')
        if slen < 4:
            break
        n += sid >= 256
        off += slen
    return n


def to_pcap_view(rec):
    r = dict(rec)
    if r.get('SamplerAddress') == '127.0.0.1':
        r['SamplerAddress'] = '192.0.2.1'
    return r


def run(netmeta, work, cfg, tag, sends, sport, crash_after_save=None):
    """Starts the collector, sends [(payload, dport[, source address])] from
    127.0.0.1:sport (or the given address, same port),
    waits for them, stops it (SIGTERM). crash_after_save=FILE: waits until
    FILE holds a snapshot taken after the last datagram arrived, then
    SIGKILL."""
    nm = dplib.Netmeta(netmeta, work, cfg, tag=tag).start()
    ports = sorted({send[1] for send in sends})
    if not dplib.wait_bound(nm, ports, 1):
        nm.stop()
        return nm
    socks = {}
    for send in sends:
        pl, dport = send[0], send[1]
        src = send[2] if len(send) > 2 else '127.0.0.1'
        if src not in socks:
            socks[src] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks[src].setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            socks[src].bind((src, sport))
        socks[src].sendto(pl, ('127.0.0.1', dport))
    for s in socks.values():
        s.close()
    dplib.wait_rx(nm, len(sends), timeout=60, settle=0.2)
    if crash_after_save:
        t_rx = time.time_ns()
        end = time.time() + 60
        while time.time() < end:
            # the snapshot's own time (header bytes 16-23, ns since the
            # epoch) says it was taken after the last datagram was decoded
            try:
                with open(crash_after_save, 'rb') as f:
                    hdr = f.read(24)
                if len(hdr) == 24 and int.from_bytes(hdr[16:24], 'big') > t_rx:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        nm.proc.kill()
    nm.stop()
    return nm


def main(argv):
    netmeta, decode, gen = dplib.args_or_usage(argv, ['NETMETA', 'NETMETA_DECODE', 'NETMETA_GEN'])
    work = tempfile.mkdtemp(prefix='nm-state-')
    ck = dplib.Checks()
    p9, v9 = payloads(gen, 'v9', work)
    p10, v10 = payloads(gen, 'ipfix', work)
    want, _ = dplib.decode(decode, [p9, p10])
    log('netmeta-decode of the whole streams: %d records' % len(want))
    fp = dplib.free_udp_ports(3)
    sport, d9, d10 = fp
    state = os.path.join(work, 'state')
    cfg = {'backend': 'socket', 'workers': 1, 'bind': '127.0.0.1', 'stats_interval': 1,
           'listen': {'netflow': [d9], 'ipfix': [d10]}, 'state': {'path': state, 'max_age': 600}}
    half = DGRAMS // 2
    first = [(pl, d9) for pl in v9[:half]] + [(pl, d10) for pl in v10[:half]]
    second = [(pl, d9) for pl in v9[half:]] + [(pl, d10) for pl in v10[half:]]

    a = run(netmeta, work, cfg, 'before', first, sport)
    log('run 1: exit %s; %s' % (a.rc, a.summary()))
    ck.eq(a.rc, 0, 'run 1 exits 0')
    ck.check(re.search(r'worker 0: no decoder state in \S+state\.0 .*starting clean', a.err) is not None,
             'run 1: no state file yet, says so', a.err[-600:])
    ck.check(re.search(r'worker 0: decoder state saved to \S+state\.0 \(\d+ bytes\)', a.err) is not None,
             'run 1: state saved at shutdown', a.err[-600:])
    ck.check(os.path.exists(state + '.0') and not os.path.exists(state + '.0.tmp'),
             'the state file is in place, no temporary left')
    good = open(state + '.0', 'rb').read() if os.path.exists(state + '.0') else b''

    b = run(netmeta, work, cfg, 'after', second, sport)
    log('run 2: exit %s; %s' % (b.rc, b.summary()))
    ck.eq(b.rc, 0, 'run 2 exits 0')
    m = re.search(r'worker 0: decoder state loaded from \S+: (\d+) exporters, (\d+) templates', b.err)
    ck.check(m is not None and m.groups() == ('2', '6'),
             'run 2: state loaded: 2 exporters, 6 templates (each: IPv4, IPv6, options)',
             m.group(0) if m else b.err[-600:])
    c = b.counters
    ck.eq((c.get('err_DATA_NO_TEMPLATE', 0), c.get('ev_RECORDS_NO_TEMPLATE', 0)), (0, 0),
          'run 2: every data set had its template (DATA_NO_TEMPLATE, RECORDS_NO_TEMPLATE)')
    ck.eq((c.get('ev_SEQ_GAP', 0), c.get('ev_SEQ_RESET', 0)), (0, 0),
          'run 2: sequence numbers continue (SEQ_GAP, SEQ_RESET)')
    ck.eq(c.get('ev_RATE_UNKNOWN', 0), 0, 'run 2: sampling rates known (from run 1\'s options data)')
    ok, diff = dplib.compare(want, [to_pcap_view(r) for r in a.records + b.records],
                             drop=('ExporterPort',))
    ck.check(ok, 'records of both runs == netmeta-decode of the whole streams', diff)

    # a damaged file: refused with its reason, a clean start, the loss counted
    if good:
        bad = bytearray(good)
        bad[len(bad) // 2] ^= 0x40
        with open(state + '.0', 'wb') as f:
            f.write(bytes(bad))
    x = run(netmeta, work, cfg, 'damaged', second, sport)
    log('run 3: exit %s; %s' % (x.rc, x.summary()))
    ck.eq(x.rc, 0, 'run 3 exits 0')
    ck.check(re.search(r'worker 0: decoder state \S+ refused: state file damaged: checksum mismatch: '
                       r'starting clean', x.err) is not None,
             'run 3: the damaged file is refused with its reason', x.err[-600:])
    c = x.counters
    nsets = sum(data_sets(pl, 20 if d == d9 else 16) for pl, d in second)
    ck.eq(c.get('err_DATA_NO_TEMPLATE', 0), nsets,
          'run 3: without the state every data set of the second half lacks its template')
    # nothing known about the exporters' record sizes: one record per set, a lower bound
    ck.eq((c.get('decode_records', 0), c.get('ev_RECORDS_NO_TEMPLATE', 0)), (0, nsets),
          'run 3: nothing decoded; records lost counted (one per set: no record size known)')
    # a crash (SIGKILL) after a periodic save (state.interval 1 s): nothing
    # saved at shutdown, the snapshot taken while running is loaded
    st2 = os.path.join(work, 'crash')
    cfg2 = dict(cfg, state={'path': st2, 'max_age': 600, 'interval': 1})
    k = run(netmeta, work, cfg2, 'crash', first, sport, crash_after_save=st2 + '.0')
    log('run 4 (SIGKILL after a periodic save): exit %s' % k.rc)
    ck.eq(k.rc, -9, 'run 4 was killed')
    ck.check('decoder state saved' not in k.err and os.path.exists(st2 + '.0'),
             'run 4: no shutdown save, the periodic snapshot is on disk')
    r = run(netmeta, work, cfg2, 'after-crash', second, sport)
    c = r.counters
    ck.check(re.search(r'worker 0: decoder state loaded from \S+crash\.0: 2 exporters, 6 templates',
                       r.err) is not None, 'run 5: the snapshot loads after the crash', r.err[-600:])
    ck.eq((c.get('err_DATA_NO_TEMPLATE', 0), c.get('ev_SEQ_GAP', 0), c.get('ev_SEQ_RESET', 0)), (0, 0, 0),
          'run 5: every data set had its template, sequence numbers continue')
    ok, diff = dplib.compare(b.records, r.records, drop=('ExporterPort',))
    ck.check(ok, 'run 5: the second half decodes as after a clean shutdown (run 2)', diff)

    # two workers: the socket backend steers by source address (modulo the
    # workers), so the v9 exporter (127.0.0.1) lands on worker 1 and the
    # IPFIX one (127.0.0.2) on worker 0; each worker saves and loads its own
    # file, and each half-stream continues on its worker after the restart
    st3 = os.path.join(work, 'two')
    cfg3 = dict(cfg, workers=2, state={'path': st3, 'max_age': 600})
    first2 = [(pl, d9, '127.0.0.1') for pl in v9[:half]] + [(pl, d10, '127.0.0.2') for pl in v10[:half]]
    second2 = [(pl, d9, '127.0.0.1') for pl in v9[half:]] + [(pl, d10, '127.0.0.2') for pl in v10[half:]]
    w1 = run(netmeta, work, cfg3, 'two-before', first2, sport)
    ck.eq(w1.rc, 0, 'run 6 (2 workers) exits 0')
    ck.check(all(re.search(r'worker %d: decoder state saved to \S+two\.%d ' % (i, i), w1.err) for i in (0, 1)),
             'run 6: each worker saved its own file (two.0, two.1)', w1.err[-800:])
    w2 = run(netmeta, work, cfg3, 'two-after', second2, sport)
    ck.eq(w2.rc, 0, 'run 7 (2 workers) exits 0')
    ck.check(all(re.search(r'worker %d: decoder state loaded from \S+two\.%d: 1 exporters, 3 templates'
                           % (i, i), w2.err) for i in (0, 1)),
             'run 7: each worker loaded its file: 1 exporter, 3 templates each', w2.err[-800:])
    c = w2.counters
    ck.eq((c.get('err_DATA_NO_TEMPLATE', 0), c.get('ev_RECORDS_NO_TEMPLATE', 0), c.get('ev_SEQ_GAP', 0),
           c.get('ev_SEQ_RESET', 0)), (0, 0, 0, 0),
          'run 7: every data set had its template, sequence numbers continue')

    def two_view(rec):
        r = dict(rec)
        if r.get('SamplerAddress') in ('127.0.0.1', '127.0.0.2'):
            r['SamplerAddress'] = '192.0.2.1'
        return r
    ok, diff = dplib.compare(want, [two_view(r) for r in w1.records + w2.records], drop=('ExporterPort',))
    ck.check(ok, 'runs 6 and 7 together == netmeta-decode of the whole streams', diff)

    # the keys are checked like every other
    for body, msg in (('state:\n  pathh: x\n', 'state.pathh: unknown key (expected path, max_age, interval)'),
                      ('state:\n  max_age: -1\n', "state.max_age: '-1' is out of range"),
                      ('state:\n  path: %s/no/such/dir/s\n' % work,
                       'state.path: %s/no/such/dir/s: the directory %s/no/such/dir does not exist'
                       % (work, work))):
        path = os.path.join(work, 'bad.yaml')
        with open(path, 'w') as f:
            f.write(body)
        p = subprocess.run([netmeta, '--config', path, '--check'], capture_output=True, text=True,
                           timeout=60)
        ck.check(p.returncode == 1 and msg in p.stderr, '--check refuses: %s' % msg, p.stderr)
    rc = ck.finish()
    if rc:
        log('work files kept in ' + work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv))
