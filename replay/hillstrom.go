// Package replay turns public experiment data sets into Preflight events,
// so that the pipeline can be run and checked on real outcomes that nobody
// here wrote. Hillstrom replays Kevin Hillstrom's 2008 MineThatData e-mail
// experiment (see data/README.md at the repository root).
package replay

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/preflight-hq/preflight/eventsink"
	"github.com/preflight-hq/preflight/schemas"
)

// Defaults of Options.
const (
	DefaultCampaignID = "hillstrom-2008"
	DefaultCost       = 0.10
)

// Intervention ids of the three arms. Control rows carry NoEmail as their
// intervention id so that each e-mail's contrast with the shared control
// can be analysed; only the two e-mails get intervention events.
const (
	InterventionMens   = "mens_email"
	InterventionWomens = "womens_email"
	InterventionNone   = "no_email"
)

// DefaultStart is the send time of the replayed campaign when
// Options.Start is zero.
var DefaultStart = time.Date(2008, 3, 1, 0, 0, 0, 0, time.UTC)

// DefaultNamespace is the UUID namespace from which entity and event ids
// are derived (UUIDv5) when Options.Namespace is zero.
var DefaultNamespace = uuid.MustParse("6f1e2d3c-4b5a-5968-8776-a5b4c3d2e1f0")

// attributionWindow is how long after the send the experiment tracked
// outcomes.
const attributionWindow = 14 * 24 * time.Hour

// Options configure a replay.
type Options struct {
	// Start is when the e-mails go out; each row's exposure falls at a
	// deterministic moment within the following 24 hours and its outcomes
	// within 14 days after that. Default DefaultStart.
	Start time.Time
	// Cost is the cost of one e-mail; control rows cost 0. Zero means
	// DefaultCost; it must not be negative.
	Cost float64
	// CampaignID names the campaign. Default DefaultCampaignID.
	CampaignID string
	// Namespace seeds the UUIDv5 ids. Rows, and so entities, get the same
	// ids in every replay with the same namespace and campaign, and so do
	// events, so a replay sent twice is deduplicated by event_id.
	// Default DefaultNamespace.
	Namespace uuid.UUID
	// Segment maps a row to its segment id. Default HistorySegmentID
	// ("hist_1" … "hist_7").
	Segment func(Row) string
	// Limit, when > 0, replays only the first Limit rows.
	Limit int
}

// HistorySegmentID returns "hist_N" for a row whose history_segment label
// starts with "N) ".
func HistorySegmentID(r Row) string { return "hist_" + strconv.Itoa(r.HistoryBin) }

// Estimate is a mean or a difference of means with its standard error. Both
// are zero when a group it needs is empty.
type Estimate struct {
	// Value is the estimate.
	Value float64 `json:"value"`
	// SE is its standard error.
	SE float64 `json:"se"`
}

// ArmSummary sums up one arm of the experiment.
//
// The means are per customer, with the standard error of the mean s/√n,
// s being the sample standard deviation (n − 1 denominator).
type ArmSummary struct {
	Label          string   `json:"label"`           // the CSV's segment value
	InterventionID string   `json:"intervention_id"` // the exposures' intervention id
	N              int      `json:"n"`               // customers in the arm
	Visits         int      `json:"visits"`          // customers who visited
	Conversions    int      `json:"conversions"`     // customers who bought
	Spend          float64  `json:"spend"`           // total dollars spent
	Visit          Estimate `json:"visit"`           // visit rate
	Conversion     Estimate `json:"conversion"`      // conversion rate
	SpendMean      Estimate `json:"spend_mean"`      // dollars per customer
}

// Effect is an e-mail arm's average treatment effect against the control
// arm: the difference in means, with the Neyman standard error
// √(s₁²/n₁ + s₀²/n₀) (Imbens and Rubin, Causal Inference, 2015, ch. 6).
type Effect struct {
	InterventionID string   `json:"intervention_id"` // the e-mail arm
	ControlID      string   `json:"control_id"`      // the control arm, no_email
	Visit          Estimate `json:"visit"`           // effect on the visit rate
	Conversion     Estimate `json:"conversion"`      // effect on the conversion rate
	Spend          Estimate `json:"spend"`           // effect on dollars per customer
}

// Summary describes a replay: per-arm tallies and each e-mail's effect,
// computed from the rows, and the number of events written by type.
type Summary struct {
	// Rows counts the data rows replayed.
	Rows int `json:"rows"`
	// Arms in the README's order: Womens, Mens, No E-Mail.
	Arms []ArmSummary `json:"arms"`
	// Effects of Womens and Mens against No E-Mail.
	Effects []Effect `json:"effects"`
	// Events counts the events written, by type name.
	Events map[string]int64 `json:"events"`
}

