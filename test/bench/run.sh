#!/usr/bin/env bash
# Ingest benchmark for the chatops Alertmanager webhook, with a pgbench
# baseline on the same machine and the same PostgreSQL server.
#
#   bash test/bench/run.sh
#
# Env knobs (see test/bench/README.md):
#   BENCH_DURATION            per-case duration, Go syntax (20s, 1m, 1m30s); default 20s, cap 5m
#   BENCH_OUT                 results file (Markdown); default $tmp/results.md
#   BENCH_SENDERS             concurrency levels; default "8 32" (also pgbench client counts)
#   BENCH_ALERTS_PER_PAYLOAD  alerts per webhook body; default "1 10"
#   BENCH_GROUPS              distinct alert groups; default 200
#   BENCH_NEW_GROUPS          1: every webhook is a group of its own, which opens an incident
#                             (BENCH_GROUPS is then unused); default 0
#   BENCH_PG_HOST/BENCH_PG_PORT/BENCH_PG_USER  default 127.0.0.1 / 5432 / postgres (trust auth)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

duration=${BENCH_DURATION:-20s}
senders_list=${BENCH_SENDERS:-"8 32"}
app_list=${BENCH_ALERTS_PER_PAYLOAD:-"1 10"}
groups=${BENCH_GROUPS:-200}
new_groups=${BENCH_NEW_GROUPS:-0}
group_flags=(-groups "$groups")
[[ $new_groups == 1 ]] && group_flags=(-new-groups)
pg_host=${BENCH_PG_HOST:-127.0.0.1}
pg_port=${BENCH_PG_PORT:-5432}
pg_user=${BENCH_PG_USER:-postgres}

die() { echo "run.sh: $*" >&2; exit 1; }

case "$pg_host" in
127.* | localhost | ::1) ;;
*) die "BENCH_PG_HOST=$pg_host is not a loopback address; this benchmark only talks to 127.0.0.1" ;;
esac

for tool in go psql curl pgbench; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		case "$tool" in
		pgbench | psql) die "$tool not found in PATH: install the PostgreSQL client tools (Debian: apt-get install postgresql-client)" ;;
		*) die "$tool not found in PATH" ;;
		esac
	fi
done

