#!/usr/bin/env bash
# Proves the image and the product's deployment in real containers, with the bundled emulator as Discord:
#   the image builds (from a local Debian base when no registry can be reached), imports the installed package from
#   its WORKDIR as a numeric user, migrates a fresh database, and runs the stack of docker-compose.yml (code server,
#   webserver, daemon with the Docker run launcher on podman's Docker-compatible API, the HTTP API); then
#   a tenant added through the API gets its initial sync in a run container of its own, which finishes; a run still
#   starting and a running one are cancelled through the API and end CANCELED within seconds; the code server
#   restarts; and the next hourly schedule tick syncs again.
# It prints one "ok:" line per check and exits non-zero on the first failure. Where podman cannot be installed it
# says so and exits 0. docs/deploy.md ("Proof in containers") says what it differs in from docker-compose.yml and
# why: host networking (no registry image of PostgreSQL, no container DNS here) and the host's PostgreSQL.
#
# Settings (environment):
#   CHECK_DATABASE_URL   a PostgreSQL server the containers reach on the host network, as a superuser that may
#                        create a database (default postgresql://postgres@127.0.0.1:5432/postgres); the check makes
#                        a database of its own there and drops it at the end
#   BASE_IMAGE           the image's base; default: a local bookworm made by debootstrap (needs root) and imported
#   CHECK_TICK_WAIT      longest wait in seconds for the next hourly tick (default 3900); 0 skips that check
#   CHECK_PORT_BASE      first of the five host ports used (default 14000)
#   CHECK_KEEP=1         leave the containers and the database for inspection
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
started=$(date +%s)
say() { printf '%s %s\n' "[$(($(date +%s) - started))s]" "$*"; }
ok() { say "ok: $*"; }
fail() {
  say "FAILED: $*" >&2
  for name in $(podman ps -a --format '{{.Names}}' 2>/dev/null | grep "^${P:-dscheck}-" || true); do
    echo "--- last lines of $name:" >&2
    podman logs --tail 8 "$name" 2>&1 | cut -c1-300 >&2 || true
  done
  exit 1
}

# --- The container engine ------------------------------------------------------------------------------------------
if ! command -v podman >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing podman, runc and debootstrap from Debian's packages"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc debootstrap; } \
      >/tmp/container-check-apt.log 2>&1 || true
  fi
  if ! command -v podman >/dev/null 2>&1; then
    echo "SKIPPED: podman is not installed and could not be installed here (not root, no apt-get, or the package" \
      "index is unreachable: see /tmp/container-check-apt.log); nothing was checked." >&2
    exit 0
  fi
fi
WORK="${CHECK_WORK_DIR:-/var/tmp/discord-sync-container-check}"
mkdir -p "$WORK"
# What makes podman run here: runc (crun is not usable in this sandbox), cgroupfs (no systemd), and no default
# ulimits (the sandbox refuses raising them).
if [ -z "${CONTAINERS_CONF:-}" ]; then
  cat >"$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
EOF
  export CONTAINERS_CONF="$WORK/containers.conf"
fi
if ! podman info >/dev/null 2>&1; then
  echo "SKIPPED: podman is installed but cannot run here: $(podman info 2>&1 | tail -1)" >&2
  exit 0
fi
ok "podman $(podman version --format '{{.Client.Version}}') runs (runtime runc, cgroupfs)"

# --- The base image ------------------------------------------------------------------------------------------------
BASE_IMAGE="${BASE_IMAGE:-localhost/discord-sync-base:bookworm}"
if ! podman image exists "$BASE_IMAGE"; then
  [ "$BASE_IMAGE" = localhost/discord-sync-base:bookworm ] || fail "BASE_IMAGE $BASE_IMAGE is not in local storage"
  command -v debootstrap >/dev/null 2>&1 || fail "debootstrap is needed to make the base image (apt-get install debootstrap)"
  say "making the base image: debootstrap --variant=minbase bookworm with python3 and python3-venv"
  rm -rf "$WORK/rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$WORK/rootfs" \
    >"$WORK/debootstrap.log" 2>&1 || fail "debootstrap failed: see $WORK/debootstrap.log"
  tar -C "$WORK/rootfs" -c . | podman import - "$BASE_IMAGE" >/dev/null
  rm -rf "$WORK/rootfs"
fi
ok "base image $BASE_IMAGE ($(podman image inspect "$BASE_IMAGE" --format '{{.Size}}' | awk '{printf "%d MB", $1/1e6}'))"

