#!/usr/bin/env bash
# run_local.sh: the example app against a local dispatcher, everything on this machine:
# redis-server, webpushd (one tenant, "example"), the push relay of tests/browser (a local push
# service that Firefox reaches over WebSocket) and the example's application server. It prints
# how to open the page in Firefox and how to send a notification, then waits; Ctrl-C stops it
# all. README.md explains each step.
#   --open        also start Firefox (a fresh profile whose push service is the relay)
#   --headless    with --open: Firefox without a window (for machines with no display)
# Environment: LISTEN (default 127.0.0.1:8080) for the application server; WEBPUSH_BIN, the
# folder of webpushd and webpushctl (default build/dispatcher, built by scripts/setup.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
open=0 headless=0
for a in "$@"; do
  case $a in
    --open) open=1 ;;
    --headless) headless=1 ;;
    *) echo "run_local: unknown option $a" >&2; exit 2 ;;
  esac
done
bin=${WEBPUSH_BIN:-$root/build/dispatcher}
if [[ ! -x $bin/webpushd || ! -x $bin/webpushctl ]]; then
  bash "$root/scripts/setup.sh"
fi
source "$root/tests/browser/node_modules.sh"
ensure_node_modules

script_name=run_local
source "$root/scripts/local_processes.sh"
trap 'exit 0' INT TERM

# 1. The relay's TLS certificate, for the name its push endpoints carry.
relay_host=push.relay.test
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -keyout "$work/relay-key.pem" -out "$work/relay-cert.pem" -subj "/CN=$relay_host" \
  -addext "subjectAltName=DNS:$relay_host" 2>/dev/null

# 2. redis-server, the dispatcher's queue.
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save "" --appendonly yes \
  >"$work/redis.log" 2>&1 &
pids+=($!)
wait_for "$work/redis.log" "Ready to accept connections" "redis-server"

# 3. The push relay: browsers on ws://127.0.0.1:WS, senders on https://push.relay.test:HTTPS.
ws_port=$(free_port)
https_port=$(free_port)
node "$root/tests/browser/push_relay.mjs" --cert "$work/relay-cert.pem" --key "$work/relay-key.pem" \
  --host "$relay_host" --ws-port "$ws_port" --https-port "$https_port" >"$work/relay.log" 2>&1 &
pids+=($!)
wait_for "$work/relay.log" "^push relay:" "the push relay"

# 4. The tenant's VAPID key and API token, and the admin token of the example's /admin/ API.
"$bin/webpushctl" vapid keygen --pem >"$work/vapid.pem"
vapid_public=$(sed -n 's/^public_key: *//p' "$work/vapid.pem")
chmod 600 "$work/vapid.pem"
random_token "$work/tenant.token"
random_token "$work/admin.token"

# 5. webpushd: the embedded defaults, plus the tenant and the relay as an allowed push service.
cat >"$work/webpushd.yaml" <<YAML
server:
  listen: 127.0.0.1:0
metrics:
  listen: ""
queue:
  redis:
    port: $redis_port
push:
  ca_file: $work/relay-cert.pem
  allow_hosts: ["$relay_host:$https_port"]
  resolve: ["$relay_host:$https_port:127.0.0.1"]
tenants:
  - name: example
    token_file: $work/tenant.token
    vapid:
      subject: mailto:ops@example.com
      keys:
        - id: main
          private_key_file: $work/vapid.pem
YAML
start_webpushd "$bin/webpushd" "$work/webpushd.yaml"
grpc_port=$webpushd_port

# 6. The example's application server.
listen=${LISTEN:-127.0.0.1:8080}
LISTEN=$listen VAPID_PUBLIC_KEY=$vapid_public DISPATCHER_ADDRESS=127.0.0.1:$grpc_port \
  DISPATCHER_TOKEN_FILE=$work/tenant.token ADMIN_TOKEN_FILE=$work/admin.token \
  DATA_FILE=$work/subscriptions.json PUSH_HOSTS=$relay_host:$https_port \
  node "$here/server.js" >"$work/app.log" 2>&1 &
pids+=($!)
wait_for "$work/app.log" "^example app on" "the application server"

# 7. A Firefox profile whose push service is the relay (README.md, "The prefs").
profile=$work/firefox-profile
mkdir -p "$profile"
cat >"$profile/user.js" <<JS
user_pref("dom.push.serverURL", "ws://127.0.0.1:$ws_port/");
user_pref("dom.push.testing.allowInsecureServerURL", true);
user_pref("dom.push.connection.enabled", true);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.aboutwelcome.enabled", false);
JS
if ((headless)); then
  # Headless Firefox has no system notification service: its own alert windows are used
  # instead; without a shown notification, Firefox would drop the subscription after 16 pushes.
  echo 'user_pref("alerts.useSystemBackend", false);' >>"$profile/user.js"
fi
firefox=$(command -v firefox-esr || command -v firefox || true)

cat <<EOF

Everything runs (logs in $work):
  redis-server        127.0.0.1:$redis_port
  push relay          ws://127.0.0.1:$ws_port/ (browsers), https://$relay_host:$https_port (senders)
  webpushd            127.0.0.1:$grpc_port (gRPC, tenant "example")
  application server  http://$listen/

Open the page in Firefox with the relay as its push service:
  ${firefox:-firefox} --profile $profile --no-remote http://$listen/
and click "Enable notifications". Then send a notification to every stored subscription:
  curl -s -X POST http://$listen/admin/notify -H "authorization: Bearer \$(cat $work/admin.token)" \\
    -H 'content-type: application/json' -d '{"title":"Hello","body":"From webpush-dispatcher","url":"/"}'
and follow the job it started:
  $bin/webpushctl status --server 127.0.0.1:$grpc_port --token-file $work/tenant.token JOB_ID
Ctrl-C stops everything.
EOF

if ((open)); then
  [[ -n $firefox ]] || { echo "run_local: no Firefox found (apt-get install firefox-esr)" >&2; exit 1; }
  args=(--profile "$profile" --no-remote)
  ((headless)) && args+=(--headless)
  MOZ_REMOTE_SETTINGS_DEVTOOLS=1 "$firefox" "${args[@]}" "http://$listen/" >"$work/firefox.log" 2>&1 &
  pids+=($!)
fi
wait
