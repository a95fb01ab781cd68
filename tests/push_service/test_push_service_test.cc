// Self-tests of TestPushService over real TLS: the nghttp command-line client sends HTTP/2
// requests, a small OpenSSL client HTTP/1.1 ones, an OpenSSL probe checks the certificate, the
// executable is run once, and the Node web-push package (the benchmark's baseline) sends through
// bench/node/fanout_bench.js.
#include "tests/support/push_service/test_push_service.h"

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "crypto/base64url.h"
#include "crypto/ece.h"
#include "crypto/keys.h"
#include "crypto/vapid.h"
#include "gtest/gtest.h"
#include "tests/push_service/child_process.h"
#include "tests/push_service/http1_client.h"
#include "tests/push_service/raw_h2_client.h"

namespace webpush::testing {
namespace {

using namespace std::chrono_literals;

constexpr auto kCommandTimeout = 20s;

// NghttpResult is one nghttp run: exit status, verbose output and the :status of each response
// in arrival order.
struct NghttpResult {
  int exit_status = -1;
  std::string output;
  std::vector<int> statuses;

  [[nodiscard]] bool Contains(const std::string& s) const {
    return output.find(s) != std::string::npos;
  }
  [[nodiscard]] int Count(int status) const {
    return static_cast<int>(std::count(statuses.begin(), statuses.end(), status));
  }
};

// PushSpec describes one request (sent `multiply` times on one connection).
struct PushSpec {
  std::string plaintext = "hello from the test";
  bool with_ttl = true;
  std::string ttl = "60";
  std::string urgency;
  std::string topic;
  std::string authorization;  // empty: a valid VAPID header for the subscription's origin
  bool tamper_body = false;
  size_t extra_body_bytes = 0;  // appended after encryption (to exceed 4096 bytes)
  bool no_body = false;         // a push without payload: no body, no content-* headers
  int multiply = 1;
};

class TestPushServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<crypto::P256KeyPair> key = crypto::P256KeyPair::Generate();
    ASSERT_TRUE(key.ok()) << key.status();
    vapid_key_.emplace(std::move(*key));
  }

  void StartService(TestPushService::Options options = TestPushService::Options()) {
    absl::StatusOr<std::unique_ptr<TestPushService>> service =
        TestPushService::Start(std::move(options));
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = std::move(*service);
  }

  // Authorization signs a VAPID token for `audience` with `key` (default: vapid_key_).
  std::string Authorization(const std::string& audience, const crypto::P256KeyPair* key = nullptr) {
    const crypto::P256KeyPair& signer = key != nullptr ? *key : *vapid_key_;
    crypto::VapidClaims claims;
    claims.audience = audience;
    claims.expiry = absl::Now() + absl::Hours(12);
    claims.subject = "mailto:ops@example.com";
    absl::StatusOr<std::string> jwt = crypto::SignVapidToken(signer, claims, absl::Now());
    EXPECT_TRUE(jwt.ok()) << jwt.status();
    return crypto::VapidAuthorizationValue(jwt.ok() ? *jwt : "", signer.public_key());
  }

  std::string AudienceOf(const TestSubscription& sub) {
    absl::StatusOr<std::string> aud = crypto::AudienceFromEndpoint(sub.endpoint, "endpoint");
    EXPECT_TRUE(aud.ok()) << aud.status();
    return aud.ok() ? *aud : "";
  }

  // Body encrypts `spec.plaintext` for `sub` and applies `tamper_body` and `extra_body_bytes`.
  std::vector<uint8_t> Body(const TestSubscription& sub, const PushSpec& spec) {
    absl::StatusOr<crypto::SubscriptionKeys> keys =
        crypto::ParseSubscriptionKeys(sub.p256dh, sub.auth);
    EXPECT_TRUE(keys.ok()) << keys.status();
    if (!keys.ok()) {
      return {};
    }
    const std::vector<uint8_t> plaintext(spec.plaintext.begin(), spec.plaintext.end());
    absl::StatusOr<std::vector<uint8_t>> body = crypto::Encrypt(*keys, plaintext);
    EXPECT_TRUE(body.ok()) << body.status();
    if (!body.ok()) {
      return {};
    }
    if (spec.tamper_body) {
      body->back() ^= 1;
    }
    body->resize(body->size() + spec.extra_body_bytes, 0x5a);
    return *std::move(body);
  }

  // Send posts `spec` to `sub`'s token with nghttp -v and returns what happened.
  NghttpResult Send(const TestSubscription& sub, const PushSpec& spec) {
    NghttpResult result;
    const std::vector<uint8_t> body = Body(sub, spec);
    if (body.empty()) {
      return result;
    }
    // One file per call: tests may send from several threads.
    const std::string body_file = dir_.File("body" + std::to_string(next_file_++) + ".bin");
    std::ofstream(body_file, std::ios::binary)
        .write(reinterpret_cast<const char*>(body.data()),
               static_cast<std::streamsize>(body.size()));

    // nghttp connects to 127.0.0.1 (the host name does not resolve) and does not verify the
    // certificate; the TLS probe test covers that.
    const std::string url =
        "https://127.0.0.1:" + std::to_string(service_->port()) + "/push/" + sub.token;
    const std::string authorization =
        spec.authorization.empty() ? Authorization(AudienceOf(sub)) : spec.authorization;
    std::vector<std::string> argv = {"nghttp", "-v", "-t",
                                     "10s",    "-H", "authorization: " + authorization};
    if (spec.no_body) {
      argv.insert(argv.end(), {"-H", ":method: POST"});
    } else {
      argv.insert(argv.end(), {"-d", body_file, "-H", "content-encoding: aes128gcm", "-H",
                               "content-type: application/octet-stream"});
    }
    if (spec.with_ttl) {
      argv.insert(argv.end(), {"-H", "ttl: " + spec.ttl});
    }
    if (!spec.urgency.empty()) {
      argv.insert(argv.end(), {"-H", "urgency: " + spec.urgency});
    }
    if (!spec.topic.empty()) {
      argv.insert(argv.end(), {"-H", "topic: " + spec.topic});
    }
    if (spec.multiply > 1) {
      argv.insert(argv.end(), {"-m", std::to_string(spec.multiply)});
    }
    argv.push_back(url);
    CommandResult run = RunCommand(argv, kCommandTimeout);
    result.exit_status = run.exit_status;
    result.output = std::move(run.output);
    static const std::regex kStatus(R"(recv \(stream_id=\d+\) :status: (\d+))");
    for (auto it = std::sregex_iterator(result.output.begin(), result.output.end(), kStatus);
         it != std::sregex_iterator(); ++it) {
      result.statuses.push_back(std::stoi((*it)[1].str()));
    }
    return result;
  }