// Arm returns the summary of the arm with the given intervention id.
func (s *Summary) Arm(interventionID string) (ArmSummary, bool) {
	for _, a := range s.Arms {
		if a.InterventionID == interventionID {
			return a, true
		}
	}
	return ArmSummary{}, false
}

// Effect returns the effect of the e-mail with the given intervention id.
func (s *Summary) Effect(interventionID string) (Effect, bool) {
	for _, e := range s.Effects {
		if e.InterventionID == interventionID {
			return e, true
		}
	}
	return Effect{}, false
}

func (o Options) withDefaults() (Options, error) {
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	o.Start = o.Start.UTC()
	if o.Start.Year() < 1972 || o.Start.Year() > 2100 {
		return o, fmt.Errorf("invalid replay options: start must be between 1972 and 2100, got %s", o.Start.Format(time.RFC3339))
	}
	if o.Cost == 0 {
		o.Cost = DefaultCost
	}
	if !(o.Cost >= 0) || math.IsInf(o.Cost, 0) {
		return o, fmt.Errorf("invalid replay options: cost must be a non-negative number, got %g", o.Cost)
	}
	if o.CampaignID == "" {
		o.CampaignID = DefaultCampaignID
	}
	if o.Namespace == uuid.Nil {
		o.Namespace = DefaultNamespace
	}
	if o.Segment == nil {
		o.Segment = HistorySegmentID
	}
	if o.Limit < 0 {
		return o, fmt.Errorf("invalid replay options: limit must be >= 0, got %d", o.Limit)
	}
	return o, nil
}

// Hillstrom replays the Hillstrom CSV read from r into sink and summarises
// it. It parses the whole file before writing anything, so a malformed file
// (reported as a *ParseError naming line, column and field) writes no
// events. It does not close sink. Treat the events as read-only: the
// treated exposures of an arm share one Content map.
//
// Per row it writes an entity (all covariates as attributes, id derived
// from the namespace and the row number), one exposure to the campaign
// (treatment with intervention mens_email or womens_email, channel email
// and cost Options.Cost; or control with intervention no_email and cost 0),
// a visit outcome when visit = 1 and a purchase outcome worth spend when
// conversion = 1, both attributed to the campaign. Before them come one
// segment event per segment and the two e-mails' intervention events; the
// rows' events follow in timestamp order, so each entity's events are in
// time order.
func Hillstrom(ctx context.Context, r io.Reader, opts Options, sink eventsink.Sink) (*Summary, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	rows, err := ParseHillstrom(r)
	if err != nil {
		return nil, fmt.Errorf("cannot parse Hillstrom CSV: %w", err)
	}
	if o.Limit > 0 && o.Limit < len(rows) {
		rows = rows[:o.Limit]
	}
	sum := summarize(rows)
	sum.Events = map[string]int64{}
	write := func(ev schemas.Event) error {
		if err := sink.Write(ctx, ev); err != nil {
			return fmt.Errorf("cannot write %s event %s: %w", ev.Type(), ev.ID(), err)
		}
		sum.Events[string(ev.Type())]++
		return nil
	}
	b := builder{o: o, contentMens: map[string]any{"merchandise": "mens"}, contentWomens: map[string]any{"merchandise": "womens"}}
	for _, ev := range b.segments(rows) {
		if err := write(ev); err != nil {
			return nil, err
		}
	}
	for _, ev := range b.interventions() {
		if err := write(ev); err != nil {
			return nil, err
		}
	}
	evs := make([]schemas.Event, 0, len(rows)*3)
	for _, row := range rows {
		evs = b.rowEvents(evs, row)
	}
	slices.SortStableFunc(evs, func(a, b schemas.Event) int { return a.Time().Compare(b.Time()) })
	for i, ev := range evs {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if err := write(ev); err != nil {
			return nil, err
		}
	}
	return sum, nil
}

// builder makes the events of one replay. The treated exposures of an arm
// share one Content map.
type builder struct {
	o                          Options
	contentMens, contentWomens map[string]any
}

// id derives a UUIDv5 from the namespace, the campaign and parts.
func (b builder) id(parts ...string) string {
	name := b.o.CampaignID
	for _, p := range parts {
		name += "/" + p
	}
	return uuid.NewSHA1(b.o.Namespace, []byte(name)).String()
}

// EntityID returns the entity id that a replay with opts gives the data row
// numbered index (from 1).
func EntityID(opts Options, index int) (string, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return "", err
	}
	return builder{o: o}.id("row", strconv.Itoa(index)), nil
}

