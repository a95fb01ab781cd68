'use strict';

// Baseline for bench/README.md: a whole fan-out sent the way people do it today, with the Node
// `web-push` package, as a competent Node user would write it: one
// webpush.sendNotification(subscription, payload, options) per subscription, over one keep-alive
// https.Agent, at most --concurrency notifications in flight. Each call encrypts (aes128gcm),
// signs a VAPID JWT and makes one HTTP/1.1 request.
//
// web-push signs a fresh VAPID JWT (one ECDSA P-256 signature) on every call; it has no cache.
// That is what its users get, so it is kept here: no token caching added on top.
//
// Usage:
//   NODE_EXTRA_CA_CERTS=ca.pem node fanout_bench.js --subscriptions subs.jsonl
//       (--payload-size N | --payload-file F) --vapid-public-key K --vapid-private-key K
//       [--subject mailto:bench@example.com] [--ttl 60] [--concurrency 100] [--max-sockets C]
//   --subscriptions  JSON lines of PushSubscriptions ({"endpoint":..,"keys":{"p256dh":..,
//                    "auth":..}}), as `webpush_test_push_service --subscriptions-out` writes
//   --payload-size   N random bytes, the same payload for every subscription
//   --payload-file   the payload, read from a file
//   --vapid-*-key    base64url, as `webpushctl vapid keygen --json` prints
//   --concurrency    notifications in flight (default 100)
//   --max-sockets    the agent's maxSockets (default: --concurrency)
// Every endpoint host is resolved to 127.0.0.1 (the test push service's push.test.example does
// not resolve); NODE_EXTRA_CA_CERTS makes Node trust the service's CA.
//
// Prints one JSON line: messages, delivered, failed, statuses, wall and CPU time (process
// user + system, so encryption, signing, TLS and HTTP together), and latency percentiles in ms
// measured two ways: per request (call to settle) and since the start of the fan-out (start of
// the run to each message's answer: a batch service's "submission to answer" latency). Exits 0
// when every notification was accepted (2xx), 1 when some failed, 2 on bad arguments.

const crypto = require('crypto');
const fs = require('fs');
const https = require('https');
const webpush = require('web-push');
const webPushVersion = require('web-push/package.json').version;

function parseArgs(argv) {
  const opts = {
    subscriptions: '',
    payloadSize: -1,
    payloadFile: '',
    vapidPublicKey: '',
    vapidPrivateKey: '',
    subject: 'mailto:bench@example.com',
    ttl: 60,
    concurrency: 100,
    maxSockets: 0,
  };
  const strings = {
    '--subscriptions': 'subscriptions',
    '--payload-file': 'payloadFile',
    '--vapid-public-key': 'vapidPublicKey',
    '--vapid-private-key': 'vapidPrivateKey',
    '--subject': 'subject',
  };
  const integers = {
    '--payload-size': 'payloadSize',
    '--ttl': 'ttl',
    '--concurrency': 'concurrency',
    '--max-sockets': 'maxSockets',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (i + 1 >= argv.length || !(arg in strings || arg in integers)) {
      throw new Error(`unknown argument or missing value: ${arg}`);
    }
    const value = argv[++i];
    if (arg in strings) {
      opts[strings[arg]] = value;
    } else {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) {
        throw new Error(`${arg} needs a non-negative integer`);
      }
      opts[integers[arg]] = n;
    }
  }
  if (!opts.subscriptions || !opts.vapidPublicKey || !opts.vapidPrivateKey) {
    throw new Error('--subscriptions, --vapid-public-key and --vapid-private-key are required');
  }
  if ((opts.payloadSize >= 0) === (opts.payloadFile !== '')) {
    throw new Error('give exactly one of --payload-size and --payload-file');
  }
  if (opts.concurrency < 1) {
    throw new Error('--concurrency must be at least 1');
  }
  if (opts.maxSockets === 0) {
    opts.maxSockets = opts.concurrency;
  }
  return opts;
}

function readSubscriptions(path) {
  return fs.readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line));
}

// lookupLoopback is a dns.lookup replacement that answers 127.0.0.1 for every host. Node 20
// connects with autoSelectFamily and then asks for all addresses (`options.all`).
function lookupLoopback(hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  }
  if (options && options.all) {
    callback(null, [{address: '127.0.0.1', family: 4}]);
  } else {
    callback(null, '127.0.0.1', 4);
  }
}

// Percentiles by nearest rank over `values` (milliseconds), rounded to microseconds.
function percentiles(values) {
  const sorted = Float64Array.from(values).sort();
  const at = (p) => sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
  const round = (ms) => Math.round(ms * 1000) / 1000;
  if (sorted.length === 0) {
    return {p50: 0, p90: 0, p99: 0, max: 0};
  }
  return {
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    p99: round(at(0.99)),
    max: round(sorted[sorted.length - 1]),
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const subscriptions = readSubscriptions(opts.subscriptions);
  const payload = opts.payloadFile ? fs.readFileSync(opts.payloadFile) :
                                     crypto.randomBytes(opts.payloadSize);
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: opts.maxSockets,
    lookup: lookupLoopback,
  });
  const options = {
    TTL: opts.ttl,
    vapidDetails: {
      subject: opts.subject,
      publicKey: opts.vapidPublicKey,
      privateKey: opts.vapidPrivateKey,
    },
    agent,
  };

  const count = subscriptions.length;
  const perRequestMs = new Float64Array(count);
  const sinceStartMs = new Float64Array(count);
  const statuses = {};
  const errors = [];
  let delivered = 0;
  let failed = 0;
  let next = 0;

  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  async function worker() {
    while (next < count) {
      const i = next++;
      const sent = process.hrtime.bigint();
      let status;
      try {
        const result = await webpush.sendNotification(subscriptions[i], payload, options);
        status = result.statusCode;
        delivered++;
      } catch (err) {
        status = err.statusCode || 'error';
        failed++;
        if (errors.length < 5) {
          errors.push(String(err.body || err.message || err).slice(0, 200));
        }
      }
      const done = process.hrtime.bigint();
      perRequestMs[i] = Number(done - sent) / 1e6;
      sinceStartMs[i] = Number(done - start) / 1e6;
      statuses[status] = (statuses[status] || 0) + 1;
    }
  }
  await Promise.all(Array.from({length: Math.min(opts.concurrency, count)}, worker));
  const wallSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  agent.destroy();

  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(JSON.stringify({
    messages: count,
    delivered,
    failed,
    statuses,
    payload_bytes: payload.length,
    wall_seconds: Math.round(wallSeconds * 1000) / 1000,
    messages_per_second: Math.round(count / wallSeconds),
    cpu_seconds: Math.round(cpuSeconds * 1000) / 1000,
    cpu_us_per_message: count ? Math.round((cpu.user + cpu.system) / count) : 0,
    latency_ms: {
      per_request: percentiles(perRequestMs),
      since_start: percentiles(sinceStartMs),
    },
    concurrency: opts.concurrency,
    max_sockets: opts.maxSockets,
    node_version: process.version,
    web_push_version: webPushVersion,
    errors,
  }));
  return failed === 0 ? 0 : 1;
}

main().then((code) => {
  process.exitCode = code;
}, (err) => {
  console.error(`fanout_bench.js: ${err.message}`);
  process.exitCode = 2;
});
