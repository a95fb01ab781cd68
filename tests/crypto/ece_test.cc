#include "crypto/ece.h"

#include <random>
#include <string>
#include <vector>

#include "crypto/base64url.h"
#include "gtest/gtest.h"
#include "tests/crypto/test_recipients.h"
#include "tests/support/vector_file.h"

namespace webpush::crypto {
namespace {

using ::webpush::testing::ReadVectorFile;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST(EceTest, ReproducesRfc8291ExampleByteForByte) {
  auto cases = ReadVectorFile("rfc8291/aes128gcm.txt");
  ASSERT_EQ(cases.size(), 1u);
  auto& c = cases[0];
  auto as_key = P256KeyPair::FromPrivateKey(c.Bytes("AS_PRIVATE"), "as");
  ASSERT_TRUE(as_key.ok()) << as_key.status();
  const std::vector<uint8_t> as_public = c.Bytes("AS_PUBLIC");
  EXPECT_TRUE(std::equal(as_public.begin(), as_public.end(), as_key->public_key().begin()));

  SubscriptionKeys to;
  const std::vector<uint8_t> ua_public = c.Bytes("UA_PUBLIC");
  const std::vector<uint8_t> auth = c.Bytes("AUTH");
  const std::vector<uint8_t> salt_bytes = c.Bytes("SALT");
  ASSERT_EQ(ua_public.size(), to.p256dh.size());
  ASSERT_EQ(auth.size(), to.auth.size());
  ASSERT_EQ(salt_bytes.size(), kSaltSize);
  std::copy(ua_public.begin(), ua_public.end(), to.p256dh.begin());
  std::copy(auth.begin(), auth.end(), to.auth.begin());
  Salt salt;
  std::copy(salt_bytes.begin(), salt_bytes.end(), salt.begin());

  const std::vector<uint8_t> plaintext = c.Bytes("PLAINTEXT");
  auto body = EncryptWithKeyAndSalt(to, plaintext, *as_key, salt);
  ASSERT_TRUE(body.ok()) << body.status();
  const std::vector<uint8_t> expected = c.Bytes("BODY");
  EXPECT_EQ(*body, expected);
  EXPECT_EQ(body->size(), 144u);  // not the 145 the RFC's Content-Length says

  // The intermediate values are checked in content_coding_test.cc.
  (void)c.Bytes("ECDH_SECRET");
  (void)c.Bytes("IKM");
  (void)c.Bytes("CEK");
  (void)c.Bytes("NONCE");
  auto ua_key = P256KeyPair::FromPrivateKey(c.Bytes("UA_PRIVATE"), "ua");
  ASSERT_TRUE(ua_key.ok());
  auto decrypted = Decrypt(expected, *ua_key, to.auth);
  ASSERT_TRUE(decrypted.ok()) << decrypted.status();
  EXPECT_EQ(*decrypted, plaintext);
  EXPECT_TRUE(c.CheckAllUsed());
}

TEST(EceTest, RoundTripsRandomKeysAndEverySizeClass) {
  std::mt19937 rng(2026);
  std::vector<size_t> sizes = {0,  1,   2,   15,  16,   17,   31,   32,   33,   63,  64,
                               65, 100, 255, 256, 1000, 1024, 2048, 2900, 3992, 3993};
  for (int i = 0; i < 40; ++i) {
    sizes.push_back(rng() % (kMaxPlaintextSize + 1));
  }
  for (size_t size : sizes) {
    Recipient r = NewRecipient();
    const std::vector<uint8_t> plaintext = RandomBytes(rng, size);
    auto body = Encrypt(r.subscription, plaintext);
    ASSERT_TRUE(body.ok()) << size << ": " << body.status();
    ASSERT_EQ(body->size(), EncryptedSize(size));
    ASSERT_LE(body->size(), kMaxBodySize);
    auto decrypted = Decrypt(*body, r.key, r.subscription.auth);
    ASSERT_TRUE(decrypted.ok()) << size << ": " << decrypted.status();
    EXPECT_EQ(*decrypted, plaintext) << size;
  }
}

TEST(EceTest, PaddingIsInsideTheRecordAndStripped) {
  std::mt19937 rng(1);
  Recipient r = NewRecipient();
  for (size_t padding : {size_t{1}, size_t{100}, size_t{3993 - 10}}) {
    const std::vector<uint8_t> plaintext = RandomBytes(rng, 10);
    auto body = Encrypt(r.subscription, plaintext, padding);
    ASSERT_TRUE(body.ok()) << body.status();
    EXPECT_EQ(body->size(), EncryptedSize(10, padding));
    auto decrypted = Decrypt(*body, r.key, r.subscription.auth);
    ASSERT_TRUE(decrypted.ok()) << decrypted.status();
    EXPECT_EQ(*decrypted, plaintext);
  }
}

TEST(EceTest, WritesTheRfc8291HeaderLayout) {
  Recipient r = NewRecipient();
  const std::vector<uint8_t> plaintext(41, 'x');
  auto body = Encrypt(r.subscription, plaintext);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ((*body)[16], 0x00);  // rs = 4096, big-endian
  EXPECT_EQ((*body)[17], 0x00);
  EXPECT_EQ((*body)[18], 0x10);
  EXPECT_EQ((*body)[19], 0x00);
  EXPECT_EQ((*body)[20], 65);  // idlen
  const std::span<const uint8_t> keyid(body->data() + 21, 65);
  EXPECT_TRUE(ValidateP256PublicKey(keyid, "keyid").ok());
}

TEST(EceTest, UsesAFreshSaltAndEphemeralKeyForEveryMessage) {
  Recipient r = NewRecipient();
  const std::vector<uint8_t> plaintext(64, 'a');
  auto a = Encrypt(r.subscription, plaintext);
  auto b = Encrypt(r.subscription, plaintext);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(std::equal(a->begin(), a->begin() + 16, b->begin()));            // salt
  EXPECT_FALSE(std::equal(a->begin() + 21, a->begin() + 86, b->begin() + 21));  // keyid
}

TEST(EceTest, RefusesPlaintextOverTheLimit) {
  Recipient r = NewRecipient();
  const std::vector<uint8_t> too_big(kMaxPlaintextSize + 1, 'x');
  auto body = Encrypt(r.subscription, too_big);
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(body.status()).rfind("payload: 3994 bytes exceeds the 3993-byte limit", 0), 0u)
      << body.status();

