#pragma once

#include <cstddef>
#include <cstdint>

// Shared, SIMD-free pieces of the 8-lane P-256 kernel (p256_x8_kernel.inc): conversion between
// 32-byte big-endian integers and five 52-bit limbs, and the fixed-base table for key
// generation. Both kernel builds (emulated and IFMA) use the same table.
namespace webpush::crypto::internal {

// Field elements in the kernel have five limbs of 52 bits (radix 2^52, 260 bits).
inline constexpr size_t kP256X8Limbs = 5;
inline constexpr uint64_t kP256X8LimbMask = (uint64_t{1} << 52) - 1;

// P256X8BytesToLimbs splits the big-endian 256-bit integer `in` into five 52-bit limbs, least
// significant first. Branch-free, data-independent indexing. Defined out of line in
// p256_x8_table.cc on purpose: an inline function used by the AVX-512 translation unit could be
// emitted there as a COMDAT copy with AVX-512 instructions and picked by the linker for
// everyone, faulting on CPUs without AVX-512.
void P256X8BytesToLimbs(uint64_t out[kP256X8Limbs], const uint8_t in[32]);

// P256X8LimbsToBytes is the inverse for fully reduced limbs (each below 2^52, value below
// 2^256): `out` gets the big-endian 32-byte encoding.
void P256X8LimbsToBytes(uint8_t out[32], const uint64_t in[kP256X8Limbs]);

// Fixed-base comb: a scalar is recoded into 65 signed 4-bit digits d_i in [-8, 8] with
// k = sum d_i 16^i, so k·G = sum d_i·(16^i G). Row i holds j·16^i·G for j = 1..8 as affine
// coordinates in the kernel's Montgomery form (x·2^260 mod p), which turns key generation into
// 65 mixed additions with no doubling.
inline constexpr size_t kP256X8BaseRows = 65;
inline constexpr size_t kP256X8BaseEntries = 8;

struct P256X8AffineEntry {
  uint64_t x[kP256X8Limbs];
  uint64_t y[kP256X8Limbs];
};

struct P256X8BaseTable {
  P256X8AffineEntry rows[kP256X8BaseRows][kP256X8BaseEntries];
};

// P256X8GetBaseTable returns the table, computing it with OpenSSL on first use (thread-safe,
// std::call_once; a few milliseconds). Never freed. Returns nullptr if OpenSSL failed, which
// only an allocation failure can cause.
const P256X8BaseTable* P256X8GetBaseTable();

}  // namespace webpush::crypto::internal
