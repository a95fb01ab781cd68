// subscription.js: checks a PushSubscription as the browser's toJSON() gives it, before it is
// stored. The dispatcher checks again when a job is submitted; checking here too means a bad
// subscription is refused while the browser that sent it is still there to hear about it.

const B64URL = /^[A-Za-z0-9_-]+$/;

// decodeKey decodes a base64url key of `length` bytes, or returns null.
function decodeKey(text, length) {
  if (typeof text !== 'string' || !B64URL.test(text.replace(/=+$/, ''))) return null;
  const bytes = Buffer.from(text.replace(/=+$/, ''), 'base64url');
  return bytes.length === length ? bytes : null;
}

// parseSubscription returns { endpoint, p256dh, auth } or throws an Error naming the field.
export function parseSubscription(value) {
  if (value === null || typeof value !== 'object') throw new Error('subscription: not an object');
  const { endpoint, keys } = value;
  if (typeof endpoint !== 'string' || endpoint.length > 2048) {
    throw new Error('subscription.endpoint: missing or longer than 2048 characters');
  }
  let url;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error('subscription.endpoint: not a URL');
  }
  if (url.protocol !== 'https:' || url.username || url.password) {
    throw new Error('subscription.endpoint: not an https URL without credentials');
  }
  if (keys === null || typeof keys !== 'object') throw new Error('subscription.keys: not an object');
  const p256dh = decodeKey(keys.p256dh, 65);
  if (!p256dh || p256dh[0] !== 4) {
    throw new Error('subscription.keys.p256dh: not a base64url uncompressed P-256 point (65 bytes)');
  }
  if (!decodeKey(keys.auth, 16)) {
    throw new Error('subscription.keys.auth: not a base64url 16-byte secret');
  }
  return { endpoint, p256dh: keys.p256dh.replace(/=+$/, ''), auth: keys.auth.replace(/=+$/, '') };
}

// endpointOrigin is what may be logged of an endpoint: it is a capability URL (whoever knows it
// can push to that browser), so logs show its origin only.
export function endpointOrigin(endpoint) {
  try {
    return new URL(endpoint).origin;
  } catch {
    return '(invalid)';
  }
}
