-- Flow records per second from each exporter, per minute, last hour
-- (rollup flows_1m_proto). Records counts every record the collector
-- handed over, whatever its sampling rate. The current minute is still
-- filling up.
SELECT
    Minute AS minute,
    replaceRegexpOne(IPv6NumToString(SamplerAddress), '^::ffff:', '') AS exporter,
    sum(Records) / 60 AS records_per_s
FROM netmeta.flows_1m_proto
WHERE Minute >= now() - INTERVAL 1 HOUR
GROUP BY Minute, SamplerAddress
ORDER BY minute, exporter;
