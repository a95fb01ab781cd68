#include "crypto/internal/p256_batch.h"

#include <cpuid.h>
#include <openssl/crypto.h>

#include <span>

#include "crypto/internal/p256.h"
#include "crypto/internal/p256_x8.h"

namespace webpush::crypto::internal {
namespace {

// DetectAvx512Ifma: the CPU must report AVX-512 F (leaf 7 EBX bit 16), IFMA (bit 21) and VL
// (bit 31), and the OS must have enabled saving of the SSE, AVX, opmask and both ZMM state
// components (XCR0 bits 1, 2, 5, 6, 7; OSXSAVE, leaf 1 ECX bit 27, makes xgetbv legal).
bool DetectAvx512Ifma() {
  unsigned eax = 0;
  unsigned ebx = 0;
  unsigned ecx = 0;
  unsigned edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0 || (ecx & (1U << 27)) == 0) {
    return false;
  }
  unsigned xcr0_lo = 0;
  unsigned xcr0_hi = 0;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  constexpr unsigned kXcr0Avx512 = (1U << 1) | (1U << 2) | (1U << 5) | (1U << 6) | (1U << 7);
  if ((xcr0_lo & kXcr0Avx512) != kXcr0Avx512) {
    return false;
  }
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) {
    return false;
  }
  constexpr unsigned kLeaf7Ebx = (1U << 16) | (1U << 21) | (1U << 31);
  return (ebx & kLeaf7Ebx) == kLeaf7Ebx;
}

// Ifma tells whether the native kernel may run; a kIfma request on a CPU without IFMA runs the
// same kernel emulated rather than faulting on an illegal instruction.
bool Ifma(P256BatchPath path) { return path == P256BatchPath::kIfma && CpuHasAvx512Ifma(); }

}  // namespace

bool CpuHasAvx512Ifma() {
  static const bool kHas = DetectAvx512Ifma();
  return kHas;
}

void P256KeygenX8(P256BatchPath path, const uint8_t (*scalars)[32], uint8_t (*pubs)[65]) {
  if (Ifma(path)) {
    x8ifma::KeygenX8(scalars, pubs, /*leaky_for_test=*/false);
    return;
  }
  if (path != P256BatchPath::kReference) {
    x8emu::KeygenX8(scalars, pubs, /*leaky_for_test=*/false);
    return;
  }
  for (size_t i = 0; i < kP256BatchLanes; ++i) {
    if (!P256PublicFromPrivate(std::span<uint8_t, 65>(pubs[i], 65),
                               std::span<const uint8_t, 32>(scalars[i], 32))) {
      OPENSSL_cleanse(pubs[i], 65);
    }
  }
}

uint32_t P256EcdhX8(P256BatchPath path, const uint8_t (*scalars)[32], const uint8_t (*peers)[65],
                    uint8_t (*xs)[32]) {
  if (Ifma(path)) {
    return x8ifma::EcdhX8(scalars, peers, xs, /*leaky_for_test=*/false);
  }
  if (path != P256BatchPath::kReference) {
    return x8emu::EcdhX8(scalars, peers, xs, /*leaky_for_test=*/false);
  }
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