  const std::vector<uint8_t> fits(3000, 'x');
  auto padded = Encrypt(r.subscription, fits, 994);
  ASSERT_FALSE(padded.ok());
  EXPECT_EQ(Message(padded.status()).rfind("padding: ", 0), 0u) << padded.status();
  EXPECT_TRUE(Encrypt(r.subscription, fits, 993).ok());
}

TEST(EceTest, EncryptIntoChecksTheBufferSize) {
  Recipient r = NewRecipient();
  const std::vector<uint8_t> plaintext(100, 'x');
  std::vector<uint8_t> small(EncryptedSize(100) - 1);
  auto written = EncryptInto(small, r.subscription, plaintext);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(Message(written.status()).rfind("out: ", 0), 0u);
  std::vector<uint8_t> exact(EncryptedSize(100));
  written = EncryptInto(exact, r.subscription, plaintext);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, exact.size());
}

TEST(EceTest, RejectsEveryTamperedByteOfTheRecord) {
  Recipient r = NewRecipient();
  const std::vector<uint8_t> plaintext(20, 'p');
  auto body = Encrypt(r.subscription, plaintext);
  ASSERT_TRUE(body.ok());
  // Salt (0..15) and every ciphertext/tag byte (86..) must fail authentication.
  std::vector<size_t> positions;
  for (size_t i = 0; i < kSaltSize; ++i) {
    positions.push_back(i);
  }
  for (size_t i = kHeaderSize; i < body->size(); ++i) {
    positions.push_back(i);
  }
  for (size_t pos : positions) {
    std::vector<uint8_t> tampered = *body;
    tampered[pos] ^= 0x01;
    auto out = Decrypt(tampered, r.key, r.subscription.auth);
    ASSERT_FALSE(out.ok()) << pos;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kDataLoss) << pos << ": " << out.status();
  }
}