# --- The image -----------------------------------------------------------------------------------------------------
IMAGE=localhost/discord-sync:check
build_start=$(date +%s)
# Host networking and the host's CA certificates: pip inside the build reaches the package index as the host does.
podman build --network host -v /etc/ssl/certs:/etc/ssl/certs:ro --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$IMAGE" . \
  >"$WORK/build.log" 2>&1 || fail "podman build failed: see $WORK/build.log"
ok "image built in $(($(date +%s) - build_start)) s, $(podman image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%d MB", $1/1e6}')"

layout=$(podman run --rm "$IMAGE" sh -c 'id -u; pwd; python3 -c "import discord_sync.migrations as m; print(m.__file__)"')
uid=$(sed -n 1p <<<"$layout"); workdir=$(sed -n 2p <<<"$layout"); migrations=$(sed -n 3p <<<"$layout")
[ "$uid" != 0 ] && [[ "$uid" =~ ^[0-9]+$ ]] || fail "the image runs as uid $uid"
[[ "$migrations" == */site-packages/discord_sync/migrations/__init__.py ]] || fail "migrations found at $migrations"
ok "the image runs as uid $uid in $workdir and imports discord_sync.migrations from $migrations"

# --- The stack -----------------------------------------------------------------------------------------------------
ADMIN_URL="${CHECK_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
PORT="${CHECK_PORT_BASE:-14000}"
CODE_PORT=$PORT WEB_PORT=$((PORT + 1)) API_PORT=$((PORT + 2)) EMU_PORT=$((PORT + 3)) SOCK="$WORK/podman.sock"
P=dscheck
DB="discord_sync_check_$(date +%s)"
DATABASE_URL=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p._replace(path="/" + sys.argv[2]).geturl())' "$ADMIN_URL" "$DB")
TOKEN=emulator-token
ANON_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
service_pid=""
cleanup() {
  if [ "${CHECK_KEEP:-}" = 1 ]; then say "kept: containers $P-*, database $DB"; return; fi
  podman ps -a --format '{{.Names}}' | grep "^$P-" | xargs -r podman rm -f >/dev/null 2>&1 || true
  podman ps -a --filter "label=discord-sync-check=$DB" -q | xargs -r podman rm -f >/dev/null 2>&1 || true
  [ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null || true
  podman run --rm --network host "$IMAGE" python3 -c "$SQL_ADMIN" "$ADMIN_URL" "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" \
    >/dev/null 2>&1 || true
  podman volume rm -f "$P-storage" >/dev/null 2>&1 || true
}
SQL_ADMIN='import sys, sqlalchemy as sa
u = sa.engine.make_url(sys.argv[1]).set(drivername="postgresql+psycopg")
with sa.create_engine(u, isolation_level="AUTOCOMMIT").connect() as c: c.execute(sa.text(sys.argv[2]))'
trap cleanup EXIT
podman ps -a --format '{{.Names}}' | grep "^$P-" | xargs -r podman rm -f >/dev/null 2>&1 || true
podman run --rm --network host "$IMAGE" python3 -c "$SQL_ADMIN" "$ADMIN_URL" "CREATE DATABASE \"$DB\"" \
  || fail "could not create a database on $ADMIN_URL (CHECK_DATABASE_URL)"

# dagster.yaml: docker-compose.yml's, with the run containers on the host network and the check's storage volume.
sed -e 's/^    network: discord-sync$/    network: host/' \
    -e "s#discord-sync-storage:/opt/dagster/dagster_home/storage#$P-storage:/opt/dagster/dagster_home/storage#" \
    deploy/docker/dagster.yaml >"$WORK/dagster.yaml"
grep -q '^    network: host$' "$WORK/dagster.yaml" || fail "deploy/docker/dagster.yaml has no 'network: discord-sync'"
grep -q "^        - $P-storage:" "$WORK/dagster.yaml" || fail "deploy/docker/dagster.yaml mounts no discord-sync-storage volume"
cat >"$WORK/workspace.yaml" <<EOF
load_from:
  - grpc_server:
      host: 127.0.0.1
      port: $CODE_PORT
      location_name: discord-sync
EOF
pg=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p.hostname, p.port or 5432, p.username or "postgres", p.password or "")' "$DATABASE_URL")
read -r PG_HOST PG_PORT PG_USER PG_PASSWORD <<<"$pg"
# Only the services that need a secret get it, as in docker-compose.yml: the code server (it resolves a run's
# resources when it plans the run) and the daemon (its run launcher copies them into each run container).
common=(--network host -e "DATABASE_URL=$DATABASE_URL" -e "DAGSTER_PG_HOST=$PG_HOST" -e "DAGSTER_PG_PORT=$PG_PORT"
        -e "DAGSTER_PG_USER=$PG_USER" -e "DAGSTER_PG_PASSWORD=$PG_PASSWORD" -e "DAGSTER_PG_DB=$DB"
        -e "DISCORD_API_BASE_URL=http://127.0.0.1:$EMU_PORT/api/v10" -e "SYNC_FRESHNESS_HOURS=2"
        -e "DAGSTER_RUN_RETENTION_DAYS=90" -e "DEBUG_RATE_LIMITS=false" -e "ALERT_WEBHOOK_URL=")
