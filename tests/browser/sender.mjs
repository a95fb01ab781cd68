// sender.mjs: what the browser tests send to the relay as an application server would, without
// the dispatcher: a VAPID Authorization header and one push over HTTP/2. Used by
// firefox_push_test.mjs (tampered messages) and push_relay_test.mjs (the relay's answers).
import { sign } from 'node:crypto';
import http2 from 'node:http2';

// vapidAuthorization signs an RFC 8292 token with `claims` by `privateKey` (a KeyObject or PEM)
// and returns `vapid t=…, k=publicKey` (base64url). `alg` and `corrupt` (a flipped signature
// bit) make broken tokens for the relay's refusals.
export function vapidAuthorization(privateKey, publicKey, claims, { alg = 'ES256', corrupt = false } = {}) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${enc({ typ: 'JWT', alg })}.${enc(claims)}`;
  const signature = sign('sha256', Buffer.from(unsigned), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  if (corrupt) signature[5] ^= 1;
  return `vapid t=${unsigned}.${signature.toString('base64url')}, k=${publicKey}`;
}

// postPush POSTs `body` to `endpoint` (its host resolved to 127.0.0.1, TLS checked against
// `ca`) with `authorization` and a TTL header (`ttl` null: none). Resolves with the response
// headers.
export function postPush(endpoint, body, { authorization, ca, ttl = '60' }) {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://${url.host}`, {
      ca,
      lookup: (host, options, cb) => cb(null, options.all ? [{ address: '127.0.0.1', family: 4 }] : '127.0.0.1', 4),
    });
    session.on('error', reject);
    const headers = {
      ':method': 'POST', ':path': url.pathname, 'content-encoding': 'aes128gcm',
      'content-type': 'application/octet-stream', authorization,
    };
    if (ttl !== null) headers.ttl = ttl;
    const req = session.request(headers);
    req.on('response', (response) => {
      req.on('data', () => {});
      req.on('end', () => {
        session.close();
        resolve(response);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
