package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/schollz/progressbar/v3"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/preflight-hq/preflight/eventsink"
	"github.com/preflight-hq/preflight/internal/envflag"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/synth"
)

func cmdGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	w := addWorldFlags(fs)
	out := fs.String("out", "", "write <type>.jsonl files and truth.json to this directory")
	brokers := fs.String("kafka-brokers", "", "produce to this Kafka cluster (through segmentio/kafka-go) instead of files")
	prefix := fs.String("topic-prefix", schemas.DefaultTopicPrefix, "prefix of every topic name")
	truthPath := fs.String("truth", "", "where to write the planted truth (default <out>/truth.json, or ./truth.json with --kafka-brokers)")
	if err := envflag.Parse(fs, args); err != nil {
		return err
	}
	cfg, err := w.config()
	if err != nil {
		return err
	}
	if (*out == "") == (*brokers == "") {
		return errors.New("generate: give exactly one of --out DIR or --kafka-brokers HOST:PORT")
	}
	sink, tp, err := openSink(ctx, *out, *brokers, *prefix, stderr)
	if err != nil {
		return err
	}
	if *truthPath != "" {
		tp = *truthPath
	}
	truth, err := synth.Generate(ctx, cfg, sink.Sink)
	if cerr := sink.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := truth.WriteJSON(tp); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwrote %d events (%v) and the planted truth to %s\n", sink.count(), truth.Events, tp)
	return nil
}

// cliSink is an event sink with a progress bar and a count.
type cliSink struct {
	eventsink.Sink
	bar   *progressbar.ProgressBar
	kafka *eventsink.Kafka
	files *eventsink.Files
}

func (s cliSink) count() int64 {
	if s.kafka != nil {
		return s.kafka.Delivered()
	}
	var n int64
	for _, c := range s.files.Counts() {
		n += c
	}
	return n
}

func (s cliSink) Close() error {
	err := s.Sink.Close()
	_ = s.bar.Finish()
	return err
}

// openSink opens the files or Kafka sink and returns it with the default
// truth path. Kafka topics are created when missing.
func openSink(ctx context.Context, dir, brokers, prefix string, progress io.Writer) (cliSink, string, error) {
	// No spinner ticker: progressbar's ticker goroutine reads the bar's
	// state without its lock (a data race) and outlives unfinished bars.
	bar := progressbar.NewOptions64(-1, progressbar.OptionSetSpinnerChangeInterval(0), progressbar.OptionSetWriter(progress), progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("events"))
	if dir != "" {
		f, err := eventsink.NewFiles(dir)
		if err != nil {
			return cliSink{}, "", err
		}
		counted := eventsink.Func(func(ctx context.Context, ev schemas.Event) error {
			_ = bar.Add(1)
			return f.Write(ctx, ev)
		})
		return cliSink{Sink: closer{counted, f}, bar: bar, files: f}, filepath.Join(dir, "truth.json"), nil
	}
	cfg := streams.KafkaConfig{Brokers: streams.ParseBrokers(brokers)}
	cl, err := kgoClient(cfg)
	if err != nil {
		return cliSink{}, "", err
	}
	topics := streams.Topics{Prefix: prefix}
	err = streams.EnsureTopics(ctx, cl, 4, -1, append(topics.Events(), topics.DLQ())...)
	cl.Close()
	if err != nil {
		return cliSink{}, "", err
	}
	k, err := eventsink.NewKafka(eventsink.KafkaConfig{Brokers: cfg.Brokers, TopicPrefix: prefix,
		Progress: func(d, _ int64) { _ = bar.Set64(d) }})
	if err != nil {
		return cliSink{}, "", err
	}
	wd, _ := os.Getwd()
	return cliSink{Sink: k, bar: bar, kafka: k}, filepath.Join(wd, "truth.json"), nil
}

// closer writes through w and closes c.
type closer struct {
	w eventsink.Func
	c eventsink.Sink
}

func (c closer) Write(ctx context.Context, ev schemas.Event) error { return c.w(ctx, ev) }
func (c closer) Close() error                                      { return c.c.Close() }

func kgoClient(cfg streams.KafkaConfig) (*kgo.Client, error) {
	opts, err := cfg.ClientOpts()
	if err != nil {
		return nil, err
	}
	return kgo.NewClient(opts...)
}
