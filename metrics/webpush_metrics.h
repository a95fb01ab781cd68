#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

// The service's metrics: every name, unit, help text and label set in one place (the dashboard
// and alert rules under deploy/ refer to these names; tests/deploy checks that they exist).
//
// Label values are bounded by construction: `push_service` is a push-service name from the
// allowlist ("fcm", "mozilla", "apple", "wns", or a configured host rule), `tenant` a configured
// tenant, `outcome` and `reason` come from the fixed enumerations below. No endpoint, job id or
// target id is ever a label value (an endpoint is a capability URL, and ids are unbounded).
//
// Hot-path calls (one per message) take one short mutex to find the push service's cached
// handles; counters and gauges are atomics inside prometheus-cpp.
namespace webpush::metrics {

// Final outcome of one message, as counted in webpush_messages_total.
enum class MessageOutcome : uint8_t { kDelivered, kGone, kRejected, kTooLarge, kFailed, kExpired };
inline constexpr size_t kMessageOutcomes = 6;
// Why a message is tried again later (webpush_retries_total).
enum class RetryReason : uint8_t { kThrottled, kServerError, kTransport, kOverloaded };
inline constexpr size_t kRetryReasons = 4;
// Why a submission (or, for kPushServiceThrottled, a message) was held back by a quota.
enum class QuotaReason : uint8_t { kRateLimit, kMaxPending, kMaxPayload, kPushServiceThrottled };
inline constexpr size_t kQuotaReasons = 4;

[[nodiscard]] std::string_view Name(MessageOutcome outcome);
[[nodiscard]] std::string_view Name(RetryReason reason);
[[nodiscard]] std::string_view Name(QuotaReason reason);

// PushServiceGauges is what the push client reports per push service at scrape time.
struct PushServiceGauges {
  std::string push_service;
  int64_t connections_open = 0;
  int64_t streams_in_flight = 0;
};

// QueueGauges is what the job store reports at scrape time.
struct QueueGauges {
  int64_t jobs_running = 0;
  double oldest_pending_age_seconds = 0;
  int64_t consumer_lag_entries = 0;
};

class WebpushMetrics {
 public:
  // The series of the configured `tenants`, of the allowlist's `push_services` and of the API's
  // `api_methods` (with code OK) exist at zero from the start, so that rate() and alerts work
  // before the first event (Prometheus's advice on labelled series).
  WebpushMetrics(std::string_view version, const std::vector<std::string>& tenants,
                 const std::vector<std::string>& push_services = {},
                 const std::vector<std::string>& api_methods = {});
  WebpushMetrics(const WebpushMetrics&) = delete;
  WebpushMetrics& operator=(const WebpushMetrics&) = delete;

  [[nodiscard]] const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }
  // Exposition is the Prometheus text format of every metric (GET /metrics).
  [[nodiscard]] std::string Exposition() const;

  // Per message, from the worker pipeline. `delivery_latency_seconds` < 0: not measured (the
  // outcome was decided without asking a push service). `request_seconds` < 0: no HTTP answer.
  void CountMessage(std::string_view push_service, MessageOutcome outcome,
                    double delivery_latency_seconds, double request_seconds);
  void CountRetry(std::string_view push_service, RetryReason reason, double request_seconds,
                  std::string_view tenant);
  void ObserveEncryptBatch(double seconds);

  // From the API.
  void CountQuotaRejection(std::string_view tenant, QuotaReason reason);
  void CountTargetsSubmitted(std::string_view tenant, int64_t targets);
  void CountApiRequest(std::string_view method, std::string_view code);

  // Gauges, set at scrape time.
  void SetBacklog(std::string_view tenant, int64_t pending_targets);
  void SetQueue(const QueueGauges& queue);
  // Push services absent from `services` (idle since the last scrape) are set to zero.
  void SetPushServices(const std::vector<PushServiceGauges>& services);
  void SetPipelineInFlight(int64_t messages);
  void SetReady(bool ready);

 private:
  struct ServiceHandles {
    std::array<prometheus::Counter*, kMessageOutcomes> messages{};
    std::array<prometheus::Counter*, kRetryReasons> retries{};
    prometheus::Histogram* delivery_latency = nullptr;
    prometheus::Histogram* request_duration = nullptr;
    prometheus::Gauge* connections_open = nullptr;
    prometheus::Gauge* streams_in_flight = nullptr;
  };
  struct TenantHandles {
    std::array<prometheus::Counter*, kQuotaReasons> quota{};
    prometheus::Counter* targets_submitted = nullptr;
    prometheus::Gauge* backlog = nullptr;
  };

  ServiceHandles& Service(std::string_view push_service);  // caller holds mu_
  TenantHandles& Tenant(std::string_view tenant);          // caller holds mu_

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& messages_;
  prometheus::Family<prometheus::Counter>& retries_;
  prometheus::Family<prometheus::Counter>& quota_rejections_;
  prometheus::Family<prometheus::Counter>& api_requests_;
  prometheus::Family<prometheus::Counter>& targets_submitted_;
  prometheus::Family<prometheus::Histogram>& delivery_latency_;
  prometheus::Family<prometheus::Histogram>& request_duration_;
  prometheus::Histogram& encrypt_batch_;
  prometheus::Family<prometheus::Gauge>& backlog_;
  prometheus::Gauge& oldest_pending_age_;
  prometheus::Gauge& consumer_lag_;
  prometheus::Family<prometheus::Gauge>& connections_open_;
  prometheus::Family<prometheus::Gauge>& streams_in_flight_;
  prometheus::Gauge& jobs_running_;
  prometheus::Gauge& pipeline_in_flight_;
  prometheus::Gauge& ready_;

  std::mutex mu_;
  std::map<std::string, ServiceHandles, std::less<>> services_;
  std::map<std::string, TenantHandles, std::less<>> tenants_;
  std::map<std::pair<std::string, std::string>, prometheus::Counter*> api_;
};

}  // namespace webpush::metrics
