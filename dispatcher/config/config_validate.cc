// ValidateConfig: the checks of values and of their combinations, each error naming the key.
#include <arpa/inet.h>

#include <fstream>
#include <regex>
#include <set>

#include "crypto/vapid.h"
#include "dispatcher/config/config_loader.h"
#include "dispatcher/push/endpoint_policy.h"
#include "dispatcher/push/push_client.h"

namespace webpush::dispatcher::config {
namespace {

absl::Status Invalid(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(field + ": " + what);
}

// SplitHostPort accepts HOST:PORT and [V6]:PORT.
bool SplitHostPort(const std::string& listen, std::string& host, int& port) {
  size_t colon = std::string::npos;
  if (listen.starts_with("[")) {
    const size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return false;
    }
    host = listen.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      return false;
    }
    host = listen.substr(0, colon);
  }
  const std::string digits = listen.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  port = std::stoi(digits);
  return port <= 65535;
}

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1") {
    return true;
  }
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

bool Readable(const std::string& path) { return std::ifstream(path).good(); }

absl::Status ValidateTenant(const TenantConfig& t, size_t i, bool mtls) {
  const std::string p = "tenants[" + std::to_string(i) + "]";
  static const std::regex kName("[a-z0-9_-]{1,64}");
  static const std::regex kKeyId("[A-Za-z0-9._-]{1,64}");
  if (!std::regex_match(t.name, kName)) {
    return Invalid(p + ".name", "1 to 64 characters of a-z, 0-9, '_' and '-'");
  }
  if (t.token.empty() && t.mtls_identity.empty()) {
    return Invalid(p + ".token_file", "a tenant needs a token (token_file) or an mtls_identity");
  }
  if (!t.token.empty() && t.token.size() < 16) {
    return Invalid(p + (t.token_file.empty() ? ".token" : ".token_file"),
                   "the token must be at least 16 characters");
  }
  if (!t.mtls_identity.empty() && !mtls) {
    return Invalid(p + ".mtls_identity", "needs server.tls.client_ca_file (mTLS)");
  }
  if (absl::Status s = crypto::ValidateSubject(t.vapid_subject, p + ".vapid.subject"); !s.ok()) {
    return s;
  }
  if (t.vapid_keys.empty()) {
    return Invalid(p + ".vapid.keys", "at least one VAPID key is needed");
  }
  std::set<std::string> ids;
  for (size_t j = 0; j < t.vapid_keys.size(); ++j) {
    const std::string k = p + ".vapid.keys[" + std::to_string(j) + "]";
    if (!std::regex_match(t.vapid_keys[j].id, kKeyId)) {
      return Invalid(k + ".id", "1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'");
    }
    if (!ids.insert(t.vapid_keys[j].id).second) {
      return Invalid(k + ".id", "duplicate key id " + t.vapid_keys[j].id);
    }
    if (t.vapid_keys[j].key == nullptr) {
      return Invalid(k + ".private_key_file", "not loaded");
    }
  }
  const TenantQuotas& q = t.quotas;
  if (!(q.messages_per_second > 0) || q.burst <= 0 || q.max_pending_targets <= 0) {
    return Invalid(p + ".quotas", "messages_per_second, burst and max_pending_targets must be > 0");
  }
  if (q.max_payload_bytes < 1 || q.max_payload_bytes > 3993) {
    return Invalid(p + ".quotas.max_payload_bytes", "must be from 1 to 3993");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateConfig(const ServiceConfig& c) {
  std::string host;
  int port = 0;
  if (!SplitHostPort(c.server.listen, host, port)) {
    return Invalid("server.listen", "expected HOST:PORT or [IPV6]:PORT");
  }
  const ServerConfig& s = c.server;
  if (s.tls_cert_file.empty() != s.tls_key_file.empty()) {
    return Invalid("server.tls", "cert_file and key_file go together");
  }
  for (const auto& [field, path] :
       {std::pair<std::string, std::string>("server.tls.cert_file", s.tls_cert_file),
        {"server.tls.key_file", s.tls_key_file},
        {"server.tls.client_ca_file", s.tls_client_ca_file},
        {"push.ca_file", c.push.ca_file}}) {
    if (!path.empty() && !Readable(path)) {
      return Invalid(field, "cannot read " + path);
    }
  }
  if (!s.tls_client_ca_file.empty() && s.tls_cert_file.empty()) {
    return Invalid("server.tls.client_ca_file", "mTLS needs server.tls.cert_file and key_file");
  }
  if (s.tls_cert_file.empty() && !s.allow_plaintext && !IsLoopbackHost(host)) {
    return Invalid("server.listen",
                   "plaintext gRPC on a non-loopback address: configure server.tls, or set "
                   "server.allow_plaintext: true behind a trusted proxy");
  }
  if (!c.metrics.listen.empty()) {
    std::string mhost;
    int mport = 0;
    if (!SplitHostPort(c.metrics.listen, mhost, mport)) {
      return Invalid("metrics.listen", "expected HOST:PORT, or empty for none");
    }
  }
  if (c.queue.backend != "redis" && c.queue.backend != "memory") {
    return Invalid("queue.backend", "must be redis or memory");
  }
  if (c.queue.retry_max < c.queue.retry_base) {
    return Invalid("queue.retry_max", "must not be below queue.retry_base");
  }
  if (c.workers.enabled && c.queue.lease < c.push.request_timeout + absl::Seconds(5)) {
    // A lease that ran out while a request still waits for its answer would let another
    // replica send the same message again.
    return Invalid("queue.lease",
                   "must be at least push.request_timeout + 5s (" +
                       absl::FormatDuration(c.push.request_timeout + absl::Seconds(5)) + ")");
  }
  if (c.workers.crypto_path != "auto" && c.workers.crypto_path != "reference" &&
      c.workers.crypto_path != "batch") {
    return Invalid("workers.crypto_path", "must be auto, reference or batch");
  }
  for (size_t i = 0; i < c.push.allow_hosts.size(); ++i) {
    if (absl::StatusOr<push::HostRule> r = push::ParseHostRule(
            c.push.allow_hosts[i], "push.allow_hosts[" + std::to_string(i) + "]");
        !r.ok()) {
      return r.status();
    }
  }
  for (size_t i = 0; i < c.push.resolve.size(); ++i) {
    if (absl::StatusOr<push::ResolveOverride> r = push::ParseResolveOverride(
            c.push.resolve[i], "push.resolve[" + std::to_string(i) + "]");
        !r.ok()) {
      return r.status();
    }
  }
  if (c.log.level != "debug" && c.log.level != "info" && c.log.level != "warning" &&
      c.log.level != "error") {
    return Invalid("log.level", "must be debug, info, warning or error");
  }
  if (c.log.format != "text" && c.log.format != "json") {
    return Invalid("log.format", "must be text or json");
  }
  if (c.tenants.empty()) {
    return Invalid("tenants", "at least one tenant is needed (name, token_file, vapid)");
  }
  std::set<std::string> names;
  std::set<std::string> tokens;
  const bool mtls = !s.tls_client_ca_file.empty();
  for (size_t i = 0; i < c.tenants.size(); ++i) {
    const TenantConfig& t = c.tenants[i];
    if (absl::Status st = ValidateTenant(t, i, mtls); !st.ok()) {
      return st;
    }
    if (!names.insert(t.name).second) {
      return Invalid("tenants[" + std::to_string(i) + "].name", "duplicate tenant " + t.name);
    }
    if (!t.token.empty() && !tokens.insert(t.token).second) {
      return Invalid("tenants[" + std::to_string(i) + "].token_file",
                     "the same token as an earlier tenant");
    }
  }
  return absl::OkStatus();
}

}  // namespace webpush::dispatcher::config
