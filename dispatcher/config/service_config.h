#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "crypto/keys.h"

// The configuration of `webpushd`, as the YAML file, the WEBPUSHD__* environment variables and
// the `--set key=value` flags describe it (config_loader.h turns those into this struct). Plain
// data: every value is already parsed and checked, every secret already read from its file.
// The key of each field in the YAML file is written beside it; durations are strings such as
// "30s", "250ms", "10m", "1h".
namespace webpush::dispatcher::config {

// ServerConfig: the gRPC API port.
struct ServerConfig {
  std::string listen = "127.0.0.1:50051";  // server.listen: HOST:PORT, [V6]:PORT
  // server.tls.cert_file / key_file: PEM; both or neither. Without them the port is plaintext,
  // which is refused on a non-loopback address unless server.allow_plaintext is true.
  std::string tls_cert_file;
  std::string tls_key_file;
  // server.tls.client_ca_file: when set, client certificates are requested and verified against
  // it (mTLS); a tenant's `mtls_identity` then authenticates its calls.
  std::string tls_client_ca_file;
  bool allow_plaintext = false;          // server.allow_plaintext
  int64_t max_receive_bytes = 64 << 20;  // server.max_receive_bytes: per gRPC message
  bool reflection = true;                // server.reflection: grpc.reflection.v1alpha
  int api_threads = 4;                   // server.api_threads: blocking store calls of the API
  absl::Duration shutdown_grace = absl::Seconds(10);  // server.shutdown_grace
};

// MetricsConfig: the HTTP port of /metrics, /healthz, /readyz (issue 7).
struct MetricsConfig {
  std::string listen = "127.0.0.1:9464";  // metrics.listen; empty = no metrics port
};

// RedisConfig mirrors queue::RedisOptions.
struct RedisConfig {
  std::string host = "127.0.0.1";  // queue.redis.host
  int port = 6379;                 // queue.redis.port
  std::string username;            // queue.redis.username
  // queue.redis.password (inline, discouraged) or queue.redis.password_file (read at load; one
  // trailing newline stripped). Secret: --print-config shows "<redacted>".
  std::string password;
  std::string password_file;
  int db = 0;                                           // queue.redis.db
  std::string key_prefix = "wp";                        // queue.redis.key_prefix
  int shards = 1;                                       // queue.redis.shards
  std::string group = "workers";                        // queue.redis.group
  int max_connections = 16;                             // queue.redis.max_connections
  absl::Duration connect_deadline = absl::Seconds(30);  // queue.redis.connect_deadline
};

// QueueConfig mirrors queue::JobStoreOptions plus the back-end choice.
struct QueueConfig {
  std::string backend = "redis";  // queue.backend: "redis" or "memory" (single node, not durable)
  RedisConfig redis;
  int64_t batch_size = 500;                            // queue.batch_size
  absl::Duration lease = absl::Seconds(30);            // queue.lease
  int64_t max_attempts = 5;                            // queue.max_attempts
  absl::Duration retry_base = absl::Seconds(1);        // queue.retry_base
  absl::Duration retry_max = absl::Minutes(10);        // queue.retry_max
  int64_t max_backlog = 50'000'000;                    // queue.max_backlog
  absl::Duration retention = absl::Hours(24);          // queue.retention
  int64_t progress_every = 1000;                       // queue.progress_every
  absl::Duration zero_ttl_window = absl::Seconds(30);  // queue.zero_ttl_window
};

// WorkerConfig: the pipeline (fetch -> encrypt -> send -> record) of this replica.
struct WorkerConfig {
  bool enabled = true;               // workers.enabled: false = API only
  int encrypt_threads = 0;           // workers.encrypt_threads: 0 = one per core
  int fetch_batches = 4;             // workers.fetch_batches: batches per fetch
  int max_leased_batches = 16;       // workers.max_leased_batches: held at once by this replica
  int max_in_flight = 8192;          // workers.max_in_flight: messages encrypted and not answered
  std::string consumer;              // workers.consumer: empty = "<hostname>-<pid>"
  std::string crypto_path = "auto";  // workers.crypto_path: auto | reference | batch
};

// PushConfig mirrors the options of push::PushClient.
struct PushConfig {
  std::string ca_file;                             // push.ca_file: empty = the system trust store
  std::vector<std::string> allow_hosts;            // push.allow_hosts: HOST[:PORT], *.SUFFIX[:PORT]
  std::vector<std::string> resolve;                // push.resolve: HOST:PORT:ADDRESS
  std::vector<std::string> private_address_hosts;  // push.private_address_hosts
  int max_connections_per_origin = 4;              // push.max_connections_per_origin
  int max_streams_per_connection = 100;            // push.max_streams_per_connection
  absl::Duration connect_timeout = absl::Seconds(10);        // push.connect_timeout
  absl::Duration request_timeout = absl::Seconds(20);        // push.request_timeout
  absl::Duration idle_timeout = absl::Seconds(60);           // push.idle_timeout
  absl::Duration max_origin_pause = absl::Seconds(60);       // push.max_origin_pause
  absl::Duration default_throttle_pause = absl::Seconds(5);  // push.default_throttle_pause
};

// VapidKey is one signing key of a tenant.
struct VapidKey {
  std::string id;  // tenants[i].vapid.keys[j].id
  // tenants[i].vapid.keys[j].private_key_file: raw base64url or PEM (crypto::P256KeyPair::Load).
  std::string private_key_file;
  std::shared_ptr<const crypto::P256KeyPair> key;  // loaded; never printed
};

struct TenantQuotas {
  // tenants[i].quotas.messages_per_second: targets admitted per second, averaged (a token bucket
  // of `burst` targets that a job may overdraw; the next job waits until it is refilled).
  double messages_per_second = 10'000;
  int64_t burst = 100'000;                   // tenants[i].quotas.burst
  int64_t max_pending_targets = 10'000'000;  // tenants[i].quotas.max_pending_targets
  int64_t max_payload_bytes = 3993;          // tenants[i].quotas.max_payload_bytes (<= 3993)
};

struct TenantConfig {
  std::string name;  // tenants[i].name: [a-z0-9_-]{1,64}
  // tenants[i].token (inline, discouraged) or tenants[i].token_file: the bearer token (at least
  // 16 characters). Secret: --print-config shows "<redacted>".
  std::string token;
  std::string token_file;
  // tenants[i].mtls_identity: a client certificate's subject CN or a SAN (DNS or URI) that
  // authenticates this tenant when server.tls.client_ca_file is set; empty = none.
  std::string mtls_identity;
  std::string vapid_subject;         // tenants[i].vapid.subject: mailto: or https:
  std::vector<VapidKey> vapid_keys;  // tenants[i].vapid.keys: at least one; the first is default
  TenantQuotas quotas;               // tenants[i].quotas
};

struct LogConfig {
  std::string level = "info";   // log.level: debug | info | warning | error
  std::string format = "text";  // log.format: text | json
};

struct ServiceConfig {
  ServerConfig server;
  MetricsConfig metrics;
  QueueConfig queue;
  WorkerConfig workers;
  PushConfig push;
  std::vector<TenantConfig> tenants;  // tenants: at least one
  LogConfig log;
};

}  // namespace webpush::dispatcher::config
