#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>

// Symmetric primitives of the reference path: HMAC-SHA-256 on a reused per-thread digest context
// and AES-128-GCM on a reused per-thread cipher context, both with algorithms fetched once.
namespace webpush::crypto::internal {

inline constexpr size_t kSha256Size = 32;

// HmacSha256 computes HMAC-SHA-256(`key`, concatenation of `message_parts`) into `out`.
// `key` must be at most 64 bytes (all RFC 8291/8188 keys are 16 or 32). Returns false on an
// OpenSSL failure. Intermediate key pads are wiped.
[[nodiscard]] bool HmacSha256(std::span<uint8_t, kSha256Size> out, std::span<const uint8_t> key,
                              std::initializer_list<std::span<const uint8_t>> message_parts);

// Sha256 hashes `in` into `out`.
[[nodiscard]] bool Sha256(std::span<uint8_t, kSha256Size> out, std::span<const uint8_t> in);

// Aes128GcmSeal encrypts `in` with `key` and the 12-byte `nonce`, empty AAD, writing the
// ciphertext and then the 16-byte tag to `out` (in.size() + 16 bytes). `out` may equal `in`.
[[nodiscard]] bool Aes128GcmSeal(std::span<uint8_t> out, std::span<const uint8_t, 16> key,
                                 std::span<const uint8_t, 12> nonce, std::span<const uint8_t> in);

// Aes128GcmOpen decrypts `in` (ciphertext || 16-byte tag) into `out` (in.size() - 16 bytes) and
// returns false if the tag does not verify; `out` is then zeroed.
[[nodiscard]] bool Aes128GcmOpen(std::span<uint8_t> out, std::span<const uint8_t, 16> key,
                                 std::span<const uint8_t, 12> nonce, std::span<const uint8_t> in);

}  // namespace webpush::crypto::internal
