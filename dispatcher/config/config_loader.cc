#include "dispatcher/config/config_loader.h"

#include <unistd.h>

#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include "absl/time/time.h"
#include "crypto/keys.h"
#include "dispatcher/config/config_tree.h"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, not in unistd.h

namespace webpush::dispatcher::config {
namespace {

using internal::ConfigTree;
using internal::JoinPath;

// Reader decodes one YAML map at `path`, remembering the keys it used so that the rest can be
// reported as unknown. The first error wins; later calls do nothing.
class Reader {
 public:
  Reader(const YAML::Node& node, std::vector<std::string> path, const ConfigTree& tree,
         absl::Status& status)
      : node_(node), path_(std::move(path)), tree_(tree), status_(status) {
    if (status_.ok() && node_.IsDefined() && !node_.IsNull() && !node_.IsMap()) {
      Fail(path_, "must be a map");
    }
  }

  [[nodiscard]] std::vector<std::string> PathOf(const std::string& key) const {
    std::vector<std::string> p = path_;
    p.push_back(key);
    return p;
  }

  // Has tells whether `key` is present (and marks it used).
  bool Has(const std::string& key) {
    used_.insert(key);
    return status_.ok() && node_.IsMap() && node_[key].IsDefined() && !node_[key].IsNull();
  }
  YAML::Node Raw(const std::string& key) { return node_.IsMap() ? node_[key] : YAML::Node(); }

  void Get(const std::string& key, std::string& out) {
    if (!Has(key)) {
      return;
    }
    const YAML::Node v = Raw(key);
    if (!v.IsScalar()) {
      Fail(PathOf(key), "must be a string");
      return;
    }
    out = v.Scalar();
  }
  void Get(const std::string& key, bool& out) {
    if (!Has(key)) {
      return;
    }
    const std::string s = Raw(key).IsScalar() ? Raw(key).Scalar() : "";
    if (s == "true") {
      out = true;
    } else if (s == "false") {
      out = false;
    } else {
      Fail(PathOf(key), "must be true or false");
    }
  }
  void Get(const std::string& key, int64_t& out, int64_t lo, int64_t hi) {
    if (!Has(key)) {
      return;
    }
    const std::string s = Raw(key).IsScalar() ? Raw(key).Scalar() : "";
    std::string clean;
    for (const char c : s) {
      if (c != '_') {
        clean.push_back(c);
      }
    }
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(clean.c_str(), &end, 10);
    if (clean.empty() || *end != '\0' || errno != 0) {
      Fail(PathOf(key), "must be an integer");
      return;
    }
    if (v < lo || v > hi) {
      Fail(PathOf(key), "must be from " + std::to_string(lo) + " to " + std::to_string(hi));
      return;
    }
    out = v;
  }
  void Get(const std::string& key, int& out, int lo, int hi) {
    int64_t v = out;
    Get(key, v, lo, hi);
    out = static_cast<int>(v);
  }
  void Get(const std::string& key, double& out, double lo, double hi) {
    if (!Has(key)) {
      return;
    }
    const std::string s = Raw(key).IsScalar() ? Raw(key).Scalar() : "";
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || !(v >= lo && v <= hi)) {
      Fail(PathOf(key), "must be a number from " + std::to_string(static_cast<int64_t>(lo)) +
                            " to " + std::to_string(static_cast<int64_t>(hi)));
      return;
    }
    out = v;
  }
  void Get(const std::string& key, absl::Duration& out) {
    if (!Has(key)) {
      return;
    }
    absl::Duration d;
    const std::string s = Raw(key).IsScalar() ? Raw(key).Scalar() : "";
    if (!absl::ParseDuration(s, &d) || d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
      Fail(PathOf(key), "not a positive duration (use 30s, 500ms, 10m, 1h)");
      return;
    }
    out = d;
  }
  void Get(const std::string& key, std::vector<std::string>& out) {
    if (!Has(key)) {
      return;
    }
    const YAML::Node v = Raw(key);
    if (!v.IsSequence()) {
      Fail(PathOf(key), "must be a list of strings");
      return;
    }
    out.clear();
    for (size_t i = 0; i < v.size(); ++i) {
      if (!v[i].IsScalar()) {
        Fail(PathOf(key), "must be a list of strings");
        return;
      }
      out.push_back(v[i].Scalar());
    }
  }
  // Item reads an element of a list read from this map.
  Reader Item(const YAML::Node& node, std::vector<std::string> path) {
    return {node, std::move(path), tree_, status_};
  }
  // Child reads a nested map.
  Reader Child(const std::string& key) {
    used_.insert(key);
    return {node_.IsMap() ? node_[key] : YAML::Node(), PathOf(key), tree_, status_};
  }