  // Http1Push is `spec` (`multiply` aside) as one HTTP/1.1 request to `sub`'s token, with the
  // `extra` header fields (e.g. Connection: close).
  std::string Http1Push(const TestSubscription& sub, const PushSpec& spec,
                        const Http1Client::Headers& extra = {}) {
    Http1Client::Headers headers = {{"Authorization", spec.authorization.empty()
                                                          ? Authorization(AudienceOf(sub))
                                                          : spec.authorization}};
    if (spec.with_ttl) {
      headers.emplace_back("TTL", spec.ttl);
    }
    if (!spec.urgency.empty()) {
      headers.emplace_back("Urgency", spec.urgency);
    }
    if (!spec.topic.empty()) {
      headers.emplace_back("Topic", spec.topic);
    }
    std::string body;
    if (!spec.no_body) {
      const std::vector<uint8_t> bytes = Body(sub, spec);
      body.assign(bytes.begin(), bytes.end());
      headers.emplace_back("Content-Encoding", "aes128gcm");
      headers.emplace_back("Content-Type", "application/octet-stream");
    }
    headers.insert(headers.end(), extra.begin(), extra.end());
    return Http1Request("POST", "/push/" + sub.token, headers, body);
  }

  TempDir dir_;
  std::atomic<int> next_file_{0};
  std::optional<crypto::P256KeyPair> vapid_key_;
  std::unique_ptr<TestPushService> service_;
};

bool HasValidationFailure(const Stats& stats, const std::string& reason_prefix) {
  return std::any_of(
      stats.validation_failures.begin(), stats.validation_failures.end(),
      [&](const std::string& r) { return r.compare(0, reason_prefix.size(), reason_prefix) == 0; });
}

TEST_F(TestPushServiceTest, OriginMatchesAudienceOfItsEndpoints) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  EXPECT_EQ(sub.endpoint,
            "https://push.test.example:" + std::to_string(service_->port()) + "/push/" + sub.token);
  EXPECT_EQ(AudienceOf(sub), service_->origin());
  EXPECT_EQ(service_->origin(), "https://push.test.example:" + std::to_string(service_->port()));
  absl::StatusOr<crypto::SubscriptionKeys> keys =
      crypto::ParseSubscriptionKeys(sub.p256dh, sub.auth);
  EXPECT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(sub.ToJson(), "{\"endpoint\":\"" + sub.endpoint + "\",\"keys\":{\"p256dh\":\"" +
                              sub.p256dh + "\",\"auth\":\"" + sub.auth + "\"}}");
}

TEST_F(TestPushServiceTest, AcceptsValidEncryptedRequestAndRecordsPlaintext) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  PushSpec spec;
  spec.urgency = "high";
  spec.topic = "news_1";
  const NghttpResult r = Send(sub, spec);
  ASSERT_EQ(r.statuses, std::vector<int>{201}) << r.output;
  EXPECT_EQ(r.exit_status, 0) << r.output;
  EXPECT_TRUE(r.Contains(":status: 201")) << r.output;
  EXPECT_TRUE(r.Contains("location: /m/")) << r.output;
  EXPECT_TRUE(r.Contains("ttl: 60")) << r.output;

  const std::vector<Delivery> deliveries = service_->Deliveries();
  ASSERT_EQ(deliveries.size(), 1u);
  const Delivery& d = deliveries[0];
  EXPECT_EQ(d.token, sub.token);
  EXPECT_EQ(std::string(d.plaintext.begin(), d.plaintext.end()), spec.plaintext);
  EXPECT_EQ(d.ttl, "60");
  EXPECT_EQ(d.urgency, "high");
  EXPECT_EQ(d.topic, "news_1");
  EXPECT_EQ(d.vapid_subject, "mailto:ops@example.com");
  EXPECT_EQ(d.connection_id, 1u);

  const Stats stats = service_->stats();
  EXPECT_EQ(stats.connections_accepted, 1u);
  EXPECT_EQ(stats.requests, 1u);
  EXPECT_EQ(stats.delivered, 1u);
  EXPECT_EQ(stats.status_counts.at(201), 1u);
  EXPECT_EQ(stats.max_concurrent_streams_seen, 1u);
  EXPECT_TRUE(stats.validation_failures.empty());
}

TEST_F(TestPushServiceTest, MissingTtlIs400) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  PushSpec spec;
  spec.with_ttl = false;
  const NghttpResult r = Send(sub, spec);
  EXPECT_EQ(r.statuses, std::vector<int>{400}) << r.output;
  EXPECT_TRUE(r.Contains("\"errno\":111")) << r.output;
  EXPECT_TRUE(service_->Deliveries().empty());
  EXPECT_TRUE(HasValidationFailure(service_->stats(), "ttl: missing"));
}

TEST_F(TestPushServiceTest, NonNumericTtlIs400) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  PushSpec spec;
  spec.ttl = "-5";
  EXPECT_EQ(Send(sub, spec).statuses, std::vector<int>{400});
  EXPECT_TRUE(HasValidationFailure(service_->stats(), "ttl: not 1*DIGIT"));
}

TEST_F(TestPushServiceTest, BadUrgencyAndLongTopicAre400) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  PushSpec urgency;
  urgency.urgency = "urgent";
  EXPECT_EQ(Send(sub, urgency).statuses, std::vector<int>{400});
  PushSpec topic;
  topic.topic = std::string(33, 'a');
  EXPECT_EQ(Send(sub, topic).statuses, std::vector<int>{400});
  const Stats stats = service_->stats();
  EXPECT_TRUE(HasValidationFailure(stats, "urgency:"));
  EXPECT_TRUE(HasValidationFailure(stats, "topic:"));
}

TEST_F(TestPushServiceTest, VapidSignedByAnotherKeyIs401) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  absl::StatusOr<crypto::P256KeyPair> other = crypto::P256KeyPair::Generate();
  ASSERT_TRUE(other.ok());
  // The token is signed by `other` but claims to be from vapid_key_ (k=).
  const std::string header = Authorization(AudienceOf(sub), &*other);
  const std::string jwt = header.substr(std::string("vapid t=").size(),
                                        header.find(',') - std::string("vapid t=").size());
  PushSpec spec;
  spec.authorization = crypto::VapidAuthorizationValue(jwt, vapid_key_->public_key());
  const NghttpResult r = Send(sub, spec);
  EXPECT_EQ(r.statuses, std::vector<int>{401}) << r.output;
  EXPECT_TRUE(r.Contains("\"errno\":109")) << r.output;
  EXPECT_TRUE(service_->Deliveries().empty());
  EXPECT_TRUE(HasValidationFailure(service_->stats(), "authorization:"));
}

