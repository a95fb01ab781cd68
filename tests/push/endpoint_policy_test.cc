#include "dispatcher/push/endpoint_policy.h"

#include <gtest/gtest.h>

#include <string>

namespace webpush::dispatcher::push {
namespace {

TEST(EndpointPolicyTest, AcceptsTheDefaultPushServices) {
  const EndpointPolicy policy{EndpointPolicyOptions()};
  for (const char* url :
       {"https://fcm.googleapis.com/fcm/send/abc:def", "https://fcm.googleapis.com/wp/abc",
        "https://FCM.googleapis.com./wp/abc", "https://fcm.googleapis.com:443/wp/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://web.push.apple.com/QGuQyavX", "https://api.push.apple.com/x",
        "https://jmt17.google.com/fcm/send/x",
        "https://db5p.notify.windows.com/w/?token=BQYAAAB%2b%2fA"}) {
    SCOPED_TRACE(url);
    absl::StatusOr<Endpoint> e = policy.Check(url, "endpoint");
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(e->port, 443);
    EXPECT_EQ(e->origin.find("https://"), 0U);
  }
}

TEST(EndpointPolicyTest, KeepsPathAndQueryByteForByte) {
  const EndpointPolicy policy{EndpointPolicyOptions()};
  absl::StatusOr<Endpoint> e =
      policy.Check("https://DB5.Notify.Windows.com/w/?token=BQYAAAB%2b%2fA%3d", "endpoint");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "db5.notify.windows.com");
  EXPECT_EQ(e->path, "/w/?token=BQYAAAB%2b%2fA%3d");
  EXPECT_EQ(e->origin, "https://db5.notify.windows.com");
}

TEST(EndpointPolicyTest, RefusesEverythingElseWithoutEchoingTheUrl) {
  const EndpointPolicy policy{EndpointPolicyOptions()};
  const std::string secret = "SECRETTOKEN";
  for (const std::string& url : {
           "http://fcm.googleapis.com/wp/" + secret,                // not https
           "https://user:pw@fcm.googleapis.com/wp/" + secret,       // user info
           "https://fcm.googleapis.com:8443/wp/" + secret,          // port
           "https://127.0.0.1/wp/" + secret,                        // IP literal
           "https://[::1]/wp/" + secret,                            // IPv6 literal
           "https://2130706433/wp/" + secret,                       // integer IP
           "https://0x7f.1/wp/" + secret,                           // hex IP
           "https://evil.example/wp/" + secret,                     // not listed
           "https://fcm.googleapis.com.evil.example/wp/" + secret,  // suffix trick
           "https://notify.windows.com.evil.example/" + secret,     // suffix trick
           "https://evilnotify.windows.com/" + secret,              // not a label boundary
           "https://notify.windows.com/" + secret,                  // the bare suffix
           "https://android.googleapis.com/gcm/send/" + secret,     // legacy GCM
           "https://fcm.googleapis.com/wp/" + secret + "#frag",     // fragment
           "https://fcm.googleapis.com/wp/a b" + secret,            // space
           "https://fcm.goo_gleapis.com/wp/" + secret,              // bad host
           "https:///wp/" + secret,                                 // empty host
           "https://fcm.googleapis.com:0/" + secret,                // port 0
           "https://fcm.googleapis.com:99999/" + secret,            // port range
       }) {
    SCOPED_TRACE(url);
    absl::StatusOr<Endpoint> e = policy.Check(url, "endpoint");
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(e.status().message());
    EXPECT_EQ(message.rfind("endpoint: ", 0), 0U) << message;
    EXPECT_EQ(message.find(secret), std::string::npos) << message;
  }
}

TEST(EndpointPolicyTest, ConfiguredHostsAndPorts) {
  EndpointPolicyOptions options;
  absl::StatusOr<HostRule> rule = ParseHostRule("push.test.example:8443", "allow_host");
  ASSERT_TRUE(rule.ok()) << rule.status();
  options.rules.push_back(*rule);
  absl::StatusOr<HostRule> suffix = ParseHostRule("*.push.example.org", "allow_host");
  ASSERT_TRUE(suffix.ok()) << suffix.status();
  options.rules.push_back(*suffix);
  const EndpointPolicy policy(options);
  absl::StatusOr<Endpoint> e = policy.Check("https://push.test.example:8443/push/t", "endpoint");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->origin, "https://push.test.example:8443");
  EXPECT_FALSE(policy.Check("https://push.test.example/push/t", "endpoint").ok());
  EXPECT_TRUE(policy.Check("https://a.push.example.org/x", "endpoint").ok());
  EXPECT_FALSE(policy.Check("https://push.example.org/x", "endpoint").ok());
  EXPECT_FALSE(ParseHostRule("bad host", "allow_host").ok());
  EXPECT_FALSE(ParseHostRule("host:70000", "allow_host").ok());
}

TEST(EndpointPolicyTest, PrivateAddressesAreRefusedUnlessConfigured) {
  EndpointPolicyOptions options;
  options.private_address_hosts.push_back("Push.Test.Example");
  const EndpointPolicy policy(options);
  for (const char* address :
       {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
        "100.64.0.1", "0.0.0.0", "::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1",
        "::ffff:10.0.0.1", "64:ff9b::a00:1", "224.0.0.1", "not an address"}) {
    SCOPED_TRACE(address);
    EXPECT_FALSE(IsPublicAddress(address));
    const absl::Status status = policy.CheckAddress("fcm.googleapis.com", address);
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_TRUE(policy.CheckAddress("push.test.example", address).ok());
  }
  for (const char* address :
       {"142.250.185.74", "172.32.0.1", "2a00:1450:4001:80b::200a", "::ffff:142.250.185.74"}) {
    SCOPED_TRACE(address);
    EXPECT_TRUE(IsPublicAddress(address));
    EXPECT_TRUE(policy.CheckAddress("fcm.googleapis.com", address).ok());
  }
}

}  // namespace
}  // namespace webpush::dispatcher::push

namespace webpush::dispatcher::push {
namespace {

TEST(RedactedEndpointTest, ShowsOriginAndHashOnly) {
  const std::string a = RedactedEndpoint("https://fcm.googleapis.com/wp/SECRET1");
  const std::string b = RedactedEndpoint("https://fcm.googleapis.com/wp/SECRET2");
  EXPECT_EQ(a.rfind("https://fcm.googleapis.com #", 0), 0U) << a;
  EXPECT_EQ(a.size(), std::string("https://fcm.googleapis.com #").size() + 8);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find("SECRET"), std::string::npos);
  EXPECT_EQ(RedactedEndpoint("garbage SECRET").find("SECRET"), std::string::npos);
}

}  // namespace
}  // namespace webpush::dispatcher::push
