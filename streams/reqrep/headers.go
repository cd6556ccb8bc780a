package reqrep

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Header names. The kafka_ ones are Spring Kafka's KafkaHeaders; the x- ones
// are Preflight's additions, which Spring clients may ignore.
const (
	// HeaderCorrelationID identifies a request; the reply echoes it byte for
	// byte. Any bytes are accepted (Spring sends 16 raw UUID bytes, or the
	// UUID's string form with binaryCorrelation=false).
	HeaderCorrelationID = "kafka_correlationId"
	// HeaderReplyTopic names the topic the reply goes to (UTF-8 bytes).
	HeaderReplyTopic = "kafka_replyTopic"
	// HeaderReplyPartition optionally names the reply's partition, as a
	// 4-byte big-endian int32.
	HeaderReplyPartition = "kafka_replyPartition"
	// HeaderDeadline is the requester's deadline in Unix milliseconds, as
	// decimal ASCII. A request read after it is answered with a timeout
	// error and not computed. Requests without it are bounded by
	// ServerConfig.HandlerTimeout only.
	HeaderDeadline = "x-deadline-unix-ms"
	// HeaderError is set on error replies to the error's kind: one of
	// KindValidation, KindTimeout or KindInternal. Successful replies have
	// no such header. A Spring client can map it to an exception with
	// ReplyingKafkaTemplate.setReplyErrorChecker.
	HeaderError = "x-error"
	// HeaderErrorMessage is set on error replies to a human-readable
	// message (UTF-8).
	HeaderErrorMessage = "x-error-message"
)

// ErrorKind classifies an error reply; it is the value of HeaderError.
type ErrorKind string

// The error kinds.
const (
	// KindValidation means the request was malformed (bad headers) or the
	// handler rejected it; sending it again will not help.
	KindValidation ErrorKind = "validation"
	// KindTimeout means the request's deadline passed before or while it
	// was computed.
	KindTimeout ErrorKind = "timeout"
	// KindInternal means the handler failed for another reason; a retry
	// with a new correlation id may succeed.
	KindInternal ErrorKind = "internal"
)

// ReplyError is an error reply. A handler returns one (directly or wrapped)
// to choose the kind; any other handler error becomes KindInternal. Client.Do
// returns one when the reply carries HeaderError.
type ReplyError struct {
	// Kind is the error's class.
	Kind ErrorKind
	// Message describes the error.
	Message string
}

// Error returns the kind and the message.
func (e *ReplyError) Error() string {
	return fmt.Sprintf("reqrep %s error: %s", e.Kind, e.Message)
}

// Validation returns a ReplyError of kind KindValidation, for handlers that
// reject a request.
func Validation(format string, args ...any) error {
	return &ReplyError{Kind: KindValidation, Message: fmt.Sprintf(format, args...)}
}

// ErrTimeout is matched (errors.Is) by every TimeoutError.
var ErrTimeout = errors.New("reqrep: no reply before the timeout")

// TimeoutError is returned by Client.Do when no reply arrived in time.
type TimeoutError struct {
	// CorrelationID is the request's correlation id.
	CorrelationID []byte
	// Attempts is how many times the request was sent.
	Attempts int
	// Timeout is how long each attempt waited.
	Timeout time.Duration
}

// Error says how long was waited.
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("reqrep: no reply to request %x after %d attempt(s) of %s", e.CorrelationID, e.Attempts, e.Timeout)
}

// Is reports whether target is ErrTimeout.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// Request is a request record as the handler sees it.
type Request struct {
	// Key, Value and Headers are the record's, headers included as sent.
	Key, Value []byte
	Headers    []kgo.RecordHeader
	// CorrelationID is the kafka_correlationId header's bytes.
	CorrelationID []byte
	// ReplyTopic is the kafka_replyTopic header.
	ReplyTopic string
	// ReplyPartition is the kafka_replyPartition header, or -1 without one.
	ReplyPartition int32
	// Deadline is the x-deadline-unix-ms header, or zero without one.
	Deadline time.Time
	// Topic, Partition and Offset locate the request record.
	Topic     string
	Partition int32
	Offset    int64
}

// Reply is a reply: what a handler returns and what Client.Do receives.
type Reply struct {
	// Key is the reply record's key. The Server uses the request's key when
	// a handler leaves it nil.
	Key []byte
	// Value is the reply's body.
	Value []byte
	// Headers are extra headers. The Server adds kafka_correlationId (and
	// the error headers); Client.Do returns every header of the record.
	Headers []kgo.RecordHeader
	// Topic, Partition and Offset locate the reply record; Client.Do fills
	// them and the Server ignores them.
	Topic     string
	Partition int32
	Offset    int64
}

// header returns the value of the last header named key and whether it
// exists (a present header may have an empty value).
func header(hs []kgo.RecordHeader, key string) ([]byte, bool) {
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Key == key {
			return hs[i].Value, true
		}
	}
	return nil, false
}

// EncodePartition encodes a reply partition as kafka_replyPartition does:
// 4 bytes, big-endian.
func EncodePartition(p int32) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(p))
}

// DecodePartition decodes a kafka_replyPartition value.
func DecodePartition(b []byte) (int32, error) {
	if len(b) != 4 {
		return 0, fmt.Errorf("%s must be 4 bytes (big-endian int32), got %d", HeaderReplyPartition, len(b))
	}
	p := int32(binary.BigEndian.Uint32(b))
	if p < 0 {
		return 0, fmt.Errorf("%s is negative (%d)", HeaderReplyPartition, p)
	}
	return p, nil
}

// EncodeDeadline encodes a deadline as x-deadline-unix-ms does.
func EncodeDeadline(t time.Time) []byte {
	return strconv.AppendInt(nil, t.UnixMilli(), 10)
}

// DecodeDeadline decodes an x-deadline-unix-ms value.
func DecodeDeadline(b []byte) (time.Time, error) {
	ms, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, fmt.Errorf("%s must be positive decimal Unix milliseconds, got %q", HeaderDeadline, b)
	}
	return time.UnixMilli(ms), nil
}

// parseRequest reads the reqrep headers of r. It returns the request and,
// when a header is missing or malformed, a validation error; ReplyTopic is
// filled whenever the header is present, so the caller can still reply.
func parseRequest(r *kgo.Record) (Request, error) {
	req := Request{Key: r.Key, Value: r.Value, Headers: r.Headers, ReplyPartition: -1,
		Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}
	var errs []error
	if v, ok := header(r.Headers, HeaderReplyTopic); ok && len(v) > 0 {
		req.ReplyTopic = string(v)
	} else {
		errs = append(errs, fmt.Errorf("header %s is missing or empty", HeaderReplyTopic))
	}
	if v, ok := header(r.Headers, HeaderCorrelationID); ok && len(v) > 0 {
		req.CorrelationID = v
	} else {
		errs = append(errs, fmt.Errorf("header %s is missing or empty", HeaderCorrelationID))
	}
	if v, ok := header(r.Headers, HeaderReplyPartition); ok {
		p, err := DecodePartition(v)
		if err != nil {
			errs = append(errs, err)
		} else {
			req.ReplyPartition = p
		}
	}
	if v, ok := header(r.Headers, HeaderDeadline); ok {
		d, err := DecodeDeadline(v)
		if err != nil {
			errs = append(errs, err)
		} else {
			req.Deadline = d
		}
	}
	return req, errors.Join(errs...)
}
