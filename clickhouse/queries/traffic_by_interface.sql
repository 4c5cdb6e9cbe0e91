-- Traffic in and out of each interface of each exporter, last hour
-- (rollup flows_1m_if). Every flow counts in on its InIf and out on its
-- OutIf (interface indexes as the exporter numbers them).
--
-- Scaled* columns are already multiplied by SamplingRate; records with an
-- unknown rate (SamplingRate = 0) are counted in unknown_rate_records.
SELECT
    replaceRegexpOne(IPv6NumToString(SamplerAddress), '^::ffff:', '') AS exporter,
    if(dir = 1, InIf, OutIf) AS if_index,
    sumIf(ScaledBytes, dir = 1) AS in_bytes,
    sumIf(ScaledBytes, dir = 2) AS out_bytes,
    sumIf(ScaledPackets, dir = 1) AS in_packets,
    sumIf(ScaledPackets, dir = 2) AS out_packets,
    sumIf(UnknownRateRecords, dir = 1) AS unknown_rate_records
FROM netmeta.flows_1m_if
ARRAY JOIN [1, 2] AS dir
WHERE Minute >= now() - INTERVAL 1 HOUR
GROUP BY SamplerAddress, if_index
ORDER BY in_bytes + out_bytes DESC, exporter, if_index
LIMIT 50;
