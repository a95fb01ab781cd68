#!/usr/bin/env bash
# demo.sh: the main job of the project, run end to end on this machine. Until the service exists
# (issue 6) it goes through webpushctl: a full Web Push round trip (a VAPID key pair, a
# browser-like subscription, an RFC 8291 aes128gcm body, its decryption, the VAPID header), then
# a fan-out of one message to 2000 subscriptions of a local push service (the test push service:
# HTTP/2 over TLS, checking every request's VAPID token and decrypting every body) over the
# HTTP/2 client's connection pool, with some subscriptions gone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ctl=build/dispatcher/webpushctl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# field FILE KEY...: prints the JSON value at KEY... of FILE.
field() {
  /usr/bin/python3 -c 'import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2:]:
    value = value[key]
print(value)' "$@"
}

echo "== 1. VAPID key pair of the application server (webpushctl vapid keygen --pem)"
"$ctl" vapid keygen --pem >"$work/vapid.pem"
grep '^public_key:' "$work/vapid.pem"

echo "== 2. A browser subscription's keys (webpushctl keys subscription)"
"$ctl" keys subscription >"$work/sub.json"
p256dh=$(field "$work/sub.json" keys p256dh)
auth=$(field "$work/sub.json" keys auth)
echo "p256dh: $p256dh"
echo "auth:   $auth"

payload='{"title":"Build failed","body":"main is red","url":"https://app.example.com/builds/42"}'
echo "== 3. Encrypt a ${#payload}-byte payload (webpushctl encrypt)"
"$ctl" encrypt --p256dh "$p256dh" --auth "$auth" --payload "$payload" --out "$work/body.bin"
echo "body: $(stat -c %s "$work/body.bin") bytes (86-byte header + payload + delimiter + 16-byte tag)"
od -A d -t x1 -N 32 "$work/body.bin" | head -2

echo "== 4. Decrypt it as the browser would (webpushctl decrypt)"
private_key=$(field "$work/sub.json" private_key)
decrypted=$("$ctl" decrypt --private-key "$private_key" --auth "$auth" --in "$work/body.bin")
echo "plaintext: $decrypted"
if [[ "$decrypted" != "$payload" ]]; then
  echo "demo: FAILED, decrypted text differs from the payload" >&2
  exit 1
fi

echo "== 5. VAPID Authorization header for an FCM endpoint (webpushctl vapid token)"
"$ctl" vapid token --key-file "$work/vapid.pem" \
  --aud "https://fcm.googleapis.com/fcm/send/demo-endpoint" --sub "mailto:ops@example.com"

echo "== 6. Fan-out: one message to 2000 subscriptions of a local push service (webpushctl push)"
svc=build/tests/support/push_service/webpush_test_push_service
vapid_public=$(sed -n 's/^public_key: //p' "$work/vapid.pem")
"$svc" --port 0 --subscriptions 2000 --gone-first 25 --subscriptions-out "$work/subs.jsonl" \
  --ca-out "$work/ca.pem" --vapid-public-key "$vapid_public" >"$work/service.log" 2>&1 &
svc_pid=$!
trap 'kill "$svc_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/service.log")
  [[ -n "$port" ]] && break
  sleep 0.1
done
if [[ -z "$port" ]]; then
  echo "demo: FAILED, the local push service did not start:" >&2
  cat "$work/service.log" >&2
  exit 1
fi
host=push.test.example
echo "push service: https://$host:$port (127.0.0.1), 2000 subscriptions, the first 25 unsubscribed"
"$ctl" push --subscriptions "$work/subs.jsonl" --payload "$payload" \
  --vapid-key-file "$work/vapid.pem" --sub "mailto:ops@example.com" --ttl 3600 --urgency high \
  --ca-file "$work/ca.pem" --allow-host "$host:$port" --resolve "$host:$port:127.0.0.1" \
  --gone-out "$work/gone.jsonl" | tee "$work/push.txt"
kill -TERM "$svc_pid"
wait "$svc_pid" || true
echo "push service: $(tail -1 "$work/service.log")"
if ! grep -q '^delivered 1975, gone 25, rejected 0, too large 0, failed 0, invalid 0' "$work/push.txt" ||
  [[ $(wc -l <"$work/gone.jsonl") -ne 25 ]]; then
  echo "demo: FAILED, the fan-out did not deliver 1975 and report 25 gone" >&2
  exit 1
fi
echo "gone subscriptions written: $(wc -l <"$work/gone.jsonl") (delete them from your store)"

echo "demo: OK (round trip verified, fan-out delivered and gone subscriptions reported)"
