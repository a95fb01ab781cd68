// Tests of crypto/internal: the RFC 8188 coding with given keying material and the RFC 8291
// intermediate values. tests/crypto is the one place outside crypto/ allowed to include internal
// headers (the CI grep exempts it), as BoringSSL's tests do.
#include "crypto/internal/content_coding.h"

#include <string>
#include <vector>

#include "crypto/internal/p256.h"
#include "crypto/internal/primitives.h"
#include "gtest/gtest.h"
#include "tests/support/vector_file.h"

namespace webpush::crypto::internal {
namespace {

using ::webpush::testing::ReadVectorFile;

template <size_t N>
std::span<const uint8_t, N> Fixed(const std::vector<uint8_t>& v) {
  EXPECT_EQ(v.size(), N);
  return std::span<const uint8_t, N>(v.data(), N);
}

std::vector<uint8_t> Str(const std::string& s) { return {s.begin(), s.end()}; }

TEST(ContentCodingTest, ReproducesRfc8291IntermediateValues) {
  auto cases = ReadVectorFile("rfc8291/aes128gcm.txt");
  ASSERT_EQ(cases.size(), 1u);
  auto& c = cases[0];
  const std::vector<uint8_t> as_private = c.Bytes("AS_PRIVATE");
  const std::vector<uint8_t> ua_private = c.Bytes("UA_PRIVATE");
  const std::vector<uint8_t> ua_public = c.Bytes("UA_PUBLIC");
  const std::vector<uint8_t> as_public = c.Bytes("AS_PUBLIC");

  // ECDH is symmetric: both sides reach the RFC's shared secret.
  std::array<uint8_t, 32> ecdh{};
  ASSERT_TRUE(P256Ecdh(ecdh, Fixed<32>(as_private), Fixed<65>(ua_public), "ua").ok());
  const std::vector<uint8_t> expected_ecdh = c.Bytes("ECDH_SECRET");
  EXPECT_EQ(std::vector<uint8_t>(ecdh.begin(), ecdh.end()), expected_ecdh);
  ASSERT_TRUE(P256Ecdh(ecdh, Fixed<32>(ua_private), Fixed<65>(as_public), "as").ok());
  EXPECT_EQ(std::vector<uint8_t>(ecdh.begin(), ecdh.end()), expected_ecdh);

  std::array<uint8_t, 32> ikm{};
  const std::vector<uint8_t> auth = c.Bytes("AUTH");
  ASSERT_TRUE(
      DeriveWebPushIkm(ikm, ecdh, Fixed<16>(auth), Fixed<65>(ua_public), Fixed<65>(as_public)));
  EXPECT_EQ(std::vector<uint8_t>(ikm.begin(), ikm.end()), c.Bytes("IKM"));

  ContentKeys keys;
  ASSERT_TRUE(DeriveContentKeys(keys, c.Bytes("SALT"), ikm));
  EXPECT_EQ(std::vector<uint8_t>(keys.cek.begin(), keys.cek.end()), c.Bytes("CEK"));
  EXPECT_EQ(std::vector<uint8_t>(keys.nonce.begin(), keys.nonce.end()), c.Bytes("NONCE"));

  (void)c.Bytes("PLAINTEXT");  // the full body is checked in ece_test.cc
  (void)c.Bytes("BODY");
  EXPECT_TRUE(c.CheckAllUsed());
}

TEST(ContentCodingTest, ReproducesAndDecryptsRfc8188Examples) {
  auto cases = ReadVectorFile("rfc8188/examples.txt");
  ASSERT_EQ(cases.size(), 2u);
  for (auto& c : cases) {
    SCOPED_TRACE(c.source());
    const std::string name = c.Text("NAME");
    const std::vector<uint8_t> ikm = c.Bytes("IKM");
    const std::vector<uint8_t> salt = c.Bytes("SALT");
    const uint32_t rs = static_cast<uint32_t>(std::stoul(c.Text("RS")));
    const std::vector<uint8_t> keyid = c.Bytes("KEYID");
    const std::vector<uint8_t> plaintext = c.Bytes("PLAINTEXT");
    const std::vector<uint8_t> body = c.Bytes("BODY");

    ContentKeys keys;
    ASSERT_TRUE(DeriveContentKeys(keys, salt, ikm));
    EXPECT_EQ(std::vector<uint8_t>(keys.cek.begin(), keys.cek.end()), c.Bytes("CEK"));
    EXPECT_EQ(std::vector<uint8_t>(keys.nonce.begin(), keys.nonce.end()), c.Bytes("NONCE"));

    auto header = ParseHeader(body);
    ASSERT_TRUE(header.ok()) << header.status();
    EXPECT_EQ(header->rs, rs);
    EXPECT_EQ(std::vector<uint8_t>(header->keyid.begin(), header->keyid.end()), keyid);
    auto opened = OpenRecords(*header, ikm, /*max_records=*/16);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(*opened, plaintext);

    if (name == "rfc8188-3.1") {
      // Single record: our sealing reproduces the RFC body byte for byte.
      std::vector<uint8_t> sealed(21 + keyid.size() + plaintext.size() + 1 + 16);
      ASSERT_TRUE(SealSingleRecord(sealed, ikm, Fixed<16>(salt), rs, keyid, plaintext, 0));
      EXPECT_EQ(sealed, body);
    } else {
      // Two records: Web Push decoding (one record at most) must refuse it.
      auto single = OpenRecords(*header, ikm, /*max_records=*/1);
      EXPECT_FALSE(single.ok());
    }
    EXPECT_TRUE(c.CheckAllUsed());
  }
}

// SealWithDelimiter builds a single-record body whose record ends in `tail` instead of 0x02.
std::vector<uint8_t> SealWithTail(std::span<const uint8_t> ikm, const std::vector<uint8_t>& salt,
                                  const std::vector<uint8_t>& record_plain) {
  std::vector<uint8_t> body(21 + record_plain.size() + 16, 0);
  std::copy(salt.begin(), salt.end(), body.begin());
  body[18] = 0x10;  // rs 4096
  ContentKeys keys;
  EXPECT_TRUE(DeriveContentKeys(keys, salt, ikm));
  EXPECT_TRUE(
      Aes128GcmSeal(std::span<uint8_t>(body).subspan(21), keys.cek, keys.nonce, record_plain));
  return body;
}

TEST(ContentCodingTest, RejectsWrongOrMissingDelimiter) {
  const std::vector<uint8_t> ikm(16, 7);
  const std::vector<uint8_t> salt(16, 9);
  const struct {
    std::vector<uint8_t> record;
    const char* error;
  } cases[] = {
      {Str("hello\x01"), "has delimiter 1, expected 2"},
      {Str("hello\x03\x00\x00"), "has delimiter 3, expected 2"},
      {std::vector<uint8_t>(5, 0), "has no delimiter"},
      {{}, "truncated"},
  };
  for (const auto& c : cases) {
    const std::vector<uint8_t> body = SealWithTail(ikm, salt, c.record);
    auto header = ParseHeader(body);
    ASSERT_TRUE(header.ok());
    auto opened = OpenRecords(*header, ikm, 1);
    ASSERT_FALSE(opened.ok());
    EXPECT_NE(std::string(opened.status().message()).find(c.error), std::string::npos)
        << opened.status();
  }
  const std::vector<uint8_t> good = SealWithTail(ikm, salt, Str("hello\x02\x00\x00"));
  auto opened = OpenRecords(*ParseHeader(good), ikm, 1);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, Str("hello"));
}

TEST(ContentCodingTest, HmacSha256MatchesRfc4231) {
  // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
  const std::vector<uint8_t> key = Str("Jefe");
  const std::vector<uint8_t> part1 = Str("what do ya ");
  const std::vector<uint8_t> part2 = Str("want for nothing?");
  std::array<uint8_t, 32> mac{};
  ASSERT_TRUE(HmacSha256(mac, key, {part1, part2}));
  EXPECT_EQ(std::vector<uint8_t>(mac.begin(), mac.end()),
            ::webpush::testing::HexBytes(
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
}

}  // namespace
}  // namespace webpush::crypto::internal
