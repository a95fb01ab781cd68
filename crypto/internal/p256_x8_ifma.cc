// The P-256 kernel on AVX-512 IFMA. This file alone is compiled with -mavx512f -mavx512vl
// -mavx512ifma (crypto/CMakeLists.txt); p256_batch.cc calls it only after CpuHasAvx512Ifma().
#include <openssl/crypto.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "crypto/internal/p256_x8.h"
#include "crypto/internal/p256_x8_simd_ifma.h"
#include "crypto/internal/p256_x8_table.h"

// Field operations inline into the point formulas, so that field elements stay in registers.
#define WEBPUSH_X8_INLINE inline __attribute__((always_inline))
namespace webpush::crypto::internal::x8ifma {
#include "crypto/internal/p256_x8_kernel.inc"
}  // namespace webpush::crypto::internal::x8ifma
#undef WEBPUSH_X8_INLINE