  // Finish reports the first key that nothing read.
  void Finish() {
    if (!status_.ok() || !node_.IsMap()) {
      return;
    }
    for (const auto& entry : node_) {
      const std::string key = entry.first.Scalar();
      if (!used_.contains(key)) {
        Fail(PathOf(key), "unknown key");
        return;
      }
    }
  }

  void Fail(const std::vector<std::string>& path, const std::string& what) {
    if (!status_.ok()) {
      return;
    }
    const std::string name = JoinPath(path);
    std::string message = name + ": " + what;
    if (const auto it = tree_.origin.find(name); it != tree_.origin.end()) {
      message += " (from " + it->second + ")";
    }
    status_ = absl::InvalidArgumentError(message);
  }

  [[nodiscard]] const std::vector<std::string>& path() const { return path_; }

 private:
  YAML::Node node_;
  std::vector<std::string> path_;
  const ConfigTree& tree_;
  absl::Status& status_;
  std::set<std::string> used_;
};

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

void DecodeServer(Reader r, ServerConfig& s) {
  r.Get("listen", s.listen);
  Reader tls = r.Child("tls");
  tls.Get("cert_file", s.tls_cert_file);
  tls.Get("key_file", s.tls_key_file);
  tls.Get("client_ca_file", s.tls_client_ca_file);
  tls.Finish();
  r.Get("allow_plaintext", s.allow_plaintext);
  r.Get("max_receive_bytes", s.max_receive_bytes, 1 << 16, kMaxInt);
  r.Get("reflection", s.reflection);
  r.Get("api_threads", s.api_threads, 1, 256);
  r.Get("shutdown_grace", s.shutdown_grace);
  r.Finish();
}

void DecodeQueue(Reader r, QueueConfig& q) {
  r.Get("backend", q.backend);
  Reader redis = r.Child("redis");
  redis.Get("host", q.redis.host);
  redis.Get("port", q.redis.port, 1, 65535);
  redis.Get("username", q.redis.username);
  redis.Get("password", q.redis.password);
  redis.Get("password_file", q.redis.password_file);
  redis.Get("db", q.redis.db, 0, 1 << 16);
  redis.Get("key_prefix", q.redis.key_prefix);
  redis.Get("shards", q.redis.shards, 1, 1024);
  redis.Get("group", q.redis.group);
  redis.Get("max_connections", q.redis.max_connections, 1, 1024);
  redis.Get("connect_deadline", q.redis.connect_deadline);
  redis.Finish();
  r.Get("batch_size", q.batch_size, 1, 10'000);
  r.Get("lease", q.lease);
  r.Get("max_attempts", q.max_attempts, 1, 100);
  r.Get("retry_base", q.retry_base);
  r.Get("retry_max", q.retry_max);
  r.Get("max_backlog", q.max_backlog, 1, std::numeric_limits<int64_t>::max());
  r.Get("retention", q.retention);
  r.Get("progress_every", q.progress_every, 1, 1'000'000);
  r.Get("zero_ttl_window", q.zero_ttl_window);
  r.Finish();
}

void DecodeWorkers(Reader r, WorkerConfig& w) {
  r.Get("enabled", w.enabled);
  r.Get("encrypt_threads", w.encrypt_threads, 0, 256);
  r.Get("fetch_batches", w.fetch_batches, 1, 1000);
  r.Get("max_leased_batches", w.max_leased_batches, 1, 10'000);
  r.Get("max_in_flight", w.max_in_flight, 1, 1'000'000);
  r.Get("consumer", w.consumer);
  r.Get("crypto_path", w.crypto_path);
  r.Finish();
}

void DecodePush(Reader r, PushConfig& p) {
  r.Get("ca_file", p.ca_file);
  r.Get("allow_hosts", p.allow_hosts);
  r.Get("resolve", p.resolve);
  r.Get("private_address_hosts", p.private_address_hosts);
  r.Get("max_connections_per_origin", p.max_connections_per_origin, 1, 1000);
  r.Get("max_streams_per_connection", p.max_streams_per_connection, 1, 10'000);
  r.Get("connect_timeout", p.connect_timeout);
  r.Get("request_timeout", p.request_timeout);
  r.Get("idle_timeout", p.idle_timeout);
  r.Get("max_origin_pause", p.max_origin_pause);
  r.Get("default_throttle_pause", p.default_throttle_pause);
  r.Finish();
}

void DecodeTenant(Reader r, TenantConfig& t) {
  r.Get("name", t.name);
  r.Get("token", t.token);
  r.Get("token_file", t.token_file);
  r.Get("mtls_identity", t.mtls_identity);
  Reader vapid = r.Child("vapid");
  vapid.Get("subject", t.vapid_subject);
  if (vapid.Has("keys")) {
    const YAML::Node keys = vapid.Raw("keys");
    if (!keys.IsSequence()) {
      vapid.Fail(vapid.PathOf("keys"), "must be a list of {id, private_key_file}");
    } else {
      t.vapid_keys.clear();
      for (size_t j = 0; j < keys.size(); ++j) {
        std::vector<std::string> path = vapid.PathOf("keys");
        path.push_back(std::to_string(j));
        VapidKey key;
        Reader k = vapid.Item(keys[j], std::move(path));
        k.Get("id", key.id);
        k.Get("private_key_file", key.private_key_file);
        k.Finish();
        t.vapid_keys.push_back(std::move(key));
      }
    }
  }
  vapid.Finish();
  Reader quotas = r.Child("quotas");
  quotas.Get("messages_per_second", t.quotas.messages_per_second, 0.001, 1e9);
  quotas.Get("burst", t.quotas.burst, 1, std::numeric_limits<int64_t>::max());
  quotas.Get("max_pending_targets", t.quotas.max_pending_targets, 1,
             std::numeric_limits<int64_t>::max());
  quotas.Get("max_payload_bytes", t.quotas.max_payload_bytes, 1, 3993);
  quotas.Finish();
  r.Finish();
}

void DecodeConfig(Reader r, ServiceConfig& c) {
  DecodeServer(r.Child("server"), c.server);
  Reader metrics = r.Child("metrics");
  metrics.Get("listen", c.metrics.listen);
  metrics.Finish();
  DecodeQueue(r.Child("queue"), c.queue);
  DecodeWorkers(r.Child("workers"), c.workers);
  DecodePush(r.Child("push"), c.push);
  if (r.Has("tenants")) {
    const YAML::Node tenants = r.Raw("tenants");
    if (!tenants.IsSequence()) {
      r.Fail(r.PathOf("tenants"), "must be a list of tenants");
    } else {
      for (size_t i = 0; i < tenants.size(); ++i) {
        std::vector<std::string> path = r.PathOf("tenants");
        path.push_back(std::to_string(i));
        TenantConfig tenant;
        DecodeTenant(r.Item(tenants[i], std::move(path)), tenant);
        c.tenants.push_back(std::move(tenant));
      }
    }
  }
  Reader log = r.Child("log");
  log.Get("level", c.log.level);
  log.Get("format", c.log.format);
  log.Finish();
  r.Finish();
}

// ReadSecret reads a secret file: one trailing newline (or CRLF) is not part of the secret.
absl::StatusOr<std::string> ReadSecret(const std::string& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(field + ": cannot read " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  if (!secret.empty() && secret.back() == '\n') {
    secret.pop_back();
    if (!secret.empty() && secret.back() == '\r') {
      secret.pop_back();
    }
  }
  if (secret.empty()) {
    return absl::InvalidArgumentError(field + ": " + path + " is empty");
  }
  return secret;
}

absl::Status LoadSecrets(ServiceConfig& c) {
  if (!c.queue.redis.password_file.empty()) {
    if (!c.queue.redis.password.empty()) {
      return absl::InvalidArgumentError(
          "queue.redis.password_file: set either password or password_file, not both");
    }
    absl::StatusOr<std::string> password =
        ReadSecret(c.queue.redis.password_file, "queue.redis.password_file");
    if (!password.ok()) {
      return password.status();
    }
    c.queue.redis.password = *std::move(password);
  }
  for (size_t i = 0; i < c.tenants.size(); ++i) {
    TenantConfig& t = c.tenants[i];
    const std::string prefix = "tenants[" + std::to_string(i) + "]";
    if (!t.token_file.empty()) {
      if (!t.token.empty()) {
        return absl::InvalidArgumentError(prefix +
                                          ".token_file: set either token or token_file, not both");
      }
      absl::StatusOr<std::string> token = ReadSecret(t.token_file, prefix + ".token_file");
      if (!token.ok()) {
        return token.status();
      }
      t.token = *std::move(token);
    }
    for (size_t j = 0; j < t.vapid_keys.size(); ++j) {
      VapidKey& key = t.vapid_keys[j];
      const std::string field = prefix + ".vapid.keys[" + std::to_string(j) + "].private_key_file";
      if (key.private_key_file.empty()) {
        return absl::InvalidArgumentError(field + ": missing");
      }
      absl::StatusOr<std::string> text = ReadSecret(key.private_key_file, field);
      if (!text.ok()) {
        return text.status();
      }
      // P256KeyPair's errors describe the problem, never the key material.
      absl::StatusOr<crypto::P256KeyPair> pair = crypto::P256KeyPair::Load(*text, field);
      if (!pair.ok()) {
        return absl::InvalidArgumentError(field + ": " + key.private_key_file +
                                          " is not a P-256 private key (raw base64url or PEM)");
      }
      key.key = std::make_shared<const crypto::P256KeyPair>(*std::move(pair));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServiceConfig> LoadConfig(const ConfigSources& sources) {
  ConfigTree tree;
  if (sources.yaml_file.empty()) {
    tree.root = YAML::Node(YAML::NodeType::Map);
  } else {
    absl::StatusOr<YAML::Node> file = internal::LoadYamlFile(sources.yaml_file);
    if (!file.ok()) {
      return file.status();
    }
    tree.root = *file;
  }
  if (absl::Status s = internal::ApplyEnvironment(tree, sources.environment); !s.ok()) {
    return s;
  }
  if (absl::Status s = internal::ApplyOverrides(tree, sources.overrides); !s.ok()) {
    return s;
  }
  ServiceConfig config;
  absl::Status status;
  try {
    DecodeConfig(Reader(tree.root, {}, tree, status), config);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(std::string("config: ") + e.msg);
  }
  if (!status.ok()) {
    return status;
  }
  if (absl::Status s = LoadSecrets(config); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateConfig(config); !s.ok()) {
    return s;
  }
  return config;
}

std::map<std::string, std::string> CurrentEnvironment() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    const size_t eq = entry.find('=');
    if (eq != std::string::npos) {
      out[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
  }
  return out;
}

}  // namespace webpush::dispatcher::config
