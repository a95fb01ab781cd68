#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crypto/keys.h"
#include "tests/support/push_service/test_push_service.h"

// The checks a strict push service applies to one request (webpush-protocol.md §5, §6.1), as
// pure functions: no I/O, no shared state. Errors use autopush's JSON body and errno values.
namespace webpush::testing::internal {

// PushRequest is one request as a connection received it, over HTTP/2 or HTTP/1.1.
struct PushRequest {
  std::string method;
  std::string path;
  // Regular header fields in arrival order, names in lower case (nghttp2 guarantees it; the
  // HTTP/1.1 parser lowers them).
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<uint8_t> body;
  bool body_too_large = false;  // more than kMaxRequestBody bytes arrived (the rest dropped)
};

// autopush's errno values (webpush-protocol.md §6.3.2). autopush has none for Urgency (its
// endpoint ignores the header) or for our scripted failures; 114 and 999 are ours.
inline constexpr int kErrnoInvalidEndpoint = 102;
inline constexpr int kErrnoTooLarge = 104;
inline constexpr int kErrnoGone = 106;
inline constexpr int kErrnoVapid = 109;
inline constexpr int kErrnoCrypto = 110;
inline constexpr int kErrnoTtlMissing = 111;
inline constexpr int kErrnoTtlInvalid = 112;
inline constexpr int kErrnoTopic = 113;
inline constexpr int kErrnoUrgency = 114;
inline constexpr int kErrnoBackOff = 201;  // autopush's 503 "back off"
inline constexpr int kErrnoUnknown = 999;

// RFC 8030 §7.2: a push service need not accept more than 4096 bytes.
inline constexpr size_t kMaxRequestBody = 4096;

// PushResponse is an answer: status, extra header fields, body.
struct PushResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Rejection is a failed check: the status to answer, autopush's errno and a short reason that
// starts with the offending field ("ttl: missing").
struct Rejection {
  int status = 400;
  int error_number = 0;
  std::string reason;
};

// VapidSignatureCache remembers JWTs whose ES256 signature verified, keyed by token and key, as
// RFC 8292 §5 lets a push service do (senders reuse one token for hours). Only the signature
// check is skipped on a hit: `aud`, `exp` and `sub` are checked on every request. Bounded;
// thread-safe.
class VapidSignatureCache {
 public:
  // Lookup returns the claims JSON of a verified (`jwt`, `key`), or nullopt.
  [[nodiscard]] std::optional<std::string> Lookup(std::string_view jwt, std::string_view key);
  void Insert(std::string_view jwt, std::string_view key, std::string claims);

 private:
  static constexpr size_t kMaxEntries = 1024;
  absl::Mutex mu_;
  std::map<std::string, std::string, std::less<>> entries_ ABSL_GUARDED_BY(mu_);
};

// ValidationContext is what the checks compare against.
struct ValidationContext {
  std::string audience;                   // the JWT `aud` this service expects
  std::string expected_vapid_public_key;  // base64url; empty accepts any valid signer
  absl::Time now;
  VapidSignatureCache* signature_cache = nullptr;  // optional
  // False: the body is not decrypted (TestPushService::Options::decrypt_every_n); every other
  // check still runs.
  bool decrypt_body = true;
};

// TokenFromPath returns the token of "/push/<token>" (without query), or nullopt.
[[nodiscard]] std::optional<std::string> TokenFromPath(std::string_view path);

// ValidatePushRequest checks headers (TTL, Urgency, Topic, Content-Encoding, Content-Type), the
// VAPID Authorization (signature, `aud`, `exp`, `sub`, optional expected key) and decrypts the
// body with the subscription's keys (unless `context.decrypt_body` is false: then
// `delivery.body_decrypted` is false). On success fills `delivery` (all but `token` and
// `connection_id`) and returns nullopt.
[[nodiscard]] std::optional<Rejection> ValidatePushRequest(const PushRequest& request,
                                                           const crypto::P256KeyPair& ua_key,
                                                           const crypto::AuthSecret& auth,
                                                           const ValidationContext& context,
                                                           Delivery& delivery);

// ErrorResponse builds an autopush-style answer:
// {"code":<status>,"errno":<error_number>,"error":"<reason phrase>","message":"<message>"}.
[[nodiscard]] PushResponse ErrorResponse(int status, int error_number, std::string_view message);

// ReasonPhrase returns the standard reason phrase of `status` ("Error" for one it does not know).
[[nodiscard]] std::string_view ReasonPhrase(int status);

// FindHeader returns the value of the only field called `name`; nullopt when it is absent. Sets
// `count` to the number of fields with that name.
[[nodiscard]] std::optional<std::string> FindHeader(const PushRequest& request,
                                                    std::string_view name, int& count);

}  // namespace webpush::testing::internal
