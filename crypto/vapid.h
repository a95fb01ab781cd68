#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crypto/keys.h"

// VAPID (RFC 8292): ES256 JWTs that identify the application server to a push service, the
// `Authorization: vapid t=…, k=…` header value, and a cache that reuses one token per
// (key, audience, subject) as RFC 8292 §5 encourages.
namespace webpush::crypto {

// RFC 8292 §2: `exp` MUST NOT be more than 24 hours after the request.
inline constexpr absl::Duration kMaxVapidTokenLifetime = absl::Hours(24);

// AudienceFromEndpoint returns the origin of a push endpoint (`https://host[:port]`, host
// lower-cased, port only when not 443), which is the JWT `aud` (RFC 8292 §2). An origin is
// returned unchanged. Errors are InvalidArgument and start with `field`; they never echo the
// whole endpoint, which is a capability URL.
[[nodiscard]] absl::StatusOr<std::string> AudienceFromEndpoint(std::string_view endpoint,
                                                               std::string_view field);

// ValidateSubject checks the VAPID `sub`: `mailto:` with an address, or an `https:` URL.
[[nodiscard]] absl::Status ValidateSubject(std::string_view subject, std::string_view field);

// VapidClaims are the claims of a VAPID token; `audience` must already be an origin.
struct VapidClaims {
  std::string audience;
  absl::Time expiry;
  std::string subject;
};

// SignVapidToken signs `claims` with `key` (ES256, raw 64-byte R || S signature) and returns the
// compact JWT. Fails with InvalidArgument when `aud` is not an origin, `sub` is invalid, or
// `exp` is not in (now, now + 24 h].
[[nodiscard]] absl::StatusOr<std::string> SignVapidToken(const P256KeyPair& key,
                                                         const VapidClaims& claims, absl::Time now);

// VapidAuthorizationValue formats the RFC 8292 §3 header value `vapid t=<jwt>, k=<public key>`.
[[nodiscard]] std::string VapidAuthorizationValue(std::string_view jwt,
                                                  const P256PublicKey& public_key);

// VerifyVapidToken checks that `jwt` is an ES256 JWT signed by `public_key` (header typ JWT,
// alg ES256, 64-byte signature) and returns its decoded claims JSON. For tests and debugging
// tools; a push service also checks the claims themselves.
[[nodiscard]] absl::StatusOr<std::string> VerifyVapidToken(std::string_view jwt,
                                                           std::span<const uint8_t> public_key);

// VapidTokenCacheOptions configure a VapidTokenCache.
struct VapidTokenCacheOptions {
  // Tokens are minted with exp = now + lifetime (clamped to 24 h; libraries use 12 h).
  absl::Duration lifetime = absl::Hours(12);
  // Re-sign when less than this remains (Apple asks for at most one refresh an hour; clamped
  // to half the lifetime).
  absl::Duration refresh_margin = absl::Hours(1);
  // Bound on entries; when reached, expired entries are dropped, then everything.
  size_t max_entries = 4096;
};

// VapidTokenCache hands out `Authorization` header values, signing a new token only when none is
// cached for (key id, audience, subject) or the cached one is within `refresh_margin` of expiry.
// Thread-safe; lookups of a cached token take a shared lock and do not sign.
class VapidTokenCache {
 public:
  using Options = VapidTokenCacheOptions;
  struct Stats {
    uint64_t hits = 0;
    uint64_t signs = 0;
  };
  using NowFunction = std::function<absl::Time()>;

  // `now` is injectable for tests; it defaults to the real clock.
  explicit VapidTokenCache(Options options = Options(), NowFunction now = &absl::Now);

  // Authorization returns the header value for signing with `key`, known to the caller as
  // `key_id`, towards `audience` (an origin) with `subject`. Errors are those of SignVapidToken.
  [[nodiscard]] absl::StatusOr<std::string> Authorization(std::string_view key_id,
                                                          const P256KeyPair& key,
                                                          std::string_view audience,
                                                          std::string_view subject);

  [[nodiscard]] Stats stats() const;

 private:
  struct Entry {
    std::string header;
    absl::Time expiry;
  };

  Options options_;
  NowFunction now_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Counted outside the lock: hits happen under a shared lock.
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> signs_{0};
};

}  // namespace webpush::crypto
