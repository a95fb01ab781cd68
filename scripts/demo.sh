#!/usr/bin/env bash
# demo.sh: the main job of the project, end to end on this machine. It sets up (Debian packages,
# release build), starts a private redis-server, a local push service (the test push service:
# HTTP/2 over TLS, checking every request's VAPID token and decrypting every body) with 20,000
# browser-like subscriptions of which 50 are expired, and webpushd with the embedded defaults
# plus one tenant; then `webpushctl send --wait` submits one fan-out job over gRPC and follows
# it to the end: live progress, the expired subscriptions reported gone, a final summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bin=build/dispatcher
svc=build/tests/support/push_service/webpush_test_push_service
subscriptions=${DEMO_SUBSCRIPTIONS:-20000}
expired=${DEMO_EXPIRED:-50}
script_name=demo
source scripts/local_processes.sh

echo "== 1. A private redis-server (the durable queue)"
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save "" --appendonly yes \
  --appendfsync everysec >"$work/redis.log" 2>&1 &
pids+=($!)
wait_for "$work/redis.log" "Ready to accept connections" "redis-server"
echo "redis-server on 127.0.0.1:$redis_port"

echo "== 2. A local push service with $subscriptions subscriptions, $expired of them expired"
"$svc" --port 0 --threads 2 --subscriptions "$subscriptions" --gone-first "$expired" \
  --subscriptions-out "$work/subscriptions.jsonl" --ca-out "$work/ca.pem" >"$work/push.log" 2>&1 &
pids+=($!)
wait_for "$work/push.log" "^listening on" "the push service"
push_port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/push.log")
host=push.test.example
echo "push service: https://$host:$push_port (127.0.0.1), subscriptions in $work/subscriptions.jsonl"

echo "== 3. The application server's VAPID key and API token"
"$bin/webpushctl" vapid keygen --pem >"$work/vapid.pem"
grep '^public_key:' "$work/vapid.pem"
chmod 600 "$work/vapid.pem"
random_token "$work/token"

echo "== 4. webpushd: embedded defaults, plus one tenant and the local push service"
cat >"$work/webpushd.yaml" <<YAML
server:
  listen: 127.0.0.1:0
queue:
  redis:
    port: $redis_port
push:
  ca_file: $work/ca.pem
  allow_hosts: ["$host:$push_port"]
  resolve: ["$host:$push_port:127.0.0.1"]
tenants:
  - name: demo
    token_file: $work/token
    vapid:
      subject: mailto:ops@example.com
      keys:
        - id: main
          private_key_file: $work/vapid.pem
YAML
start_webpushd "$bin/webpushd" "$work/webpushd.yaml" --set metrics.listen=
api_port=$webpushd_port
grep 'server.started\|worker.starting' "$work/webpushd.log" | sed 's/^/  /'

payload='{"title":"Build failed","body":"main is red","url":"https://app.example.com/builds/42"}'
echo "== 5. One job: this payload to all $subscriptions subscriptions (webpushctl send --wait)"
"$bin/webpushctl" send --server "127.0.0.1:$api_port" --token-file "$work/token" \
  --subscriptions "$work/subscriptions.jsonl" --payload "$payload" --ttl 3600 --urgency high \
  --wait --gone-out "$work/gone.jsonl" | tee "$work/send.txt"

gone=$(wc -l <"$work/gone.jsonl")
echo "gone subscriptions written to the --gone-out file: $gone (delete them from your store)"
kill -TERM "${pids[2]}" "${pids[1]}"  # webpushd drains and exits; the push service sums up
wait "${pids[2]}" "${pids[1]}" || true
echo "push service: $(grep '^summary' "$work/push.log" | tail -1)"
delivered_expected=$((subscriptions - expired))
if ! grep -q "delivered $delivered_expected" "$work/send.txt" || [[ $gone -ne $expired ]]; then
  echo "demo: FAILED, expected $delivered_expected delivered and $expired gone" >&2
  tail -20 "$work/webpushd.log" >&2
  exit 1
fi
echo "demo: OK ($delivered_expected delivered and decrypted by the push service, $expired reported gone)"
