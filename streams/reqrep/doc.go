// Package reqrep is Kafka request/reply on franz-go that follows Spring
// Kafka's ReplyingKafkaTemplate header convention, so a Java/Spring client
// talks to a Server unchanged, and a Client talks to a Spring @SendTo
// listener unchanged.
//
// A request record carries:
//
//   - HeaderCorrelationID (kafka_correlationId): any bytes, echoed byte for
//     byte on the reply. Client sends 16 raw UUID bytes, as Spring does by
//     default.
//   - HeaderReplyTopic (kafka_replyTopic): the topic to reply to, as UTF-8.
//     A Server replies only to topics in its allow-list.
//   - HeaderReplyPartition (kafka_replyPartition), optional: a 4-byte
//     big-endian int32; when present the reply goes to that partition.
//   - HeaderDeadline (x-deadline-unix-ms), optional and our own: the
//     requester's deadline as decimal Unix milliseconds. A request read after
//     it gets a timeout error reply instead of being computed.
//
// A reply record carries the echoed kafka_correlationId and, when it reports
// an error, HeaderError (x-error: validation, timeout or internal) and
// HeaderErrorMessage (x-error-message). Its key is the request's key.
//
// # Delivery
//
// Requests are read at least once: the Server commits a request's offset
// only after its reply is acknowledged by the broker. Every request record
// gets exactly one reply (an error reply included), except requests whose
// reply topic is missing or refused, which get none. A redelivered request
// (same correlation id and reply topic) is answered from a bounded LRU/TTL
// cache on the instance, so the handler runs once and the requester receives
// two identical replies, the second of which Client ignores. The cache is
// per instance: a request redelivered to a different instance after a
// rebalance (because the first crashed or lost the partition between reply
// and commit) is computed again. Closing that window needs a shared store
// (e.g. a compacted reply topic or a database keyed by correlation id), which
// this package does not have.
//
// Deadlines are compared with the server's clock, so clock skew between
// requester and server shifts them; keep clocks in sync (NTP) and timeouts
// well above the skew.
//
// # Routing replies to the right requester
//
// Spring documents three ways; Client implements the third, and the second
// without a group (ClientConfig.SharedReplyTopic):
//
//  1. A reply topic per requester instance.
//  2. A shared reply topic read by every requester in a unique consumer
//     group (offset reset latest): every instance sees every reply and
//     drops the correlation ids it does not know. Simple and
//     autoscaling-friendly, at the cost of fan-out traffic.
//  3. A shared reply topic with a fixed partition per requester
//     (ClientConfig.ReplyPartition): the requester sets kafka_replyPartition
//     and reads only that partition by manual assignment
//     (kgo.ConsumePartitions), with no group. Each instance must be given
//     its own partition.
//
// # Concurrency
//
// Server.Run owns everything a server runs: its franz-go client, one poll
// loop (the calling goroutine) and Workers worker goroutines. The loop
// polls at most MaxPollRecords requests, hands them to the workers, waits
// for all of their replies, commits, and only then lets a rebalance happen
// (kgo.BlockRebalanceOnPoll). Requests of one poll are handled in any order.
// When Run's context ends the loop stops polling, the workers finish the
// requests they hold (handler contexts stay alive up to ShutdownTimeout),
// the offsets of acknowledged replies are committed, the member leaves the
// group, and Run returns after every worker has. The reply cache's mutex is
// a leaf.
//
// A Client owns one goroutine, the reply reader, started by NewClient and
// stopped by Close. Do may be called from many goroutines; the pending map
// (correlation id → buffered channel) is behind a leaf mutex, and a reply
// is delivered at most once, by removing its entry before sending.
package reqrep
