package schemas

import "testing"

// BenchmarkDecodeExposure decodes and validates a typical treatment exposure
// (13 fields, a small content object, a timestamp with an offset).
func BenchmarkDecodeExposure(b *testing.B) {
	value := []byte(exposureJSON)
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode("exposure.v1", value); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeExposureInvalid decodes an exposure with three problems, the
// path of a record bound for the dead-letter topic.
func BenchmarkDecodeExposureInvalid(b *testing.B) {
	value := []byte(set(set(set(exposureJSON, "arm", `"maybe"`), "cost", `"free"`), "event_id", `"x"`))
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode("exposure.v1", value); err == nil {
			b.Fatal("no error")
		}
	}
}

// BenchmarkEncodeExposure encodes the same exposure.
func BenchmarkEncodeExposure(b *testing.B) {
	ev, err := Decode("exposure.v1", []byte(exposureJSON))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(ev); err != nil {
			b.Fatal(err)
		}
	}
}