# Go duration (20s, 2m, 1m30s, 45) -> whole seconds, for pgbench -T.
to_seconds() {
	local d=$1 m=0 s=0
	if [[ $d =~ ^([0-9]+)$ ]]; then
		s=${BASH_REMATCH[1]}
	elif [[ $d =~ ^(([0-9]+)m)?(([0-9]+)s)?$ ]] && [[ -n $d ]]; then
		m=${BASH_REMATCH[2]:-0}
		s=${BASH_REMATCH[4]:-0}
	else
		return 1
	fi
	echo $((10#$m * 60 + 10#$s))
}
secs=$(to_seconds "$duration") || die "BENCH_DURATION=$duration: use whole seconds/minutes like 20s, 2m, 1m30s"
((secs >= 1)) || die "BENCH_DURATION must be at least 1s"
((secs <= 300)) || die "BENCH_DURATION=$duration exceeds the 5m cap"
gen_duration="${secs}s"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chatops-bench.XXXXXX")
out=${BENCH_OUT:-$tmp/results.md}

psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -h "$pg_host" -p "$pg_port" -U "$pg_user" -d postgres "$@"; }
db_url() { echo "postgres://${pg_user}@${pg_host}:${pg_port}/$1?sslmode=disable"; }

psql_admin -Atc 'select 1' >/dev/null 2>&1 ||
	die "cannot connect to PostgreSQL at $pg_host:$pg_port as $pg_user (trust auth expected)"

created_dbs=()
bot_pid=""
create_db() {
	psql_admin -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" 2>/dev/null
	psql_admin -c "CREATE DATABASE \"$1\""
	created_dbs+=("$1")
}
drop_db() { psql_admin -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" || echo "run.sh: warning: could not drop database $1" >&2; }

cleanup() {
	local rc=$?
	if [[ -n $bot_pid ]] && kill -0 "$bot_pid" 2>/dev/null; then
		kill -TERM "$bot_pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$bot_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$bot_pid" 2>/dev/null || true
	fi
	for db in "${created_dbs[@]}"; do
		psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
	done
	rm -f "$tmp/chatops" "$tmp/ingest"
	echo "run.sh: artifacts (bot logs, generator JSON, pgbench logs) in $tmp" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# jnum KEY FILE: first numeric value of "KEY": in a one-line JSON file ("?" if absent).
jnum() {
	local v
	v=$(grep -oE "\"$1\":-?[0-9.eE+-]+" "$2" 2>/dev/null | head -n1 | cut -d: -f2) || true
	echo "${v:-?}"
}
fmt1() { [[ $1 == "?" ]] && echo "?" || awk -v x="$1" 'BEGIN{printf "%.1f", x}'; }
fmt2() { [[ $1 == "?" || $1 == "n/a" ]] && echo "$1" || awk -v x="$1" 'BEGIN{printf "%.2f", x}'; }
ratio() { [[ $1 == "?" || $2 == "?" ]] && echo "?" || awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.3f", a / b; else print "?" }'; }

echo "run.sh: building into $tmp" >&2
go build -o "$tmp/chatops" ./cmd/chatops
go build -o "$tmp/ingest" ./test/bench/ingest

webhook_token="bench-webhook-$RANDOM$RANDOM"
api_token="bench-api-$RANDOM$RANDOM"
failed=0
declare -A tps_by_clients=() pgb_failed=()
rows=()
details=()

# ---------------------------------------------------------------------------
# chatops cases
for app in $app_list; do
	for snd in $senders_list; do
		name="app${app}-s${snd}"
		db="chatops_bench_$$_${app}_${snd}"
		log="$tmp/$name.bot.log"
		res="$tmp/$name.json"
		echo "run.sh: case $name: $snd senders × $app alerts/payload, $gen_duration" >&2
		create_db "$db"
		port=$(free_port) || die "no free TCP port found on 127.0.0.1"
		mkdir -p "$tmp/$name.data"
		(
			cd "$tmp"
			exec env CHATOPS_DATABASE_URL="$(db_url "$db")" \
				CHATOPS_LISTEN_ADDR="127.0.0.1:$port" \
				CHATOPS_DATA_DIR="$tmp/$name.data" \
				CHATOPS_WEBHOOK_TOKEN="$webhook_token" \
				CHATOPS_API_TOKEN="$api_token" \
				CHATOPS_LOG_FORMAT=json \
				"$tmp/chatops" serve
		) >"$log" 2>&1 &
		bot_pid=$!

		ready=0
		for _ in $(seq 300); do
			if ! kill -0 "$bot_pid" 2>/dev/null; then
				echo "run.sh: bot exited before /readyz was 200; last log lines:" >&2
				tail -n 20 "$log" >&2
				die "case $name: bot did not start"
			fi
			if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/readyz" 2>/dev/null; then
				ready=1
				break
			fi
			sleep 0.1
		done
		((ready)) || { tail -n 20 "$log" >&2; die "case $name: /readyz not 200 within 30s"; }

		gen_rc=0
		"$tmp/ingest" -url "http://127.0.0.1:$port" -token "$webhook_token" -duration "$gen_duration" \
			-senders "$snd" -alerts-per-payload "$app" "${group_flags[@]}" \
			-pg-url "$(db_url "$db")" -json >"$res" 2>"$tmp/$name.ingest.err" || gen_rc=$?
		if [[ ! -s $res ]]; then
			cat "$tmp/$name.ingest.err" >&2
			die "case $name: generator produced no result (exit $gen_rc)"
		fi

		hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$bot_pid/status" 2>/dev/null || true)
		rss_mib="?"
		[[ -n $hwm_kb ]] && rss_mib=$(awk -v k="$hwm_kb" 'BEGIN{printf "%.1f", k / 1024}')

		t0=$(date +%s.%N)
		kill -TERM "$bot_pid"
		bot_rc=""
		for _ in $(seq 300); do
			kill -0 "$bot_pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$bot_pid" 2>/dev/null; then
			kill -KILL "$bot_pid" 2>/dev/null || true
			bot_rc="killed (no exit 30s after SIGTERM)"
		fi
		wait "$bot_pid" 2>/dev/null && rc=0 || rc=$?
		[[ -z $bot_rc ]] && bot_rc=$rc
		stop_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')
		bot_pid=""
		drop_db "$db"

		log_errors=$(grep -c '"level":"error"' "$log" || true)
		log_warns=$(grep -c '"level":"warn"' "$log" || true)

		status="ok"
		if ((gen_rc == 1)); then
			status="INTEGRITY FAILURE"
		elif ((gen_rc != 0)); then
			status="request failures"
		fi
		[[ $bot_rc != 0 ]] && status="$status; bot exit $bot_rc"
		[[ $status != ok ]] && failed=1

		a_s=$(jnum alerts_per_s "$res")
		p_s=$(jnum payloads_per_s "$res")
		p50=$(jnum p50 "$res") p90=$(jnum p90 "$res") p99=$(jnum p99 "$res") pmax=$(jnum max "$res")
		if [[ $(jnum payloads_2xx "$res") == 0 ]]; then
			p50="n/a" p90="n/a" p99="n/a" pmax="n/a" # no acknowledged request: no latency
		fi
		rows+=("$name|$snd|$a_s|$p_s|$p50|$p99|$pmax|$(jnum lost "$res")|$rss_mib|$(($(jnum payloads_non2xx "$res") + $(jnum errors "$res")))")
		details+=("| $name | $(jnum payloads_sent "$res") | $(jnum payloads_2xx "$res") | $(jnum payloads_non2xx "$res") | $(jnum errors "$res") | $(jnum alerts_acked "$res") | $(jnum found_matching "$res") | $(jnum incidents_found "$res")/$(jnum incidents_expected "$res") | $(fmt2 "$p90") | $bot_rc | $stop_s | $log_errors/$log_warns | $status |")
		echo "run.sh: case $name: $(fmt1 "$a_s") alerts/s, $(fmt1 "$p_s") payloads/s, lost $(jnum lost "$res"), $status" >&2
		if [[ $status != ok ]]; then
			grep -oE '"(failure_samples|problems)":\[[^]]*\]' "$res" >&2 || true
		fi
	done
done

# ---------------------------------------------------------------------------
# pgbench baseline: one INSERT of an alert-like row per transaction.
cat >"$tmp/pgbench-schema.sql" <<'SQL'
-- shaped like the bot's alerts table: primary key (incident_id, fingerprint)
CREATE TABLE bench_alerts (
	incident_id bigint      NOT NULL,
	fingerprint text        NOT NULL,
	status      text        NOT NULL,
	labels      jsonb       NOT NULL,
	annotations jsonb       NOT NULL,
	starts_at   timestamptz NOT NULL,
	PRIMARY KEY (incident_id, fingerprint)
);
CREATE SEQUENCE bench_fp;
SQL
cat >"$tmp/pgbench-insert.sql" <<SQL
\\set g random(1, $groups)
INSERT INTO bench_alerts (incident_id, fingerprint, status, labels, annotations, starts_at) VALUES (:g, lpad(to_hex(nextval('bench_fp')), 16, '0'), 'firing', '{"alertname": "HighErrorRate", "namespace": "bakery-ia", "service": "gateway", "severity": "critical", "pod": "gateway-7c9f8d6b5-2xkqp"}', '{"summary": "gateway: 5xx ratio above 5%", "description": "5xx ratio above 5%"}', now());
SQL

for c in $senders_list; do
	db="chatops_bench_$$_pgbench_$c"
	echo "run.sh: pgbench: $c clients, -j 2, -T $secs" >&2
	create_db "$db"
	psql -X -q -v ON_ERROR_STOP=1 -h "$pg_host" -p "$pg_port" -U "$pg_user" -d "$db" -f "$tmp/pgbench-schema.sql"
	pgb_log="$tmp/pgbench-c$c.log"
	if ! pgbench -h "$pg_host" -p "$pg_port" -U "$pg_user" -n -f "$tmp/pgbench-insert.sql" \
		-c "$c" -j 2 -T "$secs" "$db" >"$pgb_log" 2>&1; then
		cat "$pgb_log" >&2
		die "pgbench with $c clients failed"
	fi
	tps=$(grep -E '^tps = ' "$pgb_log" | grep -v 'including' | head -n1 | awk '{print $3}')
	[[ -n $tps ]] || { cat "$pgb_log" >&2; die "could not read tps from pgbench output"; }
	tps_by_clients[$c]=$tps
	pgb_failed[$c]=$(grep -oE 'number of failed transactions: [0-9]+' "$pgb_log" | awk '{print $5}' || true)
	drop_db "$db"
done

# ---------------------------------------------------------------------------
# report
{
	echo "## chatops ingest benchmark"
	echo
	echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); duration per case: ${secs}s; groups: $( ((new_groups)) && echo "a new one per webhook" || echo "$groups"); machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "- bot: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo 'uncommitted tree'); PostgreSQL: $(psql_admin -Atc 'show server_version') (synchronous_commit=$(psql_admin -Atc 'show synchronous_commit'), fsync=$(psql_admin -Atc 'show fsync'))"
	echo "- generator, bot and PostgreSQL share the same CPUs; all traffic on 127.0.0.1"
	echo
	echo "| case | alerts/s | payloads/s | p50 ms | p99 ms | max ms | lost | failed req | peak RSS MiB | pgbench tps (same clients) | alerts/s ÷ tps | payloads/s ÷ tps |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for r in "${rows[@]}"; do
		IFS='|' read -r name snd a_s p_s p50 p99 mx lost rss fails <<<"$r"
		tps=${tps_by_clients[$snd]:-?}
		echo "| $name | $(fmt1 "$a_s") | $(fmt1 "$p_s") | $(fmt2 "$p50") | $(fmt2 "$p99") | $(fmt2 "$mx") | $lost | $fails | $rss | $(fmt1 "$tps") | $(ratio "$a_s" "$tps") | $(ratio "$p_s" "$tps") |"
	done
	echo
	echo "pgbench baseline (one single-row INSERT of an alert-like row per transaction, -j 2, -T ${secs}):"
	echo
	echo "| clients | tps | failed tx |"
	echo "|---:|---:|---:|"
	for c in $senders_list; do
		echo "| $c | $(fmt1 "${tps_by_clients[$c]}") | ${pgb_failed[$c]:-?} |"
	done
	echo
	echo "Details:"
	echo
	echo "| case | payloads sent | 2xx | non-2xx | errors | alerts acked | acked found in DB | incidents found/expected | p90 ms | bot exit | SIGTERM→exit s | log error/warn lines | verdict |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	printf '%s\n' "${details[@]}"
} >"$tmp/table.md"

if [[ $out != "$tmp/results.md" ]]; then
	mkdir -p "$(dirname "$out")"
fi
cp "$tmp/table.md" "$out"
cat "$tmp/table.md"
echo "run.sh: results written to $out" >&2

if ((failed)); then
	echo "run.sh: FAILED: at least one case had request failures, lost alerts or a bad bot exit (see Details)" >&2
	exit 1
fi
