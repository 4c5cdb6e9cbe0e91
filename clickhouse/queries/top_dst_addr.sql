-- Top destination addresses by traffic, last hour (raw table).
--
-- bytes and packets are estimates of the traffic on the wire: each record's
-- Bytes and Packets multiplied by its SamplingRate. Records whose rate is
-- unknown (SamplingRate = 0: no options data seen yet, or a v5 exporter
-- that leaves the interval 0) add nothing to them: they are counted in
-- unknown_rate_records, with their unscaled bytes in unknown_rate_bytes.
-- sFlow discard records (DropReason != 0) are not traffic and are left out.
-- IPv4 addresses (stored IPv4-mapped) print as dotted quads.
SELECT
    replaceRegexpOne(IPv6NumToString(DstAddr), '^::ffff:', '') AS dst_addr,
    sum(Bytes * SamplingRate) AS bytes,
    sum(Packets * SamplingRate) AS packets,
    countIf(SamplingRate = 0) AS unknown_rate_records,
    sumIf(Bytes, SamplingRate = 0) AS unknown_rate_bytes
FROM netmeta.flows_raw
WHERE TimeReceived >= now() - INTERVAL 1 HOUR
  AND DropReason = 0
GROUP BY DstAddr
ORDER BY bytes DESC, dst_addr
LIMIT 20;
