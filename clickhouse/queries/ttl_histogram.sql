-- IP TTL / hop limit of the traffic, last hour (raw table). TTL 0: the
-- export carries no TTL (NetFlow v5, most v9/IPFIX templates).
--
-- packets: Packets multiplied by SamplingRate; records with an unknown rate
-- (SamplingRate = 0) are counted in unknown_rate_records with their
-- unscaled packets in unknown_rate_packets. sFlow discards are left out.
SELECT
    IPTTL AS ttl,
    sum(Packets * SamplingRate) AS packets,
    count() AS records,
    countIf(SamplingRate = 0) AS unknown_rate_records,
    sumIf(Packets, SamplingRate = 0) AS unknown_rate_packets
FROM netmeta.flows_raw
WHERE TimeReceived >= now() - INTERVAL 1 HOUR
  AND DropReason = 0
GROUP BY IPTTL
ORDER BY ttl;
