#include "crypto/internal/p256_batch.h"

#include <openssl/crypto.h>

#include <span>

#include "crypto/internal/p256.h"

namespace webpush::crypto::internal {

// Until the IFMA kernel lands, every path runs the reference lanes; the kernel replaces the
// kIfma and kEmulated branches below.
bool CpuHasAvx512Ifma() { return false; }

void P256KeygenX8(P256BatchPath /*path*/, const uint8_t (*scalars)[32], uint8_t (*pubs)[65]) {
  for (size_t i = 0; i < kP256BatchLanes; ++i) {
    if (!P256PublicFromPrivate(std::span<uint8_t, 65>(pubs[i], 65),
                               std::span<const uint8_t, 32>(scalars[i], 32))) {
      OPENSSL_cleanse(pubs[i], 65);
    }
  }
}

uint32_t P256EcdhX8(P256BatchPath /*path*/, const uint8_t (*scalars)[32],
                    const uint8_t (*peers)[65], uint8_t (*xs)[32]) {
  uint32_t ok = 0;
  for (size_t i = 0; i < kP256BatchLanes; ++i) {
    const absl::Status status =
        P256Ecdh(std::span<uint8_t, 32>(xs[i], 32), std::span<const uint8_t, 32>(scalars[i], 32),
                 std::span<const uint8_t, 65>(peers[i], 65), "peer");
    if (status.ok()) {
      ok |= 1U << i;
    } else {
      OPENSSL_cleanse(xs[i], 32);
    }
  }
  return ok;
}

}  // namespace webpush::crypto::internal
