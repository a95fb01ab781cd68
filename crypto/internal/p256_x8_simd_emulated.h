#pragma once

#include <cstdint>
#include <cstring>

// The portable twin of p256_x8_simd_ifma.h: eight 64-bit lanes as a plain array, every operation
// a loop without branches, so that the P-256 kernel (p256_x8_kernel.inc) compiles without
// AVX-512 and runs under valgrind. Each function states the AVX-512 instruction it mirrors;
// the two layers must agree bit for bit on every input (tests/crypto/p256_x8_simd_test.cc).
namespace webpush::crypto::internal::x8emu {

struct Vec {
  uint64_t lane[8];
};

// Mask holds one bit per lane (bit i = lane i), like an AVX-512 __mmask8.
using Mask = uint32_t;

__extension__ using Uint128 = unsigned __int128;

inline constexpr uint64_t kLow52 = (uint64_t{1} << 52) - 1;

// _mm512_setzero_si512
inline Vec Zero() {
  Vec r;
  for (uint64_t& l : r.lane) {
    l = 0;
  }
  return r;
}

// _mm512_set1_epi64
inline Vec Broadcast(uint64_t v) {
  Vec r;
  for (uint64_t& l : r.lane) {
    l = v;
  }
  return r;
}

// _mm512_loadu_si512: lanes 0..7 from `p[0..7]`.
inline Vec Load(const uint64_t* p) {
  Vec r;
  std::memcpy(r.lane, p, sizeof(r.lane));
  return r;
}

// _mm512_storeu_si512
inline void Store(uint64_t* p, Vec v) { std::memcpy(p, v.lane, sizeof(v.lane)); }

// _mm512_add_epi64 (wraps modulo 2^64)
inline Vec Add(Vec a, Vec b) {
  Vec r;
  for (int i = 0; i < 8; ++i) {
    r.lane[i] = a.lane[i] + b.lane[i];
  }
  return r;
}

// _mm512_sub_epi64 (wraps modulo 2^64)
inline Vec Sub(Vec a, Vec b) {
  Vec r;
  for (int i = 0; i < 8; ++i) {
    r.lane[i] = a.lane[i] - b.lane[i];
  }
  return r;
}

// _mm512_and_si512
inline Vec And(Vec a, Vec b) {
  Vec r;
  for (int i = 0; i < 8; ++i) {
    r.lane[i] = a.lane[i] & b.lane[i];
  }
  return r;
}

// _mm512_or_si512
inline Vec Or(Vec a, Vec b) {
  Vec r;
  for (int i = 0; i < 8; ++i) {
    r.lane[i] = a.lane[i] | b.lane[i];
  }
  return r;
}

// _mm512_xor_si512
inline Vec Xor(Vec a, Vec b) {
  Vec r;
  for (int i = 0; i < 8; ++i) {
    r.lane[i] = a.lane[i] ^ b.lane[i];
  }
  return r;
}

// _mm512_srli_epi64: logical shift right by a constant below 64.
template <int kBits>
Vec ShiftRight(Vec a) {
  static_assert(kBits > 0 && kBits < 64);
  Vec r;
  for (int i = 0; i < 8; ++i) {
    r.lane[i] = a.lane[i] >> kBits;
  }
  return r;
}

// _mm512_srai_epi64: arithmetic shift right by a constant below 64 (the sign bit is copied in;
// C++20 defines >> on negative signed values this way).
template <int kBits>
Vec ShiftRightArith(Vec a) {
  static_assert(kBits > 0 && kBits < 64);
  Vec r;
  for (int i = 0; i < 8; ++i) {
    r.lane[i] = static_cast<uint64_t>(static_cast<int64_t>(a.lane[i]) >> kBits);
  }
  return r;
}

// _mm512_slli_epi64: shift left by a constant below 64.
template <int kBits>
Vec ShiftLeft(Vec a) {
  static_assert(kBits > 0 && kBits < 64);
  Vec r;
  for (int i = 0; i < 8; ++i) {
    r.lane[i] = a.lane[i] << kBits;
  }
  return r;
}

// _mm512_madd52lo_epu64(acc, a, b): acc + (the low 52 bits of the 104-bit product of the low
// 52 bits of `a` and of `b`), modulo 2^64. The multiplicands' bits 52..63 are ignored.
inline Vec MulAdd52Lo(Vec acc, Vec a, Vec b) {
  Vec r;
  for (int i = 0; i < 8; ++i) {
    const Uint128 product = Uint128{a.lane[i] & kLow52} * (b.lane[i] & kLow52);
    r.lane[i] = acc.lane[i] + (static_cast<uint64_t>(product) & kLow52);
  }
  return r;
}

// _mm512_madd52hi_epu64(acc, a, b): acc + (bits 52..103 of that same 104-bit product).
inline Vec MulAdd52Hi(Vec acc, Vec a, Vec b) {
  Vec r;
  for (int i = 0; i < 8; ++i) {
    const Uint128 product = Uint128{a.lane[i] & kLow52} * (b.lane[i] & kLow52);
    r.lane[i] = acc.lane[i] + static_cast<uint64_t>(product >> 52);
  }
  return r;
}

// MulAdd52LoHi(lo, hi, a, b) is MulAdd52Lo(lo, a, b) and MulAdd52Hi(hi, a, b) together (two
// instructions natively); the emulation multiplies once for both halves.
inline void MulAdd52LoHi(Vec& lo, Vec& hi, Vec a, Vec b) {
  for (int i = 0; i < 8; ++i) {
    const Uint128 product = Uint128{a.lane[i] & kLow52} * (b.lane[i] & kLow52);
    lo.lane[i] += static_cast<uint64_t>(product) & kLow52;
    hi.lane[i] += static_cast<uint64_t>(product >> 52);
  }
}

// _mm512_cmpeq_epi64_mask: bit i set where lane i of `a` equals lane i of `b`. Computed without
// a comparison instruction's flags: the lane difference is zero exactly when its top bit and the
// top bit of its negation are both clear.
inline Mask Equal(Vec a, Vec b) {
  Mask m = 0;
  for (int i = 0; i < 8; ++i) {
    const uint64_t d = a.lane[i] ^ b.lane[i];
    const uint64_t nonzero = (d | (0 - d)) >> 63;
    m |= static_cast<Mask>(nonzero ^ 1) << i;
  }
  return m;
}

// _mm512_mask_blend_epi64(m, if_false, if_true): lane i from `if_true` where bit i of `m` is
// set, else from `if_false`. Selected with an all-ones/all-zeros lane mask, not a branch.
inline Vec Select(Mask m, Vec if_true, Vec if_false) {
  Vec r;
  for (int i = 0; i < 8; ++i) {
    const uint64_t all = 0 - static_cast<uint64_t>((m >> i) & 1);
    r.lane[i] = (if_true.lane[i] & all) | (if_false.lane[i] & ~all);
  }
  return r;
}

}  // namespace webpush::crypto::internal::x8emu
