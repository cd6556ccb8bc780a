package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/preflight-hq/preflight/internal/envflag"
	"github.com/preflight-hq/preflight/replay"
	"github.com/preflight-hq/preflight/schemas"
)

func cmdReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	csvPath := fs.String("csv", "data/hillstrom.csv", "Hillstrom-format CSV to replay")
	out := fs.String("out", "", "write <type>.jsonl files to this directory")
	brokers := fs.String("kafka-brokers", "", "stream to this Kafka cluster (through segmentio/kafka-go)")
	prefix := fs.String("topic-prefix", schemas.DefaultTopicPrefix, "prefix of every topic name")
	cost := fs.Float64("cost", 0.10, "cost of one e-mail send")
	if err := envflag.Parse(fs, args); err != nil {
		return err
	}
	if (*out == "") == (*brokers == "") {
		return errors.New("replay: give exactly one of --kafka-brokers HOST:PORT or --out DIR (preflight demo --source hillstrom runs it on the embedded stack)")
	}
	f, err := os.Open(*csvPath)
	if err != nil {
		return fmt.Errorf("cannot open the CSV: %w", err)
	}
	defer f.Close()
	sink, _, err := openSink(ctx, *out, *brokers, *prefix, stderr)
	if err != nil {
		return err
	}
	sum, err := replay.Hillstrom(ctx, f, replay.Options{Cost: *cost}, sink.Sink)
	if cerr := sink.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nreplayed %d rows as %d events %v\n", sum.Rows, sink.count(), sum.Events)
	for _, e := range sum.Effects {
		fmt.Fprintf(stdout, "ATE %s vs %s: visit %+.4f ± %.4f, conversion %+.5f ± %.5f, spend %+.3f ± %.3f\n",
			e.InterventionID, e.ControlID, e.Visit.Value, e.Visit.SE, e.Conversion.Value, e.Conversion.SE, e.Spend.Value, e.Spend.SE)
	}
	return nil
}
