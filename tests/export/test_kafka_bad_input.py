#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Bad input to the export path.

1. Damaged spool segments. A real spool is made by replaying a capture while
   every broker is down (26 entries of at most 500 records). Copies are then
   damaged: truncated inside an entry, a byte of an entry's compressed data
   flipped, an entry's magic flipped, the first entry's data flipped, an
   entry's record count (header, covered by the CRC) changed. For each:
     * netmeta-cat reports the damage and exits 1, prints the intact records
       before it, and leaves the file alone;
     * netmeta with that spool and the broker up replays what is intact
       (a short capture through a DPDK net_pcap vdev provides the deliveries
       that start the replay), counts kafka0_spool_corrupt_entries, does not
       crash, and its counters match what reached the topic.
   netmeta-cat given one segment prints that segment only.
2. A spool quota too small for the outage: spool_quota_records > 0, the
   refused records counted failed, identity ok, the spool within its quota.
   A spool.dir that cannot be created: a clear error, exit 1.
3. A broker that rejects produce requests (reject N 87 INVALID_RECORD,
   reject N 10 MESSAGE_TOO_LARGE) and a message size limit
   (message.max.bytes below the message size): failed_<NAME> counters, the
   rest delivered, nothing spooled (permanent errors), no crash.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exlib import *  # noqa: E402,F401,F403


def copy_segment(w, name, data):
    d = os.path.join(w, name)
    os.mkdir(d)
    p = os.path.join(d, 'spool-0000000000000001.nms')
    with open(p, 'wb') as f:
        f.write(data)
    return d, p


def make_spool(t, ck, w, mock):
    log('== a spool: every broker down while a capture is replayed')
    pcap = os.path.join(w, 'spool-source.pcap')
    gen_pcap(t, pcap, datagrams=600, exporters=3, seed=41)
    want_f, _ = decode_pcap(t, pcap)
    ck.check(mock.cmd('down all').startswith('ok'), 'mock: down all')
    spool = os.path.join(w, 'spool-made')
    cfg = dpdk_config(pcap, kafka_sink_yaml(mock.bootstrap, topic='never', spool_dir=spool,
                                            extra={'flush_timeout_ms': 1000,
                                                   'max_message_records': 500}))
    rc, err, c = run_dpdk(t, w, cfg, 'make-spool')
    log('  ' + kafka_summary(c))
    ck.check(mock.cmd('up all').startswith('ok'), 'mock: up all')
    ck.eq(rc, 0, 'netmeta exit status')
    ck.eq((c.get('kafka0_spooled'), c.get('kafka0_failed'), c.get('kafka0_delivered')),
          (len(want_f), 0, 0), 'every record spooled (spooled, failed, delivered)')
    ck.eq(c.get('kafka0_identity'), 'ok', 'kafka0_identity')
    segs = spool_segments(spool)
    if not ck.eq(len(segs), 1, 'spool segments'):
        return None
    ents = spool_entries(segs[0])
    ck.check(len(ents) >= 20 and all(e[4] for e in ents), '%d intact entries' % len(ents))
    rc, lines, err, cc = cat(t, [segs[0]])
    ck.check(rc == 0 and len(lines) == len(want_f), 'netmeta-cat reads the intact segment '
             '(rc %d, %d records)' % (rc, len(lines)), err)
    nm, ne, desc = compare(multiset(want_f), multiset(lines))
    ck.check(nm == 0 and ne == 0, 'spooled records = netmeta-decode records', desc)
    with open(segs[0], 'rb') as f:
        data = f.read()
    return data, ents, lines


