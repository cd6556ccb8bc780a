package main

import (
	"flag"

	"github.com/preflight-hq/preflight/internal/envflag"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/streams"
)

// commonFlags point the CLI's parts at real servers instead of the
// embedded defaults.
type commonFlags struct {
	brokers, dsn, dataDir, prefix, logLevel string
	chPassword                              string
}

func addCommonFlags(fs *flag.FlagSet) *commonFlags {
	c := &commonFlags{}
	fs.StringVar(&c.brokers, "kafka-brokers", "", "comma-separated Kafka brokers; empty starts the embedded broker (kfake on loopback)")
	fs.StringVar(&c.dsn, "clickhouse-dsn", "", "ClickHouse server DSN (clickhouse://user@host:9000/db); empty uses embedded chDB (password from PREFLIGHT_CLICKHOUSE_PASSWORD)")
	fs.StringVar(&c.dataDir, "data-dir", "", "directory of the embedded ClickHouse engine (default: a temporary directory)")
	fs.StringVar(&c.prefix, "topic-prefix", schemas.DefaultTopicPrefix, "prefix of every topic name")
	fs.StringVar(&c.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	return c
}

// resolve reads the secrets from the environment.
func (c *commonFlags) resolve() error {
	var err error
	c.chPassword, err = envflag.Secret("PREFLIGHT_CLICKHOUSE_PASSWORD")
	return err
}

func (c *commonFlags) brokerList() []string {
	if c.brokers == "" {
		return nil
	}
	return streams.ParseBrokers(c.brokers)
}
