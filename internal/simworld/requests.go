package simworld

import (
	"fmt"

	"github.com/preflight-hq/preflight/simulation/api"
	"github.com/preflight-hq/preflight/synth"
)

// StandardRequest is the standard request: 100 personas, 100 runs,
// 30 days, 3 content variants on 3 channels, to three segments of the
// standard world (50,000 people), under a budget, an unsubscribe ceiling
// and a minimum ROI.
func StandardRequest() api.SimulateRequest {
	return api.SimulateRequest{
		SimulationType:  api.SimulationInterventionTest,
		IndustryContext: api.IndustryRetail,
		Intervention: &api.Intervention{
			Type:     api.InterventionCampaign,
			Channels: []api.Channel{api.ChannelEmail, api.ChannelSMS, api.ChannelPush},
			ContentVariants: []api.ContentVariant{
				{ID: "urgency", Template: "{{first_name}}, 20% off everything - ends tonight!", PersonalizationFields: []string{"first_name"}},
				{ID: "relevance", Template: "{{first_name}}, new in home based on {{last_purchase}}.", PersonalizationFields: []string{"first_name", "last_purchase"}},
				{ID: "plain", Template: "{{first_name}}, we picked something for you.", PersonalizationFields: []string{"first_name"}},
			},
			Timing: &api.Timing{Schedule: api.ScheduleImmediate, Cadence: api.CadenceWeekly, FrequencyCap: new(3)},
		},
		TargetPopulation: &api.TargetPopulation{
			SelectionMethod: api.SelectSegment,
			Segments:        []string{"high_value", "at_risk", "new_users"},
			Size:            50_000,
		},
		SimulationParams: &api.SimulationParams{
			NumPersonas: new(100), TimeHorizonDays: new(30), MonteCarloRuns: new(100),
			CalibrationMode: api.CalibrationHistorical, IncludeExternalities: new(true),
		},
		SuccessMetrics: []api.Metric{api.MetricConversionRate, api.MetricRevenueUplift, api.MetricUnsubscribeRate},
		Constraints:    &api.Constraints{MaxBudget: new(10_000.0), MaxUnsubscribeRate: new(0.02), MinROI: new(1.5)},
	}
}

// LargeRequest is StandardRequest with 1000 personas (1000 personas × 100
// runs × 30 days).
func LargeRequest() api.SimulateRequest {
	r := StandardRequest()
	p := *r.SimulationParams
	p.NumPersonas = new(1000)
	r.SimulationParams = &p
	return r
}

// CampaignRequest asks what campaign id of the world would do if sent as
// it was: its channel and template, once, to every segment it targeted,
// with as many people as it treated, over its attribution window.
func CampaignRequest(truth *synth.Truth, id string, personas, runs int) (api.SimulateRequest, error) {
	ct, ok := truth.Campaign(id)
	if !ok {
		return api.SimulateRequest{}, fmt.Errorf("campaign %q is not in the world", id)
	}
	var template string
	for _, cs := range truth.Config.Campaigns {
		if cs.ID == id {
			template = cs.Template
		}
	}
	days := max(int(truth.Config.AttributionDays+0.5), 1)
	return api.SimulateRequest{
		SimulationType:  api.SimulationInterventionTest,
		IndustryContext: api.IndustryRetail,
		Intervention: &api.Intervention{
			Type:            api.InterventionCampaign,
			Channels:        []api.Channel{api.Channel(ct.Channel)},
			ContentVariants: []api.ContentVariant{{ID: ct.InterventionID, Template: template}},
			Timing:          &api.Timing{Schedule: api.ScheduleImmediate, FrequencyCap: new(1)},
		},
		TargetPopulation: &api.TargetPopulation{SelectionMethod: api.SelectSegment, Segments: ct.Segments, Size: ct.All.Treated},
		SimulationParams: &api.SimulationParams{NumPersonas: new(personas), TimeHorizonDays: new(days), MonteCarloRuns: new(runs)},
		SuccessMetrics:   []api.Metric{api.MetricConversionRate, api.MetricRevenueUplift, api.MetricUnsubscribeRate},
	}, nil
}
