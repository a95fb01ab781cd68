// PrintConfig: the effective configuration as YAML that LoadConfig reads back, secrets redacted.
#include <yaml-cpp/yaml.h>

#include <sstream>

#include "dispatcher/config/config_loader.h"

namespace webpush::dispatcher::config {
namespace {

constexpr const char* kRedacted = "<redacted>";

std::string Duration(absl::Duration d) { return absl::FormatDuration(d); }

template <typename T>
void Key(YAML::Emitter& out, const char* key, const T& value) {
  out << YAML::Key << key << YAML::Value << value;
}

void List(YAML::Emitter& out, const char* key, const std::vector<std::string>& values) {
  out << YAML::Key << key << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const std::string& v : values) {
    out << v;
  }
  out << YAML::EndSeq;
}

// Number prints a double without an exponent or trailing zeros where possible.
std::string Number(double v) {
  std::ostringstream s;
  s.precision(15);
  s << v;
  return s.str();
}

}  // namespace

std::string PrintConfig(const ServiceConfig& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "server" << YAML::Value << YAML::BeginMap;
  Key(out, "listen", c.server.listen);
  out << YAML::Key << "tls" << YAML::Value << YAML::BeginMap;
  Key(out, "cert_file", c.server.tls_cert_file);
  Key(out, "key_file", c.server.tls_key_file);
  Key(out, "client_ca_file", c.server.tls_client_ca_file);
  out << YAML::EndMap;
  Key(out, "allow_plaintext", c.server.allow_plaintext);
  Key(out, "max_receive_bytes", c.server.max_receive_bytes);
  Key(out, "reflection", c.server.reflection);
  Key(out, "api_threads", c.server.api_threads);
  Key(out, "shutdown_grace", Duration(c.server.shutdown_grace));
  out << YAML::EndMap;

  out << YAML::Key << "metrics" << YAML::Value << YAML::BeginMap;
  Key(out, "listen", c.metrics.listen);
  out << YAML::EndMap;

  const QueueConfig& q = c.queue;
  out << YAML::Key << "queue" << YAML::Value << YAML::BeginMap;
  Key(out, "backend", q.backend);
  out << YAML::Key << "redis" << YAML::Value << YAML::BeginMap;
  Key(out, "host", q.redis.host);
  Key(out, "port", q.redis.port);
  Key(out, "username", q.redis.username);
  if (!q.redis.password_file.empty()) {
    Key(out, "password_file", q.redis.password_file);
  } else if (!q.redis.password.empty()) {
    Key(out, "password", kRedacted);
  }
  Key(out, "db", q.redis.db);
  Key(out, "key_prefix", q.redis.key_prefix);
  Key(out, "shards", q.redis.shards);
  Key(out, "group", q.redis.group);
  Key(out, "max_connections", q.redis.max_connections);
  Key(out, "connect_deadline", Duration(q.redis.connect_deadline));
  out << YAML::EndMap;
  Key(out, "batch_size", q.batch_size);
  Key(out, "lease", Duration(q.lease));
  Key(out, "max_attempts", q.max_attempts);
  Key(out, "retry_base", Duration(q.retry_base));
  Key(out, "retry_max", Duration(q.retry_max));
  Key(out, "max_backlog", q.max_backlog);
  Key(out, "retention", Duration(q.retention));
  Key(out, "progress_every", q.progress_every);
  Key(out, "zero_ttl_window", Duration(q.zero_ttl_window));
  out << YAML::EndMap;

  const WorkerConfig& w = c.workers;
  out << YAML::Key << "workers" << YAML::Value << YAML::BeginMap;
  Key(out, "enabled", w.enabled);
  Key(out, "encrypt_threads", w.encrypt_threads);
  Key(out, "fetch_batches", w.fetch_batches);
  Key(out, "max_leased_batches", w.max_leased_batches);
  Key(out, "max_in_flight", w.max_in_flight);
  Key(out, "consumer", w.consumer);
  Key(out, "crypto_path", w.crypto_path);
  out << YAML::EndMap;

  const PushConfig& p = c.push;
  out << YAML::Key << "push" << YAML::Value << YAML::BeginMap;
  Key(out, "ca_file", p.ca_file);
  List(out, "allow_hosts", p.allow_hosts);
  List(out, "resolve", p.resolve);
  List(out, "private_address_hosts", p.private_address_hosts);
  Key(out, "max_connections_per_origin", p.max_connections_per_origin);
  Key(out, "max_streams_per_connection", p.max_streams_per_connection);
  Key(out, "connect_timeout", Duration(p.connect_timeout));
  Key(out, "request_timeout", Duration(p.request_timeout));
  Key(out, "idle_timeout", Duration(p.idle_timeout));
  Key(out, "max_origin_pause", Duration(p.max_origin_pause));
  Key(out, "default_throttle_pause", Duration(p.default_throttle_pause));
  out << YAML::EndMap;

  out << YAML::Key << "tenants" << YAML::Value << YAML::BeginSeq;
  for (const TenantConfig& t : c.tenants) {
    out << YAML::BeginMap;
    Key(out, "name", t.name);
    if (!t.token_file.empty()) {
      Key(out, "token_file", t.token_file);
    } else if (!t.token.empty()) {
      Key(out, "token", kRedacted);
    }
    if (!t.mtls_identity.empty()) {
      Key(out, "mtls_identity", t.mtls_identity);
    }
    out << YAML::Key << "vapid" << YAML::Value << YAML::BeginMap;
    Key(out, "subject", t.vapid_subject);
    out << YAML::Key << "keys" << YAML::Value << YAML::BeginSeq;
    for (const VapidKey& k : t.vapid_keys) {
      out << YAML::BeginMap;
      Key(out, "id", k.id);
      Key(out, "private_key_file", k.private_key_file);
      out << YAML::EndMap;
    }
    out << YAML::EndSeq << YAML::EndMap;
    out << YAML::Key << "quotas" << YAML::Value << YAML::BeginMap;
    Key(out, "messages_per_second", Number(t.quotas.messages_per_second));
    Key(out, "burst", t.quotas.burst);
    Key(out, "max_pending_targets", t.quotas.max_pending_targets);
    Key(out, "max_payload_bytes", t.quotas.max_payload_bytes);
    out << YAML::EndMap;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;

  out << YAML::Key << "log" << YAML::Value << YAML::BeginMap;
  Key(out, "level", c.log.level);
  Key(out, "format", c.log.format);
  out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace webpush::dispatcher::config
