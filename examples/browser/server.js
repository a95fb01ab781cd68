// server.js: the example's application server. It serves the page and the service worker,
// hands the page the VAPID public key and a CSRF token, stores the subscriptions browsers send
// it, and sends notifications as jobs to webpushd over gRPC, deleting the subscriptions that
// the dispatcher reports gone. README.md walks through running it.
//
// Configuration (environment):
//   LISTEN                 host:port to serve on (default 127.0.0.1:8080)
//   PUBLIC_ORIGIN          the origin browsers see (default http://LISTEN); https enables Secure
//                          cookies
//   VAPID_PUBLIC_KEY       the tenant's VAPID public key, base64url (`webpushctl vapid keygen`)
//   DISPATCHER_ADDRESS     webpushd's gRPC address (default 127.0.0.1:50051)
//   DISPATCHER_TOKEN_FILE  file with the tenant's bearer token for webpushd
//   DISPATCHER_CA_FILE     PEM CA of webpushd's TLS certificate (unset: plaintext, loopback only)
//   ADMIN_TOKEN_FILE       file with the bearer token of the /admin/ endpoints
//   DATA_FILE              where the subscriptions are kept (default ./subscriptions.json)
//   PUSH_HOSTS             push services whose subscriptions are accepted, comma-separated
//                          host[:port] or *.suffix[:port] (default: FCM, Mozilla, Apple, WNS)
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DispatcherClient, grpcStatus } from './lib/dispatcher_client.js';
import { httpError } from './lib/http_error.js';
import { safeEqual, Sessions } from './lib/session.js';
import { SubscriptionStore } from './lib/store.js';
import { DEFAULT_PUSH_HOSTS, endpointOrigin, parseHostRules, parseSubscription } from './lib/subscription.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const MAX_REQUEST_BYTES = 16 * 1024;
const MAX_PAYLOAD_BYTES = 3993; // one aes128gcm record (RFC 8291 §4)

function readSecret(name) {
  const file = process.env[name];
  if (!file) throw new Error(`${name}: not set`);
  try {
    const value = readFileSync(file, 'utf8').trim();
    if (!value) throw new Error('empty');
    return value;
  } catch (err) {
    throw new Error(`${name}: cannot read ${file}: ${err.message}`);
  }
}

function config() {
  const listen = process.env.LISTEN || '127.0.0.1:8080';
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new Error(`LISTEN: "${listen}" is not host:port`);
  const vapidPublicKey = process.env.VAPID_PUBLIC_KEY || '';
  const raw = Buffer.from(vapidPublicKey, 'base64url');
  if (raw.length !== 65 || raw[0] !== 4) {
    throw new Error('VAPID_PUBLIC_KEY: not a base64url uncompressed P-256 public key (65 bytes)');
  }
  return {
    host: m[1],
    port: Number(m[2]),
    publicOrigin: process.env.PUBLIC_ORIGIN || '',
    vapidPublicKey,
    dispatcher: {
      address: process.env.DISPATCHER_ADDRESS || '127.0.0.1:50051',
      token: readSecret('DISPATCHER_TOKEN_FILE'),
      caFile: process.env.DISPATCHER_CA_FILE || undefined,
    },
    adminToken: readSecret('ADMIN_TOKEN_FILE'),
    dataFile: process.env.DATA_FILE || path.resolve('subscriptions.json'),
    pushHosts: process.env.PUSH_HOSTS ? process.env.PUSH_HOSTS.split(',') : undefined, // createApp's default
  };
}

const STATIC = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/sw.js': ['sw.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function send(res, status, body, extraHeaders = {}) {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json', ...extraHeaders });
  res.end(JSON.stringify(body));
}

// fromGrpc maps the dispatcher's answers to ours. Only INVALID_ARGUMENT's message is passed on
// (it names the field); other details stay in our log.
function fromGrpc(err) {
  const pushbackMs = Number(err.metadata?.get('grpc-retry-pushback-ms')?.[0]);
  const retryAfter = { 'retry-after': String(Math.max(1, Math.ceil((pushbackMs || 1000) / 1000))) };
  switch (err.code) {
    case grpcStatus.INVALID_ARGUMENT: return httpError(400, `dispatcher: ${err.details}`);
    case grpcStatus.NOT_FOUND: return httpError(404, 'no such job');
    case grpcStatus.RESOURCE_EXHAUSTED: return httpError(429, 'dispatcher quota reached; try again later', retryAfter);
    case grpcStatus.UNAVAILABLE: return httpError(503, 'dispatcher unavailable; try again later', retryAfter);
    default: return httpError(502, `dispatcher error (gRPC code ${err.code})`);
  }
}

