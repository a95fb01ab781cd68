// dispatcher_client.js: the application server's side of webpush-dispatcher's gRPC API
// (proto/webpush/dispatcher/v1/dispatcher.proto), with @grpc/grpc-js and the .proto loaded at
// start-up. Every call carries the tenant's bearer token.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const here = path.dirname(fileURLToPath(import.meta.url));
const PROTO = path.resolve(here, '../../../proto/webpush/dispatcher/v1/dispatcher.proto');

// Targets per UploadJob batch message: well inside gRPC's 4 MiB default message size.
const BATCH = 1000;

// gRPC codes that retrying cannot fix: the request, the job id or the credentials are wrong.
const PERMANENT = new Set([grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND,
  grpc.status.PERMISSION_DENIED, grpc.status.UNAUTHENTICATED, grpc.status.UNIMPLEMENTED]);

// Keepalive pings find a connection that died silently under a long WatchJob; 5 minutes is the
// least gRPC servers accept by default without answering "too many pings".
const CHANNEL_OPTIONS = { 'grpc.keepalive_time_ms': 300000, 'grpc.keepalive_timeout_ms': 20000 };

// The gRPC status codes by name, for the callers' answers.
export const grpcStatus = grpc.status;

export class DispatcherClient {
  // address: "host:port"; token: the tenant's bearer token; caFile: PEM CA for TLS (none:
  // plaintext, which webpushd allows on loopback only).
  constructor({ address, token, caFile }) {
    const definition = protoLoader.loadSync(PROTO, {
      keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
    });
    const { Dispatcher } = grpc.loadPackageDefinition(definition).webpush.dispatcher.v1;
    const credentials = caFile
      ? grpc.credentials.createSsl(readFileSync(caFile))
      : grpc.credentials.createInsecure();
    this.client = new Dispatcher(address, credentials, CHANNEL_OPTIONS);
    this.token = token;
  }

  metadata() {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${this.token}`);
    return md;
  }

  deadline(seconds) {
    return new Date(Date.now() + seconds * 1000);
  }

  // upload queues one job: `message` (payload Buffer, ttl_seconds, urgency, topic, labels) to
  // `targets` ({endpoint, p256dh, auth, target_id}), streamed in batches, so any number of
  // targets fits. Resolves with { job_id, existing, targets }. The idempotency key makes a retry
  // after a lost answer return the first job instead of sending everything twice.
  upload(message, targets, idempotencyKey) {
    return new Promise((resolve, reject) => {
      const call = this.client.UploadJob(this.metadata(), { deadline: this.deadline(60) },
        (err, response) => (err ? reject(err) : resolve(response)));
      call.write({ header: { message, idempotency_key: idempotencyKey } });
      for (let i = 0; i < targets.length; i += BATCH) {
        call.write({ batch: { targets: targets.slice(i, i + BATCH) } });
      }
      call.end();
    });
  }

  getJob(jobId) {
    return new Promise((resolve, reject) => {
      this.client.GetJob({ job_id: jobId }, this.metadata(), { deadline: this.deadline(10) },
        (err, job) => (err ? reject(err) : resolve(job)));
    });
  }

  // watch follows a job to its end: onEvent gets each JobEvent (progress, gone, failed,
  // finished). A broken or cancelled stream (webpushd restarting, a replica draining, the
  // network) is reopened after the last event seen, with capped back-off, so no gone report is
  // lost; only a permanent error (the job or the credentials are wrong) or `maxWaitMs` without
  // the end ends it. Resolves with the finished Job.
  watch(jobId, onEvent, { maxWaitMs = 60 * 60 * 1000 } = {}) {
    const started = Date.now();
    let after = '';
    let failures = 0;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn, value) => {
        if (!settled) {
          settled = true;
          fn(value);
        }
      };
      const retry = (why) => {
        if (settled) return;
        if (Date.now() - started > maxWaitMs) {
          settle(reject, why);
          return;
        }
        failures += 1;
        setTimeout(open, Math.min(250 * 2 ** Math.min(failures, 5), 5000));
      };
      const open = () => {
        const call = this.client.WatchJob({ job_id: jobId, after_offset: after, skip_progress: true },
          this.metadata());
        call.on('data', (event) => {
          failures = 0;
          after = event.offset;
          onEvent(event);
          if (event.finished) {
            settle(resolve, event.finished);
            call.cancel();
          }
        });
        call.on('error', (err) => {
          if (PERMANENT.has(err.code)) settle(reject, err);
          else retry(err);
        });
        // A stream that ends without the finished event is reopened after the last offset.
        call.on('end', () => retry(new Error('WatchJob ended before the job finished')));
      };
      open();
    });
  }

  close() {
    this.client.close();
  }
}
