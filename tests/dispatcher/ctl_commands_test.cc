#include "dispatcher/ctl/ctl_commands.h"

#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "crypto/base64url.h"
#include "crypto/ece.h"
#include "crypto/keys.h"
#include "crypto/vapid.h"
#include "gtest/gtest.h"

namespace webpush::dispatcher::ctl {
namespace {

std::string Message(const absl::Status& s) { return std::string(s.message()); }

// ValueAfter returns the text after `prefix` up to the end of its line.
std::string ValueAfter(const std::string& text, const std::string& prefix) {
  const size_t at = text.find(prefix);
  EXPECT_NE(at, std::string::npos) << prefix << " in " << text;
  const size_t begin = at + prefix.size();
  return text.substr(begin, text.find_first_of("\"\n", begin) - begin);
}

// JwtOf returns the JWT of a `vapid t=<JWT>, k=<key>` line.
std::string JwtOf(const std::string& header) { return header.substr(8, header.find(", k=") - 8); }

struct Subscription {
  crypto::P256KeyPair key;
  std::string p256dh;
  std::string auth;
};

Subscription NewSubscription() {
  auto key = crypto::P256KeyPair::Generate();
  auto auth = crypto::GenerateAuthSecret();
  EXPECT_TRUE(key.ok() && auth.ok());
  std::string p256dh = key->PublicKeyBase64Url();
  return {std::move(*key), std::move(p256dh), crypto::Base64UrlEncode(*auth)};
}

// GCC 12 warns (-Wmissing-field-initializers) on designated initialisers that leave members to
// their defaults, so options are built field by field.
EncryptOptions EncryptOpts(std::string p256dh, std::string auth) {
  EncryptOptions o;
  o.p256dh = std::move(p256dh);
  o.auth = std::move(auth);
  return o;
}
DecryptOptions DecryptOpts(std::string private_key, std::string auth) {
  DecryptOptions o;
  o.private_key = std::move(private_key);
  o.auth = std::move(auth);
  return o;
}
TokenOptions TokenOpts(std::optional<std::string> private_key, std::string audience,
                       std::string subject) {
  TokenOptions o;
  o.private_key = std::move(private_key);
  o.audience = std::move(audience);
  o.subject = std::move(subject);
  return o;
}
KeygenOptions KeygenOpts(bool pem, bool json) {
  KeygenOptions o;
  o.pem = pem;
  o.json = json;
  return o;
}

TEST(CtlCommandsTest, EncryptThenDecryptRoundTripsThroughStreams) {
  Subscription sub = NewSubscription();
  EncryptOptions enc = EncryptOpts(sub.p256dh, sub.auth);
  enc.payload = "hello, browser";
  std::istringstream no_input;
  std::ostringstream body;
  ASSERT_TRUE(Encrypt(enc, no_input, body).ok());
  EXPECT_EQ(body.str().size(), crypto::EncryptedSize(14));

  DecryptOptions dec = DecryptOpts(sub.key.PrivateKeyBase64Url(), sub.auth);
  std::istringstream body_in(body.str());
  std::ostringstream plaintext;
  absl::Status s = Decrypt(dec, body_in, plaintext);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(plaintext.str(), "hello, browser");
}

TEST(CtlCommandsTest, EncryptReadsThePayloadFromStdin) {
  Subscription sub = NewSubscription();
  EncryptOptions enc = EncryptOpts(sub.p256dh, sub.auth);
  enc.payload_file = "-";
  enc.padding = 10;
  std::istringstream payload(std::string("\0binary\xff", 8));
  std::ostringstream body;
  ASSERT_TRUE(Encrypt(enc, payload, body).ok());
  EXPECT_EQ(body.str().size(), crypto::EncryptedSize(8, 10));
}

TEST(CtlCommandsTest, EncryptErrorsNameTheFlag) {
  Subscription sub = NewSubscription();
  std::istringstream in;
  std::ostringstream out;
  EncryptOptions both = EncryptOpts(sub.p256dh, sub.auth);
  both.payload = "x";
  both.payload_file = "f";
  EXPECT_EQ(Message(Encrypt(both, in, out)), "give exactly one of --payload and --payload-file");
  EncryptOptions bad_key = EncryptOpts("BAAA", sub.auth);
  bad_key.payload = "x";
  EXPECT_EQ(Message(Encrypt(bad_key, in, out)).rfind("p256dh: ", 0), 0u);
  EncryptOptions too_big = EncryptOpts(sub.p256dh, sub.auth);
  too_big.payload = std::string(3994, 'x');
  EXPECT_EQ(Message(Encrypt(too_big, in, out)).rfind("payload: 3994 bytes", 0), 0u);
  EncryptOptions missing = EncryptOpts(sub.p256dh, sub.auth);
  missing.payload_file = "/nonexistent/x";
  EXPECT_EQ(Message(Encrypt(missing, in, out)), "--payload-file: cannot open /nonexistent/x");
  EXPECT_TRUE(out.str().empty());
}

TEST(CtlCommandsTest, DecryptRejectsWrongAuthWithoutOutput) {
  Subscription sub = NewSubscription();
  Subscription other = NewSubscription();
  std::istringstream no_input;
  std::ostringstream body;
  EncryptOptions enc = EncryptOpts(sub.p256dh, sub.auth);
  enc.payload = "x";
  ASSERT_TRUE(Encrypt(enc, no_input, body).ok());
  std::istringstream body_in(body.str());
  std::ostringstream plaintext;
  absl::Status s =
      Decrypt(DecryptOpts(sub.key.PrivateKeyBase64Url(), other.auth), body_in, plaintext);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(plaintext.str().empty());
}

TEST(CtlCommandsTest, KeygenPrintsALoadableKeyPair) {
  for (const KeygenOptions& options :
       {KeygenOpts(false, false), KeygenOpts(true, false), KeygenOpts(false, true)}) {
    std::ostringstream out;
    ASSERT_TRUE(VapidKeygen(options, out).ok());
    const std::string text = out.str();
    const std::string public_key =
        options.json ? ValueAfter(text, R"("public_key":")") : ValueAfter(text, "public_key: ");
    // PEM: the whole output is a usable key file; otherwise the printed private key is.
    const std::string private_text = options.json  ? ValueAfter(text, R"("private_key":")")
                                     : options.pem ? text
                                                   : ValueAfter(text, "private_key: ");
    auto pair = crypto::P256KeyPair::Load(private_text, "key");
    ASSERT_TRUE(pair.ok()) << pair.status();
    EXPECT_EQ(pair->PublicKeyBase64Url(), public_key);
  }
}

TEST(CtlCommandsTest, SubscriptionKeygenPrintsMatchingKeys) {
  std::ostringstream out;
  ASSERT_TRUE(SubscriptionKeygen(out).ok());
  const std::string json = out.str();
  auto keys = crypto::ParseSubscriptionKeys(ValueAfter(json, R"("p256dh":")"),
                                            ValueAfter(json, R"("auth":")"));
  ASSERT_TRUE(keys.ok()) << keys.status();
  auto pair = crypto::P256KeyPair::Load(ValueAfter(json, R"("private_key":")"), "key");
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair->public_key(), keys->p256dh);
}

TEST(CtlCommandsTest, TokenUsesTheOriginOfAnEndpointAndVerifies) {
  auto key = crypto::P256KeyPair::Generate();
  ASSERT_TRUE(key.ok());
  std::ostringstream out;
  absl::Status s = VapidToken(
      TokenOpts(key->PrivateKeyBase64Url(), "https://fcm.googleapis.com/fcm/send/secret-token",
                "mailto:ops@example.com"),
      out);
  ASSERT_TRUE(s.ok()) << s;
  const std::string header = out.str();
  ASSERT_EQ(header.rfind("vapid t=", 0), 0u);
  const std::string jwt = JwtOf(header);
  EXPECT_EQ(ValueAfter(header, ", k="), key->PublicKeyBase64Url());
  auto claims = crypto::VerifyVapidToken(jwt, key->public_key());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_NE(claims->find(R"("aud":"https://fcm.googleapis.com",)"), std::string::npos) << *claims;
  EXPECT_EQ(claims->find("secret-token"), std::string::npos);
}

TEST(CtlCommandsTest, TokenCountPrintsThatManyDistinctlySignedTokens) {
  auto key = crypto::P256KeyPair::Generate();
  ASSERT_TRUE(key.ok());
  TokenOptions options = TokenOpts(key->PrivateKeyBase64Url(), "https://a.example", "mailto:a@b.c");
  options.count = 5;
  std::ostringstream out;
  absl::Status s = VapidToken(options, out);
  ASSERT_TRUE(s.ok()) << s;
  const std::vector<std::string> lines = absl::StrSplit(out.str(), '\n');
  ASSERT_EQ(lines.size(), 6u) << out.str();  // five lines, each ending in '\n'
  EXPECT_EQ(lines.back(), "");
  std::set<std::string> signatures;
  for (size_t i = 0; i < 5; ++i) {
    ASSERT_EQ(lines[i].rfind("vapid t=", 0), 0u) << lines[i];
    const std::string jwt = JwtOf(lines[i]);
    EXPECT_TRUE(crypto::VerifyVapidToken(jwt, key->public_key()).ok()) << jwt;
    signatures.insert(jwt.substr(jwt.rfind('.') + 1));
  }
  EXPECT_EQ(signatures.size(), 5u) << "each token needs its own ECDSA nonce";
}

TEST(CtlCommandsTest, TokenErrorsNameTheFlag) {
  auto key = crypto::P256KeyPair::Generate();
  ASSERT_TRUE(key.ok());
  std::ostringstream out;
  const std::string b64 = key->PrivateKeyBase64Url();
  auto error = [&out](const TokenOptions& options) { return Message(VapidToken(options, out)); };
  EXPECT_EQ(error(TokenOpts(b64, "https://a.example", "admin")).rfind("--sub: ", 0), 0u);
  EXPECT_EQ(error(TokenOpts(b64, "http://a.example", "mailto:a@b.c")).rfind("--aud: ", 0), 0u);
  for (int64_t exp : {int64_t{0}, int64_t{86401}, INT64_MAX}) {
    TokenOptions options = TokenOpts(b64, "https://a.example", "mailto:a@b.c");
    options.exp_seconds = exp;
    EXPECT_EQ(error(options).rfind("--exp-seconds: ", 0), 0u) << exp;
  }
  for (int64_t count : {int64_t{0}, int64_t{-1}, kMaxTokenCount + 1}) {
    TokenOptions options = TokenOpts(b64, "https://a.example", "mailto:a@b.c");
    options.count = count;
    EXPECT_EQ(error(options), "--count: must be from 1 to 100000") << count;
  }
  EXPECT_EQ(error(TokenOpts(std::nullopt, "https://a.example", "mailto:a@b.c")),
            "give exactly one of --private-key and --key-file");
  EXPECT_EQ(
      error(TokenOpts("AAAA", "https://a.example", "mailto:a@b.c")).rfind("--private-key: ", 0),
      0u);
  EXPECT_TRUE(out.str().empty());
}

}  // namespace
}  // namespace webpush::dispatcher::ctl
