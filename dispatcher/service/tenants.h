#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "crypto/keys.h"
#include "dispatcher/config/service_config.h"

// The tenants of the service, as configured: who may call (bearer token or mTLS identity), with
// which VAPID keys their messages are signed, and their quotas. Immutable after construction and
// shared between threads (the API authenticates with it, the workers sign with it).
namespace webpush::dispatcher::service {

struct VapidSigner {
  std::string cache_key;  // "<tenant>/<key id>": the VapidTokenCache key id
  std::shared_ptr<const crypto::P256KeyPair> key;
  std::string subject;
};

struct Tenant {
  std::string name;
  std::string mtls_identity;
  config::TenantQuotas quotas;
  std::string default_key_id;
  absl::flat_hash_map<std::string, VapidSigner> signers;  // by key id
};

class TenantRegistry {
 public:
  explicit TenantRegistry(const std::vector<config::TenantConfig>& tenants);

  // Authenticate returns the tenant whose bearer token is `authorization` ("Bearer <token>",
  // the gRPC metadata value), or else the tenant whose mTLS identity is among `peer_identities`
  // (the client certificate's CN and SANs, when mTLS is on). UNAUTHENTICATED otherwise; the
  // message never repeats what was presented. Tokens are compared by their SHA-256, so the time
  // taken does not depend on how much of a token matched.
  [[nodiscard]] absl::StatusOr<const Tenant*> Authenticate(
      std::optional<std::string_view> authorization,
      const std::vector<std::string>& peer_identities) const;

  // Find returns the tenant called `name`, or null.
  [[nodiscard]] const Tenant* Find(std::string_view name) const;

  // Signer returns the VAPID signer of `tenant` for `key_id` (empty = the tenant's default), or
  // null when either is unknown.
  [[nodiscard]] const VapidSigner* Signer(std::string_view tenant, std::string_view key_id) const;

  [[nodiscard]] const std::vector<std::unique_ptr<Tenant>>& tenants() const { return tenants_; }

 private:
  std::vector<std::unique_ptr<Tenant>> tenants_;
  absl::flat_hash_map<std::string, const Tenant*> by_token_digest_;  // SHA-256 of the token
  absl::flat_hash_map<std::string, const Tenant*> by_identity_;
  absl::flat_hash_map<std::string, const Tenant*> by_name_;
};

}  // namespace webpush::dispatcher::service
