# SPDX-License-Identifier: BSD-3-Clause
"""Markdown tables, target verdicts and PNG plots from peers.py's JSON (used by scripts/bench).

  peers.py report JSON OUTDIR DATE [decode_v9=MREC] [decode_sflow=MREC] [dpdk_kafka=REC_S]

Prints markdown on stdout; writes OUTDIR/DATE-throughput.png, OUTDIR/DATE-loss.png
and JSON's missed targets into JSON.missed (one key a line) for the profiles.
"""
import json
import os
import sys

LOSS_FREE = 0.5  # per cent (the machine is shared: brief stalls drop a few datagrams): "before loss" means loss below this


def fmt(x):
    return '{:,.0f}'.format(x)


def load_line(data, mode):
    l = data.get('load', {}).get(mode)
    if not l:
        return ''
    return 'Load average (1, 5, 15 min) at the start: %s; at the end: %s.\n' % (' '.join(l[0]), ' '.join(l[-1]))


def rows_of(data, key):
    return data.get(key) or []


def best_lossfree(runs, name):
    """Highest processed records/s among runs of name with loss < LOSS_FREE, and whether
    the collector lost at some rate at all (if not, the figure is a lower bound)."""
    ok = [r for r in runs if r['collector'] == name and r['loss_pct'] < LOSS_FREE]
    lost = any(r['collector'] == name and r['loss_pct'] >= LOSS_FREE for r in runs)
    if not ok:
        return 0.0, lost
    return max(r['processed_records_s'] for r in ok), lost


def plots(sweep, outdir, date):
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    made = []
    for what, ylab, key in (('throughput', 'records/s processed', 'processed_records_s'),
                            ('loss', 'loss % (kernel socket drops)', 'loss_pct')):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, proto, title in zip(axes, ('v9', 'sflow'), ('NetFlow v9, 24 records/datagram',
                                                            'sFlow v5, 8 samples/datagram')):
            names = []
            for r in sweep:
                if r['proto'] == proto and r['collector'] not in names:
                    names.append(r['collector'])
            for n in names:
                pts = sorted((r['sent_pps'] * r['rec_per_dgram'], r[key]) for r in sweep
                             if r['collector'] == n)
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker='o', label=n)
            if key == 'processed_records_s':
                hi = max([r['sent_pps'] * r['rec_per_dgram'] for r in sweep if r['proto'] == proto] + [1])
                ax.plot([0, hi], [0, hi], ls=':', color='grey', label='offered')
            ax.set_title(title)
            ax.set_xlabel('offered records/s (achieved by netmeta-gen)')
            ax.set_ylabel(ylab)
            ax.grid(True, alpha=.3)
            ax.legend(fontsize=8)
        fig.suptitle('Socket backends on one pinned core, loopback (%s, same run)' % date)
        fig.tight_layout()
        fn = os.path.join(outdir, '%s-%s.png' % (date, what))
        fig.savefig(fn, dpi=90)
        plt.close(fig)
        made.append(os.path.basename(fn))
    return made


