#include "crypto/internal/batch_seal.h"

#include <openssl/crypto.h>

#include <array>

#include "crypto/ece.h"
#include "crypto/internal/content_coding.h"

namespace webpush::crypto::internal {

uint32_t BatchSealer::Seal(const SealLanes& lanes) {
  uint32_t sealed = 0;
  std::array<uint8_t, 32> ikm{};
  for (size_t lane = 0; lane < lanes.count; ++lane) {
    if ((lanes.live >> lane & 1U) == 0) {
      continue;
    }
    const SubscriptionKeys& to = *lanes.to[lane];
    const std::span<const uint8_t, 65> as_public(lanes.as_public[lane], 65);
    if (DeriveWebPushIkm(ikm, std::span<const uint8_t, 32>(lanes.secret[lane], 32), to.auth,
                         to.p256dh, as_public) &&
        SealSingleRecord(lanes.out[lane], ikm, std::span<const uint8_t, 16>(lanes.salt[lane], 16),
                         kRecordSize, as_public, lanes.plaintext[lane], lanes.padding[lane])) {
      sealed |= 1U << lane;
    }
  }
  OPENSSL_cleanse(ikm.data(), ikm.size());
  return sealed;
}

}  // namespace webpush::crypto::internal