TEST(EceTest, RejectsTamperedKeyId) {
  Recipient r = NewRecipient();
  auto body = Encrypt(r.subscription, std::vector<uint8_t>(20, 'p'));
  ASSERT_TRUE(body.ok());
  std::vector<uint8_t> tampered = *body;
  tampered[kHeaderSize - 1] ^= 0x01;  // last byte of y: off the curve
  auto out = Decrypt(tampered, r.key, r.subscription.auth);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(Message(out.status()), "body.keyid: not a point on P-256");
}

TEST(EceTest, RejectsWrongAuthSecretAndWrongKey) {
  Recipient r = NewRecipient();
  Recipient other = NewRecipient();
  auto body = Encrypt(r.subscription, std::vector<uint8_t>(50, 'q'));
  ASSERT_TRUE(body.ok());
  auto wrong_auth = Decrypt(*body, r.key, other.subscription.auth);
  EXPECT_EQ(wrong_auth.status().code(), absl::StatusCode::kDataLoss);
  auto wrong_key = Decrypt(*body, other.key, r.subscription.auth);
  EXPECT_EQ(wrong_key.status().code(), absl::StatusCode::kDataLoss);
}

TEST(EceTest, RejectsTruncatedBodiesAtEveryLength) {
  Recipient r = NewRecipient();
  auto body = Encrypt(r.subscription, std::vector<uint8_t>(30, 't'));
  ASSERT_TRUE(body.ok());
  for (size_t len = 0; len < body->size(); ++len) {
    std::span<const uint8_t> truncated(body->data(), len);
    auto out = Decrypt(truncated, r.key, r.subscription.auth);
    ASSERT_FALSE(out.ok()) << len;
    if (len < kHeaderSize + kTagSize + 1) {
      EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument) << len << out.status();
    } else {
      EXPECT_EQ(out.status().code(), absl::StatusCode::kDataLoss) << len << out.status();
    }
  }
}

TEST(EceTest, RejectsBadHeaders) {
  Recipient r = NewRecipient();
  auto body = Encrypt(r.subscription, std::vector<uint8_t>(30, 'h'));
  ASSERT_TRUE(body.ok());

  std::vector<uint8_t> idlen = *body;
  idlen[20] = 64;
  EXPECT_EQ(Message(Decrypt(idlen, r.key, r.subscription.auth).status()).rfind("body.idlen", 0),
            0u);

  std::vector<uint8_t> small_rs = *body;
  small_rs[18] = 0;
  small_rs[19] = 17;  // below the RFC 8188 minimum of 18
  EXPECT_EQ(Message(Decrypt(small_rs, r.key, r.subscription.auth).status()).rfind("body.rs", 0),
            0u);

  std::vector<uint8_t> split = *body;
  split[18] = 0;
  split[19] = 20;  // the 47-byte record would be read as several records
  auto out = Decrypt(split, r.key, r.subscription.auth);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(Message(out.status()).find("more than 1 record"), std::string::npos) << out.status();

  std::vector<uint8_t> compressed = *body;
  compressed[21] = 0x02;
  EXPECT_EQ(
      Message(Decrypt(compressed, r.key, r.subscription.auth).status()).rfind("body.keyid", 0), 0u);
}

TEST(EceTest, RejectsSubscriptionKeyOffTheCurveWhenEncrypting) {
  Recipient r = NewRecipient();
  SubscriptionKeys bad = r.subscription;
  bad.p256dh[64] ^= 1;
  auto body = Encrypt(bad, std::vector<uint8_t>(5, 'x'));
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(Message(body.status()), "p256dh: not a point on P-256");
}

}  // namespace
}  // namespace webpush::crypto
