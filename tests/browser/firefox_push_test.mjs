// firefox_push_test.mjs: a real browser as the judge of the dispatcher's messages.
//
// It starts redis-server, webpushd, the push relay (push_relay.mjs: Mozilla's push protocol
// over WebSocket to Firefox, RFC 8030 endpoints over HTTP/2 and TLS to senders) and the example
// application server (examples/browser), then headless Firefox ESR with a fresh profile whose
// push service is the relay. Firefox opens the example page, the test clicks "Enable
// notifications", and the page subscribes and hands the subscription to the application server
// with its CSRF token. Then:
//   1. messages sent by `webpushctl push`, 0 to 3993 bytes, text and binary: Firefox decrypts
//      each, and the service worker receives each plaintext exactly once, byte for byte;
//   2. one job through the service: the application server submits it over gRPC (UploadJob)
//      to Firefox's subscription and an expired one; Firefox gets it once, and the application
//      server deletes the expired subscription when WatchJob reports it gone;
//   3. tampered and misaddressed messages (a flipped bit in the tag, the ciphertext, the salt or
//      the key id; a truncated record; a record for other keys): Firefox refuses each (ack
//      101) and the service worker never sees one, while the same message untampered, sent the
//      same way, is delivered;
//   4. the push service starting over (a new UAID): Firefox fires `pushsubscriptionchange`,
//      the service worker re-subscribes and the application server replaces the subscription;
//      a message to the new one arrives;
//   5. "Unsubscribe": the server forgets the subscription and Firefox unregisters it.
// Every process it starts is stopped at the end, also on failure (a watchdog bounds the run).
//
// Usage: node firefox_push_test.mjs --webpushctl PATH --webpushd PATH [--firefox PATH]
//        [--screenshot FILE.png] [--keep]
import { execFile, execFileSync, spawn } from 'node:child_process';
import { createECDH, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import puppeteer from 'puppeteer-core';
import { createApp } from '../../examples/browser/server.js';
import { startRelay } from './push_relay.mjs';
import { postPush, vapidAuthorization } from './sender.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const WEBPUSHCTL = arg('--webpushctl');
const WEBPUSHD = arg('--webpushd');
const FIREFOX = arg('--firefox', '/usr/bin/firefox-esr');
const SCREENSHOT = arg('--screenshot');
const RELAY_HOST = 'push.relay.test';
const SUBJECT = 'mailto:ops@example.com';
// Below ctest's TIMEOUT (600 s), above a slow run's time: 36-42 s here in Debug, 50 s with
// AddressSanitizer builds of webpushd and webpushctl on 2 busy cores.
const WATCHDOG_MS = Number(process.env.BROWSER_TEST_TIMEOUT_MS || 480000);
let workDir = null; // removed at the end, also by the watchdog: it holds keys and tokens

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (text) => console.log(`browser test: ${text}`);
const failures = [];
// part logs a part's summary, as passed only if none of its checks failed.
let failuresBefore = 0;
const part = (text) => {
  const failed = failures.length - failuresBefore;
  failuresBefore = failures.length;
  log(failed ? `${text.split(':')[0]}: FAILED (${failed} check(s), above)` : text);
};
const check = (ok, what) => {
  if (!ok) {
    failures.push(what);
    console.log(`browser test: FAILED: ${what}`);
  }
  return ok;
};

// waitFor polls `probe` until it returns a truthy value, or fails after `ms`.
async function waitFor(probe, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

const children = [];
// startProcess spawns a child whose output is kept, and resolves when a line matches `ready`.
function startProcess(name, file, args, ready, ms = 30000) {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  const collect = (d) => { output += d.toString(); };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  child.output = () => output;
  return waitFor(() => {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${output}`);
    const m = ready.exec(output);
    return m ? { child, match: m } : null;
  }, ms, `${name} to start (output so far:\n${output})`);
}

function stopChildren() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
process.on('exit', stopChildren);

function freePortSync() {
  return Number(execFileSync('python3', ['-c',
    'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])']).toString());
}

// The payloads of part 1: every size class of the aes128gcm record (0, around the 16-byte
// blocks, the largest), text (ASCII and multi-byte UTF-8) and binary, each one unique.
function pushPayloads() {
  const sizes = [0, 1, 2, 3, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255, 256,
    257, 500, 511, 512, 513, 1000, 1023, 1024, 1025, 1500, 2000, 2047, 2048, 2049, 2500, 3000,
    3500, 3900, 3990, 3991, 3992, 3993];
  const payloads = [];
  sizes.forEach((size, i) => {
    if (size > 0) {
      // Text: a numbered line, then multi-byte characters, cut on a character boundary.
      let text = `message ${i} of webpushctl push, ${size} bytes: `;
      const fill = 'grüße, Ωμέγα, € 🚀 '; // 2-, 3- and 4-byte UTF-8
      while (Buffer.byteLength(text) < size) text += fill;
      let bytes = Buffer.from(text);
      while (bytes.length > size) {
        text = text.slice(0, -1);
        bytes = Buffer.from(text);
      }
      payloads.push(Buffer.concat([bytes, Buffer.alloc(size - bytes.length, 0x2e)]));
    }
    if (i % 2 === 0 || size === 0 || size >= 3990) {
      payloads.push(size === 0 ? Buffer.alloc(0) : randomBytes(size)); // binary
    }
  });
  return payloads;
}

// keygen makes a VAPID key pair with `webpushctl vapid keygen --pem`: its output as printed, the
// private key (PEM) and the public key (base64url).
function keygen() {
  const text = execFileSync(WEBPUSHCTL, ['vapid', 'keygen', '--pem']).toString();
  const publicKey = /public_key:\s*(\S+)/.exec(text)?.[1];
  const pem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(text)?.[0];
  if (!publicKey || !pem) throw new Error(`webpushctl vapid keygen printed no public_key line or PEM:\n${text}`);
  return { text, pem, publicKey };
}

// vapidHeader signs an RFC 8292 token for `aud` with the PEM private key.
const vapidHeader = (privatePem, publicKey, aud) =>
  vapidAuthorization(privatePem, publicKey, { aud, exp: Math.floor(Date.now() / 1000) + 3600, sub: SUBJECT });

// postRaw sends `body` to `endpoint` as a sender would, without the dispatcher: for the
// tampered messages. Resolves with { status, version }.
async function postRaw(endpoint, body, authorization, caPem) {
  const response = await postPush(endpoint, body, { authorization, ca: caPem });
  return { status: response[':status'], version: (response.location || '').split('/m/')[1] || null };
}

async function main() {
  if (!WEBPUSHCTL || !WEBPUSHD) throw new Error('usage: --webpushctl PATH --webpushd PATH');
  const work = mkdtempSync(path.join(os.tmpdir(), 'webpush-browser-'));
  workDir = work;
  const file = (name) => path.join(work, name);
  const resources = [];
  try {
    // --- set-up: certificate, Redis, keys, webpushd, relay, application server -------------
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
      '-nodes', '-keyout', file('relay-key.pem'), '-out', file('relay-cert.pem'), '-days', '2',
      '-subj', `/CN=${RELAY_HOST}`, '-addext', `subjectAltName=DNS:${RELAY_HOST}`], { stdio: 'pipe' });
    const caPem = readFileSync(file('relay-cert.pem'));
    const relay = await startRelay({ host: RELAY_HOST, cert: caPem, key: readFileSync(file('relay-key.pem')) });
    resources.push(() => relay.close());
    const hostPort = `${RELAY_HOST}:${relay.httpsPort}`;

    const redisPort = freePortSync();
    await startProcess('redis-server', 'redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1',
      '--save', '', '--appendonly', 'no', '--dir', work], /Ready to accept connections/);

    const tenantKey = keygen();
    writeFileSync(file('vapid.pem'), tenantKey.text, { mode: 0o600 });
    const { publicKey: vapidPublicKey, pem: vapidPrivatePem } = tenantKey;
    writeFileSync(file('tenant.token'), randomBytes(24).toString('base64url'), { mode: 0o600 });
    writeFileSync(file('admin.token'), randomBytes(24).toString('base64url'), { mode: 0o600 });
    writeFileSync(file('webpushd.yaml'), [
      'server:', '  listen: 127.0.0.1:0', '  shutdown_grace: 2s',
      'metrics:', '  listen: ""',
      'queue:', '  redis:', '    host: 127.0.0.1', `    port: ${redisPort}`,
      'push:', `  ca_file: ${file('relay-cert.pem')}`, `  allow_hosts: ["${hostPort}"]`,
      `  resolve: ["${hostPort}:127.0.0.1"]`,
      'tenants:', '  - name: example', `    token_file: ${file('tenant.token')}`,
      '    vapid:', `      subject: ${SUBJECT}`, '      keys:', '        - id: main',
      `          private_key_file: ${file('vapid.pem')}`, ''].join('\n'));
    const { child: webpushd, match: served } = await startProcess('webpushd', WEBPUSHD,
      ['--config', file('webpushd.yaml')], /serving gRPC on port (\d+)/);
    const dispatcherAddress = `127.0.0.1:${served[1]}`;

    const appLog = [];
    const app = createApp({
      host: '127.0.0.1', port: 0, publicOrigin: '', vapidPublicKey,
      dispatcher: { address: dispatcherAddress, token: readFileSync(file('tenant.token'), 'utf8') },
      adminToken: readFileSync(file('admin.token'), 'utf8'), dataFile: file('subscriptions.json'),
      pushHosts: [hostPort],
    }, { log: (line) => appLog.push(line) });
    const quotaDrops = [];
    relay.on('unregister', (u) => { if (u.code === 201) quotaDrops.push(u.channelID); });
    const endpointsSeen = new Set();
    // Firefox repeats a register asked during its handshake; the relay answers the same
    // endpoint. Counted to show when a run went that way.
    let repeatedRegisters = 0;
    relay.on('register', (r) => { endpointsSeen.add(r.endpoint); if (r.again) repeatedRegisters += 1; });
    // The relay's protocol events, printed when a check fails: what Firefox did, and when.
    const t0 = Date.now();
    const trace = [];
    for (const type of ['hello', 'register', 'unregister', 'nack', 'rejected', 'disconnect']) {
      relay.on(type, (e) => trace.push(`${((Date.now() - t0) / 1000).toFixed(2)} s ${type} ${JSON.stringify({ ...e, endpoint: undefined })}`));
    }
    relay.on('message', (m) => trace.push(`${((Date.now() - t0) / 1000).toFixed(2)} s message ${m.bytes} bytes to ${m.channelID}${m.stored ? ' (stored: browser offline)' : ''}`));
    resources.push(async () => {
      if (failures.length) console.log(`browser test: relay trace:\n  ${trace.slice(-60).join('\n  ')}`);
    });
    const origin = await app.listen();
    resources.push(() => app.close());
    log(`relay ${relay.serverURL} / ${relay.origin}, webpushd ${dispatcherAddress}, example app ${origin}`);

    // Firefox's proxy: a listener that only notes where Firefox tried to go and hangs up, so
    // the run is hermetic and any outside connection Firefox attempts is reported.
    const outside = new Set();
    const proxy = net.createServer((socket) => {
      socket.once('data', (d) => {
        const target = /^[A-Z]+ (\S+)/.exec(d.toString('latin1'))?.[1];
        if (target) outside.add(target.replace(/^http:\/\/([^/]+).*/, '$1'));
        socket.destroy();
      });
      socket.on('error', () => {});
    });
    await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    resources.push(() => new Promise((resolve) => proxy.close(() => resolve())));

    // --- Firefox: fresh profile, the relay as its push service, no outside connections ------
    const browser = await puppeteer.launch({
      browser: 'firefox',
      timeout: 120000, // Firefox's first start on a fresh profile, on a busy machine
      executablePath: FIREFOX,
      headless: true,
      userDataDir: mkdtempSync(path.join(work, 'profile-')),
      env: { ...process.env, MOZ_REMOTE_SETTINGS_DEVTOOLS: '1' },
      extraPrefsFirefox: {
        'dom.push.serverURL': relay.serverURL,
        'dom.push.testing.allowInsecureServerURL': true, // ws:// on loopback
        'dom.push.connection.enabled': true,
        'dom.push.retryBaseInterval': 500, // reconnect quickly after the relay drops it (part 4)
        'permissions.default.desktop-notification': 1, // what clicking "Allow" would grant
        // Headless Firefox has no system notification service (showNotification fails with
        // NS_ERROR_FAILURE); its own alert windows work. Without a shown notification each push
        // would also spend the subscription's quota, and Firefox would drop it after 16.
        'alerts.useSystemBackend': false,
        // Those alert windows close themselves after their animation, a few seconds, while a
        // desktop keeps notifications in its notification centre. Firefox checks 3 s after each
        // push whether a notification of the site is still open, and counts the push against the
        // subscription's quota (16) if not; on a slow machine the test's bursts would spend it
        // and Firefox would unregister the subscription (code 201) mid-run. The quota is raised
        // for that reason only: a push handler that shows nothing still fails the nack check.
        'dom.push.maxQuotaPerSubscription': 1000,
        // Everything else Firefox would fetch goes to the proxy above (loopback is never
        // proxied), and MOZ_REMOTE_SETTINGS_DEVTOOLS keeps remote settings from syncing.
        'network.proxy.type': 1,
        'network.proxy.http': '127.0.0.1', 'network.proxy.http_port': proxy.address().port,
        'network.proxy.ssl': '127.0.0.1', 'network.proxy.ssl_port': proxy.address().port,
        'network.proxy.share_proxy_settings': true,
        // Firefox's push client logs to its console, and the console to stdout: kept, and
        // printed when a check fails.
        'dom.push.loglevel': 'debug',
        'devtools.console.stdout.chrome': true,
      },
    });
    resources.push(() => browser.close());
    const firefoxLog = [];
    for (const stream of [browser.process()?.stdout, browser.process()?.stderr]) {
      stream?.on('data', (d) => {
        for (const line of d.toString().split('\n')) {
          if (/push/i.test(line) && !/notificationForOrigin(Shown|Closed)/.test(line)) firefoxLog.push(`${((Date.now() - t0) / 1000).toFixed(2)} s ${line.slice(0, 300)}`);
        }
        if (firefoxLog.length > 2000) firefoxLog.splice(0, 1000);
      });
    }
    resources.push(async () => {
      if (process.env.BROWSER_TEST_FIREFOX_LOG) writeFileSync(process.env.BROWSER_TEST_FIREFOX_LOG, firefoxLog.join('\n'));
      if (failures.length) console.log(`browser test: Firefox's push log (last 80 lines):\n  ${firefoxLog.slice(-80).join('\n  ')}`);
    });
    const stateOf = (p) => p.evaluate(() => document.body.dataset.state || '');
    const detailOf = (p) => p.$eval('#detail', (e) => e.textContent);
    // openAndSubscribe opens the example page in `p` and clicks "Enable notifications", as a
    // visitor would.
    const openAndSubscribe = async (p) => {
      await p.setViewport({ width: 900, height: 640 });
      await p.goto(`${origin}/`);
      await waitFor(async () => ['ready', 'error', 'unsupported'].includes(await stateOf(p)), 60000, 'the page to be ready');
      check(await stateOf(p) === 'ready', `page state after loading: ${await stateOf(p)} (${await detailOf(p)})`);
      await p.click('#subscribe');
      await waitFor(async () => ['subscribed', 'error'].includes(await stateOf(p)), 30000, 'the subscription');
      if (!check(await stateOf(p) === 'subscribed', `page state after the click: ${await stateOf(p)} (${await detailOf(p)})`)) {
        throw new Error('Firefox did not subscribe');
      }
    };
    const unsubscribeIn = async (p) => {
      await p.click('#unsubscribe');
      await waitFor(async () => ['ready', 'error'].includes(await stateOf(p)), 30000, 'the page to unsubscribe');
      check(await stateOf(p) === 'ready', `page state after Unsubscribe: ${await stateOf(p)} (${await detailOf(p)})`);
    };
    const page = await browser.newPage();
    const state = () => stateOf(page);
    await openAndSubscribe(page);
    check(app.store.all().length === 1, `subscriptions stored after subscribing: ${app.store.all().length}`);
    let sub = app.store.all()[0];
    const subscriptionJson = () => JSON.stringify({ endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } });
    log(`Firefox subscribed through the example page (push service ${new URL(sub.endpoint).origin})`);

    // received: the plaintexts the service worker posted to the page, base64, in arrival order.
    const receivedIn = (p) => p.$$eval('#messages li', (items) => items.map((li) => li.dataset.bytes).reverse());
    const countIn = async (p, payload) => (await receivedIn(p)).filter((b) => b === payload.toString('base64')).length;
    const received = () => receivedIn(page);
    const countOf = (payload) => countIn(page, payload);

    // Asynchronous: the relay answering webpushctl runs in this process's event loop.
    const push = async (payloadFile, subscription) => (await promisify(execFile)(WEBPUSHCTL, ['push',
      '--subscription', subscription, '--payload-file', payloadFile,
      '--vapid-key-file', file('vapid.pem'), '--sub', SUBJECT, '--ca-file', file('relay-cert.pem'),
      '--allow-host', hostPort, '--resolve', `${hostPort}:127.0.0.1`, '--ttl', '60'],
    { timeout: 60000 })).stdout;

    // --- 1. webpushctl push -----------------------------------------------------------------
    const payloads = pushPayloads();
    const acksBefore = relay.acks.size;
    for (let i = 0; i < payloads.length; i++) {
      writeFileSync(file(`payload-${i}`), payloads[i]);
      await push(file(`payload-${i}`), subscriptionJson());
    }
    await waitFor(async () => (await received()).length >= payloads.length, 60000,
      `${payloads.length} messages in the service worker`).catch((e) => check(false, e.message));
    await waitFor(() => relay.acks.size - acksBefore >= payloads.length, 20000, 'Firefox\'s acks')
      .catch((e) => check(false, e.message));
    // Firefox acks each version once and the relay sends each once; a duplicate could only come
    // from a sender sending twice, and webpushctl reported each message delivered once. Waiting
    // a moment more lets a late duplicate show before counting.
    await sleep(1000);
    const got = await received();
    const want = new Map();
    for (const p of payloads) want.set(p.toString('base64'), (want.get(p.toString('base64')) || 0) + 1);
    let exact = 0;
    for (const [b64, n] of want) {
      const seen = got.filter((g) => g === b64).length;
      if (check(seen === n, `payload of ${Buffer.from(b64, 'base64').length} bytes received ${seen} time(s), sent ${n}`)) exact += n;
    }
    check(got.length === payloads.length, `service worker received ${got.length} messages, ${payloads.length} were sent`);
    const codes = [...relay.acks.values()].slice(acksBefore);
    check(codes.length === payloads.length && codes.every((c) => c === 100),
      `Firefox's acks for part 1: ${JSON.stringify(codes.reduce((m, c) => ({ ...m, [c]: (m[c] || 0) + 1 }), {}))}`);
    const sizes = payloads.map((p) => p.length);
    part(`1. webpushctl push: ${exact} of ${payloads.length} messages (${Math.min(...sizes)} to ${Math.max(...sizes)} bytes, text and binary) decrypted by Firefox, each exactly once, byte for byte`);

    // --- 2. one job through the service --------------------------------------------------------
    // Three more visitors: Firefox containers (browser contexts) have their own cookies,
    // service worker registrations and push subscriptions.
    const visitors = [];
    for (let i = 0; i < 3; i++) {
      const context = await browser.createBrowserContext();
      const p = await context.newPage();
      await openAndSubscribe(p);
      visitors.push({ context, page: p });
    }
    const firefoxSubscriptions = app.store.all().length;
    check(firefoxSubscriptions === 4, `subscriptions stored after four visitors subscribed: ${firefoxSubscriptions}`);
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const goneEndpoint = relay.goneEndpoint();
    app.store.put('another-browser', {
      endpoint: goneEndpoint, p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url'),
    });
    // And one the dispatcher refuses (its host is not on webpushd's allowlist; stored behind
    // the app's own checks, as an old database row might be): the app server must drop it and
    // submit the job without it, not fail the job for everyone.
    const refusedEndpoint = 'https://push.elsewhere.test/wpush/v2/not-an-allowed-push-service';
    app.store.put('a-third-browser', {
      endpoint: refusedEndpoint, p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url'),
    });
    const adminToken = readFileSync(file('admin.token'), 'utf8');
    const admin = (method, p, body) => fetch(`${origin}${p}`, {
      method, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: body && JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const notified = await admin('POST', '/admin/notify', { title: 'Your order has shipped', body: 'Order 1042 is on its way — tracking inside.', url: '/orders/1042' });
    if (!check(notified.status === 202, `POST /admin/notify: ${notified.status} ${JSON.stringify(notified.body)}`)) throw new Error('no job');
    const jobPayload = Buffer.from(notified.body.payload);
    const job = await waitFor(async () => {
      const r = await admin('GET', `/admin/jobs/${notified.body.job_id}`);
      return r.body.finished ? r.body : null;
    }, 60000, 'the job to finish');
    const allPages = [page, ...visitors.map((v) => v.page)];
    await waitFor(async () => {
      for (const p of allPages) if ((await countIn(p, jobPayload)) < 1) return false;
      return true;
    }, 20000, 'the job\'s message in every visitor\'s service worker').catch((e) => check(false, e.message));
    await sleep(1000);
    let jobReceived = 0;
    for (const [i, p] of allPages.entries()) {
      const n = await countIn(p, jobPayload);
      if (check(n === 1, `visitor ${i} received the job's message ${n} time(s)`)) jobReceived += 1;
    }
    check(job.finished.state === 'JOB_STATE_DONE' && job.finished.counters.delivered === 4 && job.finished.counters.gone === 1,
      `job ${job.job_id}: ${JSON.stringify(job.finished)}`);
    check(job.gone_removed === 1 && !app.store.findByEndpoint(goneEndpoint) && app.store.all().length === 4,
      `after the job: gone_removed ${job.gone_removed}, ${app.store.all().length} subscription(s) stored`);
    check(job.targets === 5 && !app.store.findByEndpoint(refusedEndpoint) &&
      appLog.some((line) => /refused by the dispatcher \(endpoint/.test(line)),
    `the subscription webpushd refuses: job targets ${job.targets}, still stored ${Boolean(app.store.findByEndpoint(refusedEndpoint))}`);
    part(`2. job ${job.job_id} through webpushd (UploadJob from the Node app server, ${job.targets} targets after it dropped the one webpushd refused): delivered ${job.finished.counters.delivered}, decrypted by Firefox exactly once in ${jobReceived} of ${allPages.length} subscriptions; gone ${job.finished.counters.gone}, deleted by the app server`);
    if (SCREENSHOT) {
      // A visitor's page after the job: what examples/browser/README.md shows.
      await visitors[0].page.screenshot({ path: SCREENSHOT });
      log(`screenshot: ${SCREENSHOT}`);
    }
    for (const v of visitors) {
      await unsubscribeIn(v.page);
      await v.context.close();
    }
    check(app.store.all().length === 1, `after three visitors unsubscribed: ${app.store.all().length} stored`);

    // --- 3. tampered and misaddressed messages ----------------------------------------------
    const encrypt = (text, p256dh, auth) => execFileSync(WEBPUSHCTL, ['encrypt', '--p256dh', p256dh, '--auth', auth,
      '--payload', text]);
    const flip = (buf, at) => {
      const copy = Buffer.from(buf);
      copy[at < 0 ? copy.length + at : at] ^= 0x01;
      return copy;
    };
    const authHeader = vapidHeader(vapidPrivatePem, vapidPublicKey, relay.origin);
    const otherKeys = createECDH('prime256v1');
    otherKeys.generateKeys();
    const otherP256dh = otherKeys.getPublicKey().toString('base64url');
    const otherAuth = randomBytes(16).toString('base64url');
    const cases = [];
    const tamperedText = (name) => `tampered: ${name}, must never reach the service worker`;
    // addCase: `make` turns the case's plaintext into the body sent.
    const addCase = (name, make) => {
      const text = tamperedText(name);
      cases.push({ name, text, body: make(text) });
    };
    const forSub = (text) => encrypt(text, sub.p256dh, sub.auth);
    addCase('tag bit flipped', (t) => flip(forSub(t), -1));
    addCase('ciphertext bit flipped', (t) => flip(forSub(t), 86 + 3));
    addCase('salt bit flipped', (t) => flip(forSub(t), 0));
    addCase('sender key bit flipped', (t) => flip(forSub(t), 21 + 10));
    addCase('record truncated', (t) => forSub(t).subarray(0, -1));
    addCase('encrypted for another subscription', (t) => encrypt(t, otherP256dh, otherAuth));
    addCase('encrypted with another auth secret', (t) => encrypt(t, sub.p256dh, otherAuth));
    const control = Buffer.from('control: the same path, untampered, is delivered');
    const results = [];
    for (const c of cases) {
      const r = await postRaw(sub.endpoint, c.body, authHeader, caPem);
      check(r.status === 201 && r.version, `relay answered ${r.status} to "${c.name}"`);
      results.push({ ...c, code: r.version ? await relay.waitForAck(r.version, 20000) : null });
    }
    const controlPost = await postRaw(sub.endpoint, encrypt(control.toString(), sub.p256dh, sub.auth), authHeader, caPem);
    const controlCode = await relay.waitForAck(controlPost.version, 20000);
    await waitFor(async () => (await countOf(control)) >= 1, 20000, 'the untampered control message').catch((e) => check(false, e.message));
    await sleep(1000);
    for (const r of results) {
      check(r.code === 101, `Firefox acked "${r.name}" with ${r.code}, expected 101 (decryption error)`);
      check(await countOf(Buffer.from(r.text)) === 0, `"${r.name}" reached the service worker`);
    }
    check(controlCode === 100 && await countOf(control) === 1, `control message: ack ${controlCode}, received ${await countOf(control)} time(s)`);
    // Misaddressed at the push service: an unknown endpoint and an expired one are refused there.
    const unknown = await postRaw(relay.endpointFor(randomBytes(32).toString('base64url')), encrypt('x', sub.p256dh, sub.auth), authHeader, caPem);
    const expired = await postRaw(goneEndpoint, encrypt('x', sub.p256dh, sub.auth), authHeader, caPem);
    check(unknown.status === 404 && expired.status === 410, `unknown endpoint ${unknown.status}, expired endpoint ${expired.status}`);
    // A sender with another VAPID key than the one Firefox subscribed with is refused (RFC 8292 §4.2).
    const strangerKey = keygen();
    const stranger = await postRaw(sub.endpoint, encrypt('x', sub.p256dh, sub.auth),
      vapidHeader(strangerKey.pem, strangerKey.publicKey, relay.origin), caPem);
    check(stranger.status === 403, `another application server's VAPID key: ${stranger.status}`);
    part(`3. tampered or misaddressed: ${results.filter((r) => r.code === 101).length} of ${results.length} refused by Firefox (ack 101), none delivered; the control message delivered once; unknown endpoint 404, expired 410, foreign VAPID key 403`);

    // --- 4. pushsubscriptionchange -------------------------------------------------------------
    const oldEndpoint = sub.endpoint;
    relay.dropBrowsers({ newUaid: true });
    await waitFor(() => app.store.all().length === 1 && app.store.all()[0].endpoint !== oldEndpoint, 30000,
      'the service worker to store a new subscription after pushsubscriptionchange').catch((e) => check(false, e.message));
    check(!app.store.findByEndpoint(oldEndpoint), 'the old endpoint is still stored after pushsubscriptionchange');
    if (app.store.all().length === 1 && app.store.all()[0].endpoint !== oldEndpoint) {
      sub = app.store.all()[0];
      const renewed = Buffer.from('after pushsubscriptionchange: to the new subscription');
      writeFileSync(file('renewed'), renewed);
      await push(file('renewed'), subscriptionJson());
      // 60 s: should Firefox's connection drop meanwhile, the relay keeps the message (TTL 60)
      // and hands it over when Firefox reconnects.
      await waitFor(async () => (await countOf(renewed)) >= 1, 60000, 'the message to the renewed subscription').catch((e) => check(false, e.message));
      check(await countOf(renewed) === 1, `message to the renewed subscription received ${await countOf(renewed)} time(s)`);
      part(`4. pushsubscriptionchange: the service worker re-subscribed, the app server replaced the subscription, a message to the new one arrived once (registers Firefox repeated so far: ${repeatedRegisters})`);
    }

    // --- 5. unsubscribe --------------------------------------------------------------------
    await page.reload();
    await waitFor(async () => ['subscribed', 'error'].includes(await state()), 30000, 'the page after reload');
    const channelID = relay.channelOf(sub.endpoint);
    const unregistered = new Promise((resolve) => {
      const onUnregister = (u) => {
        if (u.channelID === channelID) {
          relay.off('unregister', onUnregister);
          resolve(true);
        }
      };
      relay.on('unregister', onUnregister);
    });
    await unsubscribeIn(page);
    check(app.store.all().length === 0, `after Unsubscribe: ${app.store.all().length} stored`);
    check(channelID && await Promise.race([unregistered, sleep(30000).then(() => false)]),
      'Firefox did not unregister the page\'s subscription at the push service');
    part('5. unsubscribe: the app server deleted the subscription and Firefox unregistered it');

    // Across the whole run: no push handler failed, and no whole endpoint (a capability URL)
    // reached a log of the app server or of webpushd.
    check(!quotaDrops.length, `Firefox dropped ${quotaDrops.length} subscription(s) for exceeding the push quota (unregister code 201)`);
    check(relay.nacks.size === 0, `the service worker's push handler failed for ${relay.nacks.size} message(s): ${JSON.stringify([...relay.nacks.values()])}`);
    const logs = `${appLog.join('\n')}\n${webpushd.output()}`;
    const leaked = [...endpointsSeen].filter((e) => logs.includes(e.split('/wpush/v2/')[1]));
    check(endpointsSeen.size >= 5 && leaked.length === 0,
      `${leaked.length} of ${endpointsSeen.size} endpoints' tokens appear in the logs of the app server or webpushd`);
    // webpushd drains and exits 0 on SIGTERM; a sanitizer report fails the test.
    webpushd.kill('SIGTERM');
    await waitFor(() => webpushd.exitCode !== null || webpushd.signalCode !== null, 30000, 'webpushd to exit')
      .catch((e) => check(false, e.message));
    check(webpushd.exitCode === 0, `webpushd exited with ${webpushd.exitCode ?? webpushd.signalCode} after SIGTERM`);
    check(!/runtime error:|AddressSanitizer|LeakSanitizer/.test(webpushd.output()),
      `a sanitizer report in webpushd's output:\n${webpushd.output().slice(-3000)}`);
    part(`the whole run: no push handler failed, no endpoint in the logs of the app server (${appLog.length} lines) and webpushd, webpushd exited 0 on SIGTERM`);
    log(`outside connections Firefox attempted (all refused): ${outside.size ? [...outside].join(', ') : 'none'}`);
  } finally {
    for (const close of resources.reverse()) {
      await Promise.race([close().catch(() => {}), sleep(5000)]);
    }
    stopChildren();
    if (!process.argv.includes('--keep')) rmSync(work, { recursive: true, force: true });
  }
}

const watchdog = setTimeout(() => {
  console.log(`browser test: FAILED: not done within ${WATCHDOG_MS} ms`);
  stopChildren(); // Firefox is a child of this process too (puppeteer), and dies with it
  if (workDir && !process.argv.includes('--keep')) rmSync(workDir, { recursive: true, force: true });
  process.exit(1);
}, WATCHDOG_MS);

main().then(() => {
  clearTimeout(watchdog);
  if (failures.length) {
    console.log(`browser test: FAILED: ${failures.length} check(s) failed`);
    process.exit(1);
  }
  console.log('browser test: PASSED');
  process.exit(0);
}, (err) => {
  clearTimeout(watchdog);
  console.log(`browser test: FAILED: ${err.stack || err}`);
  stopChildren();
  process.exit(1);
});