TEST_F(TestPushServiceTest, VapidForAnotherAudienceIs401) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  PushSpec spec;
  // Port 443 dropped: what a client that ignores the port would sign.
  spec.authorization = Authorization("https://push.test.example");
  EXPECT_EQ(Send(sub, spec).statuses, std::vector<int>{401});
  EXPECT_TRUE(HasValidationFailure(service_->stats(), "authorization: aud"));
}

TEST_F(TestPushServiceTest, MissingAuthorizationIs401) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  PushSpec spec;
  spec.authorization = "WebPush not-a-vapid-header";
  EXPECT_EQ(Send(sub, spec).statuses, std::vector<int>{401});
}

TEST_F(TestPushServiceTest, UnexpectedVapidKeyIs403) {
  absl::StatusOr<crypto::P256KeyPair> expected = crypto::P256KeyPair::Generate();
  ASSERT_TRUE(expected.ok());
  TestPushService::Options options;
  options.expected_vapid_public_key = expected->PublicKeyBase64Url();
  StartService(options);
  const TestSubscription sub = service_->AddSubscription();
  EXPECT_EQ(Send(sub, PushSpec()).statuses, std::vector<int>{403});
  PushSpec right_key;
  right_key.authorization = Authorization(AudienceOf(sub), &*expected);
  EXPECT_EQ(Send(sub, right_key).statuses, std::vector<int>{201});
  EXPECT_EQ(service_->Deliveries().size(), 1u);
}

TEST_F(TestPushServiceTest, TamperedBodyIs400) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  PushSpec spec;
  spec.tamper_body = true;
  const NghttpResult r = Send(sub, spec);
  EXPECT_EQ(r.statuses, std::vector<int>{400}) << r.output;
  EXPECT_TRUE(r.Contains("\"errno\":110")) << r.output;
  EXPECT_TRUE(HasValidationFailure(service_->stats(), "body:"));
}

TEST_F(TestPushServiceTest, UnknownTokenIs404) {
  StartService();
  TestSubscription sub = service_->AddSubscription();
  sub.token = "unknownToken123";
  const NghttpResult r = Send(sub, PushSpec());
  EXPECT_EQ(r.statuses, std::vector<int>{404}) << r.output;
  EXPECT_TRUE(r.Contains("\"errno\":102")) << r.output;
  EXPECT_EQ(service_->stats().status_counts.at(404), 1u);
}

TEST_F(TestPushServiceTest, GoneTokenIs410EveryTime) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  FaultPlan plan;
  plan.gone_tokens.insert(sub.token);
  service_->SetFaults(plan);
  PushSpec spec;
  spec.multiply = 3;
  const NghttpResult r = Send(sub, spec);
  EXPECT_EQ(r.statuses, (std::vector<int>{410, 410, 410})) << r.output;
  EXPECT_TRUE(r.Contains("\"errno\":106")) << r.output;
  EXPECT_TRUE(service_->Deliveries().empty());
}

TEST_F(TestPushServiceTest, FailFirstPerTokenAnswers503WithRetryAfterThenAccepts) {
  TestPushService::Options options;
  options.faults.fail_first_per_token = 2;
  options.faults.fail_status = 503;
  options.faults.retry_after = "120";
  StartService(options);
  const TestSubscription sub = service_->AddSubscription();
  const TestSubscription other = service_->AddSubscription();
  PushSpec spec;
  spec.multiply = 3;
  const NghttpResult r = Send(sub, spec);
  EXPECT_EQ(r.Count(503), 2) << r.output;
  EXPECT_EQ(r.Count(201), 1) << r.output;
  EXPECT_TRUE(r.Contains("retry-after: 120")) << r.output;
  EXPECT_EQ(service_->Deliveries().size(), 1u);
  // Counted per token: the other subscription fails its first request too.
  EXPECT_EQ(Send(other, PushSpec()).statuses, std::vector<int>{503});
  const Stats stats = service_->stats();
  EXPECT_EQ(stats.status_counts.at(503), 3u);
  EXPECT_EQ(stats.status_counts.at(201), 1u);
}

TEST_F(TestPushServiceTest, AdvertisesMaxConcurrentStreams) {
  TestPushService::Options options;
  options.faults.max_concurrent_streams = 7;
  StartService(options);
  const TestSubscription sub = service_->AddSubscription();
  const NghttpResult r = Send(sub, PushSpec());
  EXPECT_TRUE(r.Contains("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):7")) << r.output;
  EXPECT_EQ(r.statuses, std::vector<int>{201});
}

TEST_F(TestPushServiceTest, RefusesEveryNthStream) {
  TestPushService::Options options;
  options.faults.refuse_every_n_streams = 2;
  StartService(options);
  const TestSubscription sub = service_->AddSubscription();
  PushSpec spec;
  spec.multiply = 4;
  const NghttpResult r = Send(sub, spec);
  EXPECT_EQ(r.Count(201), 2) << r.output;
  EXPECT_TRUE(r.Contains("REFUSED_STREAM")) << r.output;
  const Stats stats = service_->stats();
  EXPECT_EQ(stats.refused_streams, 2u);
  EXPECT_EQ(stats.requests, 2u);
  EXPECT_EQ(service_->Deliveries().size(), 2u);
}

TEST_F(TestPushServiceTest, GoawayAfterNStreamsFinishesThoseAndRefusesTheRest) {
  TestPushService::Options options;
  options.faults.goaway_every_n_streams = 2;
  StartService(options);
  const TestSubscription sub = service_->AddSubscription();
  PushSpec spec;
  spec.multiply = 5;
  const NghttpResult r = Send(sub, spec);
  // nghttp numbers its requests from 13 (lower ids carry its priority tree): the GOAWAY names
  // the second request's stream.
  EXPECT_TRUE(r.Contains("recv GOAWAY")) << r.output;
  EXPECT_TRUE(r.Contains("last_stream_id=15, error_code=NO_ERROR")) << r.output;
  EXPECT_EQ(r.Count(201), 2) << r.output;
  const Stats stats = service_->stats();
  EXPECT_EQ(stats.goaways_sent, 1u);
  EXPECT_EQ(stats.requests, 2u);
  EXPECT_EQ(service_->Deliveries().size(), 2u);
}

