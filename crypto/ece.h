#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/keys.h"

// RFC 8291 Web Push message encryption with the RFC 8188 `aes128gcm` content coding: one record,
// record size 4096, a fresh ephemeral P-256 key and a fresh 16-byte salt per message and
// recipient. This is the reference path every optimized path is compared against.
namespace webpush::crypto {

inline constexpr size_t kSaltSize = 16;
inline constexpr size_t kHeaderSize = 86;  // salt(16) || rs(4) || idlen(1) || keyid(65)
inline constexpr size_t kTagSize = 16;
inline constexpr uint32_t kRecordSize = 4096;
// RFC 8291 §4: 4096-byte body - 86 header - 16 tag - 1 delimiter.
inline constexpr size_t kMaxPlaintextSize = 3993;
inline constexpr size_t kMaxBodySize = 4096;

using Salt = std::array<uint8_t, kSaltSize>;

// EncryptedSize is the body size for `plaintext_size` bytes and `padding` zero bytes of padding.
constexpr size_t EncryptedSize(size_t plaintext_size, size_t padding = 0) {
  return kHeaderSize + plaintext_size + 1 + padding + kTagSize;
}

// Encrypt encrypts `plaintext` for the subscription `to` with a new ephemeral key pair and salt,
// followed by `padding` zero bytes inside the record (length hiding). Fails with
// InvalidArgument ("payload: ...") when plaintext plus padding exceeds kMaxPlaintextSize.
// Thread-safe.
[[nodiscard]] absl::StatusOr<std::vector<uint8_t>> Encrypt(const SubscriptionKeys& to,
                                                           std::span<const uint8_t> plaintext,
                                                           size_t padding = 0);

// EncryptInto is Encrypt writing into `out`, which must hold at least
// EncryptedSize(plaintext.size(), padding) bytes. Returns the number of bytes written.
[[nodiscard]] absl::StatusOr<size_t> EncryptInto(std::span<uint8_t> out, const SubscriptionKeys& to,
                                                 std::span<const uint8_t> plaintext,
                                                 size_t padding = 0);

// EncryptWithKeyAndSalt is the deterministic variant for test vectors: the caller supplies the
// application server's ephemeral key pair and the salt. Never reuse either in production
// (webpush-protocol.md §1.6).
[[nodiscard]] absl::StatusOr<std::vector<uint8_t>> EncryptWithKeyAndSalt(
    const SubscriptionKeys& to, std::span<const uint8_t> plaintext, const P256KeyPair& as_key,
    const Salt& salt, size_t padding = 0);

// Decrypt decrypts a Web Push body with the user agent's key pair and auth secret, as a browser
// does (RFC 8291 §4, RFC 8188 §2): header with idlen 65 and a valid P-256 keyid, rs >= 18, a
// single record, delimiter 0x02 after the plaintext. Errors: InvalidArgument for a malformed body
// (message names the part, e.g. "body.idlen"), DataLoss when authentication fails (tampered
// body, wrong key or wrong auth secret).
[[nodiscard]] absl::StatusOr<std::vector<uint8_t>> Decrypt(std::span<const uint8_t> body,
                                                           const P256KeyPair& ua_key,
                                                           const AuthSecret& auth);

}  // namespace webpush::crypto
