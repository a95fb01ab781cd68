#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace webpush::crypto {

inline constexpr size_t kP256PublicKeySize = 65;   // 0x04 || X || Y
inline constexpr size_t kP256PrivateKeySize = 32;  // big-endian scalar
inline constexpr size_t kAuthSecretSize = 16;      // RFC 8291 §3.2

using P256PublicKey = std::array<uint8_t, kP256PublicKeySize>;
using AuthSecret = std::array<uint8_t, kAuthSecretSize>;

// SubscriptionKeys are the two keys of a browser's `PushSubscription`: the user agent's ECDH
// public key (`p256dh`) and its authentication secret (`auth`), already validated.
struct SubscriptionKeys {
  P256PublicKey p256dh{};
  AuthSecret auth{};
};

// ValidateP256PublicKey checks that `key` is a 65-byte uncompressed P-256 point: prefix 0x04,
// coordinates below p, on the curve (which also excludes the point at infinity). Errors are
// InvalidArgument and start with `field`.
[[nodiscard]] absl::Status ValidateP256PublicKey(std::span<const uint8_t> key,
                                                 std::string_view field);

// ParseP256PublicKey decodes base64url `encoded` and validates it as ValidateP256PublicKey does.
[[nodiscard]] absl::StatusOr<P256PublicKey> ParseP256PublicKey(std::string_view encoded,
                                                               std::string_view field);

// ParseAuthSecret decodes base64url `encoded`, which must be exactly 16 bytes.
[[nodiscard]] absl::StatusOr<AuthSecret> ParseAuthSecret(std::string_view encoded,
                                                         std::string_view field);

// ParseSubscriptionKeys parses and validates the `p256dh` and `auth` strings of a subscription;
// errors name the field (`p256dh` or `auth`).
[[nodiscard]] absl::StatusOr<SubscriptionKeys> ParseSubscriptionKeys(std::string_view p256dh,
                                                                     std::string_view auth);

// GenerateAuthSecret returns 16 bytes from OpenSSL's CSPRNG, as a browser would make them.
[[nodiscard]] absl::StatusOr<AuthSecret> GenerateAuthSecret();

// P256KeyPair is a P-256 private scalar with its public point. Used for VAPID signing keys, for
// the ephemeral RFC 8291 key of each message, and for user-agent keys in tests and tools. The
// private scalar is wiped when the object is destroyed or moved from. Not copyable; immutable,
// so one object may be shared read-only between threads.
class P256KeyPair {
 public:
  // Generate makes a new key pair from OpenSSL's CSPRNG.
  [[nodiscard]] static absl::StatusOr<P256KeyPair> Generate();
  // FromPrivateKey takes a big-endian scalar of at most 32 bytes (shorter encodings are
  // left-padded), which must lie in [1, n-1]. Errors start with `field`.
  [[nodiscard]] static absl::StatusOr<P256KeyPair> FromPrivateKey(std::span<const uint8_t> scalar,
                                                                  std::string_view field);
  // FromBase64Url decodes a raw base64url private key (the form `web-push` and most VAPID tools
  // print) and calls FromPrivateKey.
  [[nodiscard]] static absl::StatusOr<P256KeyPair> FromBase64Url(std::string_view encoded,
                                                                 std::string_view field);
  // FromPem reads a PEM "EC PRIVATE KEY" (SEC 1) or "PRIVATE KEY" (PKCS #8) on P-256.
  [[nodiscard]] static absl::StatusOr<P256KeyPair> FromPem(std::string_view pem,
                                                           std::string_view field);
  // Load accepts either form: PEM if the text contains "-----BEGIN", else raw base64url.
  // Surrounding whitespace (a trailing newline in a key file) is ignored.
  [[nodiscard]] static absl::StatusOr<P256KeyPair> Load(std::string_view text,
                                                        std::string_view field);

  P256KeyPair(P256KeyPair&& other) noexcept;
  P256KeyPair& operator=(P256KeyPair&& other) noexcept;
  P256KeyPair(const P256KeyPair&) = delete;
  P256KeyPair& operator=(const P256KeyPair&) = delete;
  ~P256KeyPair();

  // private_key is the 32-byte big-endian scalar. Secret: never log it.
  [[nodiscard]] std::span<const uint8_t, kP256PrivateKeySize> private_key() const {
    return private_key_;
  }
  [[nodiscard]] const P256PublicKey& public_key() const { return public_key_; }

  [[nodiscard]] std::string PrivateKeyBase64Url() const;
  [[nodiscard]] std::string PublicKeyBase64Url() const;
  // ToPem encodes the pair as a PKCS #8 "PRIVATE KEY" PEM block.
  [[nodiscard]] absl::StatusOr<std::string> ToPem() const;

 private:
  P256KeyPair() = default;

  std::array<uint8_t, kP256PrivateKeySize> private_key_{};
  P256PublicKey public_key_{};
};

}  // namespace webpush::crypto
