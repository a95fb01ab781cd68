// The metric names and the metrics port: what Prometheus and the Kubernetes probes see.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "metrics/http_endpoint.h"
#include "metrics/webpush_metrics.h"
#include "tests/metrics/exposition.h"
#include "tests/support/http_get.h"

namespace webpush::testing {
namespace {

using metrics::MessageOutcome;
using metrics::QuotaReason;
using metrics::RetryReason;
using metrics::WebpushMetrics;

TEST(WebpushMetricsTest, DeclaresEveryFamilyWithItsTypeFromTheStart) {
  const WebpushMetrics m("1.2.3", {"acme"}, {"fcm"}, {"SubmitJob"});
  const std::string text = m.Exposition();
  const std::map<std::string, std::string> types = {
      {"webpush_messages_total", "counter"},
      {"webpush_retries_total", "counter"},
      {"webpush_quota_rejections_total", "counter"},
      {"webpush_api_requests_total", "counter"},
      {"webpush_targets_submitted_total", "counter"},
      {"webpush_delivery_latency_seconds", "histogram"},
      {"webpush_encrypt_batch_duration_seconds", "histogram"},
      {"webpush_push_request_duration_seconds", "histogram"},
      {"webpush_backlog_pending_targets", "gauge"},
      {"webpush_backlog_oldest_pending_age_seconds", "gauge"},
      {"webpush_queue_consumer_lag_entries", "gauge"},
      {"webpush_push_streams_in_flight", "gauge"},
      {"webpush_push_connections_open", "gauge"},
      {"webpush_jobs_running", "gauge"},
      {"webpush_pipeline_in_flight_messages", "gauge"},
      {"webpush_ready", "gauge"},
      {"webpush_build_info", "gauge"},
  };
  for (const auto& [name, type] : types) {
    EXPECT_NE(text.find("# TYPE " + name + " " + type + "\n"), std::string::npos) << name;
    EXPECT_NE(text.find("# HELP " + name + " "), std::string::npos) << name;
  }
  // A configured tenant's series exist at zero, so rate() and alerts work before any event.
  EXPECT_EQ(SampleValue(text, "webpush_quota_rejections_total",
                        {{"tenant", "acme"}, {"reason", "rate_limit"}}),
            0);
  EXPECT_EQ(SampleValue(text, "webpush_build_info", {{"version", "1.2.3"}}), 1);
  EXPECT_EQ(SampleValue(text, "webpush_messages_total",
                        {{"push_service", "fcm"}, {"outcome", "delivered"}}),
            0);
  EXPECT_EQ(
      SampleValue(text, "webpush_api_requests_total", {{"method", "SubmitJob"}, {"code", "OK"}}),
      0);
}

TEST(WebpushMetricsTest, CountsMessagesRetriesAndQuotasByTheirLabels) {
  WebpushMetrics m("test", {"acme"});
  m.CountMessage("fcm", MessageOutcome::kDelivered, 0.2, 0.01);
  m.CountMessage("fcm", MessageOutcome::kDelivered, 3.0, 0.02);
  m.CountMessage("fcm", MessageOutcome::kGone, 0.3, 0.01);
  m.CountMessage("none", MessageOutcome::kExpired, -1, -1);  // decided without a request
  m.CountRetry("mozilla", RetryReason::kThrottled, 0.05, "acme");
  m.CountRetry("mozilla", RetryReason::kServerError, 0.05, "acme");
  m.CountQuotaRejection("acme", QuotaReason::kRateLimit);
  m.CountTargetsSubmitted("acme", 1000);
  m.CountApiRequest("SubmitJob", "OK");
  m.CountApiRequest("SubmitJob", "OK");
  m.CountApiRequest("SubmitJob", "RESOURCE_EXHAUSTED");
  m.ObserveEncryptBatch(0.002);
  const std::string text = m.Exposition();

  EXPECT_EQ(SampleValue(text, "webpush_messages_total",
                        {{"push_service", "fcm"}, {"outcome", "delivered"}}),
            2);
  EXPECT_EQ(
      SampleValue(text, "webpush_messages_total", {{"push_service", "fcm"}, {"outcome", "gone"}}),
      1);
  EXPECT_EQ(SampleValue(text, "webpush_messages_total",
                        {{"push_service", "none"}, {"outcome", "expired"}}),
            1);
  // Latency is observed for answered messages only: 3 of the 4.
  EXPECT_EQ(SampleValue(text, "webpush_delivery_latency_seconds_count", {{"push_service", "fcm"}}),
            3);
  EXPECT_EQ(SampleValue(text, "webpush_delivery_latency_seconds_bucket",
                        {{"push_service", "fcm"}, {"le", "0.25"}}),
            1);
  EXPECT_EQ(SampleValue(text, "webpush_delivery_latency_seconds_count", {{"push_service", "none"}}),
            0);
  EXPECT_EQ(SampleValue(text, "webpush_retries_total",
                        {{"push_service", "mozilla"}, {"reason", "throttled"}}),
            1);
  EXPECT_EQ(SampleValue(text, "webpush_retries_total",
                        {{"push_service", "mozilla"}, {"reason", "server_error"}}),
            1);
  // A push service's 429 is also the tenant's quota rejection, as the issue asks.
  EXPECT_EQ(SampleValue(text, "webpush_quota_rejections_total",
                        {{"tenant", "acme"}, {"reason", "push_service_throttled"}}),
            1);
  EXPECT_EQ(SampleValue(text, "webpush_quota_rejections_total",
                        {{"tenant", "acme"}, {"reason", "rate_limit"}}),
            1);
  EXPECT_EQ(SampleValue(text, "webpush_targets_submitted_total", {{"tenant", "acme"}}), 1000);
  EXPECT_EQ(
      SampleValue(text, "webpush_api_requests_total", {{"method", "SubmitJob"}, {"code", "OK"}}),
      2);
  EXPECT_EQ(SampleValue(text, "webpush_encrypt_batch_duration_seconds_count", {}), 1);
}

TEST(WebpushMetricsTest, GaugesOfIdlePushServicesFallToZero) {
  WebpushMetrics m("test", {"acme"});
  m.SetPushServices({{"fcm", 2, 150}, {"fcm", 1, 10}, {"apple", 1, 3}});
  std::string text = m.Exposition();
  // Two origins of one push service add up.
  EXPECT_EQ(SampleValue(text, "webpush_push_connections_open", {{"push_service", "fcm"}}), 3);
  EXPECT_EQ(SampleValue(text, "webpush_push_streams_in_flight", {{"push_service", "fcm"}}), 160);
  m.SetPushServices({{"apple", 1, 0}});
  text = m.Exposition();
  EXPECT_EQ(SampleValue(text, "webpush_push_connections_open", {{"push_service", "fcm"}}), 0);
  EXPECT_EQ(SampleValue(text, "webpush_push_connections_open", {{"push_service", "apple"}}), 1);
  m.SetBacklog("acme", 1234);
  m.SetQueue({3, 12.5, 40});
  m.SetReady(true);
  text = m.Exposition();
  EXPECT_EQ(SampleValue(text, "webpush_backlog_pending_targets", {{"tenant", "acme"}}), 1234);
  EXPECT_EQ(SampleValue(text, "webpush_jobs_running", {}), 3);
  EXPECT_EQ(SampleValue(text, "webpush_backlog_oldest_pending_age_seconds", {}), 12.5);
  EXPECT_EQ(SampleValue(text, "webpush_queue_consumer_lag_entries", {}), 40);
  EXPECT_EQ(SampleValue(text, "webpush_ready", {}), 1);
}

TEST(WebpushMetricsTest, NoLabelValueIsAnEndpointOrAnId) {
  WebpushMetrics m("test", {"acme"});
  m.CountMessage("fcm", MessageOutcome::kDelivered, 1, 1);
  m.CountRetry("fcm", RetryReason::kTransport, -1, "acme");
  m.CountApiRequest("GetJob", "NOT_FOUND");
  const std::string text = m.Exposition();
  EXPECT_EQ(text.find("https://"), std::string::npos);
  for (const char* label : {"endpoint=", "job=", "job_id=", "target=", "target_id=", "url="}) {
    EXPECT_EQ(text.find(label), std::string::npos) << label;
  }
}

class HttpEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<metrics::HttpEndpoint>> endpoint =
        metrics::HttpEndpoint::Start("127.0.0.1:0", [this](std::string_view path) {
          ++calls_;
          if (path == "/ready") {
            return metrics::HttpResponse{ready_ ? 200 : 503, "text/plain", "state\n"};
          }
          if (path == "/hello") {
            return metrics::HttpResponse{200, "text/plain; version=0.0.4", "hello\n"};
          }
          return metrics::HttpResponse{404, "text/plain", "no\n"};
        });
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    endpoint_ = *std::move(endpoint);
    ASSERT_NE(endpoint_->port(), 0);
  }

