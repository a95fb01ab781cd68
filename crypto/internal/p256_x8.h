#pragma once

#include <cstdint>

// Entry points of the 8-lane P-256 kernel (p256_x8_kernel.inc), one set per SIMD layer. The
// contracts are those of P256KeygenX8 and P256EcdhX8 in p256_batch.h, which dispatches here.
// `leaky_for_test` switches on a deliberate secret-dependent branch that only the
// constant-time tests (ctgrind, dudect) use to prove they can fail; production passes false.
namespace webpush::crypto::internal {

// The SIMD primitives, exposed one at a time so that a test can check each native operation
// against its emulated twin bit for bit (on an IFMA machine).
enum class P256X8SimdOp {
  kAdd,
  kSub,
  kAnd,
  kOr,
  kXor,
  kShiftRight52,
  kShiftRightArith52,
  kShiftRightArith63,
  kShiftLeft12,
  kMulAdd52Lo,  // a + lo52(b·c)
  kMulAdd52Hi,  // a + hi52(b·c)
  kEqual,       // the lane mask of a == b, broadcast
  kSelect,      // lanes of a where bit i of c[0] is set, else of b
  kBroadcast,   // a[0] in every lane
};

namespace x8emu {  // portable emulation, any CPU
void KeygenX8(const uint8_t (*scalars)[32], uint8_t (*pubs)[65], bool leaky_for_test);
[[nodiscard]] uint32_t EcdhX8(const uint8_t (*scalars)[32], const uint8_t (*peers)[65],
                              uint8_t (*xs)[32], bool leaky_for_test);
void SimdOpForTest(P256X8SimdOp op, const uint64_t (&a)[8], const uint64_t (&b)[8],
                   const uint64_t (&c)[8], uint64_t (&out)[8]);
}  // namespace x8emu

namespace x8ifma {  // AVX-512 IFMA; call only where CpuHasAvx512Ifma()
void KeygenX8(const uint8_t (*scalars)[32], uint8_t (*pubs)[65], bool leaky_for_test);
[[nodiscard]] uint32_t EcdhX8(const uint8_t (*scalars)[32], const uint8_t (*peers)[65],
                              uint8_t (*xs)[32], bool leaky_for_test);
void SimdOpForTest(P256X8SimdOp op, const uint64_t (&a)[8], const uint64_t (&b)[8],
                   const uint64_t (&c)[8], uint64_t (&out)[8]);
}  // namespace x8ifma

}  // namespace webpush::crypto::internal
