// push_relay.mjs: a local push service for a real Firefox. Browsers face it over WebSocket with
// Mozilla's push protocol (the one autopush speaks: hello, register, unregister, notification,
// ack, nack, ping), the pref `dom.push.serverURL` naming it; senders face it over HTTPS (HTTP/2)
// with RFC 8030 push endpoints. A message POSTed to an endpoint is checked the way autopush
// checks it (VAPID token for the key the browser subscribed with, aes128gcm, TTL, size) and
// handed to the browser as a `notification` with the body base64url-encoded; the browser
// decrypts it itself and answers with an ack whose code says whether it could (100) or not
// (101, 102). The relay never decrypts: the browser is the judge.
//
// Used in-process by firefox_push_test.mjs (startRelay), or on its own for trying the example
// app by hand: `node push_relay.mjs --cert C --key K [--host push.relay.test]` prints the
// pref to set and the webpushd settings to use.
import { randomBytes, randomUUID, createPublicKey, verify as verifySignature } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { WebSocketServer } from 'ws';

const MAX_BODY = 4096; // RFC 8291 §4 / webpush-protocol.md: one record of 4096 bytes
const MAX_TTL = 2419200;

// The messages the relay keeps for a browser that is not connected (TTL > 0), per channel.
const MAX_STORED_PER_CHANNEL = 100;

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// A push endpoint's path; its last segment is the channel's token.
const ENDPOINT_PATH = /^\/wpush\/v2\/([A-Za-z0-9_-]+)$/;

// decodeB64url accepts base64url with or without padding (Firefox pads the register key).
function decodeB64url(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*={0,2}$/.test(text)) return null;
  return Buffer.from(text.replace(/=+$/, ''), 'base64url');
}

// p256PublicKey turns a raw uncompressed P-256 point (65 bytes) into a KeyObject.
function p256PublicKey(raw) {
  if (raw.length !== 65 || raw[0] !== 4) return null;
  try {
    return createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: b64url(raw.subarray(1, 33)), y: b64url(raw.subarray(33)) },
      format: 'jwk',
    });
  } catch {
    return null;
  }
}

