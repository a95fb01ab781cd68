// The P-256 kernel on the portable SIMD emulation (tests, valgrind, CPUs without IFMA).
#include <openssl/crypto.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "crypto/internal/p256_x8.h"
#include "crypto/internal/p256_x8_simd_emulated.h"
#include "crypto/internal/p256_x8_table.h"

namespace webpush::crypto::internal::x8emu {
#include "crypto/internal/p256_x8_kernel.inc"
}  // namespace webpush::crypto::internal::x8emu