def damaged_variants(data, ents):
    """name -> (damaged bytes, records intact before the damage or None, what)."""
    out = {}
    k = 10
    out['truncated'] = (data[:ents[k][0] + SPOOL_HDR + 100], sum(e[1] for e in ents[:k]),
                        'cut 100 bytes into entry %d\'s data' % k)
    b = bytearray(data)
    k = 5
    b[ents[k][0] + SPOOL_HDR + 50] ^= 0x55
    out['flipped'] = (bytes(b), sum(e[1] for e in ents[:k]), 'a byte of entry %d\'s data flipped' % k)
    b = bytearray(data)
    k = 7
    b[ents[k][0]] ^= 0xff
    out['bad-magic'] = (bytes(b), sum(e[1] for e in ents[:k]), 'entry %d\'s magic flipped' % k)
    b = bytearray(data)
    b[SPOOL_HDR + 10] ^= 0x01
    out['first-entry'] = (bytes(b), 0, 'a byte of entry 0\'s data flipped')
    b = bytearray(data)
    k = 3
    b[ents[k][0] + 10] ^= 0x01  # record count + 65536: the CRC covers the header too
    out['record-count'] = (bytes(b), sum(e[1] for e in ents[:k]),
                           'entry %d\'s record count %d -> %d' % (k, ents[k][1], ents[k][1] ^ 0x10000))
    return out


def check_variant(t, ck, w, mock, name, dmg, intact, what, orig_lines, trig, trig_f):
    log('\n== damaged segment "%s": %s' % (name, what))
    d, p = copy_segment(w, 'cat-' + name, dmg)
    rc, lines, err, cc = cat(t, [p])
    still = os.path.exists(p) and open(p, 'rb').read() == dmg
    ck.check(still, '%s: netmeta-cat leaves the segment file in place, unchanged' % name,
             'after netmeta-cat %s the directory holds %s' % (p, os.listdir(d)))
    if intact is not None:
        ck.eq(rc, 1, '%s: netmeta-cat exit status' % name, err.strip())
        ck.check('corrupt' in err, '%s: netmeta-cat reports the damage: %r' % (
            name, err.strip().splitlines()[0] if err.strip() else ''))
        ck.eq(len(lines), intact, '%s: netmeta-cat prints the intact records' % name)
        ck.check(lines == orig_lines[:len(lines)], '%s: ... and they are the first ones of the segment' % name)
    else:
        # the data is intact; only the header's record count lies
        ck.eq(rc, 1, '%s: netmeta-cat exit status (header count disagrees with the records)' % name,
              err.strip())
        intact = len(orig_lines)

    spool, _ = copy_segment(w, 'spool-' + name, dmg)
    topic = 'replay-' + name
    cfg = dpdk_config(trig, kafka_sink_yaml(mock.bootstrap, topic=topic, spool_dir=spool))
    rcd, err, c = run_dpdk(t, w, cfg, name)
    log('  ' + kafka_summary(c))
    ck.eq(rcd, 0, '%s: netmeta exit status (no crash)' % name)
    ck.eq(c.get('kafka0_identity'), 'ok', '%s: kafka0_identity' % name)
    ck.check(identity_holds(c), '%s: identity from the printed numbers' % name)
    topic_lines = cat_records(t, w, records_of_messages(kcat_consume(mock.bootstrap, topic)),
                              topic + '.raw')
    ck.eq(c.get('kafka0_spool_corrupt_entries'), 1, '%s: kafka0_spool_corrupt_entries' % name)
    # new records made while the spool still held old ones went behind them (spool_direct)
    ck.eq(c.get('kafka0_spool_replay_records', 0) - c.get('kafka0_spool_direct', 0), intact,
          '%s: kafka0_spool_replay_records - kafka0_spool_direct = intact records' % name)
    ck.eq(c.get('kafka0_delivered'), len(topic_lines),
          '%s: kafka0_delivered = records in the topic' % name)
    ck.eq(intact + c.get('kafka0_handed', 0), len(topic_lines),
          '%s: intact records + kafka0_handed = records in the topic' % name)
    want = multiset(trig_f) + multiset(orig_lines[:intact])
    nm, ne, desc = compare(want, multiset(topic_lines))
    ck.check(nm == 0 and ne == 0, '%s: topic = the new records + the %d intact spooled ones' % (name, intact), desc)
    log('  spool directory after the replay: %s' % os.listdir(spool))