TEST_F(TestPushServiceTest, DropsConnectionBeforeAnswering) {
  TestPushService::Options options;
  options.faults.drop_connection_every_n_streams = 1;
  StartService(options);
  const TestSubscription sub = service_->AddSubscription();
  const NghttpResult r = Send(sub, PushSpec());
  EXPECT_TRUE(r.statuses.empty()) << r.output;
  EXPECT_TRUE(r.Contains("Some requests were not processed")) << r.output;
  EXPECT_EQ(service_->stats().dropped_connections, 1u);
  EXPECT_TRUE(service_->Deliveries().empty());

  FaultPlan plan;
  plan.drop_connection_every_n_streams = 1;
  plan.drop_after_record = true;
  service_->SetFaults(plan);
  const NghttpResult recorded = Send(sub, PushSpec());
  EXPECT_TRUE(recorded.statuses.empty()) << recorded.output;
  EXPECT_EQ(service_->stats().dropped_connections, 2u);
  EXPECT_EQ(service_->Deliveries().size(), 1u);
}

TEST_F(TestPushServiceTest, DelayedResponsesKeepStreamsOpenUpToTheLimit) {
  TestPushService::Options options;
  options.faults.max_concurrent_streams = 2;
  options.faults.response_delay = 150ms;
  StartService(options);
  const TestSubscription sub = service_->AddSubscription();
  PushSpec spec;
  spec.multiply = 5;
  const auto start = std::chrono::steady_clock::now();
  const NghttpResult r = Send(sub, spec);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
  // nghttp obeys our limit once it has our SETTINGS, but may send all five HEADERS before they
  // arrive (a race with the TLS handshake); nghttp2 refuses the extra ones then, and nghttp does
  // not retry them. Either way no stream beyond the limit was ever open.
  const Stats stats = service_->stats();
  EXPECT_EQ(stats.max_concurrent_streams_seen, 2u);
  EXPECT_EQ(stats.concurrency_violations, 0u);
  EXPECT_EQ(static_cast<uint64_t>(r.Count(201)) + stats.streams_refused_before_settings_ack, 5u)
      << r.output;
  EXPECT_GE(r.Count(201), 2) << r.output;
  EXPECT_EQ(service_->Deliveries().size(), static_cast<size_t>(r.Count(201)));
}

TEST_F(TestPushServiceTest, AcceptsPushWithoutPayload) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  PushSpec spec;
  spec.no_body = true;
  const NghttpResult r = Send(sub, spec);
  EXPECT_EQ(r.statuses, std::vector<int>{201}) << r.output;
  const std::vector<Delivery> deliveries = service_->Deliveries();
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_TRUE(deliveries[0].plaintext.empty());
}

TEST_F(TestPushServiceTest, BodyOver4096BytesIs413) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  PushSpec spec;
  spec.extra_body_bytes = 5000;
  const NghttpResult r = Send(sub, spec);
  EXPECT_EQ(r.statuses, std::vector<int>{413}) << r.output;
  EXPECT_TRUE(r.Contains("\"errno\":104")) << r.output;
}

TEST_F(TestPushServiceTest, DecryptEveryNSkipsBodiesButStillChecksVapid) {
  TestPushService::Options options;
  options.decrypt_every_n = 2;
  StartService(options);
  const TestSubscription sub = service_->AddSubscription();
  PushSpec spec;
  spec.multiply = 4;
  EXPECT_EQ(Send(sub, spec).Count(201), 4);
  std::vector<Delivery> deliveries = service_->Deliveries();
  ASSERT_EQ(deliveries.size(), 4u);
  const auto decrypted = std::count_if(deliveries.begin(), deliveries.end(),
                                       [](const Delivery& d) { return d.body_decrypted; });
  EXPECT_EQ(decrypted, 2);
  for (const Delivery& d : deliveries) {
    EXPECT_EQ(std::string(d.plaintext.begin(), d.plaintext.end()),
              d.body_decrypted ? spec.plaintext : "");
  }
  EXPECT_EQ(service_->stats().bodies_not_decrypted, 2u);

  // On a new connection the 1st body is decrypted (and fails), the 2nd is not looked at.
  PushSpec tampered;
  tampered.tamper_body = true;
  tampered.multiply = 2;
  const NghttpResult t = Send(sub, tampered);
  EXPECT_EQ(t.Count(400), 1) << t.output;
  EXPECT_EQ(t.Count(201), 1) << t.output;

  // VAPID is checked on every request, decrypted or not.
  absl::StatusOr<crypto::P256KeyPair> other = crypto::P256KeyPair::Generate();
  ASSERT_TRUE(other.ok());
  const std::string header = Authorization(AudienceOf(sub), &*other);
  const std::string jwt = header.substr(std::string("vapid t=").size(),
                                        header.find(',') - std::string("vapid t=").size());
  PushSpec forged;
  forged.authorization = crypto::VapidAuthorizationValue(jwt, vapid_key_->public_key());
  forged.multiply = 2;
  EXPECT_EQ(Send(sub, forged).Count(401), 2);
}

TEST_F(TestPushServiceTest, RejectsDecryptEveryNBelowOne) {
  TestPushService::Options options;
  options.decrypt_every_n = 0;
  EXPECT_EQ(TestPushService::Start(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TestPushServiceTest, ServesParallelConnectionsOnSeveralThreads) {
  TestPushService::Options options;
  options.threads = 2;
  StartService(options);
  std::vector<TestSubscription> subs;
  subs.reserve(3);
  for (int i = 0; i < 3; ++i) {
    subs.push_back(service_->AddSubscription());
  }
  std::vector<NghttpResult> results(subs.size());
  std::vector<std::thread> senders;
  for (size_t i = 0; i < subs.size(); ++i) {
    senders.emplace_back([&, i] {
      PushSpec spec;
      spec.multiply = 4;
      results[i] = Send(subs[i], spec);
    });
  }
  for (std::thread& t : senders) {
    t.join();
  }
  for (const NghttpResult& r : results) {
    EXPECT_EQ(r.Count(201), 4) << r.output;
  }
  const Stats stats = service_->stats();
  EXPECT_EQ(stats.connections_accepted, 3u);
  EXPECT_EQ(stats.delivered, 12u);
  std::set<uint64_t> connection_ids;
  for (const Delivery& d : service_->Deliveries()) {
    connection_ids.insert(d.connection_id);
  }
  EXPECT_EQ(connection_ids.size(), 3u);
}

// WaitForStats polls until `done(stats)` holds, for at most 5 s.
::testing::AssertionResult WaitForStats(const TestPushService& service,
                                        const std::function<bool(const Stats&)>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done(service.stats())) {
      return ::testing::AssertionSuccess();
    }
    std::this_thread::sleep_for(10ms);
  }
  return ::testing::AssertionFailure() << "stats condition not reached within 5 s";
}

