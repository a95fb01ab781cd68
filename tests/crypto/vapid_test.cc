#include "crypto/vapid.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "crypto/base64url.h"
#include "gtest/gtest.h"
#include "tests/support/vector_file.h"

namespace webpush::crypto {
namespace {

using ::webpush::testing::ReadVectorFile;

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// FakeClock is a settable time source for the token cache.
class FakeClock {
 public:
  explicit FakeClock(absl::Time t) : now_(t) {}
  absl::Time Now() const { return now_.load(); }
  void Advance(absl::Duration d) { now_.store(now_.load() + d); }

 private:
  std::atomic<absl::Time> now_;
};

// DecodePart returns the decoded JSON of part `index` (0 header, 1 claims) of a JWT.
std::string DecodePart(const std::string& jwt, int index) {
  size_t begin = 0;
  for (int i = 0; i < index; ++i) {
    begin = jwt.find('.', begin) + 1;
  }
  const size_t end = jwt.find('.', begin);
  auto bytes = Base64UrlDecode(jwt.substr(begin, end - begin), "part");
  EXPECT_TRUE(bytes.ok());
  return {bytes->begin(), bytes->end()};
}

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

P256KeyPair NewKey() {
  auto key = P256KeyPair::Generate();
  EXPECT_TRUE(key.ok());
  return std::move(*key);
}

TEST(VapidTest, VerifiesRfc8292ExampleToken) {
  auto cases = ReadVectorFile("rfc8292/vapid.txt");
  ASSERT_EQ(cases.size(), 1u);
  auto& c = cases[0];
  const std::string jwt = c.Text("JWT");
  const std::vector<uint8_t> k = c.Bytes("K");
  auto claims = VerifyVapidToken(jwt, k);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(*claims, c.Text("CLAIMS"));
  EXPECT_TRUE(c.CheckAllUsed());

  // One flipped character anywhere in the signed part or the signature breaks it.
  for (size_t pos : {size_t{5}, jwt.find('.') + 3, jwt.size() - 5}) {
    std::string tampered = jwt;
    tampered[pos] = tampered[pos] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(VerifyVapidToken(tampered, k).ok()) << pos;
  }
}

TEST(VapidTest, SignsTokenWithExactClaimsAndRawSignature) {
  P256KeyPair key = NewKey();
  const absl::Time exp = kNow + absl::Hours(12);
  auto jwt =
      SignVapidToken(key, {"https://push.example.net", exp, "mailto:push@example.com"}, kNow);
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  EXPECT_EQ(DecodePart(*jwt, 0), R"({"typ":"JWT","alg":"ES256"})");
  EXPECT_EQ(
      DecodePart(*jwt, 1),
      R"({"aud":"https://push.example.net","exp":1800043200,"sub":"mailto:push@example.com"})");
  auto claims = VerifyVapidToken(*jwt, key.public_key());
  ASSERT_TRUE(claims.ok()) << claims.status();

  // Another key must not verify it.
  P256KeyPair other = NewKey();
  auto wrong = VerifyVapidToken(*jwt, other.public_key());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(VapidTest, SignatureIsAlways64Bytes) {
  // r or s has a leading zero byte about once in 128 signatures; 400 signatures make a
  // fixed-width bug show up with near certainty.
  P256KeyPair key = NewKey();
  for (int i = 0; i < 400; ++i) {
    auto jwt =
        SignVapidToken(key, {"https://a.example", kNow + absl::Hours(1), "mailto:a@b.c"}, kNow);
    ASSERT_TRUE(jwt.ok());
    const std::string sig = jwt->substr(jwt->rfind('.') + 1);
    ASSERT_EQ(sig.size(), 86u) << *jwt;  // 64 bytes in unpadded base64url
    ASSERT_TRUE(VerifyVapidToken(*jwt, key.public_key()).ok());
  }
}

TEST(VapidTest, EnforcesExpiryBounds) {
  P256KeyPair key = NewKey();
  const std::string aud = "https://fcm.googleapis.com";
  EXPECT_TRUE(SignVapidToken(key, {aud, kNow + absl::Hours(24), "mailto:a@b.c"}, kNow).ok());
  auto too_far =
      SignVapidToken(key, {aud, kNow + absl::Hours(24) + absl::Seconds(1), "mailto:a@b.c"}, kNow);
  ASSERT_FALSE(too_far.ok());
  EXPECT_EQ(Message(too_far.status()).rfind("exp: ", 0), 0u);
  auto past = SignVapidToken(key, {aud, kNow, "mailto:a@b.c"}, kNow);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(Message(past.status()), "exp: is not in the future");
}

TEST(VapidTest, RequiresAnOriginAsAudience) {
  P256KeyPair key = NewKey();
  for (const char* aud : {"https://fcm.googleapis.com/fcm/send/x", "https://FCM.googleapis.com",
                          "https://fcm.googleapis.com:443", "http://fcm.googleapis.com"}) {
    auto jwt = SignVapidToken(key, {aud, kNow + absl::Hours(1), "mailto:a@b.c"}, kNow);
    ASSERT_FALSE(jwt.ok()) << aud;
    EXPECT_EQ(Message(jwt.status()).rfind("aud: ", 0), 0u) << jwt.status();
  }
}

TEST(VapidTest, DerivesAudienceFromEndpoints) {
  const struct {
    const char* endpoint;
    const char* origin;
  } ok_cases[] = {
      {"https://fcm.googleapis.com/fcm/send/abc:def", "https://fcm.googleapis.com"},
      {"https://updates.push.services.mozilla.com/wpush/v2/gAAA",
       "https://updates.push.services.mozilla.com"},
      {"https://web.push.apple.com/QGuQyavXutnMH", "https://web.push.apple.com"},
      {"https://wns2-par02p.notify.windows.com/w/?token=BQYAAA%3d",
       "https://wns2-par02p.notify.windows.com"},
      {"HTTPS://Push.Example.NET:443/x", "https://push.example.net"},
      {"https://push.example.net:8443/x?y#z", "https://push.example.net:8443"},
      {"https://[::1]:8443/p", "https://[::1]:8443"},
      {"https://push.example.net", "https://push.example.net"},
  };
  for (const auto& c : ok_cases) {
    auto origin = AudienceFromEndpoint(c.endpoint, "endpoint");
    ASSERT_TRUE(origin.ok()) << c.endpoint << ": " << origin.status();
    EXPECT_EQ(*origin, c.origin);
  }
  const char* bad_cases[] = {"http://push.example.net/x",
                             "https:///x",
                             "https://user@push.example.net/",
                             "https://push.example.net:0/",
                             "https://push.example.net:99999/",
                             "https://push.example.net:12a/",
                             "https://push example.net/",
                             "ftp://x",
                             "https://[::1/x"};
  for (const char* endpoint : bad_cases) {
    auto origin = AudienceFromEndpoint(endpoint, "targets[2].endpoint");
    ASSERT_FALSE(origin.ok()) << endpoint;
    const std::string message = Message(origin.status());
    EXPECT_EQ(message.rfind("targets[2].endpoint: ", 0), 0u) << message;
    // A capability URL must never be echoed back in an error.
    EXPECT_EQ(message.find(endpoint), std::string::npos) << message;
  }
}

TEST(VapidTest, ValidatesSubject) {
  for (const char* sub : {"mailto:push@example.com", "MAILTO:a@b", "https://example.com/contact"}) {
    EXPECT_TRUE(ValidateSubject(sub, "sub").ok()) << sub;
  }
  for (const char* sub :
       {"", "push@example.com", "mailto:", "mailto:nobody", "mailto:@x", "mailto:a@", "https://",
        "https:///x", "http://example.com", "mailto:a b@c.d", "mailto:a@b\n"}) {
    absl::Status s = ValidateSubject(sub, "tenants[0].vapid.subject");
    ASSERT_FALSE(s.ok()) << sub;
    EXPECT_EQ(Message(s).rfind("tenants[0].vapid.subject: ", 0), 0u);
  }
}

TEST(VapidTest, FormatsAuthorizationHeader) {
  P256KeyPair key = NewKey();
  EXPECT_EQ(VapidAuthorizationValue("a.b.c", key.public_key()),
            "vapid t=a.b.c, k=" + key.PublicKeyBase64Url());
}

TEST(VapidTokenCacheTest, ReusesOneTokenPerAudience) {
  FakeClock clock(kNow);
  VapidTokenCache cache({}, [&clock] { return clock.Now(); });
  P256KeyPair key = NewKey();
  auto first = cache.Authorization("k1", key, "https://fcm.googleapis.com", "mailto:a@b.c");
  ASSERT_TRUE(first.ok()) << first.status();
  for (int i = 0; i < 10; ++i) {
    clock.Advance(absl::Minutes(30));
    auto again = cache.Authorization("k1", key, "https://fcm.googleapis.com", "mailto:a@b.c");
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *first);
  }
  EXPECT_EQ(cache.stats().signs, 1u);
  EXPECT_EQ(cache.stats().hits, 10u);

  // A token is per audience.
  auto other = cache.Authorization("k1", key, "https://web.push.apple.com", "mailto:a@b.c");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *first);
  EXPECT_EQ(cache.stats().signs, 2u);
}

TEST(VapidTokenCacheTest, ResignsBeforeExpiry) {
  FakeClock clock(kNow);
  VapidTokenCache cache({.lifetime = absl::Hours(12), .refresh_margin = absl::Hours(1)},
                        [&clock] { return clock.Now(); });
  P256KeyPair key = NewKey();
  const std::string aud = "https://fcm.googleapis.com";
  auto first = cache.Authorization("k1", key, aud, "mailto:a@b.c");
  ASSERT_TRUE(first.ok());
  clock.Advance(absl::Hours(11) - absl::Seconds(1));  // 1 h + 1 s left: still reused
  EXPECT_EQ(*cache.Authorization("k1", key, aud, "mailto:a@b.c"), *first);
  clock.Advance(absl::Seconds(1));  // exactly 1 h left: re-signed
  auto second = cache.Authorization("k1", key, aud, "mailto:a@b.c");
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*second, *first);
  EXPECT_EQ(cache.stats().signs, 2u);