secrets=(-e "DISCORD_BOT_TOKEN=$TOKEN" -e "ANONYMIZATION_KEY=$ANON_KEY")
home=(-v "$WORK/dagster.yaml:/opt/dagster/dagster_home/dagster.yaml:ro"
      -v "$WORK/workspace.yaml:/opt/dagster/dagster_home/workspace.yaml:ro"
      -v "$P-storage:/opt/dagster/dagster_home/storage")

podman run --rm --name "$P-migrate" "${common[@]}" "$IMAGE" discord-sync migrate >"$WORK/migrate.log" 2>&1 \
  || fail "migrate: $(tail -3 "$WORK/migrate.log")"
ok "migrate: $(tail -1 "$WORK/migrate.log")"

# The emulator as Discord: one small generated guild (its control API slows it down later, to catch a run running).
podman run -d --name "$P-emulator" --network host "$IMAGE" \
  discord-sync emulator --port "$EMU_PORT" --guild-seed 7 --scale 0.05 --latency-ms 30 --token "$TOKEN" >/dev/null
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: retry COMMAND once a second
  local deadline=$(($(date +%s) + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 1
  done
}
wait_for 60 emulator sh -c "podman logs $P-emulator 2>&1 | grep -q '^guild '" || fail "the emulator did not start"
GUILD=$(podman logs "$P-emulator" 2>&1 | awk '/^guild /{print $2; exit}')
ok "emulator serving guild $GUILD on port $EMU_PORT"

start_code_server() {
  podman run -d --name "$P-code-server" "${common[@]}" "${secrets[@]}" "${home[@]}" \
    -e "DAGSTER_CURRENT_IMAGE=$IMAGE" "$IMAGE" \
    dagster code-server start -m discord_sync.definitions -h 0.0.0.0 -p "$CODE_PORT" --location-name discord-sync >/dev/null
  # docker-compose.yml's healthcheck of the code server.
  wait_for 180 "code server" podman exec "$P-code-server" dagster api grpc-health-check -p "$CODE_PORT" \
    || fail "the code server is not healthy: $(podman logs --tail 5 "$P-code-server" 2>&1)"
}
start_code_server
ok "code server healthy (dagster api grpc-health-check -p $CODE_PORT)"

# podman's Docker-compatible API, for the daemon's DockerRunLauncher (docker-compose.yml mounts the Docker socket).
rm -f "$SOCK"
podman system service --time=0 "unix://$SOCK" >"$WORK/podman-service.log" 2>&1 &
service_pid=$!
wait_for 30 "podman socket" test -S "$SOCK" || fail "podman system service did not open $SOCK"
ok "podman's Docker-compatible API on $SOCK (pid $service_pid)"

# As in docker-compose.yml: the webserver has the engine's socket too (cancelling stops a run's container from it).
podman run -d --name "$P-webserver" --user root "${common[@]}" "${home[@]}" -v "$SOCK:/var/run/docker.sock" "$IMAGE" \
  dagster-webserver -h 127.0.0.1 -p "$WEB_PORT" -w /opt/dagster/dagster_home/workspace.yaml >/dev/null
podman run -d --name "$P-daemon" --user root "${common[@]}" "${secrets[@]}" "${home[@]}" \
  -v "$SOCK:/var/run/docker.sock" "$IMAGE" dagster-daemon run -w /opt/dagster/dagster_home/workspace.yaml >/dev/null
podman run -d --name "$P-api" "${common[@]}" "${home[@]}" -e "DAGSTER_WEBSERVER_URL=http://127.0.0.1:$WEB_PORT" \
  "$IMAGE" discord-sync api --host 127.0.0.1 --port "$API_PORT" >/dev/null
wait_for 180 webserver curl -fsS "http://127.0.0.1:$WEB_PORT/server_info" \
  || fail "the webserver is not up: $(podman logs --tail 5 "$P-webserver" 2>&1)"
ok "webserver up (/server_info on port $WEB_PORT)"
wait_for 120 api curl -fsS "http://127.0.0.1:$API_PORT/healthz" \
  || fail "the API is not healthy: $(curl -sS "http://127.0.0.1:$API_PORT/healthz" 2>&1; podman logs --tail 5 "$P-api" 2>&1)"
ok "HTTP API healthy (/healthz on port $API_PORT)"
podman exec "$P-daemon" sh -c 'test -S /var/run/docker.sock' || fail "the daemon has no Docker socket"

KEY=$(podman exec "$P-api" discord-sync api-key create --admin --name container-check | tail -1)
api() {  # api METHOD PATH [JSON]: the API's answer body; fails on an HTTP error
  local body=()
  [ $# -lt 3 ] || body=(-H "Content-Type: application/json" -d "$3")
  local answer
  answer=$(curl -sS -w '\n%{http_code}' -X "$1" -H "Authorization: Bearer $KEY" "${body[@]}" "http://127.0.0.1:$API_PORT$2")
  [[ "$(tail -1 <<<"$answer")" == 2* ]] || fail "$1 $2 answered $(tail -1 <<<"$answer"): $(sed '$d' <<<"$answer")"
  sed '$d' <<<"$answer"
}
field() { python3 -c 'import json, sys; d = json.load(sys.stdin)
for k in sys.argv[1].split("."): d = d.get(k) if isinstance(d, dict) else None
print("" if d is None else d)' "$1"; }
run_info() {  # run_info RUN_ID: the run's Dagster status and its docker/container_id tag, read from the instance
  podman exec -i "$P-api" python3 - "$1" <<'EOF'
import sys
import dagster as dg
with dg.DagsterInstance.get() as instance:
    run = instance.get_run_by_id(sys.argv[1])
    print(run.status.value if run else "MISSING", (run.tags.get("docker/container_id", "-") if run else "-"))
EOF
}

# --- A tenant through the API: its initial sync in a container of its own -----------------------------------------
api POST /api/tenants "{\"id\": \"acme\", \"name\": \"Acme\", \"guild_id\": \"$GUILD\"}" >/dev/null
ok "POST /api/tenants created tenant acme for guild $GUILD"
first_run="" container=""
deadline=$(($(date +%s) + 600))
while :; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "the initial sync did not finish in 600 s: $(api GET /api/tenants/acme/sync/status)"
  [ -n "$container" ] || container=$(podman ps --filter label=dagster/job_name=sync_tenant --format '{{.ID}} {{.Command}}' | head -1)
  status=$(api GET /api/tenants/acme/sync/status)
  first_run=$(field run.run_id <<<"$status")
  run_status=$(field run.status <<<"$status")
  case "$run_status" in
    success|SUCCESS) break ;;
    failure|FAILURE|canceled|CANCELED) fail "the initial sync ended $run_status: $(podman logs --tail 20 "$P-daemon" 2>&1)" ;;
  esac
  sleep 1
done
read -r dagster_status container_tag <<<"$(run_info "$first_run")"
[ "$dagster_status" = SUCCESS ] || fail "run $first_run is $dagster_status"
[ "$container_tag" != - ] || fail "run $first_run has no docker/container_id tag: it did not run in a container"
ok "initial sync run $first_run: SUCCESS in run container ${container_tag:0:12} (seen running: ${container:-not caught, auto-removed})"
tenant=$(api GET /api/tenants/acme)
ok "tenant acme: onboarding $(field onboarding.state <<<"$tenant"), $(field last_sync.messages <<<"$tenant") messages stored"

# --- Runs cancelled through the API: one still STARTING (its container coming up), one STARTED ---------------------
emulator_latency() {
  curl -fsS -X POST -H "Content-Type: application/json" -d "{\"latency_ms\": $1}" \
    "http://127.0.0.1:$EMU_PORT/_control/settings" >/dev/null
}
last_events() {  # last_events RUN_ID: the run's last three event messages
  podman exec -i "$P-api" python3 - "$1" <<'EOF'
import sys
import dagster as dg
with dg.DagsterInstance.get() as instance:
    records = instance.all_logs(sys.argv[1])
    print(" | ".join((record.message or "")[:120] for record in records[-3:]))
EOF
}
graphql_status() {  # graphql_status RUN_ID: the run's status from the webserver, lower case (the tenant's latest
  # run in the API's status may be another one: community metrics runs follow each sync)
  curl -fsS -H "Content-Type: application/json" \
    -d "{\"query\": \"{ runOrError(runId: \\\"$1\\\") { ... on Run { status } } }\"}" \
    "http://127.0.0.1:$WEB_PORT/graphql" | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["runOrError"]["status"].lower())'
}
no_active_run() { [ -z "$(field active_run_id <<<"$(api GET /api/tenants/acme)")" ]; }
cancel_when() {  # cancel_when STATUS: queue a sync, cancel it through the API once it is STATUS, wait for CANCELED
  local want=$1 run status s container="" answer sent seconds
  # The tenant's other runs end first (community metrics follow each sync), so the POST queues a new run.
  wait_for 300 "no active run" no_active_run || fail "tenant acme still has an active run: $(api GET /api/tenants/acme)"
  run=$(field run_id <<<"$(api POST /api/tenants/acme/sync)")
  deadline=$(($(date +%s) + 180))
  while :; do
    s=$(graphql_status "$run")
    [ "$s" = "$want" ] && break
    case "$s" in
      success|failure|canceled) fail "run $run ended $s before it could be cancelled while $want" ;;
    esac
    [ "$(date +%s)" -lt "$deadline" ] || fail "run $run is '$s' 180 s after it was queued, never $want"
    sleep 0.2
  done
  [ "$want" = starting ] || container=$(podman ps --filter "label=dagster/run_id=$run" --format '{{.ID}}')
  sent=$(date +%s)
  answer=$(api POST /api/tenants/acme/sync/cancel)
  grep -q "\"run_id\":\"$run\"" <<<"$answer" || fail "cancel answered $answer, not run $run"
  # CANCELED is written by the API at once for a run not yet executing, by the run worker once its step stops for a
  # running one, else by the daemon's run monitoring once `cancel_timeout_seconds` has passed.
  deadline=$((sent + 360))
  until read -r s _ <<<"$(run_info "$run")" && [ "$s" = CANCELED ]; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "run $run is $s 360 s after the cancel"
    sleep 1
  done
  seconds=$(($(date +%s) - sent))
  wait_for 90 "container gone" sh -c "[ -z \"\$(podman ps --filter label=dagster/run_id=$run -q)\" ]" \
    || fail "the cancelled run's container still runs"
  sleep 5  # a worker that came up after the cancel must leave the run CANCELED
  read -r s _ <<<"$(run_info "$run")"
  [ "$s" = CANCELED ] || fail "run $run went back to $s after it was CANCELED"
  ok "run $run cancelled while $want${container:+ (container ${container:0:12})}: the API answered $answer; CANCELED after $seconds s; no container left (last events: $(last_events "$run"))"
}
# These runs have little to read: Discord answers slowly for a while (1 s a request), so each is still running
# when its cancel arrives.
emulator_latency 1000
cancel_when starting
cancel_when started
emulator_latency 30

