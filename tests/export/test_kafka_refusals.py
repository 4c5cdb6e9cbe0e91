#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
A real Apache Kafka broker that refuses what the collector sends: one broker
(scripts/kafka, Kafka 4, KRaft) with topic auto-creation off and, besides
its plaintext listener, a SASL_PLAINTEXT listener (PLAIN, one user).

1. unknown-topic: a topic that does not exist. Without a spool: every
   record counted failed as UNKNOWN_TOPIC_OR_PART / _UNKNOWN_TOPIC (a
   message naming the cause), the topic not created. With a spool: the
   records wait there (the topic may be created later); the topic is
   created while the collector runs and the spool drains into it: every
   record once.
2. too-large: a topic whose max.message.bytes is below the collector's
   larger messages (a burst packs many records per message, a trickle few):
   the larger ones counted failed as MSG_SIZE_TOO_LARGE and not spooled
   (permanent), the smaller ones delivered: the topic holds exactly them.
3. sasl-refused: the SASL listener with a wrong password: the broker
   refuses the authentication; the collector says so (_AUTHENTICATION ...
   Invalid username or password) and counts the records failed (timed out);
   the broker logs the failed authentications. Then the right password:
   every record delivered (the refusal was the password's).

For each: records sent (netmeta-gen), delivered, failed by reason, spooled,
in the topic (kcat), identity ok. Skips (77) without java, kcat or Kafka's
jars.
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exlib import *  # noqa: E402,F401,F403
import realkafka  # noqa: E402

USER, PASSWORD = 'netmeta', 'netmeta-secret'
FIGURES = []
CHILDREN = []      # every netmeta and netmeta-gen started: none outlives the test


class Run:
    """netmeta (socket backend) with one Kafka sink and a JSON sink."""

    def __init__(self, t, w, tag, bootstrap, topic, props=None, spool=False, extra=None):
        self.t, self.w, self.tag = t, w, tag
        self.off = free_port_offset()
        self.ref = os.path.join(w, tag + '.json')
        self.spool = os.path.join(w, 'spool-' + tag) if spool else None
        ex = {'flush_timeout_ms': 1000}
        ex.update(extra or {})
        cfg = socket_config(self.off, kafka_sink_yaml(bootstrap, topic=topic, spool_dir=self.spool,
                                                      extra=ex, props=props) +
                            json_sink_yaml(self.ref))
        self.d = Daemon(t, w, cfg, tag)
        CHILDREN.append(self.d.p)
        if not self.d.wait_ready(listen_ports(self.off)):
            raise RuntimeError('netmeta did not bind its ports: ' + self.d.stderr()[-1500:])
        self.sent = 0

    def send(self, datagrams, pps, seed, proto='v9'):
        g = gen_udp(self.t, self.off, pps, datagrams, proto=proto, exporters=1, seed=seed)
        CHILDREN.append(g)
        g.wait(120)
        n = sum(v[1] for v in gen_counts(g.stderr.read()).values())
        self.sent += n
        return n

    def stop(self, ck):
        rc, err, c = self.d.stop()
        log('  %s: %s' % (self.tag, kafka_summary(c)))
        msgs = [x for x in err.splitlines() if x.startswith('netmeta: kafka')]
        for x in msgs[:6]:
            log('  stderr: ' + x[:260])
        ck.eq(rc, 0, '%s: netmeta exit status' % self.tag)
        ck.eq(c.get('kafka0_identity'), 'ok', '%s: kafka0_identity' % self.tag)
        ck.check(identity_holds(c), '%s: handed + replayed = delivered + spooled + failed + in_flight '
                 '(from the printed numbers)' % self.tag)
        ck.eq(c.get('kafka0_in_flight'), 0, '%s: kafka0_in_flight' % self.tag)
        ck.eq(c.get('kafka0_handed'), self.sent, '%s: kafka0_handed = records netmeta-gen sent' % self.tag)
        return c, err

    def reference(self):
        with open(self.ref) as f:
            return split_kinds(f.read().splitlines())[0]


def reasons(c):
    return {k[len('kafka0_failed_'):]: v for k, v in c.items() if k.startswith('kafka0_failed_')}


def topic_lines(t, w, bootstrap, topic, tag, props=()):
    msgs = realkafka.consume(bootstrap, topic, props=props)
    return cat_records(t, w, [r for m in msgs for r in split_delimited(m.value)], tag + '.raw')


def figures(tag, sent, c, in_topic, note):
    f = (tag, sent, c.get('kafka0_delivered', 0), c.get('kafka0_failed', 0),
         ','.join('%s %d' % kv for kv in reasons(c).items()) or '-',
         c.get('kafka0_spool_put_records', 0), in_topic, note)
    FIGURES.append(f)
    log('  FIGURES %s: records sent %d, delivered %d, failed %d (%s), spooled %d, in the topic %d; %s'
        % f)


def topic_exists(bootstrap, topic):
    """kcat -L: a topic the broker does not know has 0 partitions (and an error)."""
    return bool(realkafka.partitions(bootstrap, topic))


def unknown_topic(t, ck, w, c):
    log('\n== 1. unknown-topic: a topic that does not exist (auto-creation off)')
    r = Run(t, w, 'unknown', c.bootstrap, 'no-such-topic')
    r.send(200, 100, seed=61)
    time.sleep(9)     # the sink calls a topic unknown after 5 s
    cc, err = r.stop(ck)
    why = reasons(cc)
    ck.check(cc.get('kafka0_failed') == r.sent and set(why) and
             set(why) <= {'UNKNOWN_TOPIC_OR_PART', '_UNKNOWN_TOPIC'},
             'unknown-topic: every record failed as an unknown topic: %s' % why)
    ck.check(re.search(r'kafka0: first record dropped: [^\n]*Unknown topic[^\n]*'
                       r'\(failed_(UNKNOWN_TOPIC_OR_PART|_UNKNOWN_TOPIC)\)', err),
             'unknown-topic: the collector says the topic is unknown')
    ck.check(not topic_exists(c.bootstrap, 'no-such-topic'), 'unknown-topic: the topic was not created')
    figures('unknown-topic', r.sent, cc, 0, 'no spool')

    log('\n== 1b. unknown-topic with a spool, then the topic created')
    r = Run(t, w, 'unknown-spool', c.bootstrap, 'late-topic', spool=True)
    r.send(200, 100, seed=62)
    spooled = wait_until(lambda: spool_segments(r.spool) and os.path.getsize(spool_segments(r.spool)[0]), 30)
    ck.check(spooled, 'unknown-topic: the records wait in the spool')
    t_create = time.time()
    c.topic('late-topic', 1, 1)
    log('  topic created after %.1f s' % (time.time() - t_create))
    drained = wait_until(lambda: not spool_segments(r.spool), 60, 0.2)
    ck.check(drained, 'unknown-topic: the spool drained into the new topic %.1f s after its creation '
             'began' % (time.time() - t_create))
    time.sleep(1)
    cc, err = r.stop(ck)
    lines = topic_lines(t, w, c.bootstrap, 'late-topic', 'late-topic')
    nm, ne, desc = compare(multiset(r.reference(), fn=lambda l: l), multiset(lines, fn=lambda l: l))
    ck.eq((nm, ne), (0, 0), 'unknown-topic: every record once in the topic created late', desc)
    ck.eq((cc.get('kafka0_failed'), cc.get('kafka0_spool_bytes')), (0, 0), 'unknown-topic: failed, '
          'spool_bytes')
    figures('unknown-topic+spool', r.sent, cc, len(lines), 'topic created while the collector ran; '
            'replayed %d' % cc.get('kafka0_spool_replay_records', 0))


def too_large(t, ck, w, c):
    limit = 6000
    log('\n== 2. too-large: topic max.message.bytes %d' % limit)
    c.topic('small-messages', 1, 1, **{'max.message.bytes': limit})
    r = Run(t, w, 'too-large', c.bootstrap, 'small-messages', spool=True)
    r.send(12, 4, seed=63)          # a trickle: about one datagram per message
    r.send(600, 3000, seed=64)      # a burst: many records per message
    time.sleep(3)
    cc, err = r.stop(ck)
    why = reasons(cc)
    ck.check(cc.get('kafka0_delivered', 0) > 0, 'too-large: the smaller messages delivered '
             '(%d records)' % cc.get('kafka0_delivered', 0))
    ck.check(set(why) == {'MSG_SIZE_TOO_LARGE'} and why['MSG_SIZE_TOO_LARGE'] > 0,
             'too-large: the larger ones failed as MSG_SIZE_TOO_LARGE: %s' % why)
    ck.eq(cc.get('kafka0_delivered', 0) + cc.get('kafka0_failed', 0), r.sent,
          'too-large: delivered + failed = records sent')
    ck.eq(cc.get('kafka0_spool_put_records', 0), 0, 'too-large: nothing spooled (a permanent refusal)')
    ck.check('kafka0: first record dropped: Broker: Message size too large '
             '(failed_MSG_SIZE_TOO_LARGE)' in err,
             'too-large: the collector says the broker refused the message size')
    lines = topic_lines(t, w, c.bootstrap, 'small-messages', 'small-messages')
    ck.eq(len(lines), cc.get('kafka0_delivered'), 'too-large: records in the topic = kafka0_delivered')
    nm, ne, desc = compare(multiset(r.reference(), fn=lambda l: l), multiset(lines, fn=lambda l: l))
    ck.eq(ne, 0, 'too-large: the topic holds only records the collector produced, once', desc)
    figures('too-large', r.sent, cc, len(lines), 'max.message.bytes %d, spool configured' % limit)


def sasl(t, ck, w, c):
    log('\n== 3. sasl-refused: SASL PLAIN with a wrong password')
    c.topic('sasl-flows', 1, 1)
    props = {'security.protocol': 'SASL_PLAINTEXT', 'sasl.mechanisms': 'PLAIN',
             'sasl.username': USER, 'sasl.password': 'wrong-' + PASSWORD,
             'message.timeout.ms': 5000}
    before = broker_auth_failures(c)
    r = Run(t, w, 'sasl-refused', c.sasl_bootstrap, 'sasl-flows', props=props)
    r.send(200, 100, seed=65)
    time.sleep(7)
    cc, err = r.stop(ck)
    why = reasons(cc)
    ck.eq(cc.get('kafka0_delivered'), 0, 'sasl-refused: nothing delivered')
    ck.eq(why, {'_MSG_TIMED_OUT': r.sent}, 'sasl-refused: every record counted failed (timed out)')
    ck.check(re.search(r'netmeta: kafka: _AUTHENTICATION: .*SASL authentication error: '
                       r'Authentication failed: Invalid username or password', err),
             'sasl-refused: the collector says the broker refused the authentication')
    refused = broker_auth_failures(c) - before
    ck.check(refused > 0, 'sasl-refused: the broker logged %d failed authentication(s)' % refused)
    figures('sasl-refused', r.sent, cc, 0, 'broker logged %d failed authentications' % refused)

    log('\n== 3b. the same listener with the right password')
    props['sasl.password'] = PASSWORD
    r = Run(t, w, 'sasl-ok', c.sasl_bootstrap, 'sasl-flows', props=props)
    r.send(200, 100, seed=66)
    time.sleep(2)
    cc, err = r.stop(ck)
    ck.eq((cc.get('kafka0_delivered'), cc.get('kafka0_failed')), (r.sent, 0),
          'sasl-ok: every record delivered (delivered, failed)')
    auth = ['security.protocol=SASL_PLAINTEXT', 'sasl.mechanisms=PLAIN', 'sasl.username=' + USER,
            'sasl.password=' + PASSWORD]
    lines = topic_lines(t, w, c.sasl_bootstrap, 'sasl-flows', 'sasl-flows', props=auth)
    nm, ne, desc = compare(multiset(r.reference(), fn=lambda l: l), multiset(lines, fn=lambda l: l))
    ck.eq((nm, ne), (0, 0), 'sasl-ok: the topic (read through SASL) holds every record once', desc)
    figures('sasl-ok', r.sent, cc, len(lines), 'right password')


def broker_auth_failures(c):
    n = 0
    p = os.path.join(c.dir, 'b0', 'server.log')
    if os.path.exists(p):
        with open(p, errors='replace') as f:
            n = sum(1 for line in f if 'Failed authentication with' in line)
    return n


def main():
    t = Tools(sys.argv)
    need_programs('kcat')
    ck = Checks()
    w = scratch('refusals')
    c = None
    rc = 1
    try:
        try:
            c = realkafka.Cluster.start(w, brokers=1, props=['auto.create.topics.enable=false'],
                                        sasl='%s:%s' % (USER, PASSWORD))
        except realkafka.Unavailable as e:
            skip(str(e))
        log('1 broker (Kafka 4, KRaft) up in %.1f s: %s, SASL_PLAINTEXT %s' % (
            c.start_seconds, c.bootstrap, c.sasl_bootstrap))
        for name, fn in (('unknown-topic', unknown_topic), ('too-large', too_large), ('sasl', sasl)):
            try:
                fn(t, ck, w, c)
            except Exception as e:  # one scenario's failure must not hide the others
                ck.check(False, '%s: ran to the end' % name, '%s: %s\n%s' % (type(e).__name__, e,
                                                                          c.logs_tail(5)))
        log('\n%-20s %6s %9s %6s %-36s %7s %8s  %s' % ('scenario', 'sent', 'delivered', 'failed',
                                                      'failed by reason', 'spooled', 'in topic', ''))
        for f in FIGURES:
            log('%-20s %6d %9d %6d %-36s %7d %8d  %s' % f)
        rc = ck.finish()
    finally:
        kill_all(CHILDREN)
        if c:
            c.stop()
        cleanup(w, rc)
    return rc


if __name__ == '__main__':
    sys.exit(main())
