// The HTTP/2 push client over real TLS and HTTP/2 against the test push service
// (tests/support/push_service): stream limits, every injected fault, allowlist refusals and
// timeouts, with every message accounted for exactly once (or at least once where the fault
// makes the outcome unknown).
#include "dispatcher/push/push_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "crypto/ece.h"
#include "crypto/keys.h"
#include "crypto/vapid.h"
#include "tests/support/push_service/test_push_service.h"

namespace webpush::dispatcher::push {
namespace {

using webpush::testing::FaultPlan;
using webpush::testing::TestPushService;
using webpush::testing::TestSubscription;

constexpr char kSubject[] = "mailto:ops@example.com";

// Outcomes collects the callbacks of one test and waits for them, bounded.
class Outcomes {
 public:
  PushCallback Callback(size_t index) {
    return [this, index](PushOutcome outcome) {
      std::lock_guard lock(mu_);
      outcomes_[index].push_back(std::move(outcome));
      ++done_;
      cv_.notify_all();
    };
  }
  // Waits for `n` callbacks; false after `timeout`.
  bool WaitFor(size_t n, std::chrono::seconds timeout = std::chrono::seconds(60)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done_ >= n; });
  }
  std::map<size_t, std::vector<PushOutcome>> Snapshot() {
    std::lock_guard lock(mu_);
    return outcomes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t done_ = 0;
  std::map<size_t, std::vector<PushOutcome>> outcomes_;
};

class PushClientTest : public ::testing::Test {
 protected:
  void StartService(const FaultPlan& faults, std::string expected_key = "") {
    TestPushService::Options options;
    options.faults = faults;
    options.expected_vapid_public_key = std::move(expected_key);
    absl::StatusOr<std::unique_ptr<TestPushService>> service = TestPushService::Start(options);
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = std::move(*service);
  }

  PushClientOptions ClientOptions() {
    PushClientOptions options;
    options.ca_file = service_->ca_file();
    HostRule rule;
    rule.host = service_->host_name();
    rule.port = service_->port();
    options.policy.rules.push_back(rule);
    ResolveOverride resolve;
    resolve.host = service_->host_name();
    resolve.port = service_->port();
    resolve.address = "127.0.0.1";
    options.resolve.push_back(resolve);
    options.max_connections_per_origin = 2;
    options.retry_backoff_min = absl::Milliseconds(20);
    options.retry_backoff_max = absl::Milliseconds(200);
    options.reconnect_backoff_min = absl::Milliseconds(20);
    options.reconnect_backoff_max = absl::Milliseconds(200);
    return options;
  }

