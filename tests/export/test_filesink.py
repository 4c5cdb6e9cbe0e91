#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
File sink: rotating zstd files of length-delimited records.

1. A netmeta-gen capture replayed through a DPDK net_pcap vdev into a file
   sink rotating at 64 KiB: several flows-*.pb.zst files and a counters-*
   file, no .tmp left; netmeta-cat on all of them gives exactly
   netmeta-decode's records (flows and sFlow counters); `zstd -dc FILE` of
   each is a valid length-delimited stream with as many records as
   netmeta-cat read from it, and a sample decodes with protoc.
2. rotate_seconds on a live stream (socket backend): after a short burst
   and a quiet spell longer than rotate_seconds, the burst's file is
   finished (renamed from .tmp) without waiting for more traffic or a
   shutdown; at the end the files hold exactly what a JSON sink beside them
   received.
3. Restarts within one second into the same directory: every run's files
   survive (file names must not collide).
4. netmeta-cat on a truncated .pb.zst reports the damage and exits 1.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exlib import *  # noqa: E402,F401,F403

ROTATE_BYTES = 65536


def finished_files(d):
    return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith('.pb.zst'))


def zstd_records(path):
    r = subprocess.run(['zstd', '-dc', path], capture_output=True, timeout=60)
    if r.returncode != 0:
        raise ValueError('zstd -dc: rc %d: %s' % (r.returncode, r.stderr.decode(errors='replace')))
    return split_delimited(r.stdout)