const isGrpcError = (err) => typeof err.code === 'number' && 'details' in err;

// readJson reads a JSON object body of at most MAX_REQUEST_BYTES. Past the limit it answers
// 413 at once and closes the connection after the answer (the rest is not read).
function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_REQUEST_BYTES) {
        reject(httpError(413, `body: more than ${MAX_REQUEST_BYTES} bytes`, { connection: 'close' }));
      } else {
        chunks.push(c);
      }
    });
    req.on('end', () => {
      if (size > MAX_REQUEST_BYTES) return;
      let value;
      try {
        value = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        reject(httpError(400, 'body: not JSON'));
        return;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        reject(httpError(400, 'body: not a JSON object'));
      } else {
        resolve(value);
      }
    });
    req.on('error', reject);
  });
}

export function createApp(cfg, { log = console.log } = {}) {
  const store = new SubscriptionStore(cfg.dataFile);
  const dispatcher = new DispatcherClient(cfg.dispatcher);
  const jobs = new Map(); // job id -> what this server saw of it (WatchJob)
  const hostRules = parseHostRules(cfg.pushHosts ?? DEFAULT_PUSH_HOSTS);
  let origins = cfg.publicOrigin ? [cfg.publicOrigin] : [];
  const sessions = new Sessions({ secure: cfg.publicOrigin.startsWith('https:') });

  const isAdmin = (req) => safeEqual(req.headers.authorization || '', `Bearer ${cfg.adminToken}`);

  // notify sends one notification to every stored subscription as one dispatcher job, then
  // follows the job and deletes what the push services report gone.
  async function notify(body) {
    const { title, body: text = '', url = '/', ttl = 3600 } = body;
    if (typeof title !== 'string' || !title) throw httpError(400, 'title: missing');
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > 2419200) throw httpError(400, 'ttl: not an integer from 0 to 2419200');
    const payload = Buffer.from(JSON.stringify({ title, body: String(text), url: String(url) }));
    if (payload.length > MAX_PAYLOAD_BYTES) {
      throw httpError(400, `title/body/url: ${payload.length} bytes, more than ${MAX_PAYLOAD_BYTES}`);
    }
    const targets = store.all().map((s) => ({ endpoint: s.endpoint, p256dh: s.p256dh, auth: s.auth, target_id: s.id }));
    const message = { payload, ttl_seconds: ttl, labels: { source: 'browser-example' } };
    // The dispatcher takes a job whole or not at all, and names the first bad target
    // ("targets[12].endpoint: ..."): that one is deleted and the job submitted again, so one
    // subscription the dispatcher refuses cannot stop notifications for everyone. The same
    // idempotency key is safe to reuse: a refused job was never queued.
    const idempotencyKey = randomUUID();
    let response;
    for (let attempt = 0; !response; attempt++) {
      if (targets.length === 0) throw httpError(409, 'no subscriptions stored');
      try {
        response = await dispatcher.upload(message, targets, idempotencyKey);
      } catch (err) {
        const bad = isGrpcError(err) && err.code === grpcStatus.INVALID_ARGUMENT && /^targets\[(\d+)\]\.(.*)$/.exec(err.details);
        if (!bad || attempt >= 20 || Number(bad[1]) >= targets.length) throw err;
        const [target] = targets.splice(Number(bad[1]), 1);
        store.remove(target.target_id);
        log(`subscription ${target.target_id} at ${endpointOrigin(target.endpoint)} refused by the dispatcher (${bad[2]}), deleted`);
      }
    }
    const record = { job_id: response.job_id, targets: targets.length, gone_removed: 0, failed: 0, finished: null };
    jobs.set(response.job_id, record);
    log(`job ${response.job_id}: ${targets.length} subscription(s)`);
    dispatcher.watch(response.job_id, (event) => {
      try {
        if (event.gone) {
          if (store.removeGone(event.gone.target_id, event.gone.endpoint)) record.gone_removed += 1;
          log(`job ${response.job_id}: subscription ${event.gone.target_id} at ${endpointOrigin(event.gone.endpoint)} is gone, deleted`);
        } else if (event.failed) {
          record.failed += 1;
          log(`job ${response.job_id}: subscription ${event.failed.target_id} failed: ${event.failed.reason}`);
        }
      } catch (err) {
        // The store could not be written (disk full, say): the job goes on, and the file is
        // written whole again by the next change.
        log(`job ${response.job_id}: could not record an event: ${err.message}`);
      }
    }).then((job) => {
      record.finished = { state: job.state, counters: job.counters };
      log(`job ${response.job_id}: ${job.state}, delivered ${job.counters.delivered}, gone ${job.counters.gone}`);
    }, (err) => {
      record.error = err.message;
      log(`job ${response.job_id}: watching failed: ${err.message}`);
    });
    return { ...record, payload: payload.toString('utf8') };
  }

  async function route(req, res) {
    const url = new URL(req.url, 'http://local');
    const staticFile = req.method === 'GET' && STATIC[url.pathname];
    if (staticFile) {
      sessions.ensure(req, res);
      const headers = { ...SECURITY_HEADERS, 'content-type': staticFile[1] };
      if (url.pathname === '/sw.js') headers['service-worker-allowed'] = '/';
      res.writeHead(200, headers);
      res.end(readFileSync(path.join(here, 'public', staticFile[0])));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/session') {
      const id = sessions.ensure(req, res);
      send(res, 200, { csrfToken: sessions.csrfToken(id), vapidPublicKey: cfg.vapidPublicKey });
      return;
    }
    if (url.pathname === '/api/subscriptions' && (req.method === 'POST' || req.method === 'DELETE')) {
      const sessionId = sessions.checkStateChange(req, origins);
      const body = await readJson(req);
      if (req.method === 'DELETE') {
        const removed = typeof body.endpoint === 'string' && store.removeOwned(sessionId, body.endpoint);
        send(res, removed ? 200 : 404, { removed });
        return;
      }
      const sub = parseSubscription(body.subscription, hostRules);
      const oldEndpoint = typeof body.oldEndpoint === 'string' ? body.oldEndpoint : undefined;
      const record = store.put(sessionId, sub, oldEndpoint);
      log(`subscription ${record.id} stored (${endpointOrigin(sub.endpoint)})${oldEndpoint ? ', replacing an old one' : ''}`);
      send(res, 201, { id: record.id });
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/subscriptions/status') {
      // Whether the browser's endpoint is stored for this session. A POST body, not a query
      // string: URLs end up in access logs, and the endpoint is a capability.
      const sessionId = sessions.checkStateChange(req, origins);
      const { endpoint } = await readJson(req);
      send(res, 200, { stored: typeof endpoint === 'string' && store.isOwnedBy(sessionId, endpoint) });
      return;
    }
    if (url.pathname.startsWith('/admin/')) {
      if (!isAdmin(req)) {
        send(res, 401, { error: 'authorization: missing or wrong admin token' });
        return;
      }
      if (req.method === 'POST' && url.pathname === '/admin/notify') {
        send(res, 202, await notify(await readJson(req)));
        return;
      }
      const m = /^\/admin\/jobs\/([^/]+)$/.exec(url.pathname);
      if (req.method === 'GET' && m) {
        const local = jobs.get(m[1]);
        const job = await dispatcher.getJob(m[1]);
        send(res, 200, { ...local, state: job.state, counters: job.counters });
        return;
      }
      if (req.method === 'GET' && url.pathname === '/admin/subscriptions') {
        const stored = store.all().map((s) => endpointOrigin(s.endpoint));
        send(res, 200, { count: stored.length, origins: stored });
        return;
      }
    }
    send(res, 404, { error: 'not found' });
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((err) => {
      // Our own refusals (with a status) are told as they are; the dispatcher's through
      // fromGrpc; anything else is a bug or an outage, logged here and not shown to the client.
      const answer = err.status ? err : isGrpcError(err) ? fromGrpc(err) : httpError(500, 'internal error');
      if (!err.status) log(`request ${req.method} ${new URL(req.url, 'http://local').pathname}: ${err.message}`);
      if (!res.headersSent) send(res, answer.status, { error: answer.message }, answer.headers);
    });
  });
  return {
    server,
    store,
    listen: () => new Promise((resolve) => server.listen(cfg.port, cfg.host, () => {
      if (origins.length === 0) {
        const { port } = server.address();
        origins = [`http://${cfg.host}:${port}`];
        if (['127.0.0.1', '::1', 'localhost'].includes(cfg.host)) origins.push(`http://localhost:${port}`);
      }
      resolve(origins[0]);
    })),
    close: () => new Promise((resolve) => {
      dispatcher.close();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let cfg;
  try {
    cfg = config();
  } catch (err) {
    console.error(`server: ${err.message}`);
    process.exit(2);
  }
  const app = createApp(cfg);
  const origin = await app.listen();
  console.log(`example app on ${origin} (dispatcher ${cfg.dispatcher.address}, ${app.store.all().length} subscription(s) stored)`);
  const stop = () => app.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
