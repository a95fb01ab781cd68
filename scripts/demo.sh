#!/usr/bin/env bash
# demo.sh: the main job of the project, run end to end on this machine. Until the service exists
# (issue 6) it is a full Web Push round trip through webpushctl: a VAPID key pair, a browser-like
# subscription, an RFC 8291 aes128gcm body, its decryption with the subscription's private key,
# and the VAPID Authorization header a push service would receive.
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

echo "demo: OK (round trip verified)"
