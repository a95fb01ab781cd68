// subscription.js: checks a PushSubscription as the browser's toJSON() gives it, before it is
// stored. The dispatcher checks again when a job is submitted; checking here too means a bad
// subscription is refused while the browser that sent it is still there to hear about it.

import { createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { httpError } from './http_error.js';

const B64URL = /^[A-Za-z0-9_-]+$/;

// The push services browsers use (webpush-protocol.md §6.4, and webpushd's default allowlist):
// a subscription elsewhere could never be delivered, and one bad target makes the dispatcher
// refuse a whole job, so it is refused here, when the browser sends it.
export const DEFAULT_PUSH_HOSTS = [
  'fcm.googleapis.com', 'android.googleapis.com', 'updates.push.services.mozilla.com',
  '*.push.apple.com', '*.notify.windows.com',
];

// parseHostRules turns "host[:port]" and "*.suffix[:port]" entries into matchers.
export function parseHostRules(entries) {
  return entries.map((entry) => {
    const m = /^(\*\.)?([a-z0-9.-]+)(?::(\d+))?$/.exec(entry.trim().toLowerCase());
    if (!m) throw new Error(`push host "${entry}": not host[:port] or *.suffix[:port]`);
    return { suffix: Boolean(m[1]), host: m[2], port: m[3] ? Number(m[3]) : 443 };
  });
}

function hostAllowed(url, rules) {
  const host = url.hostname.toLowerCase();
  const port = url.port ? Number(url.port) : 443;
  return rules.some((r) => r.port === port && (r.suffix ? host.endsWith(`.${r.host}`) : host === r.host));
}

function onCurve(raw) {
  try {
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') }, format: 'jwk' });
    return true;
  } catch {
    return false;
  }
}

// decodeKey decodes a base64url key of `length` bytes, or returns null.
function decodeKey(text, length) {
  if (typeof text !== 'string' || !B64URL.test(text.replace(/=+$/, ''))) return null;
  const bytes = Buffer.from(text.replace(/=+$/, ''), 'base64url');
  return bytes.length === length ? bytes : null;
}

const invalid = (message) => httpError(400, message);

// parseSubscription returns { endpoint, p256dh, auth } or throws an Error (status 400) naming
// the field. `hostRules` (parseHostRules) are the push services allowed.
export function parseSubscription(value, hostRules) {
  if (value === null || typeof value !== 'object') throw invalid('subscription: not an object');
  const { endpoint, keys } = value;
  if (typeof endpoint !== 'string' || endpoint.length > 2048) {
    throw invalid('subscription.endpoint: missing or longer than 2048 characters');
  }
  let url;
  try {
    url = new URL(endpoint);
  } catch {
    throw invalid('subscription.endpoint: not a URL');
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.hash) {
    throw invalid('subscription.endpoint: not an https URL without credentials and fragment');
  }
  if (isIP(url.hostname.replace(/^\[|\]$/g, '')) || !hostAllowed(url, hostRules)) {
    throw invalid(`subscription.endpoint: ${url.host} is not one of the allowed push services`);
  }
  if (keys === null || typeof keys !== 'object') throw invalid('subscription.keys: not an object');
  const p256dh = decodeKey(keys.p256dh, 65);
  if (!p256dh || p256dh[0] !== 4 || !onCurve(p256dh)) {
    throw invalid('subscription.keys.p256dh: not a base64url uncompressed P-256 point (65 bytes, on the curve)');
  }
  if (!decodeKey(keys.auth, 16)) {
    throw invalid('subscription.keys.auth: not a base64url 16-byte secret');
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