RawH2Client::Headers RequestHeaders(const TestSubscription& sub) {
  return {{":method", "POST"},
          {":scheme", "https"},
          {":authority", "push.test.example"},
          {":path", "/push/" + sub.token},
          {"ttl", "60"}};
}

TEST_F(TestPushServiceTest, CountsStreamsBeyondTheLimitAfterSettingsAckAsViolation) {
  TestPushService::Options options;
  options.faults.max_concurrent_streams = 2;
  options.faults.response_delay = 2s;  // keeps the first two streams open
  StartService(options);
  const TestSubscription sub = service_->AddSubscription();
  RawH2Client client;
  ASSERT_TRUE(client.Connect(service_->port()));
  ASSERT_TRUE(client.SendSettingsAck());
  for (int32_t stream_id : {1, 3, 5}) {
    ASSERT_TRUE(client.SendRequest(stream_id, RequestHeaders(sub)));
  }
  EXPECT_TRUE(WaitForStats(*service_, [](const Stats& s) { return s.concurrency_violations > 0; }));
  const Stats stats = service_->stats();
  EXPECT_EQ(stats.concurrency_violations, 1u);
  EXPECT_EQ(stats.max_concurrent_streams_seen, 3u);
  EXPECT_EQ(stats.streams_refused_before_settings_ack, 0u);
}

TEST_F(TestPushServiceTest, StreamsBeyondTheLimitBeforeSettingsAckAreRefusedNotViolations) {
  TestPushService::Options options;
  options.faults.max_concurrent_streams = 2;
  options.faults.response_delay = 2s;
  StartService(options);
  const TestSubscription sub = service_->AddSubscription();
  RawH2Client client;
  ASSERT_TRUE(client.Connect(service_->port()));
  for (int32_t stream_id : {1, 3, 5}) {
    ASSERT_TRUE(client.SendRequest(stream_id, RequestHeaders(sub)));
  }
  EXPECT_TRUE(WaitForStats(
      *service_, [](const Stats& s) { return s.streams_refused_before_settings_ack > 0; }));
  const Stats stats = service_->stats();
  EXPECT_EQ(stats.streams_refused_before_settings_ack, 1u);
  EXPECT_EQ(stats.concurrency_violations, 0u);
  EXPECT_EQ(stats.max_concurrent_streams_seen, 2u);
}

// TlsProbe connects with certificate verification against the service's CA, as the dispatcher's
// client will, and reports the negotiated ALPN protocol.
struct TlsProbeResult {
  bool handshake_ok = false;
  long verify_result = -1;  // NOLINT(google-runtime-int): OpenSSL's type
  std::string alpn;
  std::string error;
};

TlsProbeResult TlsProbe(uint16_t port, const std::string& ca_file, const std::string& host,
                        bool check_ip) {
  TlsProbeResult result;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    result.error = "cannot load CA file";
    SSL_CTX_free(ctx);
    return result;
  }
  static constexpr unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof(kAlpn));
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  SSL* ssl = SSL_new(ctx);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    SSL_set_fd(ssl, fd);
    if (check_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, host.c_str());
      SSL_set1_host(ssl, host.c_str());
    }
    result.handshake_ok = SSL_connect(ssl) == 1;
    result.verify_result = SSL_get_verify_result(ssl);
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    result.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    if (!result.handshake_ok) {
      char buf[256] = {};
      ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
      result.error = buf;
    }
  }
  ERR_clear_error();
  SSL_free(ssl);
  close(fd);
  SSL_CTX_free(ctx);
  return result;
}

TEST_F(TestPushServiceTest, CertificateVerifiesForHostNameLocalhostAndLoopbackWithAlpnH2) {
  StartService();
  for (const std::string host : {"push.test.example", "localhost"}) {
    const TlsProbeResult r = TlsProbe(service_->port(), service_->ca_file(), host, false);
    EXPECT_TRUE(r.handshake_ok) << host << ": " << r.error;
    EXPECT_EQ(r.verify_result, X509_V_OK) << host;
    EXPECT_EQ(r.alpn, "h2") << host;
  }
  const TlsProbeResult ip = TlsProbe(service_->port(), service_->ca_file(), "127.0.0.1", true);
  EXPECT_TRUE(ip.handshake_ok) << ip.error;
  EXPECT_EQ(ip.verify_result, X509_V_OK);
  const TlsProbeResult wrong =
      TlsProbe(service_->port(), service_->ca_file(), "other.example", false);
  EXPECT_FALSE(wrong.handshake_ok);
}

// Statuses reads `n` responses from `client` and returns their statuses (0 for a missing one).
std::vector<int> Statuses(Http1Client& client, int n) {
  std::vector<int> out;
  for (int i = 0; i < n; ++i) {
    const std::optional<Http1Client::Response> r = client.ReadResponse();
    out.push_back(r ? r->status : 0);
  }
  return out;
}

std::string Plaintext(const Delivery& d) { return {d.plaintext.begin(), d.plaintext.end()}; }

