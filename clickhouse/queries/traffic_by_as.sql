-- Traffic from and to each autonomous system, last hour (rollup
-- flows_1m_as). AS 0: the exporter did not say (no BGP data).
--
-- Scaled* columns are already multiplied by SamplingRate; records with an
-- unknown rate (SamplingRate = 0) are counted in unknown_rate_records.
SELECT
    if(dir = 1, SrcAS, DstAS) AS as_number,
    sumIf(ScaledBytes, dir = 1) AS bytes_from,
    sumIf(ScaledBytes, dir = 2) AS bytes_to,
    sumIf(ScaledPackets, dir = 1) AS packets_from,
    sumIf(ScaledPackets, dir = 2) AS packets_to,
    sumIf(UnknownRateRecords, dir = 1) AS unknown_rate_records_from,
    sumIf(UnknownRateRecords, dir = 2) AS unknown_rate_records_to
FROM netmeta.flows_1m_as
ARRAY JOIN [1, 2] AS dir
WHERE Minute >= now() - INTERVAL 1 HOUR
GROUP BY as_number
ORDER BY bytes_from + bytes_to DESC, as_number
LIMIT 50;