def main(argv):
    js, outdir, date = argv[:3]
    kv = dict(a.split('=', 1) for a in argv[3:])
    data = json.load(open(js))
    missed = []
    out = []
    p = out.append
    sat = rows_of(data, 'saturate')
    sw = rows_of(data, 'sweep')
    dec_v9 = float(kv.get('decode_v9') or 0) * 1e6
    dec_sf = float(kv.get('decode_sflow') or 0) * 1e6
    dec_ipfix = float(kv.get('decode_ipfix') or 0) * 1e6
    dec_v9_cpu = float(kv.get('decode_v9_cpu') or 0) * 1e6
    dec_ipfix_cpu = float(kv.get('decode_ipfix_cpu') or 0) * 1e6
    dec_sf_cpu = float(kv.get('decode_sflow_cpu') or 0) * 1e6

    def sat_rate(name):
        for r in sat:
            if r['collector'] == name:
                return r['processed_records_s'], r['loss_pct']
        return 0.0, 0.0

    if sat:
        p('\n## Peers at saturation (one pinned core each, socket on loopback)\n')
        p(load_line(data, 'saturate'))
        p('Method: each collector alone on CPU 1 (`taskset -c 1`), netmeta-gen on CPU 0 sending as fast as')
        p('it can (unpaced, large datagrams so that per-record work dominates: NetFlow v9 96 records,')
        p('sFlow 32 samples with 128-byte headers, 8 exporters). A peer\'s *decode rate* is the records/s it')
        p('gets through when offered more than it can take: (datagrams sent - kernel socket drops) x')
        p('records per datagram / (sending time + the time it needed to empty its socket afterwards).')
        p('nfcapd/sfcapd write nfdump files to tmpfs; nfacctd/sfacctd run their cheapest plugin (print,')
        p('aggregate on proto, refresh 1 s); netmeta runs 1 worker with the discard sink. When loss is 0')
        p('the generator, not the collector, was the limit, and the rate is a lower bound.\n')
        p('Records per CPU-second: the same records over the CPU time (user + system) the collector')
        p('and its children used during the run (/proc/PID/stat), which other jobs on the machine do')
        p('not inflate the way they stretch the wall clock.\n')
        p('| collector | protocol | datagrams sent/s | loss % | records/s | records per CPU-s | own count (records) | netmeta / this |')
        p('|---|---|---|---|---|---|---|---|')
        for r in sat:
            nm = sat_rate('netmeta-' + r['proto'])[0]
            p('| %s | %s | %s | %.2f | %s | %s | %s | %s |' % (
                r['collector'], r['proto'], fmt(r['sent_pps']), r['loss_pct'], fmt(r['processed_records_s']),
                fmt(r.get('records_per_cpu_s', 0)),
                fmt(r['own_records']) if 'own_records' in r else 'n/a',
                '%.2f' % (nm / r['processed_records_s']) if r['processed_records_s'] else 'n/a'))
        gf = [r for r in sat if r['collector'].startswith('goflow2')]
        if gf:
            p('\ngoflow2 (%s, protobuf `-format bin` to /dev/null, 1 socket, 1 worker, GOMAXPROCS=1, pinned like the'
              ' others; command line below) by its own decoding-time metric, which leaves out the socket and the'
              ' output: %s.' % (os.environ.get('NM_GOFLOW2_VERSION', 'v2'), '; '.join(
                  '%s %s records/s in %.2f s of decoding' % (r['collector'], fmt(r.get('decode_only_records_s', 0)),
                                                              r.get('decode_secs', 0)) for r in gf)))
            try:
                import peers
                p('\n```\n%s\n```' % ' '.join(peers.goflow2_config('v9', 23055, 28080)).replace(
                    peers.GOFLOW2, 'goflow2'))
            except Exception:
                pass

    sw = rows_of(data, 'sweep')
    if sw:
        p('\n## Socket backends at increasing offered rates (loopback, one pinned core each)\n')
        p(load_line(data, 'sweep'))
        p('Method: for each offered rate, each collector in turn (so load from other jobs spreads over')
        p('all of them) on CPU 1, netmeta-gen (`--pps`, sendmmsg, 8 exporters, paced) on CPU 0: NetFlow')
        p('v9 with 24 records per datagram (~1.9 KB) to netmeta, nfcapd, nfacctd; sFlow v5 with 8 samples')
        p('(128-byte headers, ~1.9 KB) to netmeta, sfcapd, sfacctd. Loss = kernel socket drops (last')
        p('column of /proc/net/udp, read once the queue drained) / datagrams sent; nfcapd/sfcapd\'s own')
        p('"Flows:" count and netmeta\'s decode_records are shown as a cross-check. "offered" is what')
        p('netmeta-gen achieved (it shares a CPU with other jobs; when it falls short of the target rate')
        p('the row says so). Throughput = records processed / (sending time + drain time).\n')
        for proto in ('v9', 'sflow'):
            names = []
            for r in sw:
                if r['proto'] == proto and r['collector'] not in names:
                    names.append(r['collector'])
            p('| %s target dg/s | achieved dg/s | offered rec/s | %s |' % (
                'NetFlow v9' if proto == 'v9' else 'sFlow', ' | '.join('%s loss %% / rec/s' % n for n in names)))
            p('|---|---|---|%s' % ('---|' * len(names)))
            for rate in sorted({r['offered_pps'] for r in sw if r['proto'] == proto}):
                rr = {r['collector']: r for r in sw if r['proto'] == proto and r['offered_pps'] == rate}
                any_r = next(iter(rr.values()))
                ach = min(r['sent_pps'] for r in rr.values())
                cells = []
                for n in names:
                    r = rr.get(n)
                    if r is None:
                        cells.append('failed')
                        continue
                    own = ''
                    if 'own_loss_pct' in r:
                        own = ' (own %.2f)' % max(r['own_loss_pct'], 0)
                    cells.append('%.2f%s / %s' % (r['loss_pct'], own, fmt(r['processed_records_s'])))
                p('| %s | %s | %s | %s |' % (fmt(rate), fmt(ach), fmt(ach * any_r['rec_per_dgram']),
                                           ' | '.join(cells)))
            p('')
            nmname = 'netmeta-' + proto
            nm, nm_lost = best_lossfree(sw, nmname)
            line = []
            for n in names:
                b, lost = best_lossfree(sw, n)
                line.append('%s %s%s' % (n, '' if lost else '>= ', fmt(b)))
            p('Highest loss-free throughput (loss < %.1f %%), records/s: %s.\n' % (LOSS_FREE, '; '.join(line)))
        nm, nm_lost = best_lossfree(sw, 'netmeta-v9')
        nf, nf_lost = best_lossfree(sw, 'nfcapd')
        data['socket_ratio'] = (nm / nf if nf else 0, nm_lost, nf_lost)

    e2 = rows_of(data, 'e2e')
    if e2:
        p('\n## End to end into Kafka: netmeta vs nfacctd, same mock broker\n')
        p(load_line(data, 'e2e'))
        p('Method: netmeta-kafka-mock (1 broker, 4 partitions, pinned to CPU 0 with netmeta-gen); the')
        p('collector on CPU 1 fed NetFlow v9 (24 records/datagram, 8 exporters) over loopback at each')
        p('offered rate. netmeta: socket backend, 1 worker, Kafka sink (FlowMessage protobuf, zstd,')
        p('acks=all, idempotent), delivered = kafka0_delivered (delivery reports). nfacctd: kafka plugin,')
        p('JSON, one message per flow (aggregate src/dst host, ports, proto, timestamp_start; refresh 1 s),')
        p('delivered = sum of the topic\'s partition end offsets (kcat -Q). Rate = delivered / (sending time')
        p('+ time until the delivered count stopped growing).\n')
        p('| offered dg/s | offered rec/s | netmeta->kafka rec/s | nfacctd->kafka msgs/s | ratio | nfacctd socket drops | netmeta records dropped (no batch, ring full) |')
        p('|---|---|---|---|---|---|---|')
        for rate in sorted({r['offered_pps'] for r in e2}):
            a = next((r for r in e2 if r['offered_pps'] == rate and r['collector'] == 'netmeta->kafka'), None)
            b = next((r for r in e2 if r['offered_pps'] == rate and r['collector'] == 'nfacctd->kafka'), None)
            if not a or not b:
                continue
            p('| %s | %s | %s | %s | %s | %s | %s |' % (
                fmt(rate), fmt(a['sent_pps'] * a['records_sent'] / max(a['sent'], 1)), fmt(a['delivered_s']),
                fmt(b['delivered_s']), '%.2f' % (a['delivered_s'] / b['delivered_s']) if b['delivered_s'] else 'n/a',
                fmt(b['kernel_drops']), fmt(a.get('worker_drops', 0))))
        nmk = max(r['delivered_s'] for r in e2 if r['collector'] == 'netmeta->kafka')
        pmk = max(r['delivered_s'] for r in e2 if r['collector'] == 'nfacctd->kafka')
        dk = float(kv.get('dpdk_kafka') or 0)
        p('')
        p('Best of each: netmeta->kafka %s records/s, nfacctd->kafka %s messages (flows)/s; ratio %.2f.'
          % (fmt(nmk), fmt(pmk), nmk / pmk if pmk else 0))
        if dk:
            p('The DPDK path into Kafka above (net_pcap, 2 lcores, other inputs) gives %s records/s, %.2f x'
              ' nfacctd\'s best.' % (fmt(dk), dk / pmk if pmk else 0))
        data['e2e_ratio'] = (nmk / pmk if pmk else 0, (dk / pmk) if pmk and dk else 0)

    # Targets.
    p('\n## Targets (issues 7 and 12), ratios from this run\n')
    p('Decode: decode-bench\'s records/s (one core, above, on the saturation runs\' traffic: 96 records or')
    p('32 samples per datagram) over the peer\'s best records/s in any run of')
    p('this file (saturation or sweep) on one core; the two are measured minutes apart on a shared machine.')
    p('Per CPU-second: decode-bench\'s records per CPU-second of its thread over the peer\'s best records')
    p('per CPU-second of its process tree; the verdict goes by this one where both exist.\n')
    p('| target | measured | verdict |')
    p('|---|---|---|')
    def best_rate(name):
        # A peer's decode rate: the most records/s it got through in any run
        # (saturation or sweep), with the loss of that run.
        runs = [r for r in sat + sw if r['collector'] == name]
        if not runs:
            return 0.0, 0.0
        b = max(runs, key=lambda r: r['processed_records_s'])
        return b['processed_records_s'], b['loss_pct']

    # Decode targets: netmeta's decode-only rate over each peer's best rate
    # on one core. goflow2's best is the higher of its socket rate and its
    # own decode-only figure (its decoding time metric), the one most
    # favourable to it.
    def peer_best(name):
        b, loss = best_rate(name)
        d = max([r.get('decode_only_records_s', 0) for r in sat + sw if r['collector'] == name] + [0])
        return max(b, d), loss, d > b

    def peer_cpu(name):
        # Records per CPU-second: the best of any run; goflow2's own decode
        # time counts as CPU time (the most favourable figure for it).
        runs = [r for r in sat + sw if r['collector'] == name]
        return max([r.get('records_per_cpu_s', 0) for r in runs] +
                   [r.get('decode_only_records_s', 0) for r in runs] + [0])

    for proto, dec, dcpu, label, peers in (
            ('v9', dec_v9, dec_v9_cpu, 'NetFlow v9', (('nfcapd', 10), ('goflow2-v9', 20))),
            ('ipfix', dec_ipfix, dec_ipfix_cpu, 'IPFIX', (('nfcapd-ipfix', 10), ('goflow2-ipfix', 20))),
            ('sflow', dec_sf, dec_sf_cpu, 'sFlow', (('sfacctd', 10), ('goflow2-sflow', 20)))):
        for peer, want in peers:
            pr, loss, own = peer_best(peer)
            pc = peer_cpu(peer)
            if not dec or not pr:
                continue
            r = dec / pr
            rc = dcpu / pc if dcpu and pc else 0
            src = ' (its own decode time)' if own else ''
            cpu = ('; per CPU-second %.1fx (%s vs %s)' % (rc, fmt(dcpu), fmt(pc))) if rc else ''
            # The verdict goes by CPU time where both sides have it: the wall
            # clock of a loaded 2-CPU machine measures the load as much.
            v = rc or r
            p('| decode %s >= %dx %s records/s per core | wall clock %.1fx (%s vs %s%s)%s | %s |' % (
                label, want, peer, r, fmt(dec), fmt(pr), src, cpu,
                'met' if v >= want else 'MISSED by %.0f %%' % (100 * (1 - v / want))))
            if v < want and ('decode_' + proto) not in missed:
                missed.append('decode_' + proto)
    if 'socket_ratio' in data:
        r, nm_lost, nf_lost = data['socket_ratio']
        nmsat, nfsat = sat_rate('netmeta-v9'), sat_rate('nfcapd')
        satr = ' Saturation runs: netmeta %s rec/s (loss %.2f %%) vs nfcapd %s (loss %.2f %%), %.2fx.' % (
            fmt(nmsat[0]), nmsat[1], fmt(nfsat[0]), nfsat[1], nmsat[0] / nfsat[0]) if nfsat[0] else ''
        if r == 0:
            p('| socket backend >= 3x nfcapd before loss | nfcapd lost >= %.1f %% at every offered rate: no'
              ' loss-free rate to compare.%s | not measurable in this run |' % (LOSS_FREE, satr))
        else:
            note = '' if nm_lost else ' (netmeta lost nothing at any offered rate: its figure is a lower bound set by the generator)'
            verdict = 'met' if r >= 3 else ('MISSED by %.0f %%' % (100 * (1 - r / 3)) if nm_lost
                                            else 'not reached within the generator\'s reach (%.2fx at least)' % r)
            p('| socket backend >= 3x nfcapd before loss | %.2fx%s.%s | %s |' % (r, note, satr, verdict))
            if r < 3 and nm_lost:
                missed.append('socket')
    if 'e2e_ratio' in data:
        r, rd = data['e2e_ratio']
        p('| end to end >= 20x nfacctd->Kafka | socket path, same core budget: %.2fx%s | %s |' % (
            r, ('; DPDK net_pcap path (2 lcores, not the same budget): %.2fx' % rd) if rd else '',
            'met' if r >= 20 else 'MISSED by %.0f %%' % (100 * (1 - r / 20))))
        if r < 20:
            missed.append('e2e')
    made = plots(sw, outdir, date) if sw else None
    if made:
        p('\n![throughput versus offered rate](%s)\n![loss versus offered rate](%s)' % tuple(made))
    open(js + '.missed', 'w').write(''.join(m + '\n' for m in missed))
    print('\n'.join(out))
