// lib.test.js: unit tests of the example application server's pieces (node:test): subscription
// checks, the subscription store, and the session/CSRF checks, which are what keep another site
// from storing or deleting subscriptions. The whole app runs in a real browser in tests/browser.
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Sessions } from '../lib/session.js';
import { MAX_PER_SESSION, SubscriptionStore } from '../lib/store.js';
import { endpointOrigin, parseHostRules, parseSubscription as parseWith } from '../lib/subscription.js';

const RULES = parseHostRules(['push.example.net', '*.push.example.org:8443']);
const parseSubscription = (value) => parseWith(value, RULES);

function subscription(endpoint = `https://push.example.net/wpush/v2/${randomBytes(16).toString('base64url')}`) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { endpoint, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') } };
}

describe('parseSubscription', () => {
  it('accepts what PushSubscription.toJSON() gives, padded or not', () => {
    const s = subscription();
    assert.deepEqual(parseSubscription(s), { endpoint: s.endpoint, p256dh: s.keys.p256dh, auth: s.keys.auth });
    const padded = { ...s, keys: { p256dh: `${s.keys.p256dh}=`, auth: `${s.keys.auth}==` } };
    assert.equal(parseSubscription(padded).auth, s.keys.auth);
  });
  const s = subscription();
  const cases = [
    ['null', null, /^subscription: not an object/],
    ['no endpoint', { keys: s.keys }, /^subscription\.endpoint: missing/],
    ['an http endpoint', { ...s, endpoint: 'http://push.example.net/x' }, /^subscription\.endpoint: not an https URL/],
    ['credentials in the URL', { ...s, endpoint: 'https://u:p@push.example.net/x' }, /^subscription\.endpoint: not an https URL/],
    ['not a URL', { ...s, endpoint: 'push' }, /^subscription\.endpoint: not a URL/],
    ['a too long endpoint', { ...s, endpoint: `https://a.example/${'x'.repeat(2100)}` }, /^subscription\.endpoint: missing or longer/],
    ['a fragment', { ...s, endpoint: `${s.endpoint}#x` }, /^subscription\.endpoint: not an https URL/],
    ['a host that is no allowed push service', { ...s, endpoint: 'https://evil.example/x' }, /^subscription\.endpoint: evil\.example is not one of the allowed/],
    ['an allowed host on another port', { ...s, endpoint: 'https://push.example.net:8443/x' }, /not one of the allowed/],
    ['an IP literal', { ...s, endpoint: 'https://127.0.0.1/x' }, /not one of the allowed/],
    ['an IPv6 literal', { ...s, endpoint: 'https://[::1]/x' }, /not one of the allowed/],
    ['no keys', { endpoint: s.endpoint }, /^subscription\.keys: not an object/],
    ['a p256dh off the curve', { ...s, keys: { ...s.keys, p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url') } }, /^subscription\.keys\.p256dh/],
    ['a short p256dh', { ...s, keys: { ...s.keys, p256dh: s.keys.p256dh.slice(0, 40) } }, /^subscription\.keys\.p256dh/],
    ['a compressed p256dh', { ...s, keys: { ...s.keys, p256dh: Buffer.alloc(65, 2).toString('base64url') } }, /^subscription\.keys\.p256dh/],
    ['base64 with + and /', { ...s, keys: { ...s.keys, auth: '++++/////++++/////++==' } }, /^subscription\.keys\.auth/],
    ['a 15-byte auth', { ...s, keys: { ...s.keys, auth: randomBytes(15).toString('base64url') } }, /^subscription\.keys\.auth/],
  ];
  for (const [name, value, message] of cases) {
    it(`refuses ${name}, naming the field`, () => assert.throws(() => parseSubscription(value), { message }));
  }
  it('accepts a suffix rule on its port, and refuses errors with status 400', () => {
    assert.ok(parseSubscription({ ...s, endpoint: 'https://eu.push.example.org:8443/x' }));
    assert.throws(() => parseSubscription({ ...s, endpoint: 'https://push.example.org:8443/x' }), { status: 400 });
  });
  it('endpointOrigin keeps only the origin of a capability URL', () => {
    assert.equal(endpointOrigin('https://fcm.googleapis.com/fcm/send/secret-token'), 'https://fcm.googleapis.com');
    assert.equal(endpointOrigin('nonsense'), '(invalid)');
  });
});

describe('SubscriptionStore', () => {
  const file = () => path.join(mkdtempSync(path.join(os.tmpdir(), 'store-')), 'subs.json');

  it('stores, persists and reloads', () => {
    const f = file();
    const store = new SubscriptionStore(f);
    const rec = store.put('session-a', parseSubscription(subscription()));
    assert.equal(new SubscriptionStore(f).all()[0].id, rec.id);
    assert.doesNotMatch(readFileSync(f, 'utf8'), /session-a/, 'the session id itself is never stored');
  });
  it('stores an endpoint once, however often it is sent', () => {
    const store = new SubscriptionStore(file());
    const s = parseSubscription(subscription());
    store.put('a', s);
    store.put('a', s);
    store.put('b', s); // the same browser (same keys) under a new session takes it over
    assert.equal(store.all().length, 1);
    const otherKeys = parseSubscription(subscription(s.endpoint));
    assert.throws(() => store.put('c', otherKeys), { status: 409 }, 'a session without the keys took it over');
    assert.equal(store.removeOwned('a', s.endpoint), false);
    assert.equal(store.removeOwned('b', s.endpoint), true);
  });
  it('replaces the old endpoint of the same session only', () => {
    const store = new SubscriptionStore(file());
    const old = parseSubscription(subscription());
    const theirs = parseSubscription(subscription());
    store.put('a', old);
    store.put('b', theirs);
    store.put('a', parseSubscription(subscription()), old.endpoint);
    assert.equal(store.findByEndpoint(old.endpoint), null);
    store.put('a', parseSubscription(subscription()), theirs.endpoint);
    assert.ok(store.findByEndpoint(theirs.endpoint), 'another session\'s subscription was replaced');
    assert.equal(store.all().length, 3);
  });
  it(`refuses more than ${MAX_PER_SESSION} subscriptions per session`, () => {
    const store = new SubscriptionStore(file());
    for (let i = 0; i < MAX_PER_SESSION; i++) store.put('a', parseSubscription(subscription()));
    assert.throws(() => store.put('a', parseSubscription(subscription())), { status: 429 });
    const last = store.all()[0];
    assert.ok(store.put('a', parseSubscription(subscription()), last.endpoint), 'a replacement is not a new one');
    assert.ok(store.put('b', parseSubscription(subscription())));
  });
  it('deletes a gone subscription only if its endpoint is still the reported one', () => {
    const store = new SubscriptionStore(file());
    const rec = store.put('a', parseSubscription(subscription()));
    assert.equal(store.removeGone(rec.id, 'https://push.example.net/other'), false);
    assert.equal(store.removeGone(rec.id, rec.endpoint), true);
    assert.equal(store.all().length, 0);
  });
});

describe('Sessions', () => {
  const origin = 'http://127.0.0.1:8080';
  const fakeRes = () => {
    const headers = {};
    return { headers, setHeader: (k, v) => { headers[k.toLowerCase()] = v; } };
  };
  const sessions = new Sessions({ secure: false });
  const res = fakeRes();
  const id = sessions.ensure({ headers: {} }, res);
  const cookie = res.headers['set-cookie'];
  const request = (headers) => ({ headers: { origin, 'content-type': 'application/json', cookie: cookie.split(';')[0], 'x-csrf-token': sessions.csrfToken(id), ...headers } });

  it('sets an HttpOnly, SameSite=Strict session cookie', () => {
    assert.match(cookie, /^session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict/);
    assert.doesNotMatch(cookie, /Secure/);
  });
  it('uses a Secure __Host- cookie over https', () => {
    const r = fakeRes();
    new Sessions({ secure: true }).ensure({ headers: {} }, r);
    assert.match(r.headers['set-cookie'], /^__Host-session=.*; Secure$/);
  });
  it('accepts a same-origin JSON request with the token', () => {
    assert.equal(sessions.checkStateChange(request({}), [origin]), id);
    assert.equal(sessions.checkStateChange(request({ origin: 'http://localhost:8080' }), [origin, 'http://localhost:8080']), id);
  });
  const refusals = [
    ['another origin', { origin: 'https://evil.example' }, /origin/],
    ['no origin', { origin: undefined }, /origin/],
    ['a form content type', { 'content-type': 'application/x-www-form-urlencoded' }, /content-type/],
    ['no cookie', { cookie: undefined }, /no session cookie/],
    ['no token', { 'x-csrf-token': undefined }, /X-CSRF-Token/],
    ['another session\'s token', { 'x-csrf-token': sessions.csrfToken('x'.repeat(43)) }, /X-CSRF-Token/],
  ];
  for (const [name, headers, message] of refusals) {
    it(`refuses ${name} with 403`, () => {
      assert.throws(() => sessions.checkStateChange(request(headers), [origin]),
        (err) => err.status === 403 && message.test(err.message));
    });
  }
  it('tokens of another server secret do not pass', () => {
    const other = new Sessions({ secure: false });
    assert.throws(() => other.checkStateChange(request({}), [origin]), /X-CSRF-Token/);
  });
});