def rotation_by_bytes(t, ck, w):
    log('== capture -> DPDK -> file sink rotating at %d bytes' % ROTATE_BYTES)
    pcap = os.path.join(w, 'exports.pcap')
    gen_pcap(t, pcap, datagrams=600, exporters=3, seed=51)
    want_f, want_c = decode_pcap(t, pcap)
    out = os.path.join(w, 'files')
    cfg = dpdk_config(pcap, file_sink_yaml(out, rotate_bytes=ROTATE_BYTES, rotate_seconds=3600,
                                           extra={'max_message_records': 300}))
    rc, err, c = run_dpdk(t, w, cfg, 'files')
    log('  ' + ' '.join('%s=%s' % (k, v) for k, v in c.items() if k.startswith('file0_')))
    ck.eq(rc, 0, 'netmeta exit status')
    ck.eq(c.get('file0_records'), len(want_f) + len(want_c), 'file0_records = flows + counters')
    ck.eq((c.get('file0_write_errors'), c.get('file0_records_lost')), (0, 0), 'file0_write_errors, records_lost')
    names = sorted(os.listdir(out))
    tmp = [n for n in names if n.endswith('.tmp')]
    files = finished_files(out)
    ck.eq(tmp, [], '.tmp files left after exit')
    ck.eq(c.get('file0_files'), len(files), 'file0_files = finished files in the directory')
    flows = [f for f in files if os.path.basename(f).startswith('flows-')]
    ctrs = [f for f in files if os.path.basename(f).startswith('counters-')]
    ck.check(len(flows) >= 3 and len(ctrs) >= 1, '%d flows files, %d counters files' % (len(flows), len(ctrs)))
    # every file but the last of its kind reached rotate_bytes before it was closed
    small = [(os.path.basename(f), os.path.getsize(f)) for f in flows[:-1] if os.path.getsize(f) < ROTATE_BYTES]
    ck.eq(small, [], 'flows files closed before reaching rotate_bytes')

    rc, lines, cerr, cc = cat(t, files)
    ck.eq(rc, 0, 'netmeta-cat exit status', cerr[-300:])
    got_f, got_c = split_kinds(lines)
    nm, ne, desc = compare(multiset(want_f), multiset(got_f))
    ck.check(nm == 0 and ne == 0, 'netmeta-cat of the files = netmeta-decode flow records', desc)
    nm, ne, desc = compare(multiset(want_c), multiset(got_c))
    ck.check(nm == 0 and ne == 0 and want_c, 'netmeta-cat of the files = the %d SFLOW_5_COUNTERS records'
             % len(want_c), desc)

    total, bad, sample = 0, [], None
    for f in files:
        try:
            recs = zstd_records(f)
        except ValueError as e:
            bad.append('%s: %s' % (os.path.basename(f), e))
            continue
        n = len(cat(t, [f])[1])
        if n != len(recs):
            bad.append('%s: zstd -dc gives %d records, netmeta-cat %d' % (os.path.basename(f), len(recs), n))
        total += len(recs)
        if sample is None and f in flows:
            sample = (f, recs)
    ck.check(not bad, 'zstd -dc FILE is a valid length-delimited stream, for all %d files' % len(files),
             '\n'.join(bad[:5]))
    ck.eq(total, len(want_f) + len(want_c), 'records in the zstd -dc streams')
    if sample:
        f, recs = sample
        js = cat(t, [f])[1]
        bad = []
        for i in (0, len(recs) // 2, len(recs) - 1):
            d = protoc_vs_json(protoc_decode(t.proto, 'FlowMessage', recs[i]), json.loads(js[i]))
            if d:
                bad.append('record %d: %s' % (i, '; '.join(d[:3])))
        ck.check(not bad, 'protoc --decode agrees with netmeta-cat on 3 records of %s' % os.path.basename(f),
                 '\n'.join(bad))


def rotation_by_time(t, ck, w):
    log('\n== live stream -> file sink with rotate_seconds 1')
    out = os.path.join(w, 'timed')
    ref = os.path.join(w, 'reference.json')
    off = free_port_offset()
    cfg = socket_config(off, file_sink_yaml(out, rotate_seconds=1) + json_sink_yaml(ref))
    d = Daemon(t, w, cfg, 'timed')
    try:
        if not ck.check(d.wait_ready(listen_ports(off)), 'netmeta bound its ports', d.stderr()[-2000:]):
            return
        g = gen_udp(t, off, 100, 40, seed=52)
        g.wait(30)
        t_quiet = time.time()

        # quiet for more than rotate_seconds: every record reaches a finished
        # file while netmeta runs (waited for, not timed: the machine may be
        # loaded; 60 s is far beyond rotate_seconds 1)
        def state():
            done = finished_files(out)
            pending = [n for n in os.listdir(out) if n.endswith('.tmp')]
            with open(ref) as f:
                n_ref = len(f.read().splitlines())
            return done, pending, (len(cat(t, done)[1]) if done else 0), n_ref
        def rotated():
            _, pending, n_done, n_ref = state()
            return not pending and n_done == n_ref > 0
        wait_until(rotated, 60, 0.5)
        done, pending, n_done, n_ref = state()
        log('  after the burst and %.1f s of quiet: finished %s, open %s' % (
            time.time() - t_quiet, [os.path.basename(f) for f in done], pending))
        ck.eq(n_done, n_ref, 'records in finished files while netmeta still runs (rotate_seconds 1)',
              'still open: %s' % pending)
    finally:
        rcd, err, c = d.stop()
    ck.eq(rcd, 0, 'netmeta exit status')
    ck.eq([n for n in os.listdir(out) if n.endswith('.tmp')], [], '.tmp files left after exit')
    rc, lines, cerr, cc = cat(t, finished_files(out))
    with open(ref) as f:
        ref_lines = f.read().splitlines()
    nm, ne, desc = compare(multiset(ref_lines, fn=lambda l: l), multiset(lines, fn=lambda l: l))
    ck.check(rc == 0 and nm == 0 and ne == 0 and ref_lines,
             'files = the JSON sink\'s %d records, field for field' % len(ref_lines), desc)


def quick_restarts(t, ck, w):
    log('\n== two runs into one directory within the same second')
    off = free_port_offset()
    for attempt in range(3):
        out = os.path.join(w, 'restarts-%d' % attempt)
        # start just after a second boundary: both runs open their files in it
        wait_until(lambda: time.time() % 1.0 < 0.05, 2, 0.005)
        written, names = 0, []
        for run in range(2):
            # a small batch pool: netmeta starts in ~0.1 s (a restart loop)
            d = Daemon(t, w, socket_config(off, file_sink_yaml(out), extra='batches: 8\n'),
                       'restart%d-%d' % (attempt, run))
            d.wait_ready(listen_ports(off))
            g = gen_udp(t, off, 0, 8, seed=53 + run)
            g.wait(10)
            # read from the sockets (loopback queued them all before the
            # generator exited); then batched (flush_ms 100)
            wait_until(lambda: udp_rx_queued(listen_ports(off)) == 0, 30, 0.02)
            time.sleep(0.2)
            rcd, err, c = d.stop()  # the file is written (and named) at the latest now
            ck.eq(rcd, 0, 'run %d: netmeta exit status' % run)
            ck.check(c.get('file0_records', 0) > 0, 'run %d: file0_records %d > 0' % (run, c.get('file0_records', 0)))
            written += c.get('file0_records', 0)
            names.append(set(os.listdir(out)) - set().union(*names) if names else set(os.listdir(out)))
        log('  run 0 wrote %s, run 1 added %s' % (sorted(names[0]), sorted(names[1])))
        rc, lines, cerr, cc = cat(t, finished_files(out))
        if not names[1] or len(lines) != written:
            # the second run reused the first run's file names
            ck.eq(len(lines), written, 'records in the directory = file0_records of both runs '
                  '(files named in the same second)')
            return
        ck.eq(len(lines), written, 'records in the directory = file0_records of both runs')
    log('  (the two runs never named files in the same second: collision not exercised)')


def truncated_file(t, ck, w):
    log('\n== netmeta-cat on a truncated .pb.zst')
    src = [f for f in finished_files(os.path.join(w, 'files')) if 'flows-' in f][0]
    with open(src, 'rb') as f:
        data = f.read()
    p = os.path.join(w, 'flows-truncated.pb.zst')
    with open(p, 'wb') as f:
        f.write(data[:len(data) * 2 // 3])
    rc, lines, err, c = cat(t, [p])
    ck.eq(rc, 1, 'netmeta-cat exit status on a truncated file', err.strip())
    ck.check('damaged' in err or 'decompress' in err, 'netmeta-cat reports it: %r' % err.strip().splitlines()[0])


def main():
    t = Tools(sys.argv)
    need_programs('zstd', 'protoc')
    ok, why = dpdk_usable(t)
    if not ok:
        skip(why)
    ck = Checks()
    w = scratch('files')
    rc = 1
    try:
        rotation_by_bytes(t, ck, w)
        rotation_by_time(t, ck, w)
        quick_restarts(t, ck, w)
        truncated_file(t, ck, w)
        rc = ck.finish()
    finally:
        cleanup(w, rc)
    return rc


if __name__ == '__main__':
    sys.exit(main())
