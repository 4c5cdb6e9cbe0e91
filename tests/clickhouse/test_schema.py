#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Static checks of both ClickHouse schemas and of the operator queries, as far
as this machine allows without a current ClickHouse:

  - clickhouse/schema/*.sql are what clickhouse/gen-schema makes of
    clickhouse/columns.txt and proto/flow.proto (the two cannot drift);
  - the current schema's Kafka tables read flow.proto:FlowMessage and
    flow.proto:InterfaceCounters in Protobuf, with one column per proto
    field, field for field, each of a type ClickHouse's Protobuf format
    reads that field's wire type into (at wire width: its reader refuses
    values that do not fit);
  - the 18.16 schema's Kafka tables have one column per JSON key the
    collector writes (decoders/flow.h), of the type JSONEachRow reads it
    into; columns.txt's kinds are flow.h's;
  - both schemas store the same columns in the same order, and have the
    same objects apart from the current schema's dead letters
    (kafka_errors and its two views: messages the Protobuf reader cannot
    read, with kafka_handle_error_mode 'stream');
  - every statement parses with clickhouse-format (ClickHouse 18.16's
    parser): the 18.16 schema and every query as they are, the current
    schema once its codecs and TTLs (syntax 18.16 does not know) are cut
    out; what was cut is checked against the forms ClickHouse documents.

  test_schema.py SOURCE_ROOT

Exit: 0 pass, 1 failure (77 never: without clickhouse-format the parse
checks are reported as skipped and the rest still runs).
"""

import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chexpect  # noqa: E402
import chlib  # noqa: E402
from chlib import log  # noqa: E402


def proto_fields(path):
    """message -> {field name: type}; nested enums give 'enum', repeated
    fields 'repeated T'. A parser of its own (not gen-schema's)."""
    text = re.sub(r'//[^\n]*', '', open(path, encoding='utf-8').read())
    out = {}
    for m in re.finditer(r'message\s+(\w+)\s*\{', text):
        depth, i = 1, m.end()
        while depth:
            depth += {'{': 1, '}': -1}.get(text[i], 0)
            i += 1
        body = text[m.end():i - 1]
        enums = re.findall(r'enum\s+(\w+)\s*\{[^}]*\}', body)
        body = re.sub(r'enum\s+\w+\s*\{[^}]*\}', '', body)
        fields = {}
        for rep, typ, name in re.findall(r'(repeated\s+)?(\w+)\s+(\w+)\s*=\s*\d+\s*;', body):
            fields[name] = ('repeated ' if rep else '') + ('enum' if typ in enums else typ)
        out[m.group(1)] = fields
    return out


def flow_h_fields(path, macro):
    """NM_FLOW_FIELDS / NM_CTR_FIELDS of decoders/flow.h: name -> kind."""
    text = open(path, encoding='utf-8').read()
    body = text[text.index('#define %s(X)' % macro):]
    body = body[:body.index('\n\n')]
    return {n: k for n, k in re.findall(r'X\(\d+,\s*(\w+),\s*(\w+),', body)}


def statements(sql):
    """-> [(kind, name, text)] from the '-- object:' lines."""
    out = []
    for chunk in re.split(r'^-- object: ', sql, flags=re.M)[1:]:
        head, _, body = chunk.partition('\n')
        kind, name = head.split()
        out.append((kind, name, body.strip().rstrip(';').strip()))
    return out


def table_columns(stmt):
    m = re.search(r'\(\n(.*?)\n\)', stmt, re.S)
    cols = []
    for line in m.group(1).split('\n'):
        c = re.match(r'\s*(\w+)\s+(.+?)(\s+CODEC\((.*)\))?,?$', line)
        if c:
            cols.append((c.group(1), c.group(2), c.group(4)))
    return cols


def setting(stmt, key):
    m = re.search(r"%s\s*=\s*'([^']*)'" % key, stmt)
    return m.group(1) if m else None


# What ClickHouse's Protobuf format reads each wire type into, at wire width
# (src/Formats/ProtobufSerializer.cpp: numbers through boost::numeric_cast,
# which throws when a value does not fit; an enum into String gives its
# name; bytes into IPv6 need exactly 16 bytes).
PROTOBUF_READS = {'uint32': {'UInt32', 'UInt64'}, 'uint64': {'UInt64'}, 'bool': {'UInt8'},
                  'enum': {'String'}, 'bytes': {'IPv6', 'String'},
                  'repeated uint32': {'Array(UInt32)'}, 'string': {'String'}}
# What JSONEachRow reads the collector's JSON rendering of each kind into.
JSON_READS = {'ENUM': 'String', 'U32': 'UInt32', 'U64': 'UInt64', 'ADDR': 'String',
              'MAC': 'String', 'BOOL': 'UInt8', 'U32LIST': 'Array(UInt32)', 'STR': 'String'}

CODEC_FORMS = re.compile(r'^(LZ4|LZ4HC(\(\d+\))?|ZSTD(\(\d{1,2}\))?|Delta(\([1248]\))?|DoubleDelta|T64|'
                         r'Gorilla|NONE)$')
TTL_FORM = re.compile(r'^(TimeReceived|Minute) \+ toIntervalDay\(\d+\)$')
# Objects of the current schema only: where messages the Protobuf reader
# cannot read go (18.16 has no kafka_handle_error_mode).
CURRENT_ONLY = ('kafka_errors', 'flows_errors_mv', 'counters_errors_mv')


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    root = argv[1]
    ck = chlib.Checks()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE='1')

    p = subprocess.run(['/usr/bin/python3', os.path.join(root, 'clickhouse', 'gen-schema'), '--check'],
                       capture_output=True, text=True, env=env)
    ck.check(p.returncode == 0, 'clickhouse/schema/*.sql = gen-schema(columns.txt, proto/flow.proto)',
             p.stdout + p.stderr)

    proto = proto_fields(os.path.join(root, 'proto', 'flow.proto'))
    flow_h = os.path.join(root, 'decoders', 'flow.h')
    kinds = {'FlowMessage': flow_h_fields(flow_h, 'NM_FLOW_FIELDS'),
             'InterfaceCounters': flow_h_fields(flow_h, 'NM_CTR_FIELDS')}
    rendered = {}
    for schema in ('current', '18.16'):
        rc, out = chlib.run_apply(['--print', '--schema', schema, '--brokers', 'kafka1:9092,kafka2:9092'])
        ck.check(rc == 0 and '${' not in out, 'apply --print --schema %s fills every placeholder' % schema,
                 out[-500:])
        rendered[schema] = statements(out)

    # Kafka tables against the wire contract
    for schema in ('current', '18.16'):
        st = {n: s for k, n, s in rendered[schema] if k == 'kafka'}
        for table, msg in (('flows_queue', 'FlowMessage'), ('counters_queue', 'InterfaceCounters')):
            s = st.get(table)
            if not ck.check(s is not None, '%s schema has Kafka table %s' % (schema, table)):
                continue
            cols = {c[0]: c[1] for c in table_columns(s)}
            if schema == 'current':
                ck.eq((setting(s, 'kafka_format'), setting(s, 'kafka_schema')),
                      ('Protobuf', 'flow.proto:' + msg), 'current %s: format and format_schema' % table)
                ck.check(sorted(cols) == sorted(proto[msg]),
                         'current %s: one column per field of proto/flow.proto %s, field for field (%d)'
                         % (table, msg, len(cols)), 'columns without a field: %s; fields without a column: %s'
                         % (sorted(set(cols) - set(proto[msg])), sorted(set(proto[msg]) - set(cols))))
                bad = {n: (t, proto[msg].get(n)) for n, t in cols.items()
                       if t not in PROTOBUF_READS.get(proto[msg].get(n), ())}
                ck.eq(bad, {}, 'current %s: every column of a type Protobuf reads its field into, '
                      'at wire width' % table)
            else:
                ck.eq(setting(s, 'kafka_format'), 'JSONEachRow', '18.16 %s: format' % table)
                ck.check(sorted(cols) == sorted(kinds[msg]),
                         '18.16 %s: one column per JSON key the collector writes (flow.h) (%d)'
                         % (table, len(cols)), 'columns without a key: %s; keys without a column: %s'
                         % (sorted(set(cols) - set(kinds[msg])), sorted(set(kinds[msg]) - set(cols))))
                bad = {n: (t, kinds[msg].get(n)) for n, t in cols.items()
                       if JSON_READS.get(kinds[msg].get(n)) != t}
                ck.eq(bad, {}, '18.16 %s: every column of the type JSONEachRow reads its JSON into'
                      % table)

    # columns.txt kinds are the collector's
    sec, lines = None, []
    for line in open(os.path.join(root, 'clickhouse', 'columns.txt'), encoding='utf-8'):
        line = line.split('#', 1)[0].strip()
        if re.fullmatch(r'\[\w+\]', line):
            sec = line[1:-1]
        elif line:
            lines.append((sec, line.split()))
    for sec, msg in (('flows', 'FlowMessage'), ('counters', 'InterfaceCounters')):
        got = {p[0]: p[2] for s, p in lines if s == sec}
        ck.eq({n: (k, kinds[msg].get(n)) for n, k in got.items() if kinds[msg].get(n) != k}, {},
              'columns.txt [%s] kinds = decoders/flow.h' % sec)

    # same stored columns, same order, both schemas
    for table in ('flows_raw', 'flows_1m_if', 'flows_1m_proto', 'flows_1m_as', 'interface_counters'):
        a = [c[0] for k, n, s in rendered['current'] if n == table for c in table_columns(s)]
        b = [c[0] for k, n, s in rendered['18.16'] if n == table for c in table_columns(s)]
        ck.check(a == b and a, '%s: same columns in the same order in both schemas (%d)' % (table, len(a)))
    shared = [(k, n) for k, n, _ in rendered['current'] if n not in CURRENT_ONLY]
    ck.check(shared == [(k, n) for k, n, _ in rendered['18.16']],
             'both schemas have the same objects in the same order (%d), the current schema\'s '
             'dead letters aside (%s)' % (len(shared), ', '.join(CURRENT_ONLY)))
    cur = {n: s for k, n, s in rendered['current']}
    ck.check(all("kafka_handle_error_mode = 'stream'" in cur[q] for q in ('flows_queue', 'counters_queue'))
             and all('WHERE length(_error) = 0' in s for k, n, s in rendered['current']
                     if k == 'view' and n not in CURRENT_ONLY)
             and all('WHERE length(_error) > 0' in cur[v] for v in CURRENT_ONLY[1:]),
             'current schema: Kafka tables in stream error mode, every view of flows reads only rows '
             'without _error, the dead-letter views only those with one')

    # parse with ClickHouse 18.16's parser
    try:
        chlib.ensure_installed(need=('format',))
    except SystemExit:
        pass
    fmt = shutil.which('clickhouse-format')
    if fmt is None:
        log('  SKIP  clickhouse-format not available (apt-get install clickhouse-tools): '
            'no parse check')
        return ck.finish()

    def parses(sql):
        p = subprocess.run([fmt, '--quiet'], input=sql, capture_output=True, text=True)
        return p.returncode == 0, p.stderr.split('\n')[0][:400]

    for schema in ('18.16', 'current'):
        bad, cut_codecs, cut_ttls = [], [], []
        for kind, name, s in rendered[schema]:
            if schema == 'current':
                cut_codecs += re.findall(r' CODEC\(((?:[^()]|\([^()]*\))*)\)', s)
                cut_ttls += re.findall(r'^TTL (.*)$', s, re.M)
                s = re.sub(r' CODEC\((?:[^()]|\([^()]*\))*\)', '', s)
                s = re.sub(r'\nTTL [^\n]*', '', s)
            ok, err = parses(s)
            if not ok:
                bad.append('%s %s: %s' % (kind, name, err))
        what = ('every statement of the current schema parses with 18.16\'s clickhouse-format '
                'once codecs and TTLs are cut out' if schema == 'current'
                else 'every statement of the 18.16 schema parses with clickhouse-format')
        ck.check(not bad, what + ' (%d)' % len(rendered[schema]), '\n'.join(bad))
        if schema == 'current':
            odd = [c for c in cut_codecs if not all(CODEC_FORMS.match(x.strip()) for x in c.split(','))]
            ck.check(cut_codecs and not odd, 'the %d codecs cut out are of the documented forms '
                     '(LZ4, ZSTD(n), Delta, DoubleDelta, T64, ...)' % len(cut_codecs), str(odd))
            odd = [t for t in cut_ttls if not TTL_FORM.match(t)]
            ck.check(len(cut_ttls) == 6 and not odd, 'the TTLs cut out are `TimeReceived|Minute + '
                     'toIntervalDay(N)` on the six MergeTree tables (%d)' % len(cut_ttls), str(odd))
    bad = []
    for f in chexpect.query_files():
        ok, err = parses(chexpect.query_sql(f))
        if not ok:
            bad.append('%s: %s' % (f, err))
    ck.check(not bad, 'every operator query parses with clickhouse-format (%d)'
             % len(chexpect.query_files()), '\n'.join(bad))
    log('  note  not checked here: the current schema on a current ClickHouse (test_pipeline.py, chDB), '
        'its views on 18.16 (test_current.py)')
    return ck.finish()


if __name__ == '__main__':
    sys.exit(main(sys.argv))
