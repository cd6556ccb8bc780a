// Package service is the Preflight simulator: it answers
// POST /api/v1/simulate over HTTP and the same request over Kafka
// request/reply (package streams/reqrep), from calibration snapshots it
// follows on the compacted topic "<prefix>calibration".
//
// # Scope
//
// A request is answered with the engine of one scope (an industry or a
// tenant, as the calibrator publishes them). The scope is the
// X-Preflight-Scope header (HTTP header, or Kafka record header of the same
// name) when present, else the request's industry_context. A scope with no
// snapshot yet gets a failed response of kind internal (retriable): HTTP 503.
//
// # HTTP
//
// POST /api/v1/simulate needs an API key, as "Authorization: Bearer <key>"
// or "X-API-Key: <key>", compared in constant time with every configured
// key; without a valid one the answer is 401 with an error of kind
// unauthorized. The OpenAPI document is served at api.OpenAPIPath without
// a key. Every answer of the simulate endpoint is a SimulateResponse body:
// 200 completed; 400/413/422 for the api.Decode errors (every field problem
// listed); 401; 503 no snapshot; 504 timeout; 500 otherwise.
//
// # Kafka
//
// A reqrep.Server on "<prefix>simulate.requests" answers with the same
// bodies. A failed response is sent as the reply's value with the reqrep
// error headers set (x-error validation for validation and limit errors,
// timeout, or internal), so reqrep.Client.Do returns a *reqrep.ReplyError
// together with the reply whose value is the error body.
//
// Simulations are seeded with Config.Seed, so the same request on the same
// snapshot gets the same answer on every replica.
package service

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/preflight-hq/preflight/simulation"
	"github.com/preflight-hq/preflight/simulation/api"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/streams/reqrep"
)

// ScopeHeader names the scope explicitly (HTTP and Kafka).
const ScopeHeader = "X-Preflight-Scope"

// SimulatePath is the simulate endpoint.
const SimulatePath = "/api/v1/simulate"

// Config configures a Service.
type Config struct {
	Kafka streams.KafkaConfig
	// TopicPrefix prefixes the topics: <prefix>calibration and
	// <prefix>simulate.requests.
	TopicPrefix string
	// APIKeys are the accepted HTTP API keys (at least one).
	APIKeys []string
	// Limits bound decoded requests.
	Limits api.Limits
	// RequestTimeout bounds one simulation (default 30s).
	RequestTimeout time.Duration
	// Seed seeds every simulation (default 1).
	Seed uint64
	// Group is the reqrep consumer group (default "preflight-simulator").
	Group string
	// AllowedReplyTopics are the reqrep reply topics allowed (default
	// "<prefix>simulate.replies*").
	AllowedReplyTopics []string
	// Workers is the number of Kafka requests handled at once (default 8).
	Workers int
	// DisableKafkaRequests turns the reqrep server off (HTTP only).
	DisableKafkaRequests bool
	// CreateTopics makes Run create the topics that are missing first
	// (EnsureTopics), with TopicPartitions partitions (default 3) and
	// TopicReplication replicas (0: the broker's default).
	CreateTopics     bool
	TopicPartitions  int32
	TopicReplication int16
	// RateLimit is the sustained HTTP requests per second allowed per API
	// key (0: unlimited); RateBurst the requests allowed at once (default
	// max(1, ceil(RateLimit))). Over it the answer is 429 with
	// Retry-After.
	RateLimit float64
	RateBurst int
	// Engine configures the engines (reasoner, judgement cache).
	Engine simulation.Options
	// Registerer receives the simulator's and the request/reply server's
	// metrics (nil: not registered).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// ClientOpts are extra franz-go options for every client (tests).
	ClientOpts []kgo.Opt
}

// SnapshotTopic is the compacted calibration topic.
func (c Config) SnapshotTopic() string { return c.TopicPrefix + "calibration" }

// RequestTopic is the Kafka request topic.
func (c Config) RequestTopic() string { return c.TopicPrefix + "simulate.requests" }

