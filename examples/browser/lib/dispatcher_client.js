// dispatcher_client.js: the application server's side of webpush-dispatcher's gRPC API
// (proto/webpush/dispatcher/v1/dispatcher.proto), with @grpc/grpc-js and the .proto loaded at
// start-up. Every call carries the tenant's bearer token.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_PROTO = path.resolve(here, '../../../proto/webpush/dispatcher/v1/dispatcher.proto');

// Targets per UploadJob batch message: well inside gRPC's 4 MiB default message size.
const BATCH = 1000;

export class DispatcherClient {
  // address: "host:port"; token: the tenant's bearer token; caFile: PEM CA for TLS (none:
  // plaintext, which webpushd allows on loopback only).
  constructor({ address, token, caFile, protoFile = DEFAULT_PROTO }) {
    const definition = protoLoader.loadSync(protoFile, {
      keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true,
    });
    const { Dispatcher } = grpc.loadPackageDefinition(definition).webpush.dispatcher.v1;
    const credentials = caFile
      ? grpc.credentials.createSsl(readFileSync(caFile))
      : grpc.credentials.createInsecure();
    this.client = new Dispatcher(address, credentials);
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
  // finished). A broken stream is resumed after the last event seen, so no gone report is lost.
  // Resolves with the finished Job.
  watch(jobId, onEvent) {
    let after = '';
    let attempts = 0;
    return new Promise((resolve, reject) => {
      const open = () => {
        let finished = null;
        const call = this.client.WatchJob({ job_id: jobId, after_offset: after, skip_progress: true },
          this.metadata());
        call.on('data', (event) => {
          attempts = 0;
          after = event.offset;
          if (event.finished) finished = event.finished;
          onEvent(event);
        });
        call.on('error', (err) => {
          if (finished) return;
          const retriable = [grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED,
            grpc.status.INTERNAL].includes(err.code);
          if (!retriable || ++attempts > 10) {
            reject(err);
            return;
          }
          setTimeout(open, Math.min(250 * 2 ** attempts, 5000));
        });
        call.on('end', () => {
          if (finished) resolve(finished);
        });
      };
      open();
    });
  }

  close() {
    this.client.close();
  }
}