// checkVapid verifies an RFC 8292 `Authorization: vapid t=..., k=...` header: the key must be the
// one the browser subscribed with (when it gave one), the ES256 signature must verify, `aud`
// must be this relay's origin, `exp` in the future and at most 24 h away, `sub` present.
// Returns null when valid, else the reason (the HTTP answer is 401 or 403).
export function checkVapid(header, subscribedKey, origin, nowSeconds = Date.now() / 1000) {
  const m = /^vapid\s+(.*)$/i.exec(header || '');
  if (!m) return { status: 401, reason: 'missing vapid authorization' };
  const params = {};
  for (const part of m[1].split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) params[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  const token = params.t;
  const key = decodeB64url(params.k);
  if (!token || !key) return { status: 401, reason: 'vapid t= or k= missing' };
  if (subscribedKey && !key.equals(subscribedKey)) {
    return { status: 403, reason: 'vapid key is not the subscription\'s application server key' };
  }
  const publicKey = p256PublicKey(key);
  if (!publicKey) return { status: 401, reason: 'vapid k= is not a P-256 point' };
  const parts = token.split('.');
  if (parts.length !== 3) return { status: 401, reason: 'vapid token is not a JWT' };
  let header0;
  let claims;
  try {
    header0 = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return { status: 401, reason: 'vapid token is not JSON' };
  }
  if (header0.alg !== 'ES256') return { status: 401, reason: 'vapid alg is not ES256' };
  const signature = Buffer.from(parts[2], 'base64url');
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
  if (signature.length !== 64 ||
      !verifySignature('sha256', signed, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)) {
    return { status: 401, reason: 'vapid signature does not verify' };
  }
  if (claims.aud !== origin) return { status: 401, reason: `vapid aud is not ${origin}` };
  if (typeof claims.exp !== 'number' || claims.exp <= nowSeconds || claims.exp > nowSeconds + 86400) {
    return { status: 401, reason: 'vapid exp is not within the next 24 hours' };
  }
  if (typeof claims.sub !== 'string' || !/^(mailto:|https:)/.test(claims.sub)) {
    return { status: 401, reason: 'vapid sub is not a mailto: or https: URL' };
  }
  return null;
}

// sameKey tells whether two application server keys (Buffers, or null for none) are equal.
function sameKey(a, b) {
  return a === null || b === null ? a === b : a.equals(b);
}

// Relay events (EventEmitter): 'hello' {uaid}, 'register' {channelID, endpoint, again},
// 'unregister' {channelID}, 'message' {version, channelID, bytes}, 'ack' {version, channelID,
// code}, 'nack' {version, code}, 'rejected' {status, reason}.
class Relay extends EventEmitter {
  constructor({ host, cert, key }) {
    super();
    this.host = host;
    this.cert = cert;
    this.key = key;
    this.uaids = new Map();     // uaid -> { socket, channels: Set<channelID> }
    this.channels = new Map();  // endpoint token -> { uaid, channelID, key, stored: [] }
    this.byChannelID = new Map(); // uaid + channelID -> token
    this.gone = new Set();      // tokens of unregistered channels: 410
    this.acks = new Map();      // version -> ack code (100 delivered, 101 undecryptable, 102)
    this.nacks = new Map();     // version -> nack code (301-303: the push handler failed)
    this.nextUaidOverride = null;
  }

  async listen(wsPort = 0, httpsPort = 0) {
    this.httpServer = http.createServer((req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('WebSocket only\n');
    });
    this.wss = new WebSocketServer({
      server: this.httpServer,
      // Firefox asks for the `push-notification` subprotocol and closes without it.
      handleProtocols: (protocols) => (protocols.has('push-notification') ? 'push-notification' : false),
    });
    this.wss.on('connection', (socket) => this.onConnection(socket));
    await new Promise((resolve) => this.httpServer.listen(wsPort, '127.0.0.1', resolve));
    this.wsPort = this.httpServer.address().port;

    this.h2 = http2.createSecureServer({ cert: this.cert, key: this.key, allowHTTP1: false });
    this.h2.on('stream', (stream, headers) => this.onPush(stream, headers));
    this.h2.on('sessionError', () => {});
    await new Promise((resolve) => this.h2.listen(httpsPort, '127.0.0.1', resolve));
    this.httpsPort = this.h2.address().port;
    this.origin = `https://${this.host}:${this.httpsPort}`;
    return this;
  }

  get serverURL() {
    return `ws://127.0.0.1:${this.wsPort}/`;
  }

  // endpointFor returns a push endpoint under this relay for `token` (which may be unknown).
  endpointFor(token) {
    return `${this.origin}/wpush/v2/${token}`;
  }

  // goneEndpoint returns an endpoint that answers 410, as an expired subscription does.
  goneEndpoint() {
    const token = b64url(randomBytes(24));
    this.gone.add(token);
    return this.endpointFor(token);
  }

  // dropBrowsers closes every browser connection; with `newUaid`, the next hello is answered
  // with a new UAID, which makes Firefox drop its subscriptions and fire
  // `pushsubscriptionchange` for each (the server side of a subscription's expiry).
  dropBrowsers({ newUaid = false } = {}) {
    if (newUaid) this.nextUaidOverride = randomUUID().replaceAll('-', '');
    for (const client of this.wss.clients) client.terminate();
  }

  onConnection(socket) {
    if (socket.protocol !== 'push-notification') {
      socket.close(4406, 'the push-notification subprotocol is required');
      return;
    }
    let uaid = null;
    socket.on('message', (data, isBinary) => {
      if (isBinary) return;
      const text = data.toString('utf8');
      let msg;
      try {
        msg = JSON.parse(text);
      } catch {
        socket.close(4400, 'invalid JSON');
        return;
      }
      if (text === '{}' || msg.messageType === 'ping') {
        socket.send('{}');
        return;
      }
      if (msg.messageType === 'hello') {
        uaid = this.onHello(socket, msg);
        return;
      }
      if (!uaid) {
        socket.close(4401, 'hello first');
        return;
      }
      switch (msg.messageType) {
        case 'register': this.onRegister(socket, uaid, msg); break;
        case 'unregister': this.onUnregister(socket, uaid, msg); break;
        case 'ack':
          for (const u of msg.updates || []) {
            this.acks.set(String(u.version), u.code);
            this.emit('ack', { version: String(u.version), channelID: u.channelID, code: u.code });
          }
          break;
        case 'nack':
          // A delivered message whose `push` handler failed (its waitUntil promise rejected,
          // 302, for example): the browser acked it first and reports the failure apart.
          this.nacks.set(String(msg.version), msg.code);
          this.emit('nack', { version: String(msg.version), code: msg.code });
          break;
        default: break; // broadcast subscriptions and the like: not needed here
      }
    });
    socket.on('close', (code) => {
      const entry = uaid && this.uaids.get(uaid);
      if (entry && entry.socket === socket) entry.socket = null;
      this.emit('disconnect', { uaid, code });
    });
  }

  onHello(socket, msg) {
    let uaid = typeof msg.uaid === 'string' && this.uaids.has(msg.uaid) ? msg.uaid : null;
    if (this.nextUaidOverride) {
      // Starting over: the browser drops every subscription of its old UAID, so their
      // endpoints are gone, as they would be at autopush.
      if (uaid) {
        for (const channelID of this.uaids.get(uaid).channels) this.dropChannel(uaid, channelID);
        this.uaids.delete(uaid);
      }
      uaid = this.nextUaidOverride;
      this.nextUaidOverride = null;
    }
    if (!uaid) uaid = randomUUID().replaceAll('-', '');
    if (!this.uaids.has(uaid)) this.uaids.set(uaid, { socket: null, channels: new Set() });
    const entry = this.uaids.get(uaid);
    entry.socket = socket;
    socket.send(JSON.stringify({ messageType: 'hello', uaid, status: 200, use_webpush: true, broadcasts: {} }));
    this.emit('hello', { uaid });
    // Messages stored while the browser was away go out now, unless their TTL has passed.
    for (const channelID of entry.channels) {
      const ch = this.channels.get(this.byChannelID.get(uaid + channelID));
      if (!ch) continue;
      const now = Date.now();
      const stored = ch.stored.filter((m) => m.expires > now);
      ch.stored = [];
      for (const m of stored) this.sendNotification(socket, channelID, m.version, m.body);
    }
    return uaid;
  }

  // dropChannel makes a channel's endpoint answer 410 from now on.
  dropChannel(uaid, channelID) {
    const token = this.byChannelID.get(uaid + channelID);
    if (!token) return;
    this.channels.delete(token);
    this.byChannelID.delete(uaid + channelID);
    this.uaids.get(uaid)?.channels.delete(channelID);
    this.gone.add(token);
  }

  // channelOf returns the channel ID behind an endpoint of this relay, or null.
  channelOf(endpoint) {
    if (!endpoint.startsWith(this.origin)) return null;
    const token = ENDPOINT_PATH.exec(endpoint.slice(this.origin.length))?.[1];
    return this.channels.get(token)?.channelID ?? null;
  }

  onRegister(socket, uaid, msg) {
    const channelID = typeof msg.channelID === 'string' && msg.channelID ? msg.channelID : randomUUID();
    let key = null;
    if (msg.key !== undefined) {
      key = decodeB64url(msg.key);
      if (!key || !p256PublicKey(key)) {
        socket.send(JSON.stringify({ messageType: 'register', channelID, status: 400 }));
        return;
      }
    }
    // Firefox sends a register twice when it is asked during the handshake (once at once,
    // once more from its pending requests when the handshake ends) and keeps the endpoint
    // of the first reply. The same channel with the same key therefore gets the same
    // endpoint again; at autopush, too, both endpoints stay valid. With another key it is a
    // new subscription and the old endpoint is gone.
    const existingToken = this.byChannelID.get(uaid + channelID);
    const existing = this.channels.get(existingToken);
    if (existing && sameKey(existing.key, key)) {
      const pushEndpoint = this.endpointFor(existingToken);
      socket.send(JSON.stringify({ messageType: 'register', channelID, status: 200, pushEndpoint }));
      this.emit('register', { channelID, endpoint: pushEndpoint, again: true });
      return;
    }
    this.dropChannel(uaid, channelID);
    const token = b64url(randomBytes(32));
    this.channels.set(token, { uaid, channelID, key, stored: [] });
    this.byChannelID.set(uaid + channelID, token);
    this.uaids.get(uaid).channels.add(channelID);
    const pushEndpoint = this.endpointFor(token);
    socket.send(JSON.stringify({ messageType: 'register', channelID, status: 200, pushEndpoint }));
    this.emit('register', { channelID, endpoint: pushEndpoint });
  }

  onUnregister(socket, uaid, msg) {
    this.dropChannel(uaid, msg.channelID);
    socket.send(JSON.stringify({ messageType: 'unregister', channelID: msg.channelID, status: 200 }));
    // code: why the browser let go (200 the user unsubscribed, 201 quota exceeded, 202 the
    // permission was revoked).
    this.emit('unregister', { channelID: msg.channelID, code: msg.code });
  }

  sendNotification(socket, channelID, version, body) {
    const msg = { messageType: 'notification', channelID, version };
    if (body.length > 0) {
      msg.data = b64url(body);
      msg.headers = { encoding: 'aes128gcm' };
    }
    socket.send(JSON.stringify(msg));
  }

  onPush(stream, headers) {
    const reject = (status, reason) => {
      this.emit('rejected', { status, reason });
      if (!stream.destroyed) {
        stream.respond({ ':status': status, 'content-type': 'application/json' });
        stream.end(JSON.stringify({ code: status, error: reason }));
      }
    };
    const chunks = [];
    let size = 0;
    stream.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY + 1) chunks.push(c);
    });
    stream.on('error', () => {});
    stream.on('end', () => {
      const m = ENDPOINT_PATH.exec(headers[':path'] || '');
      if (headers[':method'] !== 'POST' || !m) return reject(404, 'no such endpoint');
      const token = m[1];
      if (this.gone.has(token)) return reject(410, 'subscription expired');
      const ch = this.channels.get(token);
      if (!ch) return reject(404, 'no such subscription');
      const auth = checkVapid(headers.authorization, ch.key, this.origin);
      if (auth) return reject(auth.status, auth.reason);
      const ttl = Number(headers.ttl);
      if (headers.ttl === undefined || !/^\d+$/.test(headers.ttl)) return reject(400, 'missing or invalid TTL header');
      if (size > MAX_BODY) return reject(413, 'payload too large');
      const body = Buffer.concat(chunks);
      if (body.length > 0 && headers['content-encoding'] !== 'aes128gcm') {
        return reject(415, 'content-encoding must be aes128gcm');
      }
      const version = randomUUID();
      const entry = this.uaids.get(ch.uaid);
      this.emit('message', { version, channelID: ch.channelID, bytes: body.length, stored: !entry?.socket });
      if (entry && entry.socket) {
        this.sendNotification(entry.socket, ch.channelID, version, body);
      } else if (ttl > 0 && ch.stored.length < MAX_STORED_PER_CHANNEL) {
        ch.stored.push({ version, body, expires: Date.now() + Math.min(ttl, MAX_TTL) * 1000 });
      }
      stream.respond({
        ':status': 201,
        location: `${this.origin}/m/${version}`,
        ttl: String(Math.min(ttl, MAX_TTL)),
      });
      stream.end();
    });
  }

  // waitForAck resolves with the code the browser acked `version` with, or null on timeout.
  waitForAck(version, timeoutMs) {
    if (this.acks.has(version)) return Promise.resolve(this.acks.get(version));
    return new Promise((resolve) => {
      const onAck = (a) => {
        if (a.version === version) done(a.code);
      };
      const timer = setTimeout(() => done(null), timeoutMs);
      const done = (code) => {
        clearTimeout(timer);
        this.off('ack', onAck);
        resolve(code);
      };
      this.on('ack', onAck);
    });
  }

  async close() {
    for (const client of this.wss?.clients ?? []) client.terminate();
    await Promise.all([
      new Promise((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve())),
      new Promise((resolve) => (this.httpServer ? this.httpServer.close(() => resolve()) : resolve())),
      new Promise((resolve) => (this.h2 ? this.h2.close(() => resolve()) : resolve())),
    ]);
  }
}