// unit returns a deterministic number in [0, 1) for a row and a purpose,
// from the SplitMix64 finaliser (Steele, Lea and Flood, OOPSLA 2014).
func unit(row int, salt uint64) float64 {
	x := uint64(row)*0x9e3779b97f4a7c15 + salt*0xbf58476d1ce4e5b9
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

func (b builder) segments(rows []Row) []schemas.Event {
	type agg struct {
		n                          int
		label                      string
		recency, history           float64
		mens, womens, newbie, bins int
	}
	by := map[string]*agg{}
	for _, r := range rows {
		id := b.o.Segment(r)
		a := by[id]
		if a == nil {
			a = &agg{label: r.HistorySegment}
			by[id] = a
		}
		if a.label != r.HistorySegment {
			a.label = "" // custom segmentation across history bins
		}
		a.n++
		a.recency += float64(r.Recency)
		a.history += r.History
		a.mens += b2i(r.Mens)
		a.womens += b2i(r.Womens)
		a.newbie += b2i(r.Newbie)
	}
	ids := make([]string, 0, len(by))
	for id := range by {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]schemas.Event, 0, len(ids))
	for _, id := range ids {
		a := by[id]
		n := float64(a.n)
		def := map[string]any{"source": "hillstrom"}
		if a.label != "" {
			def["history_segment"] = a.label
		}
		out = append(out, &schemas.Segment{
			EventID:    b.id("segment", id),
			SegmentID:  id,
			UpdatedAt:  b.o.Start.Add(-24 * time.Hour),
			Definition: def,
			Size:       int64(a.n),
			TraitPriors: map[string]any{
				"mean_recency_months": round(a.recency/n, 4),
				"mean_history":        round(a.history/n, 4),
				"share_mens":          round(float64(a.mens)/n, 4),
				"share_womens":        round(float64(a.womens)/n, 4),
				"share_newbie":        round(float64(a.newbie)/n, 4),
			},
		})
	}
	return out
}

func (b builder) interventions() []schemas.Event {
	mk := func(id, merch, text string) schemas.Event {
		return &schemas.Intervention{
			EventID:          b.id("intervention", id),
			InterventionID:   id,
			Kind:             schemas.ChannelEmail,
			CreatedAt:        b.o.Start.Add(-24 * time.Hour),
			ContentTemplate:  text,
			CreativeElements: map[string]any{"merchandise": merch},
			TargetingCriteria: map[string]any{
				"population": "customers who purchased within the last twelve months",
				"assignment": "randomized: one third mens, one third womens, one third no e-mail",
			},
			Metadata: map[string]any{"campaign_id": b.o.CampaignID, "source": "MineThatData E-Mail Analytics and Data Mining Challenge (Hillstrom, 2008)"},
		}
	}
	return []schemas.Event{
		mk(InterventionMens, "mens", "E-mail campaign featuring men's merchandise"),
		mk(InterventionWomens, "womens", "E-mail campaign featuring women's merchandise"),
	}
}