  std::unique_ptr<metrics::HttpEndpoint> endpoint_;
  std::atomic<int> calls_{0};
  std::atomic<bool> ready_{true};
};

TEST_F(HttpEndpointTest, AnswersWithTheHandlersStatusTypeAndBody) {
  HttpGetResult r = HttpGet(endpoint_->port(), "/hello?x=1");  // the query is not the path
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4");
  EXPECT_EQ(r.body, "hello\n");
  EXPECT_EQ(HttpGet(endpoint_->port(), "/ready").status, 200);
  ready_ = false;
  EXPECT_EQ(HttpGet(endpoint_->port(), "/ready").status, 503);
  EXPECT_EQ(HttpGet(endpoint_->port(), "/elsewhere").status, 404);
  r = HttpGet(endpoint_->port(), "/hello", "HEAD");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  const int before = calls_;
  EXPECT_EQ(HttpGet(endpoint_->port(), "/hello", "POST").status, 405);
  EXPECT_EQ(calls_, before) << "a POST must not reach the handler";
}

TEST_F(HttpEndpointTest, ASilentClientDelaysOthersOnlyUntilItsReadDeadline) {
  const int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(endpoint_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(silent, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)), 0);
  const auto start = std::chrono::steady_clock::now();
  const HttpGetResult r = HttpGet(endpoint_->port(), "/hello", "GET", 10000);
  const auto waited = std::chrono::steady_clock::now() - start;
  ::close(silent);
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(waited, std::chrono::seconds(4));
}