  // The new token expires 12 h after the refresh, and verifies.
  const std::string jwt = second->substr(8, second->find(',') - 8);
  EXPECT_NE(DecodePart(jwt, 1).find(
                "\"exp\":" + std::to_string(absl::ToUnixSeconds(clock.Now() + absl::Hours(12)))),
            std::string::npos);
  EXPECT_TRUE(VerifyVapidToken(jwt, key.public_key()).ok());
}

TEST(VapidTokenCacheTest, NeverServesATokenOfAnotherKey) {
  FakeClock clock(kNow);
  VapidTokenCache cache({}, [&clock] { return clock.Now(); });
  P256KeyPair old_key = NewKey();
  P256KeyPair new_key = NewKey();
  auto a = cache.Authorization("tenant-a", old_key, "https://fcm.googleapis.com", "mailto:a@b.c");
  auto b = cache.Authorization("tenant-a", new_key, "https://fcm.googleapis.com", "mailto:a@b.c");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_NE(b->find("k=" + new_key.PublicKeyBase64Url()), std::string::npos);
}

TEST(VapidTokenCacheTest, ReportsSigningErrors) {
  VapidTokenCache cache;
  P256KeyPair key = NewKey();
  auto bad = cache.Authorization("k", key, "https://fcm.googleapis.com", "admin");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(Message(bad.status()).rfind("sub: ", 0), 0u);
  EXPECT_EQ(cache.stats().signs, 0u);
}

TEST(VapidTokenCacheTest, ConcurrentLookupsSignOnce) {
  VapidTokenCache cache;
  P256KeyPair key = NewKey();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::vector<std::string> seen(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        auto value = cache.Authorization("k", key, "https://fcm.googleapis.com", "mailto:a@b.c");
        if (!value.ok() || (!seen[t].empty() && seen[t] != *value)) {
          failures.fetch_add(1);
        }
        seen[t] = value.ok() ? *value : "";
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(cache.stats().signs, 1u);
  EXPECT_EQ(cache.stats().hits, 4u * 500u - 1u);
  for (const auto& s : seen) {
    EXPECT_EQ(s, seen[0]);
  }
}

}  // namespace
}  // namespace webpush::crypto
