-- Traffic by ethertype and IP protocol, last hour (rollup flows_1m_proto).
--
-- The rollups store ScaledBytes/ScaledPackets (already multiplied by
-- SamplingRate: do not multiply again) and count records whose rate is
-- unknown (SamplingRate = 0) apart, in UnknownRate*. sFlow discards are in
-- DroppedPackets, not in the traffic.
SELECT
    transform(Etype, [2048, 34525, 2054, 34887], ['ipv4', 'ipv6', 'arp', 'mpls'], toString(Etype)) AS ethertype,
    transform(Proto, [1, 6, 17, 47, 50, 58, 132], ['icmp', 'tcp', 'udp', 'gre', 'esp', 'icmpv6', 'sctp'],
              toString(Proto)) AS protocol,
    sum(ScaledBytes) AS bytes,
    sum(ScaledPackets) AS packets,
    sum(UnknownRateRecords) AS unknown_rate_records,
    sum(UnknownRateBytes) AS unknown_rate_bytes
FROM netmeta.flows_1m_proto
WHERE Minute >= now() - INTERVAL 1 HOUR
GROUP BY Etype, Proto
ORDER BY bytes DESC, Etype, Proto;
