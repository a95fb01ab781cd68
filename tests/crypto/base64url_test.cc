#include "crypto/base64url.h"

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace webpush::crypto {
namespace {

std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }

TEST(Base64UrlTest, EncodesRfc4648VectorsWithoutPadding) {
  // RFC 4648 §10 vectors, in the URL alphabet and without padding.
  EXPECT_EQ(Base64UrlEncode(Bytes("")), "");
  EXPECT_EQ(Base64UrlEncode(Bytes("f")), "Zg");
  EXPECT_EQ(Base64UrlEncode(Bytes("fo")), "Zm8");
  EXPECT_EQ(Base64UrlEncode(Bytes("foo")), "Zm9v");
  EXPECT_EQ(Base64UrlEncode(Bytes("foob")), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode(Bytes("fooba")), "Zm9vYmE");
  EXPECT_EQ(Base64UrlEncode(Bytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(Base64UrlEncode(std::vector<uint8_t>{0xfb, 0xff, 0xbf}), "-_-_");
}

TEST(Base64UrlTest, DecodesPaddedAndUnpadded) {
  for (const char* in : {"Zm9vYg", "Zm9vYg=="}) {
    auto out = Base64UrlDecode(in, "f");
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, Bytes("foob"));
  }
  for (const char* in : {"Zm9vYmE", "Zm9vYmE="}) {
    auto out = Base64UrlDecode(in, "f");
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(*out, Bytes("fooba"));
  }
}

TEST(Base64UrlTest, AcceptsStandardAlphabet) {
  auto out = Base64UrlDecode("+/+/", "f");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, (std::vector<uint8_t>{0xfb, 0xff, 0xbf}));
}

TEST(Base64UrlTest, RejectsMalformedInputNamingTheField) {
  const struct {
    const char* in;
    const char* why;
  } cases[] = {
      {"Zm9v Yg", "character at offset 4"},
      {"Zm9vY", "impossible length"},
      {"Zm9vYg=", "wrong padding"},
      {"Zm9vYg===", "wrong padding"},
      {"Zm9=vYg", "'=' inside the data"},
      {"Zm9vYh", "non-zero trailing bits"},
      {"-_+/", "mixes"},
      {"Zm9v\nYmE", "character at offset 4"},
      {"Zm9v*YmE", "character at offset 4"},
  };
  for (const auto& c : cases) {
    auto out = Base64UrlDecode(c.in, "targets[3].auth");
    ASSERT_FALSE(out.ok()) << c.in;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(out.status().message());
    EXPECT_EQ(message.rfind("targets[3].auth: ", 0), 0u) << message;
    EXPECT_NE(message.find(c.why), std::string::npos) << c.in << " -> " << message;
  }
}

TEST(Base64UrlTest, RoundTripsRandomData) {
  std::mt19937 rng(7);
  for (size_t len = 0; len < 300; ++len) {
    std::vector<uint8_t> data(len);
    for (auto& b : data) {
      b = static_cast<uint8_t>(rng());
    }
    const std::string encoded = Base64UrlEncode(data);
    EXPECT_EQ(encoded.find('='), std::string::npos);
    auto decoded = Base64UrlDecode(encoded, "x");
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, data);
  }
}

}  // namespace
}  // namespace webpush::crypto