  std::unique_ptr<PushClient> MakeClient(const PushClientOptions& options) {
    absl::StatusOr<std::unique_ptr<PushClient>> client = PushClient::Create(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // Request builds a real message: encrypted for `sub`, VAPID-signed for the service's origin.
  PushRequest Request(const TestSubscription& sub, const std::string& payload) {
    absl::StatusOr<crypto::SubscriptionKeys> keys =
        crypto::ParseSubscriptionKeys(sub.p256dh, sub.auth);
    EXPECT_TRUE(keys.ok()) << keys.status();
    absl::StatusOr<std::vector<uint8_t>> body = crypto::Encrypt(
        *keys,
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
    EXPECT_TRUE(body.ok()) << body.status();
    absl::StatusOr<std::string> audience = crypto::AudienceFromEndpoint(sub.endpoint, "endpoint");
    EXPECT_TRUE(audience.ok()) << audience.status();
    absl::StatusOr<std::string> authorization =
        tokens_.Authorization("test", vapid_, *audience, kSubject);
    EXPECT_TRUE(authorization.ok()) << authorization.status();
    PushRequest request;
    request.endpoint = sub.endpoint;
    request.body = std::move(*body);
    request.ttl_seconds = 3600;
    request.authorization = *authorization;
    return request;
  }

  // SendAll sends `n` messages with distinct payloads over `subs` (round robin), waits for
  // all outcomes and returns them.
  std::map<size_t, std::vector<PushOutcome>> SendAll(PushClient& client,
                                                     const std::vector<TestSubscription>& subs,
                                                     size_t n, Outcomes& outcomes) {
    for (size_t i = 0; i < n; ++i) {
      const absl::Status sent = client.Send(
          Request(subs[i % subs.size()], "message " + std::to_string(i)), outcomes.Callback(i));
      EXPECT_TRUE(sent.ok()) << sent;
    }
    EXPECT_TRUE(outcomes.WaitFor(n)) << "not every request completed in time";
    return outcomes.Snapshot();
  }

  std::vector<TestSubscription> Subscriptions(size_t n) {
    std::vector<TestSubscription> subs;
    for (size_t i = 0; i < n; ++i) {
      subs.push_back(service_->AddSubscription());
    }
    return subs;
  }

  // DeliveryCounts maps each payload to how often the service recorded it.
  std::map<std::string, int> DeliveryCounts() {
    std::map<std::string, int> counts;
    for (const auto& d : service_->Deliveries()) {
      ++counts[std::string(d.plaintext.begin(), d.plaintext.end())];
    }
    return counts;
  }

  void ExpectEachDeliveredExactlyOnce(const std::map<size_t, std::vector<PushOutcome>>& outcomes,
                                      size_t n) {
    ASSERT_EQ(outcomes.size(), n);
    const std::map<std::string, int> counts = DeliveryCounts();
    for (size_t i = 0; i < n; ++i) {
      const auto& o = outcomes.at(i);
      ASSERT_EQ(o.size(), 1U) << "callback ran " << o.size() << " times for " << i;
      EXPECT_EQ(o[0].result, PushResult::kDelivered)
          << i << ": " << PushResultName(o[0].result) << " " << o[0].reason;
      const auto it = counts.find("message " + std::to_string(i));
      EXPECT_TRUE(it != counts.end() && it->second == 1)
          << "message " << i << " recorded " << (it == counts.end() ? 0 : it->second) << " times";
    }
    EXPECT_EQ(counts.size(), n);
  }

  crypto::P256KeyPair vapid_ = *crypto::P256KeyPair::Generate();
  crypto::VapidTokenCache tokens_;
  std::unique_ptr<TestPushService> service_;
};

TEST_F(PushClientTest, ThousandsOfRequestsOverFewConnectionsWithinStreamLimits) {
  FaultPlan faults;
  faults.max_concurrent_streams = 100;
  StartService(faults, vapid_.PublicKeyBase64Url());
  auto client = MakeClient(ClientOptions());
  ASSERT_NE(client, nullptr);
  Outcomes outcomes;
  const size_t n = 3000;
  const auto results = SendAll(*client, Subscriptions(50), n, outcomes);
  ExpectEachDeliveredExactlyOnce(results, n);
  const auto stats = service_->stats();
  EXPECT_LE(stats.max_concurrent_streams_seen, 100U);
  EXPECT_GE(stats.max_concurrent_streams_seen, 10U) << "requests were not multiplexed";
  EXPECT_LE(stats.connections_accepted, 2U);
  EXPECT_EQ(stats.validation_failures.size(), 0U);
  EXPECT_EQ(client->stats().delivered, n);
}

TEST_F(PushClientTest, FollowsALowPeerStreamLimit) {
  FaultPlan faults;
  faults.max_concurrent_streams = 3;
  StartService(faults);
  auto client = MakeClient(ClientOptions());
  ASSERT_NE(client, nullptr);
  Outcomes outcomes;
  const size_t n = 400;
  ExpectEachDeliveredExactlyOnce(SendAll(*client, Subscriptions(10), n, outcomes), n);
  EXPECT_LE(service_->stats().max_concurrent_streams_seen, 3U);
}

TEST_F(PushClientTest, GoawayEveryFiftyStreamsLosesNothing) {
  FaultPlan faults;
  faults.goaway_every_n_streams = 50;
  StartService(faults);
  auto client = MakeClient(ClientOptions());
  ASSERT_NE(client, nullptr);
  Outcomes outcomes;
  const size_t n = 1000;
  ExpectEachDeliveredExactlyOnce(SendAll(*client, Subscriptions(20), n, outcomes), n);
  EXPECT_GT(service_->stats().goaways_sent, 0U);
  EXPECT_GT(client->stats().goaways, 0U);
  EXPECT_GT(service_->stats().connections_accepted, 2U);
}

TEST_F(PushClientTest, RefusedStreamsAreResent) {
  FaultPlan faults;
  faults.refuse_every_n_streams = 7;
  StartService(faults);
  auto client = MakeClient(ClientOptions());
  ASSERT_NE(client, nullptr);
  Outcomes outcomes;
  const size_t n = 700;
  const auto results = SendAll(*client, Subscriptions(10), n, outcomes);
  ExpectEachDeliveredExactlyOnce(results, n);
  EXPECT_GT(client->stats().refused_streams, 0U);
  for (const auto& [i, o] : results) {
    EXPECT_EQ(o[0].attempts, 1) << "a refused stream must not spend an attempt";
  }
}

TEST_F(PushClientTest, DroppedConnectionsBeforeProcessingAreRetriedExactlyOnce) {
  FaultPlan faults;
  faults.drop_connection_every_n_streams = 100;
  StartService(faults);
  PushClientOptions options = ClientOptions();
  options.max_attempts = 10;
  auto client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  Outcomes outcomes;
  const size_t n = 600;
  ExpectEachDeliveredExactlyOnce(SendAll(*client, Subscriptions(10), n, outcomes), n);
  EXPECT_GT(service_->stats().dropped_connections, 0U);
  EXPECT_GT(client->stats().connections_lost, 0U);
}

TEST_F(PushClientTest, DroppedConnectionsAfterProcessingAreAtLeastOnce) {
  FaultPlan faults;
  faults.drop_connection_every_n_streams = 100;
  faults.drop_after_record = true;
  StartService(faults);
  PushClientOptions options = ClientOptions();
  options.max_attempts = 10;
  auto client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  Outcomes outcomes;
  const size_t n = 600;
  const auto results = SendAll(*client, Subscriptions(10), n, outcomes);
  const auto counts = DeliveryCounts();
  size_t duplicates = 0;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(results.at(i).size(), 1U);
    EXPECT_EQ(results.at(i)[0].result, PushResult::kDelivered);
    const auto it = counts.find("message " + std::to_string(i));
    ASSERT_TRUE(it != counts.end()) << "message " << i << " lost";
    duplicates += static_cast<size_t>(it->second - 1);
  }
  // Only a request whose answer was lost with its connection may be repeated: at most the streams
  // open on each dropped connection (100, the service's limit).
  EXPECT_GT(service_->stats().dropped_connections, 0U);
  EXPECT_LE(duplicates, service_->stats().dropped_connections * 100);
}

TEST_F(PushClientTest, ServiceUnavailableWithRetryAfterIsRetriedAfterTheDelay) {
  FaultPlan faults;
  faults.fail_first_per_token = 1;
  faults.fail_status = 503;
  faults.retry_after = "1";
  StartService(faults);
  PushClientOptions options = ClientOptions();
  options.max_attempts = 3;
  auto client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  Outcomes outcomes;
  const size_t n = 20;
  const auto start = std::chrono::steady_clock::now();
  const auto results = SendAll(*client, Subscriptions(n), n, outcomes);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(950));
  ExpectEachDeliveredExactlyOnce(results, n);
  for (const auto& [i, o] : results) {
    EXPECT_EQ(o[0].attempts, 2);
  }
}

TEST_F(PushClientTest, TooManyRequestsPausesTheWholeOrigin) {
  FaultPlan faults;
  faults.fail_first_per_token = 1;
  faults.fail_status = 429;
  faults.retry_after = "1";
  StartService(faults);
  PushClientOptions options = ClientOptions();
  options.max_attempts = 3;
  auto client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  const auto subs = Subscriptions(2);
  Outcomes first;
  // One message first: its 429 pauses the origin for a second...
  ASSERT_TRUE(client->Send(Request(subs[0], "message 0"), first.Callback(0)).ok());
  ASSERT_TRUE(first.WaitFor(1));
  EXPECT_EQ(first.Snapshot().at(0)[0].result, PushResult::kDelivered);
  EXPECT_EQ(first.Snapshot().at(0)[0].attempts, 2);
  EXPECT_GE(client->stats().origin_throttles, 1U);
  // ...and with max_attempts 1 a throttled answer is reported as such (quota) to the caller.
  options.max_attempts = 1;
  auto single = MakeClient(options);
  Outcomes second;
  ASSERT_TRUE(single->Send(Request(subs[1], "message 1"), second.Callback(0)).ok());
  ASSERT_TRUE(second.WaitFor(1));
  const PushOutcome o = second.Snapshot().at(0)[0];
  EXPECT_EQ(o.result, PushResult::kRetry);
  EXPECT_EQ(o.status, 429);
  EXPECT_TRUE(o.origin_throttled);
  EXPECT_EQ(o.retry_after, absl::Seconds(1));
  // While the origin is paused nothing is sent: this request waits out the pause.
  Outcomes third;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(single->Send(Request(subs[1], "message 2"), third.Callback(0)).ok());
  ASSERT_TRUE(third.WaitFor(1));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(800));
  EXPECT_EQ(third.Snapshot().at(0)[0].result, PushResult::kDelivered);
}

TEST_F(PushClientTest, ServerErrorsAreReportedOrRetried) {
  FaultPlan faults;
  faults.fail_first_per_token = 1;
  faults.fail_status = 500;
  StartService(faults);
  const auto subs = Subscriptions(2);
  PushClientOptions options = ClientOptions();
  auto once = MakeClient(options);
  Outcomes a;
  ASSERT_TRUE(once->Send(Request(subs[0], "x"), a.Callback(0)).ok());
  ASSERT_TRUE(a.WaitFor(1));
  EXPECT_EQ(a.Snapshot().at(0)[0].result, PushResult::kRetry);
  EXPECT_EQ(a.Snapshot().at(0)[0].status, 500);
  options.max_attempts = 2;
  auto twice = MakeClient(options);
  Outcomes b;
  ASSERT_TRUE(twice->Send(Request(subs[1], "y"), b.Callback(0)).ok());
  ASSERT_TRUE(b.WaitFor(1));
  EXPECT_EQ(b.Snapshot().at(0)[0].result, PushResult::kDelivered);
  EXPECT_EQ(b.Snapshot().at(0)[0].attempts, 2);
}

TEST_F(PushClientTest, GoneSubscriptionsAreReported) {
  StartService(FaultPlan());
  const auto subs = Subscriptions(3);
  FaultPlan faults;
  faults.gone_tokens = {subs[1].token};
  service_->SetFaults(faults);
  auto client = MakeClient(ClientOptions());
  Outcomes outcomes;
  for (size_t i = 0; i < subs.size(); ++i) {
    ASSERT_TRUE(client->Send(Request(subs[i], "m"), outcomes.Callback(i)).ok());
  }
  // An endpoint the service never issued is gone too (404).
  TestSubscription unknown = subs[0];
  unknown.endpoint = service_->origin() + "/push/never-issued";
  ASSERT_TRUE(client->Send(Request(unknown, "m"), outcomes.Callback(3)).ok());
  ASSERT_TRUE(outcomes.WaitFor(4));
  const auto results = outcomes.Snapshot();
  EXPECT_EQ(results.at(0)[0].result, PushResult::kDelivered);
  EXPECT_EQ(results.at(1)[0].result, PushResult::kGone);
  EXPECT_EQ(results.at(1)[0].status, 410);
  EXPECT_EQ(results.at(2)[0].result, PushResult::kDelivered);
  EXPECT_EQ(results.at(3)[0].result, PushResult::kGone);
  EXPECT_EQ(results.at(3)[0].status, 404);
}

TEST_F(PushClientTest, RejectedRequestsKeepTheServiceReason) {
  // The service expects another VAPID key: 403 with a JSON reason, not retried.
  StartService(FaultPlan(), (*crypto::P256KeyPair::Generate()).PublicKeyBase64Url());
  PushClientOptions options = ClientOptions();
  options.max_attempts = 5;
  auto client = MakeClient(options);
  Outcomes outcomes;
  ASSERT_TRUE(client->Send(Request(Subscriptions(1)[0], "m"), outcomes.Callback(0)).ok());
  ASSERT_TRUE(outcomes.WaitFor(1));
  const PushOutcome o = outcomes.Snapshot().at(0)[0];
  EXPECT_EQ(o.result, PushResult::kRejected);
  EXPECT_EQ(o.status, 403);
  EXPECT_EQ(o.attempts, 1);
  EXPECT_FALSE(o.reason.empty());
}

TEST_F(PushClientTest, HeadersArriveAsSent) {
  StartService(FaultPlan());
  auto client = MakeClient(ClientOptions());
  const auto sub = Subscriptions(1)[0];
  PushRequest request = Request(sub, "hello");
  request.urgency = "high";
  request.topic = "news_1";
  request.ttl_seconds = 0;
  Outcomes outcomes;
  ASSERT_TRUE(client->Send(std::move(request), outcomes.Callback(0)).ok());
  PushRequest empty = Request(sub, "");
  empty.body.clear();  // no payload: no body and no content-encoding
  ASSERT_TRUE(client->Send(std::move(empty), outcomes.Callback(1)).ok());
  ASSERT_TRUE(outcomes.WaitFor(2));
  EXPECT_EQ(outcomes.Snapshot().at(1)[0].result, PushResult::kDelivered)
      << outcomes.Snapshot().at(1)[0].reason;
  const auto deliveries = service_->Deliveries();
  ASSERT_EQ(deliveries.size(), 2U);
  bool found = false;
  for (const auto& d : deliveries) {
    if (std::string(d.plaintext.begin(), d.plaintext.end()) == "hello") {
      found = true;
      EXPECT_EQ(d.urgency, "high");
      EXPECT_EQ(d.topic, "news_1");
      EXPECT_EQ(d.ttl, "0");
      EXPECT_EQ(d.vapid_subject, kSubject);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(PushClientTest, SlowAnswersTimeOut) {
  FaultPlan faults;
  faults.response_delay = std::chrono::milliseconds(3000);
  StartService(faults);
  PushClientOptions options = ClientOptions();
  options.request_timeout = absl::Milliseconds(300);
  auto client = MakeClient(options);
  Outcomes outcomes;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(client->Send(Request(Subscriptions(1)[0], "m"), outcomes.Callback(0)).ok());
  ASSERT_TRUE(outcomes.WaitFor(1, std::chrono::seconds(10)));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::milliseconds(2500));
  const PushOutcome o = outcomes.Snapshot().at(0)[0];
  EXPECT_EQ(o.result, PushResult::kRetry);
  EXPECT_EQ(o.transport, TransportFailure::kTimeout);
  EXPECT_EQ(client->stats().timeouts, 1U);
}

TEST_F(PushClientTest, AllowlistRefusalsHappenBeforeAnyConnection) {
  StartService(FaultPlan());
  const auto sub = Subscriptions(1)[0];
  PushClientOptions options = ClientOptions();
  options.policy.rules = DefaultPushServiceRules();  // the test host is not listed
  auto client = MakeClient(options);
  Outcomes outcomes;
  const std::string port = std::to_string(service_->port());
  for (const std::string& endpoint : std::vector<std::string>{
           sub.endpoint, "https://127.0.0.1:" + port + "/push/" + sub.token,
           "http://fcm.googleapis.com/wp/x", "https://u:p@fcm.googleapis.com/wp/x",
           "https://fcm.googleapis.com:" + port + "/wp/x", "https://evil.example/wp/x"}) {
    PushRequest request = Request(sub, "m");
    request.endpoint = endpoint;
    const absl::Status status = client->Send(std::move(request), outcomes.Callback(0));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << endpoint;
    EXPECT_EQ(std::string(status.message()).find(sub.token), std::string::npos) << status;
  }
  EXPECT_EQ(client->stats().requests_refused, 6U);
  EXPECT_EQ(service_->stats().connections_accepted, 0U);
}

TEST_F(PushClientTest, ListedNameResolvingToLoopbackIsRefused) {
  StartService(FaultPlan());
  const auto sub = Subscriptions(1)[0];
  PushClientOptions options = ClientOptions();
  options.resolve.clear();  // "localhost" really resolves, to a loopback address
  HostRule rule;
  rule.host = "localhost";
  rule.port = service_->port();
  options.policy.rules.push_back(rule);
  auto client = MakeClient(options);
  PushRequest request = Request(sub, "m");
  request.endpoint = "https://localhost:" + std::to_string(service_->port()) + "/push/" + sub.token;
  Outcomes outcomes;
  ASSERT_TRUE(client->Send(std::move(request), outcomes.Callback(0)).ok());
  ASSERT_TRUE(outcomes.WaitFor(1));
  const PushOutcome o = outcomes.Snapshot().at(0)[0];
  EXPECT_EQ(o.result, PushResult::kRejected);
  EXPECT_NE(o.reason.find("non-public"), std::string::npos) << o.reason;
  EXPECT_EQ(service_->stats().connections_accepted, 0U);
}

TEST_F(PushClientTest, UntrustedCertificateIsNeverSentTo) {
  StartService(FaultPlan());
  PushClientOptions options = ClientOptions();
  options.ca_file.clear();  // the system trust store does not know the test CA
  auto client = MakeClient(options);
  Outcomes outcomes;
  ASSERT_TRUE(client->Send(Request(Subscriptions(1)[0], "m"), outcomes.Callback(0)).ok());
  ASSERT_TRUE(outcomes.WaitFor(1));
  const PushOutcome o = outcomes.Snapshot().at(0)[0];
  EXPECT_EQ(o.result, PushResult::kRetry);
  EXPECT_EQ(o.transport, TransportFailure::kConnect);
  EXPECT_NE(o.reason.find("certificate"), std::string::npos) << o.reason;
  EXPECT_EQ(service_->stats().requests, 0U);
}

TEST_F(PushClientTest, IdleConnectionsCloseAndReconnectOnDemand) {
  StartService(FaultPlan());
  PushClientOptions options = ClientOptions();
  options.idle_timeout = absl::Milliseconds(200);
  auto client = MakeClient(options);
  const auto sub = Subscriptions(1)[0];
  Outcomes a;
  ASSERT_TRUE(client->Send(Request(sub, "one"), a.Callback(0)).ok());
  ASSERT_TRUE(a.WaitFor(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  Outcomes b;
  ASSERT_TRUE(client->Send(Request(sub, "two"), b.Callback(0)).ok());
  ASSERT_TRUE(b.WaitFor(1));
  EXPECT_EQ(b.Snapshot().at(0)[0].result, PushResult::kDelivered);
  EXPECT_EQ(service_->stats().connections_accepted, 2U);
  EXPECT_EQ(client->stats().connections_opened, 2U);
  // The second handshake resumed the first connection's session (a TLS 1.3 ticket).
  EXPECT_EQ(client->stats().tls_resumptions, 1U);
}

TEST_F(PushClientTest, UnreachableServiceFailsWithinBounds) {
  StartService(FaultPlan());
  PushClientOptions options = ClientOptions();
  options.resolve[0].port = service_->port();
  HostRule rule;
  rule.host = service_->host_name();
  rule.port = 1;  // nothing listens on port 1
  options.policy.rules.push_back(rule);
  ResolveOverride resolve = options.resolve[0];
  resolve.port = 1;
  options.resolve.push_back(resolve);
  options.max_attempts = 3;
  auto client = MakeClient(options);
  PushRequest request = Request(Subscriptions(1)[0], "m");
  request.endpoint = "https://" + service_->host_name() + ":1/push/x";
  Outcomes outcomes;
  ASSERT_TRUE(client->Send(std::move(request), outcomes.Callback(0)).ok());
  ASSERT_TRUE(outcomes.WaitFor(1, std::chrono::seconds(20)));
  const PushOutcome o = outcomes.Snapshot().at(0)[0];
  EXPECT_EQ(o.result, PushResult::kRetry);
  EXPECT_EQ(o.transport, TransportFailure::kConnect);
  EXPECT_EQ(o.attempts, 3);
  EXPECT_GE(client->stats().connect_failures, 3U);
}

TEST_F(PushClientTest, StoppingTheClientCompletesEveryRequest) {
  FaultPlan faults;
  faults.response_delay = std::chrono::milliseconds(5000);
  StartService(faults);
  auto client = MakeClient(ClientOptions());
  Outcomes outcomes;
  const auto subs = Subscriptions(5);
  for (size_t i = 0; i < 50; ++i) {
    ASSERT_TRUE(client->Send(Request(subs[i % 5], "m"), outcomes.Callback(i)).ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  client.reset();
  ASSERT_TRUE(outcomes.WaitFor(50, std::chrono::seconds(1)));
  for (const auto& [i, o] : outcomes.Snapshot()) {
    ASSERT_EQ(o.size(), 1U);
    EXPECT_EQ(o[0].result, PushResult::kRetry);
  }
}

}  // namespace
}  // namespace webpush::dispatcher::push

namespace webpush::dispatcher::push {
namespace {

TEST_F(PushClientTest, QuietConnectionsArePingedAndStayUsable) {
  FaultPlan faults;
  faults.response_delay = std::chrono::milliseconds(700);
  StartService(faults);
  PushClientOptions options = ClientOptions();
  options.ping_interval = absl::Milliseconds(150);
  options.ping_timeout = absl::Seconds(2);
  auto client = MakeClient(options);
  Outcomes outcomes;
  const size_t n = 20;
  ExpectEachDeliveredExactlyOnce(SendAll(*client, Subscriptions(4), n, outcomes), n);
  EXPECT_GE(client->stats().pings_sent, 1U);
  EXPECT_EQ(client->stats().connections_lost, 0U);
}

}  // namespace
}  // namespace webpush::dispatcher::push
