-- Top destination ports (TCP, UDP, SCTP) by traffic, last hour (raw table).
--
-- bytes and packets: Bytes and Packets multiplied by SamplingRate; records
-- with an unknown rate (SamplingRate = 0) are counted in
-- unknown_rate_records instead; sFlow discard records are left out.
SELECT
    transform(Proto, [6, 17, 132], ['tcp', 'udp', 'sctp'], toString(Proto)) AS protocol,
    DstPort AS dst_port,
    sum(Bytes * SamplingRate) AS bytes,
    sum(Packets * SamplingRate) AS packets,
    countIf(SamplingRate = 0) AS unknown_rate_records,
    sumIf(Bytes, SamplingRate = 0) AS unknown_rate_bytes
FROM netmeta.flows_raw
WHERE TimeReceived >= now() - INTERVAL 1 HOUR
  AND DropReason = 0
  AND Proto IN (6, 17, 132)
GROUP BY Proto, DstPort
ORDER BY bytes DESC, Proto, DstPort
LIMIT 20;
