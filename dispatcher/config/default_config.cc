// DefaultConfigYaml: the documented configuration of webpushd with its embedded defaults. A test
// checks that it decodes to exactly the defaults of service_config.h.
#include "dispatcher/config/config_loader.h"

namespace webpush::dispatcher::config {

std::string_view DefaultConfigYaml() {
  return R"yaml(# webpushd configuration. Every key can also be set by an environment variable
# (WEBPUSHD__QUEUE__REDIS__HOST=10.0.0.5: path segments joined by "__", numeric segments index
# lists) or by a flag (--set queue.redis.host=10.0.0.5); flags win over variables, variables
# over this file. Durations: 250ms, 30s, 10m, 1h. Secrets come from files (Kubernetes Secrets).
server:
  listen: 127.0.0.1:50051     # gRPC API: HOST:PORT or [IPV6]:PORT
  tls:                        # both or neither; without them the port is plaintext
    cert_file: ""
    key_file: ""
    client_ca_file: ""        # set: client certificates verified (mTLS, tenants' mtls_identity)
  allow_plaintext: false      # plaintext on a non-loopback address (behind a trusted proxy only)
  max_receive_bytes: 67108864 # largest gRPC message (UploadJob batches)
  reflection: true            # grpc.reflection.v1alpha, for grpcurl
  api_threads: 4              # threads for the API's blocking queue calls
  shutdown_grace: 10s         # on SIGTERM: time for messages in flight to be answered
metrics:
  listen: 127.0.0.1:9464      # /metrics, /healthz, /readyz; "" = none
queue:
  backend: redis              # redis | memory (one node, not durable: demos and tests)
  redis:
    host: 127.0.0.1
    port: 6379
    username: ""              # ACL user
    # password_file: /run/secrets/redis-password   (or password: ..., discouraged)
    db: 0
    key_prefix: wp
    shards: 1                 # hash-tag shards (Redis Cluster readiness)
    group: workers            # the consumer group every replica joins
    max_connections: 16
    connect_deadline: 30s     # give up (and fail start-up) after this long unreachable
  batch_size: 500             # targets per stored batch
  lease: 30s                  # a batch not renewed for this long is taken over by a replica
  max_attempts: 5             # per target (429, 5xx, timeouts), then failed
  retry_base: 1s              # back-off: retry_base * 2^attempt, +-20% jitter,
  retry_max: 10m              # capped here (or the push service's Retry-After)
  max_backlog: 50000000       # pending targets over all tenants
  retention: 24h              # jobs and their events are kept this long after the TTL
  progress_every: 1000        # a progress event at least every this many outcomes
  zero_ttl_window: 30s        # TTL 0 ("now or never"): sent only within this window
workers:
  enabled: true               # false: API only
  encrypt_threads: 0          # 0 = one per core
  fetch_batches: 4            # batches per fetch
  max_leased_batches: 16      # batches this replica holds at once
  max_in_flight: 8192         # messages encrypted and not yet answered
  consumer: ""                # "" = <hostname>-<pid>
  crypto_path: auto           # auto (AVX-512 IFMA where present) | reference | batch
push:
  ca_file: ""                 # PEM bundle; "" = the system trust store
  allow_hosts: []             # added to the built-in push services (HOST[:PORT], *.SUFFIX)
  resolve: []                 # HOST:PORT:ADDRESS overrides (these hosts may be private)
  private_address_hosts: []   # hosts allowed to resolve to private addresses
  max_connections_per_origin: 4
  max_streams_per_connection: 100   # the push service's SETTINGS may lower it
  connect_timeout: 10s
  request_timeout: 20s        # per attempt
  idle_timeout: 1m
  max_origin_pause: 1m        # caps a 429's Retry-After
  default_throttle_pause: 5s  # a 429 without Retry-After
# tenants: at least one, for example:
#   - name: acme
#     token_file: /run/secrets/acme-token        # bearer token, >= 16 characters
#     mtls_identity: ""                           # client certificate CN or SAN (with mTLS)
#     vapid:
#       subject: mailto:ops@acme.example
#       keys:
#         - id: main                              # the first key is the default
#           private_key_file: /run/secrets/acme-vapid.pem   # PEM or raw base64url
#     quotas:
#       messages_per_second: 10000   # admission rate (a bucket of `burst` that a job may overdraw)
#       burst: 100000
#       max_pending_targets: 10000000
#       max_payload_bytes: 3993
tenants: []
log:
  level: info                 # debug | info | warning | error
  format: text                # text | json (one object per line)
)yaml";
}

}  // namespace webpush::dispatcher::config
