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
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DispatcherClient } from './lib/dispatcher_client.js';
import { Sessions } from './lib/session.js';
import { SubscriptionStore } from './lib/store.js';
import { endpointOrigin, parseSubscription } from './lib/subscription.js';

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

function send(res, status, body, type = 'application/json') {
  const text = type === 'application/json' ? JSON.stringify(body) : body;
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type });
  res.end(text);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_REQUEST_BYTES) {
        reject(Object.assign(new Error('request body too large'), { status: 413 }));
        req.destroy();
      } else {
        chunks.push(c);
      }
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
      } catch {
        reject(Object.assign(new Error('body: not JSON'), { status: 400 }));
      }
    });
    req.on('error', reject);
  });
}

export function createApp(cfg, { log = console.log } = {}) {
  const store = new SubscriptionStore(cfg.dataFile);
  const dispatcher = new DispatcherClient(cfg.dispatcher);
  const jobs = new Map(); // job id -> what this server saw of it (WatchJob)
  let origin = cfg.publicOrigin;
  let sessions = new Sessions({ secure: origin.startsWith('https:') });

  const isAdmin = (req) => {
    const given = Buffer.from(String(req.headers.authorization || ''));
    const want = Buffer.from(`Bearer ${cfg.adminToken}`);
    return given.length === want.length && timingSafeEqual(given, want);
  };

  // notify sends one notification to every stored subscription as one dispatcher job, then
  // follows the job and deletes what the push services report gone.
  async function notify(body) {
    const { title, body: text = '', url = '/', ttl = 3600 } = body;
    if (typeof title !== 'string' || !title) throw Object.assign(new Error('title: missing'), { status: 400 });
    const payload = Buffer.from(JSON.stringify({ title, body: String(text), url: String(url) }));
    if (payload.length > MAX_PAYLOAD_BYTES) {
      throw Object.assign(new Error(`title/body/url: ${payload.length} bytes, more than ${MAX_PAYLOAD_BYTES}`), { status: 400 });
    }
    const subs = store.all();
    if (subs.length === 0) throw Object.assign(new Error('no subscriptions stored'), { status: 409 });
    const targets = subs.map((s) => ({ endpoint: s.endpoint, p256dh: s.p256dh, auth: s.auth, target_id: s.id }));
    const message = { payload, ttl_seconds: Number(ttl), labels: { source: 'browser-example' } };
    const response = await dispatcher.upload(message, targets, randomUUID());
    const record = { job_id: response.job_id, targets: targets.length, gone_removed: 0, failed: 0, finished: null };
    jobs.set(response.job_id, record);
    log(`job ${response.job_id}: ${targets.length} subscription(s)`);
    dispatcher.watch(response.job_id, (event) => {
      if (event.gone) {
        if (store.removeGone(event.gone.target_id, event.gone.endpoint)) record.gone_removed += 1;
        log(`job ${response.job_id}: subscription ${event.gone.target_id} at ${endpointOrigin(event.gone.endpoint)} is gone, deleted`);
      } else if (event.failed) {
        record.failed += 1;
        log(`job ${response.job_id}: subscription ${event.failed.target_id} failed: ${event.failed.reason}`);
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
      const sessionId = sessions.checkStateChange(req, origin);
      const body = await readJson(req);
      if (req.method === 'DELETE') {
        const removed = typeof body.endpoint === 'string' && store.removeOwned(sessionId, body.endpoint);
        send(res, removed ? 200 : 404, { removed });
        return;
      }
      const sub = parseSubscription(body.subscription);
      const oldEndpoint = typeof body.oldEndpoint === 'string' ? body.oldEndpoint : undefined;
      const record = store.put(sessionId, sub, oldEndpoint);
      log(`subscription ${record.id} stored (${endpointOrigin(sub.endpoint)})${oldEndpoint ? ', replacing an old one' : ''}`);
      send(res, 201, { id: record.id });
      return;
    }
    if (req.method === 'GET' && url.pathname === '/api/subscriptions/status') {
      // Whether the browser's endpoint is stored for this session: the page shows it.
      const id = sessions.fromRequest(req);
      const endpoint = url.searchParams.get('endpoint') || '';
      send(res, 200, { stored: Boolean(id) && store.isOwnedBy(id, endpoint) });
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
        send(res, 200, { count: store.all().length, origins: store.all().map((s) => endpointOrigin(s.endpoint)) });
        return;
      }
    }
    send(res, 404, { error: 'not found' });
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((err) => {
      // gRPC errors carry a code and the dispatcher's message, which names the field.
      const status = err.status || (err.code === 3 ? 400 : err.code === 8 ? 429 : 502);
      if (!err.status) log(`request ${req.method} ${new URL(req.url, 'http://local').pathname}: ${err.message}`);
      if (!res.headersSent) send(res, status, { error: err.message });
    });
  });
  return {
    server,
    store,
    listen: () => new Promise((resolve) => server.listen(cfg.port, cfg.host, () => {
      if (!origin) {
        origin = `http://${cfg.host}:${server.address().port}`;
        sessions = new Sessions({ secure: false });
      }
      resolve(origin);
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
