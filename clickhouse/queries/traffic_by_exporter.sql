-- Traffic and records by exporter, last hour (rollup flows_1m_proto).
--
-- bytes/packets are already multiplied by SamplingRate. unknown_rate_*:
-- records whose rate is not known (SamplingRate = 0), unscaled; a large
-- share means the exporter sends no sampling options (configure a static
-- rate on the collector or on the device). dropped_packets: packets the
-- device reported discarding (sFlow), not part of the traffic.
SELECT
    replaceRegexpOne(IPv6NumToString(SamplerAddress), '^::ffff:', '') AS exporter,
    sum(ScaledBytes) AS bytes,
    sum(ScaledPackets) AS packets,
    sum(Records) AS records,
    sum(UnknownRateRecords) AS unknown_rate_records,
    sum(UnknownRateBytes) AS unknown_rate_bytes,
    sum(DroppedPackets) AS dropped_packets
FROM netmeta.flows_1m_proto
WHERE Minute >= now() - INTERVAL 1 HOUR
GROUP BY SamplerAddress
ORDER BY bytes DESC, exporter;
