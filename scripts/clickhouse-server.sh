#!/usr/bin/env bash
# clickhouse-server.sh start|stop|status|dsn
#
# Runs Debian's clickhouse-server (18.16 on bookworm) on loopback with a
# throwaway configuration, for tests and CI. Everything it writes lives under
# one state directory:
#
#   PREFLIGHT_STATE           state dir (default /tmp/preflight-ch): config,
#                             data, tmp, logs, pid file
#   PREFLIGHT_CH_PORT         native protocol port (default 19000)
#   PREFLIGHT_CH_HTTP_PORT    HTTP port (default 18123)
#   PREFLIGHT_CH_START_TIMEOUT seconds to wait for the server (default 60)
#   PREFLIGHT_CH_OWNER_PID    when set, a watchdog stops the server once this
#                             process has exited (test binaries set it, so a
#                             crashed test run leaves no server behind)
#   PREFLIGHT_CH_EPHEMERAL=1  with an owner: the watchdog also removes the
#                             state dir
#
# start  installs the server with apt-get when it is missing (needs root),
#        starts it in the background unless it already answers, waits until
#        it answers and prints its DSN (clickhouse://default@127.0.0.1:PORT/default).
# stop   stops the server started from this state dir and waits for it to exit.
# status exits 0 when the server answers.
# dsn    prints the DSN.
#
# The default user has no password and accepts only loopback clients.
set -euo pipefail

STATE=${PREFLIGHT_STATE:-/tmp/preflight-ch}
PORT=${PREFLIGHT_CH_PORT:-19000}
HTTP_PORT=${PREFLIGHT_CH_HTTP_PORT:-18123}
TIMEOUT=${PREFLIGHT_CH_START_TIMEOUT:-60}
PIDFILE="$STATE/clickhouse-server.pid"

log() { echo "clickhouse-server.sh: $*" >&2; }

find_server() {
	local p
	for p in "$(command -v clickhouse-server 2>/dev/null || true)" /usr/bin/clickhouse-server /usr/sbin/clickhouse-server; do
		if [ -n "$p" ] && [ -x "$p" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

install_server() {
	if [ "$(id -u)" != 0 ]; then
		log "clickhouse-server is not installed; install it with: sudo DEBIAN_FRONTEND=noninteractive apt-get install -y clickhouse-server clickhouse-client"
		exit 1
	fi
	log "installing clickhouse-server with apt-get"
	# The package's postinst tries to start a system service; that is harmless
	# here, and policy-rc.d stops it where the image provides one.
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y clickhouse-server clickhouse-client >&2; then
		apt-get update >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y clickhouse-server clickhouse-client >&2
	fi
}

dsn() { echo "clickhouse://default@127.0.0.1:${PORT}/default"; }

answers() {
	# The HTTP interface answers "Ok." on /ping once the server is ready.
	local out
	out=$( (exec 3<>"/dev/tcp/127.0.0.1/${HTTP_PORT}" &&
		printf 'GET /ping HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
		timeout 5 cat <&3) 2>/dev/null) || return 1
	[[ "$out" == *"Ok."* ]]
}

running_pid() {
	[ -f "$PIDFILE" ] || return 1
	local pid
	pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

write_config() {
	mkdir -p "$STATE/data" "$STATE/tmp" "$STATE/user_files" "$STATE/format_schemas" "$STATE/log"
	cat >"$STATE/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$STATE/log/clickhouse-server.log</log>
        <errorlog>$STATE/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$PORT</tcp_port>
    <http_port>$HTTP_PORT</http_port>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$STATE/data/</path>
    <tmp_path>$STATE/tmp/</tmp_path>
    <user_files_path>$STATE/user_files/</user_files_path>
    <format_schema_path>$STATE/format_schemas/</format_schema_path>
    <users_config>$STATE/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
XML
	cat >"$STATE/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks replace="replace">
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
XML
}

# start_watchdog SERVER_PID OWNER_PID stops the server when its owner exits.
start_watchdog() {
	local server=$1 owner=$2 state=$STATE ephemeral=${PREFLIGHT_CH_EPHEMERAL:-0}
	setsid bash -c '
		server=$1 owner=$2 state=$3 ephemeral=$4
		while kill -0 "$owner" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 1; done
		if kill -0 "$server" 2>/dev/null; then
			kill "$server" 2>/dev/null
			for _ in $(seq 1 150); do kill -0 "$server" 2>/dev/null || break; sleep 0.2; done
			kill -9 "$server" 2>/dev/null
			if [ "$ephemeral" = 1 ]; then rm -rf "$state"; fi
		fi
	' watchdog "$server" "$owner" "$state" "$ephemeral" >/dev/null 2>&1 </dev/null &
}

start() {
	if running_pid >/dev/null && answers; then
		dsn
		return 0
	fi
	local bin
	if ! bin=$(find_server); then
		install_server
		bin=$(find_server) || { log "clickhouse-server is still missing after apt-get install"; exit 1; }
	fi
	if answers; then
		log "port ${HTTP_PORT} already answers but not for the server in $STATE; stop it or set PREFLIGHT_CH_PORT and PREFLIGHT_CH_HTTP_PORT"
		exit 1
	fi
	write_config
	# The server runs as the calling user (root in CI) in its own session so
	# that it outlives this script; its output goes to the state dir.
	setsid "$bin" --config-file="$STATE/config.xml" \
		>"$STATE/log/stdout.log" 2>"$STATE/log/stderr.log" </dev/null &
	local pid=$!
	echo "$pid" >"$PIDFILE"
	if [ -n "${PREFLIGHT_CH_OWNER_PID:-}" ]; then
		start_watchdog "$pid" "$PREFLIGHT_CH_OWNER_PID"
	fi
	local deadline=$((SECONDS + TIMEOUT))
	until answers; do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "clickhouse-server exited during start; last log lines:"
			tail -n 20 "$STATE/log/stderr.log" "$STATE/log/clickhouse-server.err.log" >&2 2>/dev/null || true
			rm -f "$PIDFILE"
			exit 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			log "clickhouse-server did not answer on 127.0.0.1:${HTTP_PORT} within ${TIMEOUT}s; see $STATE/log"
			kill "$pid" 2>/dev/null || true
			exit 1
		fi
		sleep 0.2
	done
	dsn
}

stop() {
	local pid
	if ! pid=$(running_pid); then
		rm -f "$PIDFILE"
		return 0
	fi
	kill "$pid" 2>/dev/null || true
	local i
	for i in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "clickhouse-server (pid $pid) did not stop in 30s; killing it"
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$PIDFILE"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) running_pid >/dev/null && answers ;;
dsn) dsn ;;
*)
	echo "usage: $0 start|stop|status|dsn" >&2
	exit 2
	;;
esac