// Validate reports every problem.
func (c Config) Validate() error {
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(c.APIKeys) == 0 {
		errs = append(errs, errors.New("api keys: at least one is required"))
	}
	for i, k := range c.APIKeys {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, fmt.Errorf("api keys: key %d is empty", i))
		}
	}
	if c.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("request timeout: %s is negative", c.RequestTimeout))
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers: %d is negative", c.Workers))
	}
	if c.RateLimit < 0 || math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0) {
		errs = append(errs, fmt.Errorf("rate limit: %v must be a finite number ≥ 0", c.RateLimit))
	}
	if c.TopicPartitions < 0 || c.TopicPartitions > 1000 {
		errs = append(errs, fmt.Errorf("topic partitions: %d is not in 1…1000", c.TopicPartitions))
	}
	if c.TopicReplication < -1 {
		errs = append(errs, fmt.Errorf("topic replication: %d is neither -1 (the broker's default) nor a replica count", c.TopicReplication))
	}
	if c.RateBurst < 0 {
		errs = append(errs, fmt.Errorf("rate burst: %d is negative", c.RateBurst))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Group == "" {
		c.Group = "preflight-simulator"
	}
	if len(c.AllowedReplyTopics) == 0 {
		c.AllowedReplyTopics = []string{c.TopicPrefix + "simulate.replies*"}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RateLimit > 0 && c.RateBurst == 0 {
		c.RateBurst = max(1, int(math.Ceil(c.RateLimit)))
	}
	if c.Engine.Cache == nil {
		c.Engine.Cache = simulation.NewCache(simulation.DefaultCacheEntries)
	}
	return c
}

// EnsureTopics creates the simulator's topics on the cluster kc that do
// not exist yet: the compacted "<prefix>calibration", and
// "<prefix>simulate.requests" and "<prefix>simulate.replies", with
// partitions partitions and replication replication (-1: the broker's
// default).
func EnsureTopics(ctx context.Context, kc streams.KafkaConfig, prefix string, partitions int32, replication int16) error {
	opts, err := kc.ClientOpts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	cfg := Config{TopicPrefix: prefix}
	if err := streams.EnsureTopics(ctx, cl, partitions, replication, cfg.RequestTopic(), prefix+"simulate.replies"); err != nil {
		return err
	}
	compact := "compact"
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, replication, map[string]*string{"cleanup.policy": &compact}, cfg.SnapshotTopic())
	if err != nil {
		return fmt.Errorf("cannot create topic %s: %w", cfg.SnapshotTopic(), err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("cannot create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// Service is the simulator.
type Service struct {
	cfg     Config
	keys    [][]byte
	Store   *SnapshotStore
	rr      *reqrep.Server
	metrics *Metrics
	// limiters[i] limits keys[i] (nil when RateLimit is 0).
	limiters []*rate.Limiter
	// answered counts the answers by transport (HTTP, Kafka).
	answered [2]atomic.Int64
}

// Requests returns how many requests the service has answered over
// transport (TransportHTTP or TransportKafka), whatever the result.
func (s *Service) Requests(transport string) float64 {
	if transport == TransportKafka {
		return float64(s.answered[1].Load())
	}
	return float64(s.answered[0].Load())
}

// New checks cfg and builds the service; Run starts it.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m := NewMetrics(cfg.Registerer, cfg.Engine.Cache)
	store, err := NewSnapshotStore(StoreConfig{Kafka: cfg.Kafka, Topic: cfg.SnapshotTopic(), Engine: cfg.Engine,
		Logger: cfg.Logger, ClientOpts: cfg.ClientOpts, Metrics: m})
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, Store: store, metrics: m}
	for _, k := range cfg.APIKeys {
		s.keys = append(s.keys, []byte(strings.TrimSpace(k)))
		if cfg.RateLimit > 0 {
			s.limiters = append(s.limiters, rate.NewLimiter(rate.Limit(cfg.RateLimit), cfg.RateBurst))
		}
	}
	if !cfg.DisableKafkaRequests {
		s.rr, err = reqrep.NewServer(reqrep.ServerConfig{
			Kafka: cfg.Kafka, Topic: cfg.RequestTopic(), Group: cfg.Group,
			AllowedReplyTopics: cfg.AllowedReplyTopics, Workers: cfg.Workers,
			HandlerTimeout: cfg.RequestTimeout + 5*time.Second, // the simulation's own timeout answers first
			Logger:         cfg.Logger, ClientOpts: cfg.ClientOpts, Registerer: cfg.Registerer,
		}, s.HandleKafka)
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Run runs the snapshot store and the Kafka request server until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	if s.cfg.CreateTopics {
		part, repl := s.cfg.TopicPartitions, s.cfg.TopicReplication
		if part <= 0 {
			part = 3
		}
		if repl == 0 {
			repl = -1
		}
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := EnsureTopics(tctx, s.cfg.Kafka, s.cfg.TopicPrefix, part, repl)
		cancel()
		if err != nil {
			return err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.Store.Run(gctx) })
	if s.rr != nil {
		g.Go(func() error { return s.rr.Run(gctx) })
	}
	return g.Wait()
}

// Healthy always reports nil: the process serves.
func (s *Service) Healthy(context.Context) error { return nil }

// Ready reports whether the snapshots are loaded.
func (s *Service) Ready(ctx context.Context) error { return s.Store.Ready(ctx) }

// newID returns a simulation id for responses made before the engine runs.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "sim_" + hex.EncodeToString(b[:])
}

func failed(e *api.Error) api.SimulateResponse {
	return api.SimulateResponse{SimulationID: newID(), Status: api.StatusFailed, Error: e}
}

// errNoSnapshot marks the 503 case.
var errNoSnapshot = errors.New("no calibration snapshot")

// Simulate decodes body and answers it from the scope's engine (scope ""
// means the request's industry_context). It always returns a response of
// the contract's shape, and the HTTP status that goes with it.
func (s *Service) Simulate(ctx context.Context, scope string, body []byte) (int, api.SimulateResponse) {
	req, err := api.Decode(body, s.cfg.Limits)
	if err != nil {
		var ae *api.Error
		if !errors.As(err, &ae) {
			ae = &api.Error{Kind: api.KindInternal, Message: err.Error()}
		}
		return ae.HTTPStatus(), failed(ae)
	}
	if scope == "" {
		scope = string(req.IndustryContext)
	}
	eng, _ := s.Store.Engine(scope)
	if eng == nil {
		ae := &api.Error{Kind: api.KindInternal, Message: fmt.Sprintf("%s for scope %q yet; retry later", errNoSnapshot, scope)}
		return http.StatusServiceUnavailable, failed(ae)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	wr := req.WithDefaults().SimulationParams
	s.metrics.work.Observe(float64(*wr.NumPersonas) * float64(*wr.MonteCarloRuns) * float64(*wr.TimeHorizonDays))
	start := time.Now()
	resp, err := eng.Simulate(ctx, req, s.cfg.Seed)
	s.metrics.engine.Observe(time.Since(start).Seconds())
	if err != nil {
		var ae *api.Error
		if !errors.As(err, &ae) {
			ae = &api.Error{Kind: api.KindInternal, Message: err.Error()}
		}
		if ae.Kind != api.KindTimeout && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			ae = &api.Error{Kind: api.KindTimeout, Message: "simulation did not finish before the deadline"}
		}
		if resp.Status != api.StatusFailed || resp.Error != ae {
			resp = api.SimulateResponse{SimulationID: resp.SimulationID, Status: api.StatusFailed, Error: ae}
		}
		if resp.SimulationID == "" {
			resp.SimulationID = newID()
		}
		return ae.HTTPStatus(), resp
	}
	return http.StatusOK, resp
}

// Handler returns the HTTP handler: the simulate endpoint and the OpenAPI
// document.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+api.OpenAPIPath, api.OpenAPIHandler())
	mux.HandleFunc(SimulatePath, s.serveSimulate)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, resp api.SimulateResponse) {
	b, err := json.Marshal(resp)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(failed(&api.Error{Kind: api.KindInternal, Message: "cannot encode the response"}))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// authorized compares the request's key with every configured key in
// constant time (no early exit) and returns the index of the matching
// key, or -1.
func (s *Service) authorized(r *http.Request) int {
	key := r.Header.Get("X-API-Key")
	if a := r.Header.Get("Authorization"); key == "" && len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		key = strings.TrimSpace(a[7:])
	}
	if key == "" {
		return -1
	}
	found := -1
	for i, k := range s.keys {
		if subtle.ConstantTimeCompare([]byte(key), k) == 1 {
			found = i
		}
	}
	return found
}

// observe records one answer in the metrics.
func (s *Service) observe(transport string, status int, resp api.SimulateResponse, start time.Time) {
	if transport == TransportKafka {
		s.answered[1].Add(1)
	} else {
		s.answered[0].Add(1)
	}
	s.metrics.requests.WithLabelValues(transport, result(status, resp.Error)).Inc()
	s.metrics.duration.WithLabelValues(transport).Observe(time.Since(start).Seconds())
}

func (s *Service) serveSimulate(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	writeJSON := func(w http.ResponseWriter, status int, resp api.SimulateResponse) {
		writeJSON(w, status, resp)
		s.observe(TransportHTTP, status, resp, start)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, failed(&api.Error{Kind: api.KindValidation, Message: "method " + r.Method + " not allowed; use POST"}))
		return
	}
	key := s.authorized(r)
	if key < 0 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="preflight"`)
		writeJSON(w, http.StatusUnauthorized, failed(&api.Error{Kind: api.KindUnauthorized, Message: "missing or invalid API key"}))
		return
	}
	if s.limiters != nil {
		if res := s.limiters[key].Reserve(); res.Delay() > 0 {
			wait := res.Delay()
			res.Cancel()
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeJSON(w, http.StatusTooManyRequests, failed(&api.Error{Kind: api.KindLimit,
				Message: fmt.Sprintf("rate limit of %g requests/s for this API key exceeded; retry in %s", s.cfg.RateLimit, wait.Round(time.Millisecond))}))
			return
		}
	}
	s.metrics.inFlight.WithLabelValues(TransportHTTP).Inc()
	defer s.metrics.inFlight.WithLabelValues(TransportHTTP).Dec()
	limit := s.cfg.Limits.MaxBodyBytes
	if limit <= 0 {
		limit = api.DefaultMaxBodyBytes
	}
	// One byte more than the limit lets api.Decode report the size itself.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(limit)+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			e := &api.Error{Kind: api.KindLimit, Message: "request body too large", Fields: []api.FieldError{{
				Path: api.BodyPath, Reason: fmt.Sprintf("must be at most %d bytes", limit)}}}
			writeJSON(w, e.HTTPStatus(), failed(e))
			return
		}
		e := &api.Error{Kind: api.KindValidation, Message: "cannot read the request body", Fields: []api.FieldError{{
			Path: api.BodyPath, Reason: err.Error()}}}
		writeJSON(w, e.HTTPStatus(), failed(e))
		return
	}
	status, resp := s.Simulate(r.Context(), strings.TrimSpace(r.Header.Get(ScopeHeader)), body)
	if status >= 500 {
		s.cfg.Logger.Warn("simulation failed", "status", status, "simulation_id", resp.SimulationID, "err", resp.Error)
	}
	writeJSON(w, status, resp)
}

// HandleKafka is the reqrep handler: the same decoding and bodies as HTTP.
func (s *Service) HandleKafka(ctx context.Context, req reqrep.Request) (reqrep.Reply, error) {
	scope := ""
	for _, h := range req.Headers {
		if strings.EqualFold(h.Key, ScopeHeader) {
			scope = strings.TrimSpace(string(h.Value))
		}
	}
	start := time.Now()
	s.metrics.inFlight.WithLabelValues(TransportKafka).Inc()
	status, resp := s.Simulate(ctx, scope, req.Value)
	s.metrics.inFlight.WithLabelValues(TransportKafka).Dec()
	s.observe(TransportKafka, status, resp, start)
	b, err := json.Marshal(resp)
	if err != nil {
		return reqrep.Reply{}, err
	}
	rep := reqrep.Reply{Value: b}
	if resp.Error != nil {
		kind := reqrep.KindInternal
		switch resp.Error.Kind {
		case api.KindValidation, api.KindLimit:
			kind = reqrep.KindValidation
		case api.KindTimeout:
			kind = reqrep.KindTimeout
		}
		rep.Headers = []kgo.RecordHeader{
			{Key: reqrep.HeaderError, Value: []byte(kind)},
			{Key: reqrep.HeaderErrorMessage, Value: []byte(resp.Error.Message)},
		}
	}
	return rep, nil
}
