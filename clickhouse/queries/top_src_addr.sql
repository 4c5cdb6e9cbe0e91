-- Top source addresses by traffic, last hour (raw table).
--
-- bytes and packets: Bytes and Packets multiplied by SamplingRate (estimated
-- traffic on the wire); records with an unknown rate (SamplingRate = 0) are
-- counted in unknown_rate_records instead (unscaled bytes in
-- unknown_rate_bytes); sFlow discard records (DropReason != 0) are left out.
SELECT
    replaceRegexpOne(IPv6NumToString(SrcAddr), '^::ffff:', '') AS src_addr,
    sum(Bytes * SamplingRate) AS bytes,
    sum(Packets * SamplingRate) AS packets,
    countIf(SamplingRate = 0) AS unknown_rate_records,
    sumIf(Bytes, SamplingRate = 0) AS unknown_rate_bytes
FROM netmeta.flows_raw
WHERE TimeReceived >= now() - INTERVAL 1 HOUR
  AND DropReason = 0
GROUP BY SrcAddr
ORDER BY bytes DESC, src_addr
LIMIT 20;