TEST_F(TestPushServiceTest, Http1KeepAliveAnswersValidAndInvalidRequestsOnOneConnection) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  Http1Client client;
  ASSERT_TRUE(client.Connect(service_->port()));
  EXPECT_EQ(client.alpn(), "http/1.1");

  PushSpec valid;
  valid.urgency = "high";
  valid.topic = "news_1";
  ASSERT_TRUE(client.Write(Http1Push(sub, valid)));
  const std::optional<Http1Client::Response> accepted = client.ReadResponse();
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ(accepted->status, 201);
  EXPECT_TRUE(accepted->Header("location").starts_with("/m/")) << accepted->Header("location");
  EXPECT_EQ(accepted->Header("ttl"), "60");
  EXPECT_EQ(accepted->Header("connection"), "");

  PushSpec no_ttl;
  no_ttl.with_ttl = false;
  ASSERT_TRUE(client.Write(Http1Push(sub, no_ttl)));
  const std::optional<Http1Client::Response> rejected = client.ReadResponse();
  ASSERT_TRUE(rejected.has_value());
  EXPECT_EQ(rejected->status, 400);
  EXPECT_NE(rejected->body.find("\"errno\":111"), std::string::npos) << rejected->body;

  PushSpec wrong_audience;
  wrong_audience.authorization = Authorization("https://push.test.example");
  PushSpec tampered;
  tampered.tamper_body = true;
  PushSpec too_large;
  too_large.extra_body_bytes = 5000;
  PushSpec no_payload;
  no_payload.no_body = true;
  TestSubscription unknown = sub;
  unknown.token = "unknownToken123";
  const std::vector<std::pair<std::string, int>> requests = {
      {Http1Push(sub, wrong_audience), 401}, {Http1Push(sub, tampered), 400},
      {Http1Push(unknown, valid), 404},      {Http1Request("GET", "/push/" + sub.token, {}), 405},
      {Http1Push(sub, too_large), 413},      {Http1Push(sub, no_payload), 201},
      {Http1Push(sub, valid), 201},
  };
  for (const auto& [request, status] : requests) {
    ASSERT_TRUE(client.Write(request));
    const std::optional<Http1Client::Response> r = client.ReadResponse();
    ASSERT_TRUE(r.has_value()) << "no answer; expected " << status;
    EXPECT_EQ(r->status, status) << r->body;
  }

  const std::vector<Delivery> deliveries = service_->Deliveries();
  ASSERT_EQ(deliveries.size(), 3u);
  EXPECT_EQ(Plaintext(deliveries[0]), valid.plaintext);
  EXPECT_EQ(deliveries[0].urgency, "high");
  EXPECT_EQ(deliveries[0].topic, "news_1");
  EXPECT_EQ(deliveries[0].vapid_subject, "mailto:ops@example.com");
  EXPECT_TRUE(deliveries[1].plaintext.empty());
  EXPECT_EQ(Plaintext(deliveries[2]), valid.plaintext);
  for (const Delivery& d : deliveries) {
    EXPECT_EQ(d.connection_id, 1u);
  }
  const Stats stats = service_->stats();
  EXPECT_EQ(stats.connections_accepted, 1u);
  EXPECT_EQ(stats.http1_connections, 1u);
  EXPECT_EQ(stats.requests, 9u);
  EXPECT_EQ(stats.http1_requests, 9u);
  EXPECT_EQ(stats.delivered, 3u);
  EXPECT_EQ(stats.status_counts.at(201), 3u);
  EXPECT_EQ(stats.status_counts.at(400), 2u);
  EXPECT_TRUE(HasValidationFailure(stats, "ttl: missing"));
  EXPECT_TRUE(HasValidationFailure(stats, "authorization: aud"));
  EXPECT_TRUE(HasValidationFailure(stats, "body:"));
}

TEST_F(TestPushServiceTest, Http1AnswersPipelinedRequestsInOrderAndHonoursConnectionClose) {
  TestPushService::Options options;
  options.faults.response_delay = 50ms;
  StartService(options);
  const TestSubscription sub = service_->AddSubscription();
  TestSubscription unknown = sub;
  unknown.token = "unknownToken123";
  PushSpec no_ttl;
  no_ttl.with_ttl = false;
  Http1Client client;
  ASSERT_TRUE(client.Connect(service_->port()));
  // Four requests in one write; the last asks to close, and what follows it is never read.
  ASSERT_TRUE(client.Write(
      Http1Push(sub, PushSpec()) + Http1Push(unknown, PushSpec()) + Http1Push(sub, no_ttl) +
      Http1Push(sub, PushSpec(), {{"Connection", "close"}}) + Http1Push(sub, PushSpec())));
  std::vector<Http1Client::Response> responses;
  for (int i = 0; i < 4; ++i) {
    std::optional<Http1Client::Response> r = client.ReadResponse();
    ASSERT_TRUE(r.has_value()) << i;
    responses.push_back(*std::move(r));
  }
  EXPECT_EQ(responses[0].status, 201);
  EXPECT_EQ(responses[1].status, 404);
  EXPECT_EQ(responses[2].status, 400);
  EXPECT_EQ(responses[3].status, 201);
  EXPECT_EQ(responses[3].Header("connection"), "close");
  // Answers in order: message ids grow.
  EXPECT_LT(responses[0].Header("location"), responses[3].Header("location"));
  EXPECT_TRUE(client.ClosedByPeer());
  EXPECT_EQ(service_->Deliveries().size(), 2u);
  EXPECT_EQ(service_->stats().http1_requests, 4u);
}

TEST_F(TestPushServiceTest, Http1SendsContinueForExpect100) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  const std::string request = Http1Push(sub, PushSpec(), {{"Expect", "100-continue"}});
  const size_t head_end = request.find("\r\n\r\n") + 4;
  Http1Client client;
  ASSERT_TRUE(client.Connect(service_->port()));
  ASSERT_TRUE(client.Write(request.substr(0, head_end)));
  const std::optional<Http1Client::Response> interim = client.ReadResponse();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client.Write(request.substr(head_end)));
  EXPECT_EQ(Statuses(client, 1), std::vector<int>{201});
  EXPECT_EQ(service_->Deliveries().size(), 1u);
}

TEST_F(TestPushServiceTest, Http1MalformedInputIsAnsweredThenTheConnectionClosed) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  const std::string path = "/push/" + sub.token;
  const std::string host = "Host: push.test.example\r\n";
  const std::vector<std::pair<std::string, int>> cases = {
      {"POST " + path + "\r\n" + host + "\r\n", 400},                           // no version
      {"POST  " + path + " HTTP/1.1\r\n" + host + "\r\n", 400},                 // two spaces
      {"POST push HTTP/1.1\r\n" + host + "\r\n", 400},                          // not origin-form
      {"POST " + path + " HTTP/1.1\r\n" + host + "TTL 60\r\n\r\n", 400},        // no colon
      {"POST " + path + " HTTP/1.1\r\n" + host + "TTL : 60\r\n\r\n", 400},      // space
      {"POST " + path + " HTTP/1.1\r\n" + host + "TTL: 6\r\n 0\r\n\r\n", 400},  // obs-fold
      {"POST " + path + " HTTP/1.1\r\n\r\n", 400},                              // no Host
      {"POST " + path + " HTTP/1.1\r\n" + host + "Content-Length: 1x\r\n\r\n", 400},
      {"POST " + path + " HTTP/1.1\r\n" + host + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n",
       400},
      {"POST " + path + " HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n", 411},
      {"POST " + path + " HTTP/1.1\r\n" + host + "Content-Length: 100000\r\n\r\n", 413},
      {"POST " + path + " HTTP/1.1\r\n" + host + "X-Big: " + std::string(9000, 'a') + "\r\n\r\n",
       431},
      {"POST " + path + " HTTP/2.0\r\n" + host + "\r\n", 505},
  };
  std::map<int, uint64_t> expected_counts;
  for (const auto& [input, status] : cases) {
    Http1Client client;
    ASSERT_TRUE(client.Connect(service_->port()));
    ASSERT_TRUE(client.Write(input));
    const std::optional<Http1Client::Response> r = client.ReadResponse();
    ASSERT_TRUE(r.has_value()) << input.substr(0, 80);
    EXPECT_EQ(r->status, status) << input.substr(0, 80) << "\n" << r->body;
    EXPECT_EQ(r->Header("connection"), "close") << input.substr(0, 80);
    EXPECT_NE(r->body.find("\"message\":\"http1: "), std::string::npos) << r->body;
    EXPECT_TRUE(client.ClosedByPeer()) << input.substr(0, 80);
    ++expected_counts[status];
  }
  const Stats stats = service_->stats();
  EXPECT_EQ(stats.requests, 0u);
  EXPECT_EQ(stats.status_counts, expected_counts);
  EXPECT_EQ(stats.validation_failures.size(), cases.size());
  EXPECT_TRUE(HasValidationFailure(stats, "http1: request line and header fields larger"));
}

