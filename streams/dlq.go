package streams

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Headers of a dead-letter record. The record keeps the original key, value
// and headers; these say why and where it came from.
const (
	DLQHeaderError     = "dlq.error"
	DLQHeaderKind      = "dlq.error.kind"
	DLQHeaderTopic     = "dlq.source.topic"
	DLQHeaderPartition = "dlq.source.partition"
	DLQHeaderOffset    = "dlq.source.offset"
	// DLQHeaderTruncated is set, to the original length in bytes, when
	// the value was too large for the dead-letter topic and was cut.
	DLQHeaderTruncated = "dlq.value.truncated"
)

// Truncate cuts a dead-letter record's value to limit bytes and records
// the original length, for values the dead-letter topic cannot take whole.
// It does nothing to values within the limit.
func Truncate(r *kgo.Record, limit int) {
	if len(r.Value) <= limit {
		return
	}
	r.Headers = append(r.Headers, kgo.RecordHeader{Key: DLQHeaderTruncated, Value: []byte(strconv.Itoa(len(r.Value)))})
	r.Value = r.Value[:limit]
}

// DeadLetter builds the dead-letter record for src: the original key, value
// and headers, plus the reason (kind and full message) and the source
// coordinates.
func DeadLetter(dlqTopic string, src *kgo.Record, kind, reason string) *kgo.Record {
	h := make([]kgo.RecordHeader, 0, len(src.Headers)+5)
	h = append(h, src.Headers...)
	h = append(h,
		kgo.RecordHeader{Key: DLQHeaderError, Value: []byte(reason)},
		kgo.RecordHeader{Key: DLQHeaderKind, Value: []byte(kind)},
		kgo.RecordHeader{Key: DLQHeaderTopic, Value: []byte(src.Topic)},
		kgo.RecordHeader{Key: DLQHeaderPartition, Value: []byte(strconv.FormatInt(int64(src.Partition), 10))},
		kgo.RecordHeader{Key: DLQHeaderOffset, Value: []byte(strconv.FormatInt(src.Offset, 10))},
	)
	return &kgo.Record{Topic: dlqTopic, Key: src.Key, Value: src.Value, Headers: h}
}

// Header returns the value of the last header named key, or nil.
func Header(r *kgo.Record, key string) []byte {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == key {
			return r.Headers[i].Value
		}
	}
	return nil
}
