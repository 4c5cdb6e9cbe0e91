#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Suite 'cluster': the current-dialect cluster schema
(clickhouse/schema/cluster-current.sql, the one deploy/k8s applies) on the
current ClickHouse engine that runs here, chDB (PyPI chdb 4.4, engine 26.9).

  1. every statement of `clickhouse/apply --print-install --schema current
     --cluster netmeta` parses with chDB's parser (formatQuery), and the
     text is what the cluster variant must be: stored tables NAME_local on
     Replicated*MergeTree under /clickhouse/tables/{shard}/netmeta/NAME,
     Distributed NAME over them, views TO a _local table
  2. with ZooKeeper (Debian's, started here as a child process, by PID) and
     a chDB session configured as shard 0 replica r0 of the cluster netmeta
     (macros, remote_servers, zookeeper): every statement executes as it
     is; the engines, the replicas' ZooKeeper paths and replica names, the
     Distributed tables' targets and the views' targets are what the
     schema says, read back from system.tables and system.replicas

What cannot run here, and why (so nothing below claims it): rows through
the cluster. chDB is ClickHouse in process (clickhouse-local): it creates a
Replicated table and registers the replica in ZooKeeper, but the replica
never becomes active (system.replicas: is_readonly 1, active_replicas 0;
the background restarting thread that activates it does not run in local
mode), so an INSERT waits for it without end; it has no interserver HTTP
endpoint to fetch parts from a twin and no TCP server for a Distributed
table of another server to query; and no ClickHouse server binary newer
than Debian's 18.16 is available on this machine's registries. The 18.16
variant runs for real on 2 x 2 servers in test_cluster_schema.py and
tests/cluster/run-faults; rows through cluster-current.sql need a current
server (deploy/k8s).

  test_cluster_current.py            (exit 0 pass, 1 fail, 77 skipped)
"""

import importlib.machinery
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'clickhouse'))
import chdblib  # noqa: E402
import chlib  # noqa: E402

cl = importlib.machinery.SourceFileLoader('cluster', os.path.join(ROOT, 'scripts', 'cluster')).load_module()

DB = 'netmeta'
STORED = ['flows_1m_as', 'flows_1m_if', 'flows_1m_proto', 'flows_raw', 'interface_counters']
FAILED = []

CONFIG = '''<clickhouse>
  <zookeeper><node><host>127.0.0.1</host><port>{zk}</port></node>
    <session_timeout_ms>10000</session_timeout_ms></zookeeper>
  <macros><shard>0</shard><replica>r0</replica></macros>
  <remote_servers><netmeta>
    <shard><internal_replication>true</internal_replication>
      <replica><host>127.0.0.1</host><port>{p0}</port></replica>
      <replica><host>127.0.0.1</host><port>{p1}</port></replica></shard>
    <shard><internal_replication>true</internal_replication>
      <replica><host>127.0.0.1</host><port>{p2}</port></replica>
      <replica><host>127.0.0.1</host><port>{p3}</port></replica></shard>
  </netmeta></remote_servers>
</clickhouse>
'''


def check(cond, what):
    print('  %s  %s' % ('ok  ' if cond else 'FAIL', what))
    sys.stdout.flush()
    if not cond:
        FAILED.append(what)
    return cond


def statements():
    return chdblib.schema_statements(['--schema', 'current', '--cluster', cl.CLUSTER, '--database', DB,
                                      '--brokers', '127.0.0.1:9'])


def literal(sql):
    return "'" + sql.replace('\\', '\\\\').replace("'", "\\'") + "'"


def part_parse(stmts):
    """1: every statement parses with chDB; the text is the cluster variant."""
    from chdb import session
    s = session.Session()
    bad = []
    for kind, name, sql in stmts:
        try:
            s.query('SELECT formatQuery(%s)' % literal(sql), 'TabSeparated')
        except Exception as e:  # chdb raises its own types
            bad.append('%s %s: %s' % (kind, name, str(e).strip().split('\n')[0][:200]))
    s.close()
    text = open(os.path.join(ROOT, 'clickhouse', 'schema', 'cluster-current.sql')).read()
    in_file = set(tuple(x.split()[:2]) for x in re.findall(r'^-- object: (.*)$', text, flags=re.M)
                  if not x.startswith('database'))
    got = set((k, n) for k, n, _sql in stmts)
    check(in_file and in_file <= got, 'apply --print-install holds every object of cluster-current.sql (%d; '
          '%d statements with apply\'s own drops and stand-ins)%s'
          % (len(in_file), len(stmts), (' missing %s' % sorted(in_file - got)) if in_file - got else ''))
    check(not bad, 'every statement (%d) parses with chDB %s%s' % (len(stmts), chdb_version(),
                                                                   ('; ' + '; '.join(bad)) if bad else ''))
    by = {(k, n): sql for k, n, sql in stmts}
    for n in STORED:
        sql = by.get(('table', n + '_local'), '')
        check("Replicated" in sql and "MergeTree('/clickhouse/tables/{shard}/%s/%s', '{replica}')" % (DB, n) in sql,
              'table %s_local: Replicated*MergeTree under /clickhouse/tables/{shard}/%s/%s' % (n, DB, n))
        sql = by.get(('table', n), '')
        check("Distributed('%s', '%s', '%s_local'" % (cl.CLUSTER, DB, n) in sql.replace('"', "'"),
              'table %s: Distributed over %s_local of cluster %s' % (n, n, cl.CLUSTER))
    views = [(n, sql) for k, n, sql in stmts if k == 'view']
    check(views and all(('TO %s.' % DB) in sql and '_local' in sql.split(' AS SELECT')[0].split(' TO ')[-1]
                        for _n, sql in views),
          'every view (%d) writes into a _local table' % len(views))


def chdb_version():
    from chdb import session
    s = session.Session()
    v = s.query('SELECT version()', 'TabSeparated').data().strip()
    s.close()
    return v


def child(work, zk):
    """2, in a process of its own (chDB with a Replicated table does not
    close: os._exit): applies the statements, prints what system.* says."""
    cfg = os.path.join(work, 'config.xml')
    with open(cfg, 'w') as f:
        f.write(CONFIG.format(zk=zk, p0=9, p1=9, p2=9, p3=9))
    ch = chdblib.Chdb(os.path.join(work, 'chdb') + '?config-file=' + cfg, os.path.join(ROOT, 'proto'))
    out = {'version': ch.version}
    problems, quirk = chdblib.apply_schema(ch, statements())
    out['problems'], out['quirk'] = problems, quirk
    out['macros'] = ch.query('SELECT macro, substitution FROM system.macros')
    out['tables'] = ch.query("SELECT name, engine, engine_full, create_table_query FROM system.tables "
                             "WHERE database = '%s'" % DB)
    out['replicas'] = ch.query("SELECT table, zookeeper_path, replica_name, total_replicas, is_readonly "
                               "FROM system.replicas WHERE database = '%s'" % DB)
    for kind, name, _sql in statements():     # the Kafka tables stream: drop them first
        if kind == 'kafka':
            try:
                ch.query('DROP TABLE IF EXISTS %s.%s' % (DB, name), fmt=None)
            except chlib.QueryError:
                pass
    sys.stdout.write(json.dumps(out) + '\n')
    sys.stdout.flush()
    os._exit(0)


def part_execute(stmts):
    need = ('/usr/share/java/zookeeper.jar', shutil.which('java') or '/nonexistent')
    if not all(os.path.exists(x) for x in need):
        print('  (part 2 not run: ZooKeeper or java missing: apt-get install zookeeper)')
        return
    work = tempfile.mkdtemp(prefix='nm-cluster-current-')
    port = cl_free_port()
    c = cl.Cluster(work, port, os.path.join(work, 'nobuild'))
    try:
        c.zk_start()
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), '--child', work, str(port)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            so, se = p.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            p.kill()
            so, se = p.communicate()
        line = [x for x in so.split('\n') if x.startswith('{')]
        if not check(p.returncode == 0 and line, 'chDB with ZooKeeper applied the schema (exit %s) %s'
                     % (p.returncode, se.strip()[-400:] if not line else '')):
            return
        out = json.loads(line[-1])
        check(not out['problems'], 'every statement of cluster-current.sql executes on chDB %s, shard 0 '
              'replica r0 of cluster %s%s' % (out['version'], cl.CLUSTER,
                                              ('; ' + '; '.join(out['problems'])) if out['problems'] else ''))
        if out['quirk']:
            print('  note: chDB answered CREATE of %s with "%s" (tests/clickhouse/chdblib.py); the tables exist'
                  % (', '.join(out['quirk']), chdblib.REGISTRY_ERROR))
        tables = {t['name']: t for t in out['tables']}
        reps = {r['table']: r for r in out['replicas']}
        for n in STORED:
            loc, dist, rep = tables.get(n + '_local', {}), tables.get(n, {}), reps.get(n + '_local', {})
            check(loc.get('engine', '').startswith('Replicated') and
                  rep.get('zookeeper_path') == '/clickhouse/tables/0/%s/%s' % (DB, n) and
                  rep.get('replica_name') == 'r0',
                  '%s_local: %s, ZooKeeper path %s, replica %s' % (n, loc.get('engine'), rep.get('zookeeper_path'),
                                                                 rep.get('replica_name')))
            check(dist.get('engine') == 'Distributed' and
                  "Distributed('%s', '%s', '%s_local'" % (cl.CLUSTER, DB, n) in dist.get('engine_full', ''),
                  '%s: %s' % (n, dist.get('engine_full', '')[:90]))
        views = [t for t in out['tables'] if t['engine'] == 'MaterializedView']
        check(len(views) >= 5 and all('_local' in t['create_table_query'].split(' AS SELECT')[0].split(' TO ')[-1]
                                      for t in views),
              'every view (%d) writes into a _local table' % len(views))
        kafka = sorted(t['name'] for t in out['tables'] if t['engine'] == 'Kafka')
        check(kafka == ['counters_queue', 'flows_queue'], 'Kafka tables, one consumer group: %s' % kafka)
        ro = sorted(r['table'] for r in out['replicas'] if r['is_readonly'])
        print('  note: replicas read-only in chDB (never activated in local mode, so no rows can be '
              'inserted here): %s' % (', '.join(ro) or 'none'))
    finally:
        c._stop_dir(c.zk_dir())
        if not FAILED:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print('kept %s' % work)


def cl_free_port():
    import socket
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    if len(sys.argv) == 4 and sys.argv[1] == '--child':
        child(sys.argv[2], int(sys.argv[3]))
    chdblib.with_chdb()
    stmts = statements()
    print('1. cluster-current.sql through chDB\'s parser')
    part_parse(stmts)
    print('2. cluster-current.sql executed on chDB as a replica of a cluster (ZooKeeper)')
    part_execute(stmts)
    print('%d failed' % len(FAILED))
    return 1 if FAILED else 0


if __name__ == '__main__':
    sys.exit(main())
