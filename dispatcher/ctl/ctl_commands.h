#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>

#include "absl/status/status.h"

// The `webpushctl` sub-commands, as functions that write to the given streams and return a status,
// so they are testable without spawning the binary. `webpushctl_main.cc` only parses flags.
namespace webpush::dispatcher::ctl {

struct KeygenOptions {
  bool pem = false;   // print the private key as PKCS #8 PEM instead of raw base64url
  bool json = false;  // print a JSON object instead of `name: value` lines
};
// VapidKeygen prints a new VAPID key pair.
[[nodiscard]] absl::Status VapidKeygen(const KeygenOptions& options, std::ostream& out);

// SubscriptionKeygen prints a new browser-side key set (p256dh, auth and the matching private
// key) as JSON, for tests, demos and debugging without a browser.
[[nodiscard]] absl::Status SubscriptionKeygen(std::ostream& out);

struct EncryptOptions {
  std::string p256dh;
  std::string auth;
  std::optional<std::string> payload;       // literal text
  std::optional<std::string> payload_file;  // or a file ("-" = stdin)
  std::optional<std::string> out_file;      // default: `out`
  size_t padding = 0;
};
// Encrypt writes the aes128gcm body (raw bytes) for one subscription.
[[nodiscard]] absl::Status Encrypt(const EncryptOptions& options, std::istream& in,
                                   std::ostream& out);

struct DecryptOptions {
  std::optional<std::string> private_key;  // user agent private key, base64url
  std::optional<std::string> key_file;     // or a file holding it (base64url or PEM)
  std::string auth;
  std::optional<std::string> in_file;  // default: `in`
};
// Decrypt prints the plaintext of an aes128gcm body.
[[nodiscard]] absl::Status Decrypt(const DecryptOptions& options, std::istream& in,
                                   std::ostream& out);

struct TokenOptions {
  std::optional<std::string> private_key;  // VAPID private key, base64url
  std::optional<std::string> key_file;     // or a file holding it (base64url or PEM)
  std::string audience;                    // origin, or an endpoint whose origin is used
  std::string subject;
  int64_t exp_seconds = int64_t{12} * 3600;
  int64_t count = 1;  // tokens to print, each signed with a fresh nonce
};
inline constexpr int64_t kMaxTokenCount = 100000;
// VapidToken prints the `Authorization` header value `vapid t=…, k=…`, `count` times, one per
// line: several tokens in one run serve a load test of a verifier, and a test that needs the
// rare signatures (a half below 2^248) without one process start per token.
[[nodiscard]] absl::Status VapidToken(const TokenOptions& options, std::ostream& out);

}  // namespace webpush::dispatcher::ctl
