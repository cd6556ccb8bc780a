// Command preflight is Preflight's CLI for people. It runs every role in one
// process on the embedded defaults (a kfake broker on loopback, chDB), or
// points each part at real servers with flags.
//
//	preflight demo       stream a synthetic world (or the Hillstrom replay) through Kafka into ClickHouse, summarize it and ask a simulator calibrated on it
//	preflight generate   write a synthetic CRM world with known truth to files or Kafka
//	preflight replay     stream the Hillstrom e-mail experiment through Kafka
//	preflight simulate   ask the simulator what an intervention would do and print the report
//	preflight bench      benchmarks (bench ingest, bench refresh, bench simulate)
//
// Every flag can also be set from the environment: flag kafka-brokers from
// PREFLIGHT_KAFKA_BROKERS, and so on.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/preflight-hq/preflight/warehouse/embedded"
)

const usage = `usage: preflight <command> [flags]

commands:
  demo       stream a synthetic world (or --source hillstrom) through Kafka into ClickHouse, summarize it, ask a simulator
  generate   write a synthetic CRM world with known truth to files or to Kafka
  replay     stream the Hillstrom e-mail experiment (CSV) through Kafka
  simulate   ask the simulator what an intervention would do (--url, --kafka-brokers, or everything embedded)
  bench      run a benchmark: bench ingest, bench refresh, bench simulate

Run 'preflight <command> -h' for the command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "preflight:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"demo":     cmdDemo,
		"generate": cmdGenerate,
		"replay":   cmdReplay,
		"simulate": cmdSimulate,
		"bench":    cmdBench,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			fmt.Fprint(stdout, usage)
			return nil
		}
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd(ctx, args[1:], stdout, stderr)
}
