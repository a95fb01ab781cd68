#include "crypto/keys.h"

#include <string>

#include "crypto/base64url.h"
#include "gtest/gtest.h"
#include "tests/support/vector_file.h"

namespace webpush::crypto {
namespace {

using ::webpush::testing::HexBytes;

// RFC 8291 Appendix A user agent key pair.
constexpr char kUaPrivate[] = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
constexpr char kUaPublic[] =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
constexpr char kAuth[] = "BTBZMqHH6r4Tts7J_aSIgg";

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(KeysTest, ParsesRfc8291SubscriptionKeys) {
  auto keys = ParseSubscriptionKeys(kUaPublic, kAuth);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(Base64UrlEncode(keys->p256dh), kUaPublic);
  EXPECT_EQ(Base64UrlEncode(keys->auth), kAuth);
}

TEST(KeysTest, DerivesPublicKeyFromPrivateKey) {
  auto pair = P256KeyPair::FromBase64Url(kUaPrivate, "key");
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->PublicKeyBase64Url(), kUaPublic);
  EXPECT_EQ(pair->PrivateKeyBase64Url(), kUaPrivate);
}

TEST(KeysTest, RejectsP256dhOfWrongLength) {
  auto keys = ParseSubscriptionKeys("BCVxsr7N", kAuth);
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(keys.status()).rfind("p256dh: ", 0), 0u) << keys.status();
  EXPECT_NE(Message(keys.status()).find("65-byte"), std::string::npos);
}

TEST(KeysTest, RejectsCompressedAndHybridEncodings) {
  std::vector<uint8_t> point = *Base64UrlDecode(kUaPublic, "x");
  for (uint8_t prefix : {0x00, 0x02, 0x03, 0x06, 0x07}) {
    point[0] = prefix;
    absl::Status s = ValidateP256PublicKey(point, "p256dh");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << int{prefix};
  }
}

TEST(KeysTest, RejectsPointsOffTheCurve) {
  std::vector<uint8_t> point = *Base64UrlDecode(kUaPublic, "x");
  point[64] ^= 1;  // y no longer satisfies the curve equation
  absl::Status s = ValidateP256PublicKey(point, "targets[1042].p256dh");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(Message(s), "targets[1042].p256dh: not a point on P-256");
}