TEST_F(TestPushServiceTest, Http1AppliesFailFirstGoneAndDropFaults) {
  TestPushService::Options options;
  options.faults.fail_first_per_token = 1;
  options.faults.retry_after = "30";
  StartService(options);
  const TestSubscription sub = service_->AddSubscription();
  const TestSubscription gone = service_->AddSubscription();
  FaultPlan plan = options.faults;
  plan.gone_tokens.insert(gone.token);
  service_->SetFaults(plan);
  {
    Http1Client client;
    ASSERT_TRUE(client.Connect(service_->port()));
    ASSERT_TRUE(client.Write(Http1Push(sub, PushSpec())));
    const std::optional<Http1Client::Response> failed = client.ReadResponse();
    ASSERT_TRUE(failed.has_value());
    EXPECT_EQ(failed->status, 503);
    EXPECT_EQ(failed->Header("retry-after"), "30");
    ASSERT_TRUE(client.Write(Http1Push(sub, PushSpec()) + Http1Push(gone, PushSpec())));
    EXPECT_EQ(Statuses(client, 2), (std::vector<int>{201, 410}));
  }
  EXPECT_EQ(service_->Deliveries().size(), 1u);

  // A clean drop at the 2nd request: the 1st is answered, the 2nd and 3rd never are.
  FaultPlan drop;
  drop.drop_connection_every_n_streams = 2;
  service_->SetFaults(drop);
  {
    Http1Client client;
    ASSERT_TRUE(client.Connect(service_->port()));
    ASSERT_TRUE(client.Write(Http1Push(sub, PushSpec()) + Http1Push(sub, PushSpec()) +
                             Http1Push(sub, PushSpec())));
    EXPECT_EQ(Statuses(client, 1), std::vector<int>{201});
    EXPECT_TRUE(client.ClosedByPeer());
  }
  EXPECT_EQ(service_->Deliveries().size(), 2u);
  EXPECT_EQ(service_->stats().dropped_connections, 1u);

  // Outcome unknown: the 1st request is recorded but not answered.
  drop.drop_connection_every_n_streams = 1;
  drop.drop_after_record = true;
  service_->SetFaults(drop);
  {
    Http1Client client;
    ASSERT_TRUE(client.Connect(service_->port()));
    ASSERT_TRUE(client.Write(Http1Push(sub, PushSpec())));
    EXPECT_FALSE(client.ReadResponse().has_value());
  }
  EXPECT_EQ(service_->Deliveries().size(), 3u);
  EXPECT_EQ(service_->stats().dropped_connections, 2u);
}

TEST_F(TestPushServiceTest, AlpnPicksH2WhenOfferedElseHttp1) {
  StartService();
  const TestSubscription sub = service_->AddSubscription();
  for (const std::vector<std::string>& offer :
       {std::vector<std::string>{"h2", "http/1.1"}, std::vector<std::string>{"http/1.1", "h2"}}) {
    Http1Client client;
    ASSERT_TRUE(client.Connect(service_->port(), offer));
    EXPECT_EQ(client.alpn(), "h2") << offer[0];
  }
  // nghttp (HTTP/2) still works.
  EXPECT_EQ(Send(sub, PushSpec()).statuses, std::vector<int>{201});

  Http1Client http1;
  ASSERT_TRUE(http1.Connect(service_->port(), {"http/1.1"}));
  EXPECT_EQ(http1.alpn(), "http/1.1");
  ASSERT_TRUE(http1.Write(Http1Push(sub, PushSpec())));
  EXPECT_EQ(Statuses(http1, 1), std::vector<int>{201});

  Http1Client no_alpn;
  ASSERT_TRUE(no_alpn.Connect(service_->port(), {}));
  EXPECT_EQ(no_alpn.alpn(), "");
  ASSERT_TRUE(no_alpn.Write(Http1Push(sub, PushSpec())));
  EXPECT_EQ(Statuses(no_alpn, 1), std::vector<int>{201});

  // Offering neither protocol fails the handshake (RFC 7301 no_application_protocol).
  Http1Client other;
  EXPECT_FALSE(other.Connect(service_->port(), {"spdy/3.1"}));

  const Stats stats = service_->stats();
  EXPECT_EQ(stats.http1_connections, 2u);
  EXPECT_EQ(stats.http1_requests, 2u);
  EXPECT_EQ(stats.requests, 3u);
  EXPECT_EQ(service_->Deliveries().size(), 3u);
}