// rowEvents appends the entity, exposure and outcome events of one row.
func (b builder) rowEvents(out []schemas.Event, r Row) []schemas.Event {
	o := b.o
	row := strconv.Itoa(r.Index)
	entityID := b.id("row", row)
	segment := o.Segment(r)
	// created_at is not in the data: newbies joined at most a year ago, so
	// they get a day before their last purchase; others thirteen months.
	created := o.Start.AddDate(0, -13, 0)
	lifecycle := "existing"
	if r.Newbie {
		created = o.Start.AddDate(0, -r.Recency, -1)
		lifecycle = "new"
	}
	tier := "low"
	switch {
	case r.HistoryBin >= 6:
		tier = "high"
	case r.HistoryBin >= 3:
		tier = "mid"
	}
	out = append(out, &schemas.Entity{
		EventID:        b.id("row", row, "entity"),
		EntityID:       entityID,
		SegmentID:      segment,
		CreatedAt:      created,
		LifecycleStage: lifecycle,
		ValueTier:      tier,
		Attributes: map[string]any{
			"recency":         r.Recency,
			"history_segment": r.HistorySegment,
			"history":         r.History,
			"mens":            b2i(r.Mens),
			"womens":          b2i(r.Womens),
			"zip_code":        r.ZipCode,
			"newbie":          b2i(r.Newbie),
			"channel":         r.Channel,
			"hillstrom_row":   r.Index,
		},
	})

	sent := o.Start.Add(time.Duration(unit(r.Index, 1) * float64(24*time.Hour)).Truncate(time.Second))
	x := &schemas.Exposure{
		EventID:    b.id("row", row, "exposure-event"),
		ExposureID: b.id("row", row, "exposure"),
		EntityID:   entityID,
		SegmentID:  segment,
		Timestamp:  sent,
		Channel:    schemas.ChannelEmail,
		CampaignID: o.CampaignID,
	}
	switch r.Arm {
	case ArmLabelMens:
		x.InterventionID, x.Arm, x.Content = InterventionMens, schemas.ArmTreatment, b.contentMens
	case ArmLabelWomens:
		x.InterventionID, x.Arm, x.Content = InterventionWomens, schemas.ArmTreatment, b.contentWomens
	default:
		x.InterventionID, x.Arm = InterventionNone, schemas.ArmControl
	}
	if x.Arm == schemas.ArmTreatment {
		x.Cost = o.Cost
		x.FrequencyCumulative = 1
	}
	out = append(out, x)

	// The visit falls between 10 minutes and 14 days − 1 hour after the
	// send, the purchase up to an hour after the visit.
	visitAt := sent.Add(10*time.Minute + time.Duration(unit(r.Index, 2)*float64(attributionWindow-time.Hour-10*time.Minute)).Truncate(time.Second))
	if r.Visit {
		out = append(out, &schemas.Outcome{
			EventID: b.id("row", row, "visit-event"), OutcomeID: b.id("row", row, "visit"),
			EntityID: entityID, Timestamp: visitAt, OutcomeType: "visit", CampaignID: o.CampaignID,
		})
	}
	if r.Conversion {
		out = append(out, &schemas.Outcome{
			EventID: b.id("row", row, "purchase-event"), OutcomeID: b.id("row", row, "purchase"),
			EntityID:    entityID,
			Timestamp:   visitAt.Add(time.Minute + time.Duration(unit(r.Index, 3)*float64(59*time.Minute)).Truncate(time.Second)),
			OutcomeType: "purchase", Value: r.Spend, CampaignID: o.CampaignID,
		})
	}
	return out
}

// moments accumulates a mean and a sample variance.
type moments struct {
	n          int
	sum, sumSq float64
}

func (m *moments) add(x float64) {
	m.n++
	m.sum += x
	m.sumSq += x * x
}

func (m moments) mean() float64 { return m.sum / float64(m.n) }

// variance is the sample variance (n − 1 denominator); 0 for n < 2.
func (m moments) variance() float64 {
	if m.n < 2 {
		return 0
	}
	mu := m.mean()
	return math.Max(0, (m.sumSq-float64(m.n)*mu*mu)/float64(m.n-1))
}

func (m moments) estimate() Estimate {
	if m.n == 0 {
		return Estimate{}
	}
	return Estimate{Value: m.mean(), SE: math.Sqrt(m.variance() / float64(m.n))}
}

// diff is the difference in means of a and b with the Neyman standard error.
func diff(a, b moments) Estimate {
	if a.n == 0 || b.n == 0 {
		return Estimate{}
	}
	return Estimate{Value: a.mean() - b.mean(), SE: math.Sqrt(a.variance()/float64(a.n) + b.variance()/float64(b.n))}
}

func summarize(rows []Row) *Summary {
	type arm struct {
		label, id                string
		visit, conversion, spend moments
		visits, conversions      int
	}
	arms := []*arm{
		{label: ArmLabelWomens, id: InterventionWomens},
		{label: ArmLabelMens, id: InterventionMens},
		{label: ArmLabelNone, id: InterventionNone},
	}
	for _, r := range rows {
		i := slices.IndexFunc(arms, func(a *arm) bool { return a.label == r.Arm })
		a := arms[i]
		a.visit.add(float64(b2i(r.Visit)))
		a.conversion.add(float64(b2i(r.Conversion)))
		a.spend.add(r.Spend)
		a.visits += b2i(r.Visit)
		a.conversions += b2i(r.Conversion)
	}
	s := &Summary{Rows: len(rows)}
	for _, a := range arms {
		s.Arms = append(s.Arms, ArmSummary{
			Label: a.label, InterventionID: a.id, N: a.visit.n,
			Visits: a.visits, Conversions: a.conversions, Spend: a.spend.sum,
			Visit: a.visit.estimate(), Conversion: a.conversion.estimate(), SpendMean: a.spend.estimate(),
		})
	}
	ctl := arms[2]
	for _, a := range arms[:2] {
		s.Effects = append(s.Effects, Effect{
			InterventionID: a.id, ControlID: ctl.id,
			Visit:      diff(a.visit, ctl.visit),
			Conversion: diff(a.conversion, ctl.conversion),
			Spend:      diff(a.spend, ctl.spend),
		})
	}
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