TEST(KeysTest, RejectsAllZeroPointAndCoordinatesOutOfRange) {
  std::vector<uint8_t> zero(65, 0);
  zero[0] = 0x04;
  EXPECT_FALSE(ValidateP256PublicKey(zero, "p256dh").ok());
  // x = p (not reduced): the field prime itself is out of range even though x = p ≡ 0.
  std::vector<uint8_t> big(65, 0xff);
  big[0] = 0x04;
  EXPECT_FALSE(ValidateP256PublicKey(big, "p256dh").ok());
  const std::vector<uint8_t> p =
      HexBytes("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
  std::vector<uint8_t> x_is_p(65, 0);
  x_is_p[0] = 0x04;
  std::copy(p.begin(), p.end(), x_is_p.begin() + 1);
  EXPECT_FALSE(ValidateP256PublicKey(x_is_p, "p256dh").ok());
}

TEST(KeysTest, RejectsAuthOfWrongLength) {
  for (const char* auth : {"BTBZMqHH6r4Tts7J_aSI", "BTBZMqHH6r4Tts7J_aSIggAA", ""}) {
    auto keys = ParseSubscriptionKeys(kUaPublic, auth);
    ASSERT_FALSE(keys.ok()) << auth;
    EXPECT_EQ(Message(keys.status()).rfind("auth: ", 0), 0u) << keys.status();
  }
}

TEST(KeysTest, RejectsPrivateKeyOutOfRange) {
  // Zero and the group order n are not valid scalars; n - 1 is.
  const std::vector<uint8_t> zero(32, 0);
  EXPECT_FALSE(P256KeyPair::FromPrivateKey(zero, "key").ok());
  const std::vector<uint8_t> n =
      HexBytes("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
  EXPECT_FALSE(P256KeyPair::FromPrivateKey(n, "key").ok());
  const std::vector<uint8_t> n_minus_1 =
      HexBytes("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550");
  EXPECT_TRUE(P256KeyPair::FromPrivateKey(n_minus_1, "key").ok());
  const std::vector<uint8_t> too_long(33, 1);
  EXPECT_FALSE(P256KeyPair::FromPrivateKey(too_long, "key").ok());
}

TEST(KeysTest, LeftPadsShortPrivateKeys) {
  const std::vector<uint8_t> one = {0x01};
  auto pair = P256KeyPair::FromPrivateKey(one, "key");
  ASSERT_TRUE(pair.ok()) << pair.status();
  // 1·G is the generator.
  EXPECT_EQ(pair->public_key()[1], 0x6b);
  EXPECT_EQ(pair->private_key()[31], 0x01);
  EXPECT_EQ(pair->private_key()[0], 0x00);
}

TEST(KeysTest, PemRoundTrip) {
  auto pair = P256KeyPair::Generate();
  ASSERT_TRUE(pair.ok()) << pair.status();
  auto pem = pair->ToPem();
  ASSERT_TRUE(pem.ok()) << pem.status();
  EXPECT_NE(pem->find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  auto loaded = P256KeyPair::Load(*pem + "\n", "key");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->public_key(), pair->public_key());
}

TEST(KeysTest, LoadsSec1PemAndRejectsOtherCurves) {
  // SEC 1 encoding of the RFC 8291 user agent key (made with python3-cryptography).
  constexpr char kSec1[] =
      "-----BEGIN EC PRIVATE KEY-----\n"
      "MHcCAQEEIKtXV6cN1KU+VTprv3H/7+oodOwHprN548SPiVoC3DPeoAoGCCqGSM49\n"
      "AwEHoUQDQgAEJXGyvs3942BVGq8e0PTNNmwRzr5VX4m8t7GGpTM5FzFo7OLr4BhZ\n"
      "e9MEebhuPI+OztV3ylkYfpJGmQ22ggCLDg==\n"
      "-----END EC PRIVATE KEY-----\n";
  auto pair = P256KeyPair::Load(kSec1, "key");
  ASSERT_TRUE(pair.ok()) << pair.status();
  EXPECT_EQ(pair->PublicKeyBase64Url(), kUaPublic);

  // A secp384r1 key must be refused, not silently misused.
  constexpr char kP384[] =
      "-----BEGIN EC PRIVATE KEY-----\n"
      "MIGkAgEBBDCdI0m2+bD57VTuL5+v9V8qFubgHLf6oddBHVx15eNEWKVE7vePcbNS\n"
      "4QGCcdESbdagBwYFK4EEACKhZANiAATsROZVcW2HDwBz/AiEbD6hBwisg+B33pAq\n"
      "JknL+yqvHGpWCNu5Kv0FXfxhgXYHWvsmupE6pqRDTA9hVVbyYYRCrWfzzVMElke/\n"
      "gp8rzinFcL0K+gvW1KPyTeVWoHYiHkQ=\n"
      "-----END EC PRIVATE KEY-----\n";
  auto other = P256KeyPair::Load(kP384, "vapid.private_key");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(Message(other.status()).rfind("vapid.private_key: ", 0), 0u) << other.status();
}

TEST(KeysTest, GeneratedKeysAreValidAndDistinct) {
  auto a = P256KeyPair::Generate();
  auto b = P256KeyPair::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(ValidateP256PublicKey(a->public_key(), "a").ok());
  EXPECT_NE(a->public_key(), b->public_key());
  auto auth1 = GenerateAuthSecret();
  auto auth2 = GenerateAuthSecret();
  ASSERT_TRUE(auth1.ok() && auth2.ok());
  EXPECT_NE(*auth1, *auth2);
}

TEST(KeysTest, MovedFromKeyIsWiped) {
  auto pair = P256KeyPair::FromBase64Url(kUaPrivate, "key");
  ASSERT_TRUE(pair.ok());
  P256KeyPair moved = std::move(*pair);
  EXPECT_EQ(moved.PublicKeyBase64Url(), kUaPublic);
  const auto& old_private = pair->private_key();  // NOLINT(bugprone-use-after-move): checks wipe
  for (uint8_t b : old_private) {
    EXPECT_EQ(b, 0);
  }
}

}  // namespace
}  // namespace webpush::crypto
