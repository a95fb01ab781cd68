// Compares the lean EC_POINT-level P-256 path (crypto/internal/p256.cc) with OpenSSL's high-level
// EVP_PKEY_derive on many random key pairs: the reference path must equal the textbook one.
#include "crypto/internal/p256.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <vector>

#include "crypto/internal/openssl_ptr.h"
#include "crypto/keys.h"
#include "gtest/gtest.h"

namespace webpush::crypto::internal {
namespace {

std::vector<uint8_t> EvpEcdh(const P256KeyPair& self, const P256PublicKey& peer) {
  auto own = MakeP256Pkey(self.private_key(), self.public_key());
  auto other = MakeP256Pkey({}, peer);
  EXPECT_TRUE(own.ok() && other.ok());
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, own->get(), nullptr));
  size_t len = 32;
  std::vector<uint8_t> out(32);
  EXPECT_EQ(EVP_PKEY_derive_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_derive_set_peer(ctx.get(), other->get()), 1);
  EXPECT_EQ(EVP_PKEY_derive(ctx.get(), out.data(), &len), 1);
  EXPECT_EQ(len, 32u);
  return out;
}

TEST(P256Test, EcdhMatchesEvpDeriveOnRandomKeys) {
  for (int i = 0; i < 200; ++i) {
    auto a = P256KeyPair::Generate();
    auto b = P256KeyPair::Generate();
    ASSERT_TRUE(a.ok() && b.ok());
    std::array<uint8_t, 32> ours{};
    ASSERT_TRUE(P256Ecdh(ours, a->private_key(), b->public_key(), "peer").ok());
    EXPECT_EQ(std::vector<uint8_t>(ours.begin(), ours.end()), EvpEcdh(*a, b->public_key())) << i;
  }
}

TEST(P256Test, EcdhMatchesEvpDeriveOnEdgeScalars) {
  // Smallest and largest scalars, and ones with long runs of zero or one bits.
  const std::vector<std::array<uint8_t, 32>> scalars = [] {
    std::vector<std::array<uint8_t, 32>> v;
    std::array<uint8_t, 32> s{};
    s[31] = 1;
    v.push_back(s);
    s[31] = 2;
    v.push_back(s);
    s = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
         0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x50};  // n - 1
    v.push_back(s);
    s.fill(0);
    s[0] = 0x80;
    v.push_back(s);
    s.fill(0x55);
    v.push_back(s);
    return v;
  }();
  auto peer = P256KeyPair::Generate();
  ASSERT_TRUE(peer.ok());
  for (const auto& scalar : scalars) {
    auto self = P256KeyPair::FromPrivateKey(scalar, "k");
    ASSERT_TRUE(self.ok()) << self.status();
    std::array<uint8_t, 32> ours{};
    ASSERT_TRUE(P256Ecdh(ours, self->private_key(), peer->public_key(), "peer").ok());
    EXPECT_EQ(std::vector<uint8_t>(ours.begin(), ours.end()), EvpEcdh(*self, peer->public_key()));
  }
}

TEST(P256Test, GeneratedScalarsAreInRange) {
  for (int i = 0; i < 100; ++i) {
    std::array<uint8_t, 32> k{};
    ASSERT_TRUE(GenerateP256Scalar(k));
    EXPECT_TRUE(IsValidP256Scalar(k));
  }
}

TEST(P256Test, EcdhRejectsInvalidPeerWithoutTouchingTheOutput) {
  auto self = P256KeyPair::Generate();
  ASSERT_TRUE(self.ok());
  std::array<uint8_t, 65> bad = self->public_key();
  bad[40] ^= 0x10;
  std::array<uint8_t, 32> out{};
  absl::Status s = P256Ecdh(out, self->private_key(), bad, "targets[7].p256dh");
  EXPECT_EQ(std::string(s.message()), "targets[7].p256dh: not a point on P-256");
  EXPECT_EQ(out, (std::array<uint8_t, 32>{}));
}

}  // namespace
}  // namespace webpush::crypto::internal
