// push_relay_test.mjs: unit tests of the relay (node:test), with a WebSocket client standing in
// for Firefox and Node's HTTP/2 client for a sender. The real browser is in
// firefox_push_test.mjs; these pin the protocol details it relies on, so that a relay bug shows
// here with a clear message rather than as a silent browser.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { checkVapid, startRelay } from './push_relay.mjs';
import { postPush, vapidAuthorization } from './sender.mjs';

const HOST = 'push.relay.test';
const ORIGIN = 'https://push.relay.test:8443';

function vapidKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const raw = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  return { privateKey, raw };
}

function header(key, claims, { alg, k = key.raw.toString('base64url'), corrupt } = {}) {
  return vapidAuthorization(key.privateKey, k, claims, { alg, corrupt });
}

const now = Math.floor(Date.now() / 1000);
const good = { aud: ORIGIN, exp: now + 3600, sub: 'mailto:ops@example.com' };

describe('checkVapid', () => {
  const key = vapidKey();
  it('accepts a valid token for the subscribed key', () => {
    assert.equal(checkVapid(header(key, good), key.raw, ORIGIN), null);
  });
  it('accepts any valid key when the subscription named none', () => {
    assert.equal(checkVapid(header(key, good), null, ORIGIN), null);
  });
  const cases = [
    ['no header', undefined, 401, /missing vapid/],
    ['another scheme', 'WebPush abc', 401, /missing vapid/],
    ['another key than subscribed', header(vapidKey(), good), 403, /not the subscription's/],
    ['a broken signature', header(key, good, { corrupt: true }), 401, /signature/],
    ['another audience', header(key, { ...good, aud: 'https://push.relay.test' }), 401, /aud/],
    ['an expired token', header(key, { ...good, exp: now - 1 }), 401, /exp/],
    ['a token valid for more than 24 h', header(key, { ...good, exp: now + 90000 }), 401, /exp/],
    ['no subject', header(key, { aud: ORIGIN, exp: now + 60 }), 401, /sub/],
    ['alg none', header(key, good, { alg: 'none' }), 401, /alg/],
    ['k not a point', header(key, good, { k: Buffer.alloc(65, 4).toString('base64url') }), 401, /./],
  ];
  for (const [name, h, status, reason] of cases) {
    it(`refuses ${name}`, () => {
      const r = checkVapid(h, name === 'k not a point' ? null : key.raw, ORIGIN);
      assert.ok(r, 'accepted');
      assert.equal(r.status, status);
      assert.match(r.reason, reason);
    });
  }
});

describe('relay', () => {
  let relay;
  let ca;
  before(async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'relay-test-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-days', '1',
      '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=DNS:${HOST}`], { stdio: 'pipe' });
    ca = readFileSync(path.join(dir, 'c.pem'));
    relay = await startRelay({ host: HOST, cert: ca, key: readFileSync(path.join(dir, 'k.pem')) });
  });
  after(() => relay.close());

  // A fake browser: a WebSocket with the push-notification subprotocol and a message queue.
  async function browser() {
    const ws = new WebSocket(relay.serverURL, 'push-notification');
    const inbox = [];
    const waiters = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      const w = waiters.shift();
      if (w) w(m); else inbox.push(m);
    });
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const next = () => (inbox.length ? Promise.resolve(inbox.shift()) : new Promise((r) => waiters.push(r)));
    const request = (m) => { ws.send(JSON.stringify(m)); return next(); };
    return { ws, next, request };
  }

  const post = (endpoint, body, authorization, ttl = '60') => postPush(endpoint, body, { authorization, ca, ttl });
  const authFor = (key) => header(key, { aud: relay.origin, exp: now + 3600, sub: 'mailto:a@b.c' });

  // subscribed: a fake browser that said hello and registered `channelID` with a new VAPID key;
  // `auth` is a valid Authorization header for that key.
  async function subscribed(channelID) {
    const b = await browser();
    const { uaid } = await b.request({ messageType: 'hello', use_webpush: true });
    const key = vapidKey();
    const reg = await b.request({ messageType: 'register', channelID, key: key.raw.toString('base64url') });
    return { b, uaid, key, reg, auth: authFor(key) };
  }

  it('refuses a WebSocket without the push-notification subprotocol', async () => {
    const ws = new WebSocket(relay.serverURL);
    const code = await new Promise((resolve) => ws.once('close', (c) => resolve(c)));
    assert.equal(code, 4406);
  });

  it('speaks hello, register, notification, ack and unregister', async () => {
    const b = await browser();
    const hello = await b.request({ messageType: 'hello', use_webpush: true, broadcasts: {} });
    assert.equal(hello.status, 200);
    assert.equal(hello.use_webpush, true);
    assert.match(hello.uaid, /^[0-9a-f]{32}$/);
    const key = vapidKey();
    // Firefox pads the key (base64url with '='): the relay must take it.
    const padded = key.raw.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
    const reg = await b.request({ messageType: 'register', channelID: 'c0ffee00-0000-4000-8000-000000000001', key: padded });
    assert.equal(reg.status, 200);
    assert.match(reg.pushEndpoint, new RegExp(`^https://${HOST}:${relay.httpsPort}/wpush/v2/`));
    assert.deepEqual(await b.request({}), {}, 'a ping ("{}") is answered with "{}"');

    const aud = relay.origin;
    const auth = header(key, { aud, exp: now + 3600, sub: 'mailto:a@b.c' });
    const body = randomBytes(200);
    const r = await post(reg.pushEndpoint, body, auth);
    assert.equal(r[':status'], 201);
    const version = r.location.split('/m/')[1];
    const n = await b.next();
    assert.deepEqual(n, { messageType: 'notification', channelID: reg.channelID, version,
      data: body.toString('base64url'), headers: { encoding: 'aes128gcm' } });
    b.ws.send(JSON.stringify({ messageType: 'ack', updates: [{ channelID: reg.channelID, version, code: 100 }] }));
    assert.equal(await relay.waitForAck(version, 2000), 100);

    // An empty body is a push without data: no data, no headers.
    const empty = await post(reg.pushEndpoint, Buffer.alloc(0), auth);
    assert.equal(empty[':status'], 201);
    assert.equal((await b.next()).data, undefined);

    // Refusals: no TTL, too large, another VAPID key; after unregister, 410.
    assert.equal((await post(reg.pushEndpoint, body, auth, null))[':status'], 400);
    assert.equal((await post(reg.pushEndpoint, randomBytes(4097), auth))[':status'], 413);
    assert.equal((await post(reg.pushEndpoint, body, header(vapidKey(), { aud, exp: now + 60, sub: 'mailto:a@b.c' })))[':status'], 403);
    const unreg = await b.request({ messageType: 'unregister', channelID: reg.channelID, code: 200 });
    assert.equal(unreg.status, 200);
    assert.equal((await post(reg.pushEndpoint, body, auth))[':status'], 410);
    assert.equal((await post(relay.endpointFor('unknown'), body, auth))[':status'], 404);
    b.ws.close();
  });

  it('keeps messages for an offline browser until its TTL and delivers them on hello', async () => {
    const { b: away, uaid, reg, auth } = await subscribed('c0ffee00-0000-4000-8000-000000000002');
    away.ws.close();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await post(reg.pushEndpoint, Buffer.from('kept'), auth, '60'))[':status'], 201);
    assert.equal((await post(reg.pushEndpoint, Buffer.from('dropped'), auth, '0'))[':status'], 201);
    const b = await browser();
    assert.equal((await b.request({ messageType: 'hello', uaid, use_webpush: true })).uaid, uaid);
    const n = await b.next();
    assert.equal(Buffer.from(n.data, 'base64url').toString(), 'kept');
    b.ws.close();
  });

  it('answers a register repeated during the handshake with the same endpoint', async () => {
    // What Firefox sent in a CI run: a new UAID's hello, then the service worker's
    // re-subscription twice, back to back (once at once and once from its pending requests).
    // Firefox keeps the first reply's endpoint, so that one must take pushes.
    const b = await browser();
    await b.request({ messageType: 'hello', use_webpush: true });
    const key = vapidKey();
    const register = JSON.stringify({ messageType: 'register', channelID: 'c0ffee00-0000-4000-8000-000000000004', key: key.raw.toString('base64url') });
    b.ws.send(register);
    b.ws.send(register);
    const [first, second] = [await b.next(), await b.next()];
    assert.equal(first.status, 200);
    assert.equal(second.pushEndpoint, first.pushEndpoint);
    const r = await post(first.pushEndpoint, Buffer.from('after the repeated register'), authFor(key));
    assert.equal(r[':status'], 201);
    const n = await b.next();
    assert.equal(Buffer.from(n.data, 'base64url').toString(), 'after the repeated register');
    b.ws.close();
  });

  it('answers the next hello with a new UAID after dropBrowsers({newUaid})', async () => {
    const { b, uaid, reg, auth } = await subscribed('c0ffee00-0000-4000-8000-000000000003');
    // Registering the channel again with another key is a new subscription: a new endpoint,
    // and the first one is gone.
    const key2 = vapidKey();
    const reg2 = await b.request({ messageType: 'register', channelID: reg.channelID, key: key2.raw.toString('base64url') });
    assert.notEqual(reg2.pushEndpoint, reg.pushEndpoint);
    assert.equal((await post(reg.pushEndpoint, Buffer.from('x'), auth))[':status'], 410);
    const closed = new Promise((r) => b.ws.once('close', r));
    relay.dropBrowsers({ newUaid: true });
    await closed;
    const again = await browser();
    const hello = await again.request({ messageType: 'hello', uaid, use_webpush: true });
    assert.notEqual(hello.uaid, uaid);
    // The browser drops the old UAID's subscriptions, so their endpoints are gone.
    assert.equal((await post(reg2.pushEndpoint, Buffer.from('x'), authFor(key2)))[':status'], 410);
    again.ws.close();
  });
});