// startRelay starts a relay on loopback; `host` is the name its endpoints carry (the sender
// resolves it to 127.0.0.1 and the certificate `cert` must name it).
export async function startRelay({ host = 'push.relay.test', cert, key, wsPort = 0, httpsPort = 0 }) {
  return new Relay({ host, cert, key }).listen(wsPort, httpsPort);
}

// On its own: node push_relay.mjs --cert CERT.pem --key KEY.pem [--host NAME] [--ws-port N]
// [--https-port N]
if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : fallback;
  };
  const certFile = arg('--cert');
  const keyFile = arg('--key');
  if (!certFile || !keyFile) {
    console.error('usage: node push_relay.mjs --cert CERT.pem --key KEY.pem [--host NAME] [--ws-port N] [--https-port N]');
    process.exit(2);
  }
  const relay = await startRelay({
    host: arg('--host', 'push.relay.test'),
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    wsPort: Number(arg('--ws-port', 0)),
    httpsPort: Number(arg('--https-port', 0)),
  });
  const hostPort = `${relay.host}:${relay.httpsPort}`;
  console.log(`push relay: browsers ${relay.serverURL} (Firefox pref dom.push.serverURL), senders ${relay.origin}`);
  console.log(`webpushd: push.allow_hosts: ["${hostPort}"], push.resolve: ["${hostPort}:127.0.0.1"], push.ca_file: ${certFile}`);
  relay.on('hello', () => console.log('push relay: a browser connected'));
  relay.on('register', () => console.log('push relay: a browser subscribed'));
  relay.on('ack', (a) => console.log(`push relay: message ${a.version} acked with code ${a.code}`));
  relay.on('rejected', (r) => console.log(`push relay: refused a push: ${r.status} ${r.reason}`));
  process.on('SIGINT', () => relay.close().then(() => process.exit(0)));
  process.on('SIGTERM', () => relay.close().then(() => process.exit(0)));
}
