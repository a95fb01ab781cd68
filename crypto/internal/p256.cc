#include "crypto/internal/p256.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>

#include <array>

#include "crypto/internal/strings.h"

namespace webpush::crypto::internal {
namespace {

// The group is created once and only read afterwards; OpenSSL allows concurrent read-only use.
// It is deliberately never freed (process lifetime).
const EC_GROUP* Group() {
  static const EC_GROUP* const kGroup = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  return kGroup;
}

// Scratch holds one thread's reusable OpenSSL objects, so the hot path allocates nothing per
// call once a thread has warmed up. BIGNUMs that hold secrets are cleared with BN_clear.
class Scratch {
 public:
  Scratch()
      : ctx_(BN_CTX_secure_new()),
        k_(BN_secure_new()),
        x_(BN_new()),
        y_(BN_new()),
        a_(EC_POINT_new(Group())),
        b_(EC_POINT_new(Group())) {
    BN_set_flags(k_, BN_FLG_CONSTTIME);
  }
  ~Scratch() {
    EC_POINT_clear_free(b_);
    EC_POINT_clear_free(a_);
    BN_clear_free(y_);
    BN_clear_free(x_);
    BN_clear_free(k_);
    BN_CTX_free(ctx_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  Scratch(Scratch&&) = delete;
  Scratch& operator=(Scratch&&) = delete;

  [[nodiscard]] bool ok() const {
    return ctx_ != nullptr && k_ != nullptr && x_ != nullptr && y_ != nullptr && a_ != nullptr &&
           b_ != nullptr && Group() != nullptr;
  }

  BN_CTX* ctx_;
  BIGNUM* k_;
  BIGNUM* x_;
  BIGNUM* y_;
  EC_POINT* a_;
  EC_POINT* b_;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// Clears secrets held in scratch and any OpenSSL error left by a failed call, so that neither
// leaks into the next operation on this thread.
class ScratchGuard {
 public:
  explicit ScratchGuard(Scratch& s) : s_(s) {}
  ~ScratchGuard() {
    BN_clear(s_.k_);
    BN_clear(s_.x_);
    BN_clear(s_.y_);
    EC_POINT_set_to_infinity(Group(), s_.b_);  // b_ may hold the ECDH shared point
    ERR_clear_error();
  }
  ScratchGuard(const ScratchGuard&) = delete;
  ScratchGuard& operator=(const ScratchGuard&) = delete;
  ScratchGuard(ScratchGuard&&) = delete;
  ScratchGuard& operator=(ScratchGuard&&) = delete;

 private:
  Scratch& s_;
};

// Scalar to/from big-endian bytes through the secure BIGNUM.
bool LoadScalar(Scratch& s, std::span<const uint8_t, 32> scalar) {
  return BN_bin2bn(scalar.data(), static_cast<int>(scalar.size()), s.k_) != nullptr;
}

absl::Status PointError(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(StrCat(field, ": ", what));
}

}  // namespace

absl::Status CheckP256Point(std::span<const uint8_t> point, std::string_view field) {
  if (point.size() != 65) {
    return PointError(
        field, StrCat("must be a 65-byte uncompressed P-256 point, got ", point.size(), " bytes"));
  }
  if (point[0] != 0x04) {
    return PointError(field, "must be an uncompressed P-256 point (first byte 0x04)");
  }
  Scratch& s = ThreadScratch();
  if (!s.ok()) {
    return absl::InternalError("OpenSSL P-256 initialisation failed");
  }
  ScratchGuard guard(s);
  // EC_POINT_oct2point rejects coordinates >= p and points off the curve; the explicit
  // on-curve check below documents the RFC 8291 §7 requirement and costs little.
  if (EC_POINT_oct2point(Group(), s.a_, point.data(), point.size(), s.ctx_) != 1 ||
      EC_POINT_is_on_curve(Group(), s.a_, s.ctx_) != 1 ||
      EC_POINT_is_at_infinity(Group(), s.a_) != 0) {
    return PointError(field, "not a point on P-256");
  }
  return absl::OkStatus();
}

bool IsValidP256Scalar(std::span<const uint8_t, 32> scalar) {
  Scratch& s = ThreadScratch();
  if (!s.ok()) {
    return false;
  }
  ScratchGuard guard(s);
  if (!LoadScalar(s, scalar)) {
    return false;
  }
  return BN_is_zero(s.k_) == 0 && BN_cmp(s.k_, EC_GROUP_get0_order(Group())) < 0;
}

bool GenerateP256Scalar(std::span<uint8_t, 32> out) {
  // A uniform 256-bit value is below n with probability 1 - 2^-32, so this loop almost never
  // repeats; a rejection reveals only that a discarded candidate was out of range.
  for (int attempt = 0; attempt < 64; ++attempt) {
    if (RAND_priv_bytes(out.data(), static_cast<int>(out.size())) != 1) {
      ERR_clear_error();
      return false;
    }
    if (IsValidP256Scalar(out)) {
      return true;
    }
  }
  OPENSSL_cleanse(out.data(), out.size());
  return false;
}

bool P256PublicFromPrivate(std::span<uint8_t, 65> out, std::span<const uint8_t, 32> scalar) {
  Scratch& s = ThreadScratch();
  if (!s.ok()) {
    return false;
  }
  ScratchGuard guard(s);
  // EC_POINT_mul with only the generator term uses OpenSSL's precomputed fixed-base tables.
  if (!LoadScalar(s, scalar) || EC_POINT_mul(Group(), s.a_, s.k_, nullptr, nullptr, s.ctx_) != 1) {
    return false;
  }
  return EC_POINT_point2oct(Group(), s.a_, POINT_CONVERSION_UNCOMPRESSED, out.data(), out.size(),
                            s.ctx_) == out.size();
}

absl::Status P256Ecdh(std::span<uint8_t, 32> out, std::span<const uint8_t, 32> scalar,
                      std::span<const uint8_t, 65> peer, std::string_view field) {
  Scratch& s = ThreadScratch();
  if (!s.ok()) {
    return absl::InternalError("OpenSSL P-256 initialisation failed");
  }
  ScratchGuard guard(s);
  if (peer[0] != 0x04) {
    return PointError(field, "must be an uncompressed P-256 point (first byte 0x04)");
  }
  if (EC_POINT_oct2point(Group(), s.a_, peer.data(), peer.size(), s.ctx_) != 1 ||
      EC_POINT_is_on_curve(Group(), s.a_, s.ctx_) != 1) {
    return PointError(field, "not a point on P-256");
  }
  if (!LoadScalar(s, scalar) || EC_POINT_mul(Group(), s.b_, nullptr, s.a_, s.k_, s.ctx_) != 1 ||
      EC_POINT_get_affine_coordinates(Group(), s.b_, s.x_, nullptr, s.ctx_) != 1 ||
      BN_bn2binpad(s.x_, out.data(), static_cast<int>(out.size())) != 32) {
    return absl::InternalError("P-256 ECDH failed");
  }
  return absl::OkStatus();
}

}  // namespace webpush::crypto::internal
