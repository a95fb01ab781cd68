#pragma once

#include <immintrin.h>

#include <cstdint>

// The native SIMD layer of the P-256 kernel: eight 64-bit lanes in one ZMM register. Include
// only from files compiled with -mavx512f -mavx512vl -mavx512ifma (crypto/CMakeLists.txt), and
// run only after CpuHasAvx512Ifma(). Every function is the single instruction named in its
// twin in p256_x8_simd_emulated.h, which documents the semantics both must share. The shifts use
// the zero-masking form with an all-ones mask (the same instruction): GCC 12's unmasked
// intrinsics start from _mm512_undefined_epi32(), which -Werror=uninitialized rejects.
namespace webpush::crypto::internal::x8ifma {

using Vec = __m512i;
using Mask = __mmask8;

inline Vec Zero() { return _mm512_setzero_si512(); }
inline Vec Broadcast(uint64_t v) {
  return _mm512_set1_epi64(static_cast<long long>(v));  // NOLINT(google-runtime-int): intrinsic
}
inline Vec Load(const uint64_t* p) { return _mm512_loadu_si512(p); }
inline void Store(uint64_t* p, Vec v) { _mm512_storeu_si512(p, v); }
inline Vec Add(Vec a, Vec b) { return _mm512_add_epi64(a, b); }
inline Vec Sub(Vec a, Vec b) { return _mm512_sub_epi64(a, b); }
inline Vec And(Vec a, Vec b) { return _mm512_and_si512(a, b); }
inline Vec Or(Vec a, Vec b) { return _mm512_or_si512(a, b); }
inline Vec Xor(Vec a, Vec b) { return _mm512_xor_si512(a, b); }
template <int kBits>
Vec ShiftRight(Vec a) {
  static_assert(kBits > 0 && kBits < 64);
  return _mm512_maskz_srli_epi64(0xff, a, kBits);
}
template <int kBits>
Vec ShiftRightArith(Vec a) {
  static_assert(kBits > 0 && kBits < 64);
  return _mm512_maskz_srai_epi64(0xff, a, kBits);
}
template <int kBits>
Vec ShiftLeft(Vec a) {
  static_assert(kBits > 0 && kBits < 64);
  return _mm512_maskz_slli_epi64(0xff, a, kBits);
}
inline Vec MulAdd52Lo(Vec acc, Vec a, Vec b) { return _mm512_madd52lo_epu64(acc, a, b); }
inline Vec MulAdd52Hi(Vec acc, Vec a, Vec b) { return _mm512_madd52hi_epu64(acc, a, b); }
inline void MulAdd52LoHi(Vec& lo, Vec& hi, Vec a, Vec b) {
  lo = _mm512_madd52lo_epu64(lo, a, b);
  hi = _mm512_madd52hi_epu64(hi, a, b);
}
inline Mask Equal(Vec a, Vec b) { return _mm512_cmpeq_epi64_mask(a, b); }
inline Vec Select(Mask m, Vec if_true, Vec if_false) {
  return _mm512_mask_blend_epi64(m, if_false, if_true);
}

}  // namespace webpush::crypto::internal::x8ifma
