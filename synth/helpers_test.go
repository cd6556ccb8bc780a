package synth

import (
	"context"
	"math"
	"sync"
	"testing"

	"github.com/preflight-hq/preflight/eventsink"
	"github.com/preflight-hq/preflight/schemas"
)

// world is a generated world and its events.
type world struct {
	truth  *Truth
	events []schemas.Event
	obs    *observed
}

var (
	worldMu    sync.Mutex
	worldCache = map[string]*world{}
)

// generate builds (once per name) the world of cfg into memory.
func generate(t *testing.T, name string, cfg Config) *world {
	t.Helper()
	worldMu.Lock()
	defer worldMu.Unlock()
	if w, ok := worldCache[name]; ok {
		return w
	}
	mem := eventsink.NewMemory()
	tr, err := Generate(context.Background(), cfg, mem)
	if err != nil {
		t.Fatalf("Generate(%s): %v", name, err)
	}
	w := &world{truth: tr, events: mem.Events()}
	w.obs = observe(w.events)
	worldCache[name] = w
	return w
}

// bigWorld is the default world: 20,000 entities, 12 campaigns.
func bigWorld(t *testing.T) *world { return generate(t, "big", Config{Seed: 42}) }

// cell counts outcomes of one arm of one group.
type cell struct {
	n, purchases, visits int
	revenue, revenueSq   float64
}

func (c cell) rate(k int) float64 { return float64(k) / float64(c.n) }

// observed tallies the emitted events the way an analyst would.
type observed struct {
	segmentOf map[string]string // entity -> segment
	// arm of each exposure: key entity|campaign
	exposures map[string]*schemas.Exposure
	// cells[campaign][segment or ""][arm]
	cells map[string]map[string]map[string]*cell
	// unsubscribes per channel and frequency: sends and unsubscribes.
	fatigue map[string]map[int][2]int
}

func observe(evs []schemas.Event) *observed {
	o := &observed{
		segmentOf: map[string]string{},
		exposures: map[string]*schemas.Exposure{},
		cells:     map[string]map[string]map[string]*cell{},
		fatigue:   map[string]map[int][2]int{},
	}
	get := func(camp, seg, arm string) *cell {
		bySeg, ok := o.cells[camp]
		if !ok {
			bySeg = map[string]map[string]*cell{}
			o.cells[camp] = bySeg
		}
		byArm, ok := bySeg[seg]
		if !ok {
			byArm = map[string]*cell{}
			bySeg[seg] = byArm
		}
		c, ok := byArm[arm]
		if !ok {
			c = &cell{}
			byArm[arm] = c
		}
		return c
	}
	type key struct{ ent, camp string }
	revenue := map[key]float64{}
	for _, ev := range evs {
		switch e := ev.(type) {
		case *schemas.Entity:
			o.segmentOf[e.EntityID] = e.SegmentID
		case *schemas.Exposure:
			o.exposures[e.EntityID+"|"+e.CampaignID] = e
			for _, seg := range []string{"", e.SegmentID} {
				get(e.CampaignID, seg, e.Arm).n++
			}
			if e.Arm == schemas.ArmTreatment {
				f := o.fatigue[e.Channel]
				if f == nil {
					f = map[int][2]int{}
					o.fatigue[e.Channel] = f
				}
				v := f[e.FrequencyCumulative]
				v[0]++
				f[e.FrequencyCumulative] = v
			}
		case *schemas.Outcome:
			x := o.exposures[e.EntityID+"|"+e.CampaignID]
			if x == nil {
				continue // checked by TestEventsValid
			}
			for _, seg := range []string{"", x.SegmentID} {
				c := get(e.CampaignID, seg, x.Arm)
				switch e.OutcomeType {
				case "purchase":
					c.purchases++
				case "visit":
					c.visits++
				}
			}
			if e.OutcomeType == "purchase" {
				revenue[key{e.EntityID, e.CampaignID}] += e.Value
			}
			if e.OutcomeType == "unsubscribe" {
				v := o.fatigue[x.Channel][x.FrequencyCumulative]
				v[1]++
				o.fatigue[x.Channel][x.FrequencyCumulative] = v
			}
		}
	}
	for k, v := range revenue {
		x := o.exposures[k.ent+"|"+k.camp]
		for _, seg := range []string{"", x.SegmentID} {
			c := get(k.camp, seg, x.Arm)
			c.revenue += v
			c.revenueSq += v * v
		}
	}
	return o
}

// z returns how many binomial standard errors the observed count k out of n
// lies from the expected rate p. The binomial variance n·p·(1−p) bounds the
// variance of a sum of independent Bernoullis with mean p from above, so the
// test is conservative.
func z(k, n int, p float64) float64 {
	if n == 0 {
		return 0
	}
	se := math.Sqrt(p * (1 - p) / float64(n))
	if se == 0 {
		if k == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return (float64(k)/float64(n) - p) / se
}
