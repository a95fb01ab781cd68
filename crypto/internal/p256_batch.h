#pragma once

#include <cstddef>
#include <cstdint>

// Batch P-256 kernels: eight independent scalar multiplications at a time (issue 5). The
// reference implementation loops over the OpenSSL path in p256.h; the IFMA implementation runs
// the eight lanes in one AVX-512 register per limb; the emulated implementation is the same
// kernel source compiled against a portable scalar emulation of its SIMD primitives, so that
// valgrind (which cannot execute AVX-512) can check it for secret-dependent branches and
// addresses, and so that machines without IFMA still test the kernel's arithmetic.
namespace webpush::crypto::internal {

inline constexpr size_t kP256BatchLanes = 8;

enum class P256BatchPath {
  kReference,  // OpenSSL EC_POINT, one lane after another
  kIfma,       // native AVX-512 IFMA kernel (only where CpuHasAvx512Ifma())
  kEmulated,   // the IFMA kernel's source on the portable emulation (tests, ctgrind)
};

// CpuHasAvx512Ifma tells whether this CPU and OS can run the kIfma path (AVX-512 F, VL and
// IFMA, with the OS saving ZMM state).
[[nodiscard]] bool CpuHasAvx512Ifma();

// P256KeygenX8 computes pubs[i] = scalars[i]·G (65-byte uncompressed SEC1) for 8 lanes.
// Every scalar is big-endian and must lie in [1, n-1] (the caller draws them so). Constant time
// in the scalars. `path` kIfma requires CpuHasAvx512Ifma().
void P256KeygenX8(P256BatchPath path, const uint8_t (*scalars)[32], uint8_t (*pubs)[65]);

// P256EcdhX8 computes xs[i] = x(scalars[i]·peers[i]) (32 bytes, big-endian) for 8 lanes.
// Scalars as for P256KeygenX8; peers are 65-byte uncompressed points, validated here (prefix,
// coordinates below p, curve equation). Returns a bit mask of the lanes that succeeded; a lane
// with an invalid peer gets 32 zero bytes. Constant time in the scalars.
[[nodiscard]] uint32_t P256EcdhX8(P256BatchPath path, const uint8_t (*scalars)[32],
                                  const uint8_t (*peers)[65], uint8_t (*xs)[32]);

}  // namespace webpush::crypto::internal
