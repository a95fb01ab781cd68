'use strict';

// Baseline for bench/README.md: single-threaded aes128gcm encryption throughput of the Node
// `web-push` package, for the same payload sizes as BM_Encrypt. Each message gets a fresh
// ephemeral key and salt inside webpush.encrypt, exactly as when sending.
//
// Usage: node encrypt_bench.js [--json] [--iterations N] [--warmup N] [--repetitions N]
//   --json  one JSON object per size on stdout (for run_encrypt_comparison.sh); default a table.

const crypto = require('crypto');
const webpush = require('web-push');

const SIZES = [100, 1024, 3993];

function parseArgs(argv) {
  const opts = {json: false, iterations: 2000, warmup: 500, repetitions: 5};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') {
      opts.json = true;
    } else if (['--iterations', '--warmup', '--repetitions'].includes(arg) && i + 1 < argv.length) {
      const value = Number.parseInt(argv[++i], 10);
      if (!(value > 0)) {
        throw new Error(`${arg} needs a positive integer`);
      }
      opts[arg.slice(2)] = value;
    } else {
      throw new Error(`unknown argument ${arg}`);
    }
  }
  return opts;
}

// A browser-side subscription: P-256 public key and 16-byte auth secret, base64url as in the
// PushSubscription JSON that web-push takes.
function randomSubscription() {
  const ua = crypto.createECDH('prime256v1');
  ua.generateKeys();
  return {
    p256dh: ua.getPublicKey().toString('base64url'),
    auth: crypto.randomBytes(16).toString('base64url'),
  };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function benchSize(size, opts) {
  const sub = randomSubscription();
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) {
    payload[i] = 0x61 + (i % 26);
  }
  const expectedLength = 86 + size + 1 + 16;  // header || record || delimiter || tag
  let sink = 0;
  const encryptOnce = () => {
    const result = webpush.encrypt(sub.p256dh, sub.auth, payload, 'aes128gcm');
    sink += result.cipherText.length;
  };
  for (let i = 0; i < opts.warmup; i++) {
    encryptOnce();
  }
  const wallUs = [];
  const cpuUs = [];
  for (let rep = 0; rep < opts.repetitions; rep++) {
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < opts.iterations; i++) {
      encryptOnce();
    }
    const elapsedNs = Number(process.hrtime.bigint() - start);
    const cpu = process.cpuUsage(cpuStart);
    wallUs.push(elapsedNs / 1000 / opts.iterations);
    cpuUs.push((cpu.user + cpu.system) / opts.iterations);
  }
  const perRep = opts.warmup + opts.repetitions * opts.iterations;
  if (sink !== perRep * expectedLength) {
    throw new Error(`unexpected ciphertext length for ${size} bytes`);
  }
  const us = median(wallUs);
  return {
    bytes: size,
    us_per_msg: us,
    msgs_per_s: 1e6 / us,
    cpu_us_per_msg: median(cpuUs),
    repetitions: opts.repetitions,
    iterations: opts.iterations,
    all_us_per_msg: wallUs,
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const version = require('web-push/package.json').version;
  const results = SIZES.map((size) => benchSize(size, opts));
  if (opts.json) {
    for (const r of results) {
      console.log(JSON.stringify({
        library: `web-push ${version}`,
        node: process.version,
        openssl: process.versions.openssl,
        ...r,
      }));
    }
    return;
  }
  console.log(`web-push ${version}, node ${process.version}, OpenSSL ${process.versions.openssl}` +
              `, median of ${opts.repetitions} x ${opts.iterations} messages (wall time)`);
  console.log('bytes   us/msg    msgs/s   cpu us/msg');
  for (const r of results) {
    console.log(`${String(r.bytes).padStart(5)} ${r.us_per_msg.toFixed(1).padStart(8)} ` +
                `${r.msgs_per_s.toFixed(0).padStart(9)} ${r.cpu_us_per_msg.toFixed(1).padStart(12)}`);
  }
}

main();