# --- The code server restarts; the next hourly tick syncs ------------------------------------------------------------
podman rm -f "$P-code-server" >/dev/null
start_code_server
ok "code server restarted and healthy again"
wait="${CHECK_TICK_WAIT:-3900}"
if [ "$wait" = 0 ]; then
  say "skipped by CHECK_TICK_WAIT=0: the hourly tick"
else
  now=$(date +%s)
  next_hour=$(((now / 3600 + 1) * 3600))
  [ $((next_hour - now + 300)) -le "$wait" ] || fail "the next tick ($(date -u -d "@$next_hour" +%H:%M)) is past CHECK_TICK_WAIT=$wait s"
  say "waiting for the $(date -u -d "@$next_hour" +%H:%M) UTC tick of hourly_sync_schedule ($((next_hour - now)) s)"
  deadline=$((next_hour + 300))
  scheduled=""
  while :; do
    scheduled=$(podman exec -i "$P-api" python3 - <<'EOF'
import dagster as dg
with dg.DagsterInstance.get() as instance:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/schedule_name": "hourly_sync_schedule"}))
    # A tenant's own run names its partition; an hourly batch run the range of tenants it syncs.
    def tenants(r):
        tags = r.tags
        return tags.get("dagster/partition") or "{}..{}".format(
            tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end"))
    print(" ".join(f"{r.run_id}:{r.status.value}:{tenants(r)}" for r in runs))
EOF
)
    [[ "$scheduled" == *":SUCCESS:acme"* ]] && break
    [[ "$scheduled" == *":FAILURE:"* ]] && fail "a scheduled run failed: $scheduled"
    [ "$(date +%s)" -lt "$deadline" ] || fail "no successful scheduled run 5 min after the tick: '$scheduled'"
    sleep 10
  done
  ok "hourly tick: scheduled run(s) $scheduled"
fi
ok "all checks passed in $(($(date +%s) - started)) s"