TEST_F(TestPushServiceTest, Http1DecryptEveryNDecryptsEveryNthBodyOfAConnection) {
  TestPushService::Options options;
  options.decrypt_every_n = 3;
  StartService(options);
  const TestSubscription sub = service_->AddSubscription();
  Http1Client client;
  ASSERT_TRUE(client.Connect(service_->port()));
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(client.Write(Http1Push(sub, PushSpec())));
  }
  EXPECT_EQ(Statuses(client, 6), std::vector<int>(6, 201));
  const std::vector<Delivery> deliveries = service_->Deliveries();
  ASSERT_EQ(deliveries.size(), 6u);
  for (size_t i = 0; i < deliveries.size(); ++i) {
    EXPECT_EQ(deliveries[i].body_decrypted, i % 3 == 0) << i;
    EXPECT_EQ(Plaintext(deliveries[i]), i % 3 == 0 ? PushSpec().plaintext : "") << i;
  }
  // The 7th body is decrypted (and fails), the 8th is not looked at, the 9th's VAPID token is
  // checked anyway.
  PushSpec tampered;
  tampered.tamper_body = true;
  absl::StatusOr<crypto::P256KeyPair> other = crypto::P256KeyPair::Generate();
  ASSERT_TRUE(other.ok());
  PushSpec wrong_signer;
  wrong_signer.authorization = Authorization(AudienceOf(sub), &*other);
  wrong_signer.authorization.replace(wrong_signer.authorization.find("k=") + 2, std::string::npos,
                                     vapid_key_->PublicKeyBase64Url());
  ASSERT_TRUE(client.Write(Http1Push(sub, tampered) + Http1Push(sub, tampered) +
                           Http1Push(sub, wrong_signer)));
  EXPECT_EQ(Statuses(client, 3), (std::vector<int>{400, 201, 401}));
  const Stats stats = service_->stats();
  EXPECT_EQ(stats.bodies_not_decrypted, 5u);
  EXPECT_EQ(stats.delivered, 7u);
}

// FindOnPath returns the path of `program` as the shell finds it on PATH, or "".
std::string FindOnPath(const std::string& program) {
  CommandResult found = RunCommand({"sh", "-c", "command -v " + program}, 10s);
  if (found.exit_status != 0) {
    return "";
  }
  while (!found.output.empty() && std::isspace(static_cast<unsigned char>(found.output.back()))) {
    found.output.pop_back();
  }
  return found.output;
}

// The baseline sender of the benchmark: bench/node/fanout_bench.js with the Node web-push package
// (HTTP/1.1 through https.request), trusting the service's CA through NODE_EXTRA_CA_CERTS.
TEST_F(TestPushServiceTest, NodeWebPushPackageDeliversOverHttp1) {
  const std::string node = FindOnPath("node");
  const std::string npm = FindOnPath("npm");
  if (node.empty() || npm.empty()) {
    GTEST_SKIP() << "node or npm is not installed: the Node web-push baseline is not tested";
  }
  const std::string bench_dir = WEBPUSH_BENCH_NODE_DIR;
  if (ReadFile(bench_dir + "/node_modules/web-push/package.json").empty()) {
    const CommandResult install =
        RunCommand({npm, "ci", "--prefix", bench_dir, "--no-audit", "--no-fund"}, 300s);
    ASSERT_EQ(install.exit_status, 0) << install.output;
  }
  StartService();
  constexpr int kMessages = 20;
  std::set<std::string> tokens;
  std::string lines;
  for (int i = 0; i < kMessages; ++i) {
    const TestSubscription sub = service_->AddSubscription();
    tokens.insert(sub.token);
    lines += sub.ToJson() + "\n";
  }
  const std::string subscriptions = dir_.File("subs.jsonl");
  std::ofstream(subscriptions) << lines;
  std::string payload;
  for (int i = 0; i < 1024; ++i) {
    payload.push_back(static_cast<char>('a' + i % 26));
  }
  const std::string payload_file = dir_.File("payload.bin");
  std::ofstream(payload_file, std::ios::binary) << payload;

  const CommandResult run = RunCommand(
      {"env", "NODE_EXTRA_CA_CERTS=" + service_->ca_file(), node, bench_dir + "/fanout_bench.js",
       "--subscriptions", subscriptions, "--payload-file", payload_file, "--vapid-public-key",
       vapid_key_->PublicKeyBase64Url(), "--vapid-private-key", vapid_key_->PrivateKeyBase64Url(),
       "--subject", "mailto:ops@example.com", "--concurrency", "4"},
      60s);
  ASSERT_EQ(run.exit_status, 0) << run.output;
  EXPECT_NE(run.output.find("\"messages\":20,\"delivered\":20,\"failed\":0"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("\"web_push_version\":\"3.6.7\""), std::string::npos) << run.output;

  const std::vector<Delivery> deliveries = service_->Deliveries();
  ASSERT_EQ(deliveries.size(), static_cast<size_t>(kMessages));
  std::set<std::string> delivered_tokens;
  for (const Delivery& d : deliveries) {
    EXPECT_TRUE(d.body_decrypted);
    EXPECT_EQ(Plaintext(d), payload);
    EXPECT_EQ(d.ttl, "60");
    EXPECT_EQ(d.vapid_subject, "mailto:ops@example.com");
    delivered_tokens.insert(d.token);
  }
  EXPECT_EQ(delivered_tokens, tokens);
  const Stats stats = service_->stats();
  EXPECT_EQ(stats.http1_requests, static_cast<uint64_t>(kMessages));
  EXPECT_GE(stats.http1_connections, 1u);
  EXPECT_LE(stats.http1_connections, 4u);  // keep-alive: at most one per concurrent request
  EXPECT_TRUE(stats.validation_failures.empty());
}

TEST_F(TestPushServiceTest, RemovesItsTemporaryFilesWhenDestroyed) {
  StartService();
  const std::string ca_file = service_->ca_file();
  EXPECT_FALSE(ReadFile(ca_file).empty());
  service_.reset();
  EXPECT_TRUE(ReadFile(ca_file).empty());
}

TEST(TestPushServiceBinaryTest, ServesUntilSigtermAndPrintsSummary) {
  TempDir dir;
  const std::string out = dir.File("stdout.txt");
  ChildProcess child({WEBPUSH_TEST_PUSH_SERVICE_BIN, "--subscriptions", "3", "--subscriptions-out",
                      dir.File("subs.jsonl"), "--ca-out", dir.File("ca.pem"), "--gone-first", "1"},
                     out);
  ASSERT_TRUE(child.running());
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (text.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    text = ReadFile(out);
  }
  ASSERT_TRUE(std::regex_search(text, std::regex(R"(^listening on 127\.0\.0\.1:\d+\n)"))) << text;
  const std::string subs = ReadFile(dir.File("subs.jsonl"));
  EXPECT_EQ(std::count(subs.begin(), subs.end(), '\n'), 3) << subs;
  EXPECT_NE(subs.find("{\"endpoint\":\"https://push.test.example:"), std::string::npos) << subs;
  EXPECT_NE(ReadFile(dir.File("ca.pem")).find("BEGIN CERTIFICATE"), std::string::npos);
  child.Signal(SIGTERM);
  EXPECT_EQ(child.Wait(20s), 0);
  EXPECT_NE(ReadFile(out).find("summary: requests=0 delivered=0"), std::string::npos)
      << ReadFile(out);
}

}  // namespace
}  // namespace webpush::testing
