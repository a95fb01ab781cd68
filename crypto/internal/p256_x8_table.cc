#include "crypto/internal/p256_x8_table.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <memory>
#include <mutex>

namespace webpush::crypto::internal {
namespace {

struct BnCtxFree {
  void operator()(BN_CTX* c) const { BN_CTX_free(c); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct GroupFree {
  void operator()(EC_GROUP* g) const { EC_GROUP_free(g); }
};
struct PointFree {
  void operator()(EC_POINT* p) const { EC_POINT_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

// ToMontgomeryLimbs stores (v·2^260 mod p) as limbs. The table is public data, so OpenSSL's
// variable-time BIGNUM code is fine here.
bool ToMontgomeryLimbs(uint64_t out[kP256X8Limbs], const BIGNUM* v, const BIGNUM* p, BN_CTX* ctx) {
  BnPtr m(BN_new());
  uint8_t bytes[32];
  if (m == nullptr || BN_mod_lshift(m.get(), v, 260, p, ctx) != 1 ||
      BN_bn2binpad(m.get(), bytes, sizeof(bytes)) != 32) {
    return false;
  }
  P256X8BytesToLimbs(out, bytes);
  return true;
}

// Fills `table`: row i, entry j-1 is (j·16^i mod n)·G.
bool Compute(P256X8BaseTable& table) {
  std::unique_ptr<EC_GROUP, GroupFree> group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  std::unique_ptr<BN_CTX, BnCtxFree> ctx(BN_CTX_new());
  std::unique_ptr<EC_POINT, PointFree> point(group ? EC_POINT_new(group.get()) : nullptr);
  BnPtr p(BN_new());
  BnPtr k(BN_new());
  BnPtr x(BN_new());
  BnPtr y(BN_new());
  if (!group || !ctx || !point || !p || !k || !x || !y ||
      EC_GROUP_get_curve(group.get(), p.get(), nullptr, nullptr, ctx.get()) != 1) {
    return false;
  }
  const BIGNUM* n = EC_GROUP_get0_order(group.get());
  for (size_t i = 0; i < kP256X8BaseRows; ++i) {
    for (size_t j = 1; j <= kP256X8BaseEntries; ++j) {
      P256X8AffineEntry& e = table.rows[i][j - 1];
      if (BN_set_word(k.get(), j) != 1 ||
          BN_lshift(k.get(), k.get(), static_cast<int>(4 * i)) != 1 ||
          BN_nnmod(k.get(), k.get(), n, ctx.get()) != 1 ||
          EC_POINT_mul(group.get(), point.get(), k.get(), nullptr, nullptr, ctx.get()) != 1 ||
          EC_POINT_get_affine_coordinates(group.get(), point.get(), x.get(), y.get(), ctx.get()) !=
              1 ||
          !ToMontgomeryLimbs(e.x, x.get(), p.get(), ctx.get()) ||
          !ToMontgomeryLimbs(e.y, y.get(), p.get(), ctx.get())) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

void P256X8BytesToLimbs(uint64_t out[kP256X8Limbs], const uint8_t in[32]) {
  uint64_t w[4];  // little-endian 64-bit words
  for (size_t i = 0; i < 4; ++i) {
    uint64_t v = 0;
    for (size_t j = 0; j < 8; ++j) {
      v = (v << 8) | in[(3 - i) * 8 + j];
    }
    w[i] = v;
  }
  out[0] = w[0] & kP256X8LimbMask;
  out[1] = ((w[0] >> 52) | (w[1] << 12)) & kP256X8LimbMask;
  out[2] = ((w[1] >> 40) | (w[2] << 24)) & kP256X8LimbMask;
  out[3] = ((w[2] >> 28) | (w[3] << 36)) & kP256X8LimbMask;
  out[4] = w[3] >> 16;
}

void P256X8LimbsToBytes(uint8_t out[32], const uint64_t in[kP256X8Limbs]) {
  const uint64_t w[4] = {
      in[0] | (in[1] << 52),
      (in[1] >> 12) | (in[2] << 40),
      (in[2] >> 24) | (in[3] << 28),
      (in[3] >> 36) | (in[4] << 16),
  };
  for (size_t i = 0; i < 4; ++i) {
    for (size_t j = 0; j < 8; ++j) {
      out[(3 - i) * 8 + j] = static_cast<uint8_t>(w[i] >> (56 - 8 * j));
    }
  }
}

const P256X8BaseTable* P256X8GetBaseTable() {
  static std::once_flag once;
  static P256X8BaseTable* table = nullptr;
  std::call_once(once, [] {
    auto t = std::make_unique<P256X8BaseTable>();
    if (Compute(*t)) {
      table = t.release();  // process lifetime, like the OpenSSL group in p256.cc
    }
  });
  return table;
}

}  // namespace webpush::crypto::internal
