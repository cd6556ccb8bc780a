package llm_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/persona/llm"
	"github.com/preflight-hq/preflight/persona/llmtest"
)

// BenchmarkLLMReasoner measures the LLM path end to end (rendering, the
// go-openai request, the scripted server answering after a fixed 20 ms,
// parsing) with the cache off, at client concurrency 4 and 16, and reports
// judgements per second. The ceiling is concurrency / 20 ms (200/s and
// 800/s); the gap to it is the client's own overhead.
func BenchmarkLLMReasoner(b *testing.B) {
	const latency = 20 * time.Millisecond
	for _, conc := range []int{4, 16} {
		b.Run("concurrency="+strconv.Itoa(conc), func(b *testing.B) {
			e := newEnv(b, []*llmtest.Rule{llmtest.Slow(0, latency, validAnswer)}, func(c *llm.Config) {
				c.MaxConcurrency = conc
				c.NoCache = true
			})
			iv := testIntervention("iv1")
			personas := make([]string, 64)
			for i := range personas {
				personas[i] = "p" + strconv.Itoa(i)
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range conc {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						if _, err := e.r.Judge(context.Background(), testPersona(personas[i%int64(len(personas))]), iv); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "judgements/s")
			if hw := e.cli.InFlightHighWater(); hw > conc {
				b.Errorf("high-water mark %d > %d", hw, conc)
			}
		})
	}
}
