-- Packet sizes, last hour (raw table): packets by average size per record
-- (Bytes / Packets; for sFlow, each record is one sampled frame), in the
-- RMON buckets of RFC 2819 (<= 64, 65-127, ..., 1024-1518, > 1518).
--
-- packets: Packets multiplied by SamplingRate; records with an unknown rate
-- (SamplingRate = 0) are counted in unknown_rate_records with their
-- unscaled packets in unknown_rate_packets. sFlow discards are left out.
SELECT
    multiIf(size <= 64, 0, size <= 127, 65, size <= 255, 128, size <= 511, 256,
            size <= 1023, 512, size <= 1518, 1024, 1519) AS size_from,
    multiIf(size <= 64, 64, size <= 127, 127, size <= 255, 255, size <= 511, 511,
            size <= 1023, 1023, size <= 1518, 1518, 65535) AS size_to,
    sum(Packets * SamplingRate) AS packets,
    count() AS records,
    countIf(SamplingRate = 0) AS unknown_rate_records,
    sumIf(Packets, SamplingRate = 0) AS unknown_rate_packets
FROM
(
    SELECT intDiv(Bytes, Packets) AS size, Packets, SamplingRate
    FROM netmeta.flows_raw
    WHERE TimeReceived >= now() - INTERVAL 1 HOUR
      AND DropReason = 0
      AND Packets > 0
)
GROUP BY size_from, size_to
ORDER BY size_from;