def two_segments(t, ck, w, data, orig_lines):
    log('\n== netmeta-cat on one of two segments of a directory')
    d = os.path.join(w, 'two')
    os.mkdir(d)
    for n in (1, 2):
        with open(os.path.join(d, 'spool-%016x.nms' % n), 'wb') as f:
            f.write(data)
    rc, lines, err, c = cat(t, [os.path.join(d, 'spool-0000000000000002.nms')])
    ck.eq(rc, 0, 'netmeta-cat exit status')
    ck.eq(len(lines), len(orig_lines), 'netmeta-cat SEGMENT prints the records of that segment only')


def quota(t, ck, w, mock):
    log('\n== spool quota too small for the outage')
    pcap = os.path.join(w, 'big.pcap')
    gen_pcap(t, pcap, datagrams=2400, exporters=3, seed=42)
    ck.check(mock.cmd('down all').startswith('ok'), 'mock: down all')
    spool = os.path.join(w, 'spool-quota')
    cfg = dpdk_config(pcap, kafka_sink_yaml(mock.bootstrap, topic='quota', spool_dir=spool, quota='1MiB',
                                            extra={'flush_timeout_ms': 1000, 'max_message_records': 500}))
    rc, err, c = run_dpdk(t, w, cfg, 'quota')
    ck.check(mock.cmd('up all').startswith('ok'), 'mock: up all')
    log('  ' + kafka_summary(c))
    g = lambda k: c.get('kafka0_' + k, 0)
    ck.eq(rc, 0, 'netmeta exit status')
    ck.check(g('spool_quota_records') > 0, 'kafka0_spool_quota_records %d > 0' % g('spool_quota_records'))
    ck.check(g('spooled') > 0, 'kafka0_spooled %d > 0 (the spool took what fitted)' % g('spooled'))
    ck.eq(g('failed'), g('spool_quota_records'), 'kafka0_failed = spool_quota_records')
    ck.eq(g('spool_refused'), g('spool_quota_records'), 'kafka0_spool_refused = spool_quota_records')
    ck.eq(g('spooled') + g('failed'), g('handed'), 'spooled + failed = handed (nothing delivered)')
    ck.eq(c.get('kafka0_identity'), 'ok', 'kafka0_identity')
    ck.check(identity_holds(c), 'identity from the printed numbers')
    reasons = {k: v for k, v in c.items() if k.startswith('kafka0_failed_')}
    ck.eq(sum(reasons.values()), g('failed'), 'kafka0_failed = sum of kafka0_failed_<REASON> %s' % reasons)
    on_disk = sum(os.path.getsize(s) for s in spool_segments(spool))
    ck.check(on_disk <= 1 << 20, 'spool on disk %d bytes <= quota 1 MiB' % on_disk)
    ck.eq(g('spool_bytes'), on_disk, 'kafka0_spool_bytes = bytes on disk')


def rejected(t, ck, w, mock, pcap, want_f, name, command, reason, props=None):
    log('\n== %s' % name)
    if command:
        ck.check(mock.cmd(command).startswith('ok'), 'mock: ' + command)
    spool = os.path.join(w, 'spool-' + name)
    topic = 'rejected-' + name
    cfg = dpdk_config(pcap, kafka_sink_yaml(mock.bootstrap, topic=topic, spool_dir=spool,
                                            extra={'max_message_records': 500}, props=props))
    rc, err, c = run_dpdk(t, w, cfg, name)
    log('  ' + kafka_summary(c))
    for line in err.splitlines():
        if 'kafka' in line and not line.startswith('kafka0_') and 'sink 0' not in line:
            log('  stderr: ' + line)
    g = lambda k: c.get('kafka0_' + k, 0)
    ck.eq(rc, 0, '%s: netmeta exit status (no crash)' % name)
    ck.check(g('failed_' + reason) > 0, '%s: kafka0_failed_%s = %d > 0' % (name, reason, g('failed_' + reason)))
    ck.eq(g('failed'), g('failed_' + reason), '%s: kafka0_failed = kafka0_failed_%s' % (name, reason))
    ck.eq(g('delivered') + g('failed'), g('handed'), '%s: delivered + failed = handed' % name)
    ck.eq((g('spooled'), g('spool_put_records')), (0, 0), '%s: permanent errors are not spooled' % name)
    ck.eq(c.get('kafka0_identity'), 'ok', '%s: kafka0_identity' % name)
    lines = cat_records(t, w, records_of_messages(kcat_consume(mock.bootstrap, topic)), topic + '.raw')
    ck.eq(len(lines), g('delivered'), '%s: records in the topic = kafka0_delivered' % name)
    nm, ne, desc = compare(multiset(want_f), multiset(lines))
    ck.eq(ne, 0, '%s: the topic holds only records of the capture, once' % name, desc)


