#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/internal/p256_batch.h"
#include "crypto/keys.h"

// The symmetric half of batch encryption: for up to eight lanes whose ECDH secrets are known,
// RFC 8291 §3.3-3.4 key derivation, RFC 8188 content keys and one aes128gcm record each.
namespace webpush::crypto::internal {

// SealLanes describes one group. Pointers are borrowed; lanes [0, count) are used and only those
// whose bit is set in `live` are sealed.
struct SealLanes {
  size_t count = 0;
  uint32_t live = 0;
  const uint8_t* secret[kP256BatchLanes] = {};     // 32-byte ECDH x-coordinate (secret)
  const uint8_t* as_public[kP256BatchLanes] = {};  // 65-byte ephemeral public key (keyid)
  const uint8_t* salt[kP256BatchLanes] = {};       // 16 bytes
  const SubscriptionKeys* to[kP256BatchLanes] = {};
  std::span<const uint8_t> plaintext[kP256BatchLanes];
  size_t padding[kP256BatchLanes] = {};
  std::span<uint8_t> out[kP256BatchLanes];  // exactly EncryptedSize(plaintext, padding) bytes
};

// SealBatch writes the body of every live lane and returns the mask of lanes sealed; a live lane
// missing from it failed (OpenSSL error). Allocates nothing; wipes every derived key before it
// returns. Thread-safe (OpenSSL's per-thread cipher context, everything else on the stack).
[[nodiscard]] uint32_t SealBatch(const SealLanes& lanes);

}  // namespace webpush::crypto::internal