TEST(HttpEndpointStartTest, ABadListenAddressNamesTheField) {
  for (const char* listen : {"no-port", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:99999"}) {
    absl::StatusOr<std::unique_ptr<metrics::HttpEndpoint>> e = metrics::HttpEndpoint::Start(
        listen, [](std::string_view) { return metrics::HttpResponse{}; });
    ASSERT_FALSE(e.ok()) << listen;
    EXPECT_NE(std::string(e.status().message()).find("metrics.listen"), std::string::npos)
        << e.status();
  }
  // A port in use is refused too, with the field.
  absl::StatusOr<std::unique_ptr<metrics::HttpEndpoint>> first = metrics::HttpEndpoint::Start(
      "127.0.0.1:0", [](std::string_view) { return metrics::HttpResponse{}; });
  ASSERT_TRUE(first.ok());
  absl::StatusOr<std::unique_ptr<metrics::HttpEndpoint>> second =
      metrics::HttpEndpoint::Start("127.0.0.1:" + std::to_string((*first)->port()),
                                   [](std::string_view) { return metrics::HttpResponse{}; });
  ASSERT_FALSE(second.ok());
  EXPECT_NE(std::string(second.status().message()).find("metrics.listen"), std::string::npos);
}

}  // namespace
}  // namespace webpush::testing