def size_limit_refused(t, ck, w, mock, pcap):
    """A message.max.bytes property below the sink's messages would fail nearly
    every message: netmeta refuses the configuration at start, naming both."""
    log('\n== size-limit: message.max.bytes below max_message_bytes')
    cfg = dpdk_config(pcap, kafka_sink_yaml(mock.bootstrap, topic='rejected-size-limit',
                                            props={'message.max.bytes': 20000}))
    rc, err, c = run_dpdk(t, w, cfg, 'size-limit')
    ck.eq(rc, 1, 'size-limit: netmeta refuses the configuration (exit status)')
    ck.check('message.max.bytes' in err and 'max_message_bytes' in err,
             'size-limit: the error names message.max.bytes and max_message_bytes', err.strip()[-300:])


def unusable_spool_dir(t, ck, w, mock):
    log('\n== spool.dir that cannot be a directory')
    blocker = os.path.join(w, 'a-file')
    with open(blocker, 'w') as f:
        f.write('x')
    off = free_port_offset()
    cfg = socket_config(off, kafka_sink_yaml(mock.bootstrap, spool_dir=os.path.join(blocker, 'spool')))
    d = Daemon(t, w, cfg, 'spooldir')
    try:
        d.p.wait(20)
    except subprocess.TimeoutExpired:
        pass
    rcd, err, c = d.stop()
    ck.eq(rcd, 1, 'netmeta exit status')
    msg = [l for l in err.splitlines() if 'spool' in l and 'sink 0' not in l]
    ck.check(msg and 'spool.dir' in msg[0], 'a clear error naming spool.dir: %r' % (msg[0] if msg else err[-300:]))


def main():
    t = Tools(sys.argv)
    need_programs('kcat')
    ok, why = dpdk_usable(t)
    if not ok:
        skip(why)
    ck = Checks()
    w = scratch('bad')
    mock = None
    rc = 1
    try:
        mock = Mock(t.mock, w)
        ck.eq(mock.port_file_text, mock.bootstrap, 'mock --port-file = printed bootstrap')
        made = make_spool(t, ck, w, mock)
        if made:
            data, ents, orig_lines = made
            trig = os.path.join(w, 'trigger.pcap')
            gen_pcap(t, trig, datagrams=8, exporters=1, seed=99)
            trig_f, _ = decode_pcap(t, trig)
            for name, (dmg, intact, what) in damaged_variants(data, ents).items():
                check_variant(t, ck, w, mock, name, dmg, intact, what, orig_lines, trig, trig_f)
            two_segments(t, ck, w, data, orig_lines)
        quota(t, ck, w, mock)
        unusable_spool_dir(t, ck, w, mock)
        pcap = os.path.join(w, 'reject.pcap')
        gen_pcap(t, pcap, datagrams=600, exporters=3, seed=43)
        want_f, _ = decode_pcap(t, pcap)
        rejected(t, ck, w, mock, pcap, want_f, 'invalid-record', 'reject 3 87', 'INVALID_RECORD')
        rejected(t, ck, w, mock, pcap, want_f, 'broker-too-large', 'reject 2 10', 'MSG_SIZE_TOO_LARGE')
        size_limit_refused(t, ck, w, mock, pcap)
        rc = ck.finish()
    finally:
        if mock:
            mock.stop()
        cleanup(w, rc)
    return rc


if __name__ == '__main__':
    sys.exit(main())
