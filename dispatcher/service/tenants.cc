#include "dispatcher/service/tenants.h"

#include <openssl/sha.h>

namespace webpush::dispatcher::service {
namespace {

std::string Digest(std::string_view token) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace

TenantRegistry::TenantRegistry(const std::vector<config::TenantConfig>& tenants) {
  for (const config::TenantConfig& t : tenants) {
    auto tenant = std::make_unique<Tenant>();
    tenant->name = t.name;
    tenant->mtls_identity = t.mtls_identity;
    tenant->quotas = t.quotas;
    for (const config::VapidKey& k : t.vapid_keys) {
      if (tenant->default_key_id.empty()) {
        tenant->default_key_id = k.id;
      }
      VapidSigner signer;
      signer.cache_key = t.name + "/" + k.id;
      signer.key = k.key;
      signer.subject = t.vapid_subject;
      tenant->signers.emplace(k.id, std::move(signer));
    }
    if (!t.token.empty()) {
      by_token_digest_[Digest(t.token)] = tenant.get();
    }
    if (!t.mtls_identity.empty()) {
      by_identity_[t.mtls_identity] = tenant.get();
    }
    by_name_[t.name] = tenant.get();
    tenants_.push_back(std::move(tenant));
  }
}

absl::StatusOr<const Tenant*> TenantRegistry::Authenticate(
    std::optional<std::string_view> authorization,
    const std::vector<std::string>& peer_identities) const {
  if (authorization.has_value()) {
    std::string_view value = *authorization;
    constexpr std::string_view kBearer = "Bearer ";
    if (value.size() <= kBearer.size() || !(value.substr(0, kBearer.size()) == kBearer ||
                                            value.substr(0, kBearer.size()) == "bearer ")) {
      return absl::UnauthenticatedError(
          "authorization: expected \"Bearer <token>\" in the authorization metadata");
    }
    value.remove_prefix(kBearer.size());
    const auto it = by_token_digest_.find(Digest(value));
    if (it == by_token_digest_.end()) {
      return absl::UnauthenticatedError("authorization: unknown bearer token");
    }
    return it->second;
  }
  for (const std::string& identity : peer_identities) {
    const auto it = by_identity_.find(identity);
    if (it != by_identity_.end()) {
      return it->second;
    }
  }
  if (!peer_identities.empty()) {
    return absl::UnauthenticatedError(
        "authorization: the client certificate's identity is not a configured tenant's");
  }
  return absl::UnauthenticatedError(
      "authorization: missing; send \"authorization: Bearer <token>\" metadata");
}

const Tenant* TenantRegistry::Find(std::string_view name) const {
  const auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : it->second;
}

const VapidSigner* TenantRegistry::Signer(std::string_view tenant, std::string_view key_id) const {
  const Tenant* t = Find(tenant);
  if (t == nullptr) {
    return nullptr;
  }
  const auto it = t->signers.find(key_id.empty() ? t->default_key_id : std::string(key_id));
  return it == t->signers.end() ? nullptr : &it->second;
}

}  // namespace webpush::dispatcher::service
