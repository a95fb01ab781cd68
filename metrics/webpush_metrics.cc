#include "metrics/webpush_metrics.h"

#include <sstream>

#include "prometheus/text_serializer.h"

namespace webpush::metrics {
namespace {

// Submission to answer: a large fan-out takes minutes, a retried message up to its TTL.
const prometheus::Histogram::BucketBoundaries kDeliveryBuckets = {
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
// One encryption task (up to 64 messages: keygen, ECDH, HKDF, AES-GCM, VAPID from the cache).
const prometheus::Histogram::BucketBoundaries kEncryptBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25};
// One HTTP/2 request, stream open to answer.
const prometheus::Histogram::BucketBoundaries kRequestBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

template <typename Builder>
auto& Register(Builder builder, const char* name, const char* help,
               prometheus::Registry& registry) {
  return builder.Name(name).Help(help).Register(registry);
}

}  // namespace

std::string_view Name(MessageOutcome outcome) {
  switch (outcome) {
    case MessageOutcome::kDelivered:
      return "delivered";
    case MessageOutcome::kGone:
      return "gone";
    case MessageOutcome::kRejected:
      return "rejected";
    case MessageOutcome::kTooLarge:
      return "too_large";
    case MessageOutcome::kFailed:
      return "failed";
    case MessageOutcome::kExpired:
      return "expired";
  }
  return "failed";
}

std::string_view Name(RetryReason reason) {
  switch (reason) {
    case RetryReason::kThrottled:
      return "throttled";
    case RetryReason::kServerError:
      return "server_error";
    case RetryReason::kTransport:
      return "transport";
    case RetryReason::kOverloaded:
      return "overloaded";
  }
  return "transport";
}

std::string_view Name(QuotaReason reason) {
  switch (reason) {
    case QuotaReason::kRateLimit:
      return "rate_limit";
    case QuotaReason::kMaxPending:
      return "max_pending";
    case QuotaReason::kMaxPayload:
      return "max_payload";
    case QuotaReason::kPushServiceThrottled:
      return "push_service_throttled";
  }
  return "rate_limit";
}

WebpushMetrics::WebpushMetrics(std::string_view version, const std::vector<std::string>& tenants,
                               const std::vector<std::string>& push_services,
                               const std::vector<std::string>& api_methods)
    : registry_(std::make_shared<prometheus::Registry>()),
      messages_(Register(prometheus::BuildCounter(), "webpush_messages_total",
                         "Messages that reached a final outcome, by push service and outcome.",
                         *registry_)),
      retries_(Register(prometheus::BuildCounter(), "webpush_retries_total",
                        "Messages put back for a later attempt, by push service and reason.",
                        *registry_)),
      quota_rejections_(Register(
          prometheus::BuildCounter(), "webpush_quota_rejections_total",
          "Submissions refused by a tenant quota, and messages held back by a push service's "
          "429, by tenant and reason.",
          *registry_)),
      api_requests_(Register(prometheus::BuildCounter(), "webpush_api_requests_total",
                             "gRPC calls answered, by method and status code.", *registry_)),
      targets_submitted_(Register(prometheus::BuildCounter(), "webpush_targets_submitted_total",
                                  "Targets of accepted jobs, by tenant.", *registry_)),
      delivery_latency_(
          Register(prometheus::BuildHistogram(), "webpush_delivery_latency_seconds",
                   "From the job's submission to the push service's final answer, by push service.",
                   *registry_)),
      request_duration_(
          Register(prometheus::BuildHistogram(), "webpush_push_request_duration_seconds",
                   "One HTTP/2 request to a push service, stream open to answer.", *registry_)),
      encrypt_batch_(Register(prometheus::BuildHistogram(),
                              "webpush_encrypt_batch_duration_seconds",
                              "Building one batch of messages (encryption and VAPID).", *registry_)
                         .Add({}, kEncryptBuckets)),
      backlog_(Register(prometheus::BuildGauge(), "webpush_backlog_pending_targets",
                        "Targets accepted and not yet final, by tenant (all replicas).",
                        *registry_)),
      oldest_pending_age_(
          Register(prometheus::BuildGauge(), "webpush_backlog_oldest_pending_age_seconds",
                   "Age of the oldest batch waiting or leased in the work queue.", *registry_)
              .Add({})),
      consumer_lag_(Register(prometheus::BuildGauge(), "webpush_queue_consumer_lag_entries",
                             "Work-queue entries not yet read by any replica.", *registry_)
                        .Add({})),
      connections_open_(Register(prometheus::BuildGauge(), "webpush_push_connections_open",
                                 "Open HTTP/2 connections of this replica, by push service.",
                                 *registry_)),
      streams_in_flight_(Register(prometheus::BuildGauge(), "webpush_push_streams_in_flight",
                                  "HTTP/2 requests awaiting an answer, by push service.",
                                  *registry_)),
      jobs_running_(Register(prometheus::BuildGauge(), "webpush_jobs_running",
                             "Jobs accepted and not finished (all replicas).", *registry_)
                        .Add({})),
      pipeline_in_flight_(Register(prometheus::BuildGauge(), "webpush_pipeline_in_flight_messages",
                                   "Messages of this replica built and not yet answered.",
                                   *registry_)
                              .Add({})),
      ready_(Register(prometheus::BuildGauge(), "webpush_ready",
                      "1 when this replica is ready (GET /readyz answers 200), else 0.", *registry_)
                 .Add({})) {
  Register(prometheus::BuildGauge(), "webpush_build_info", "The running version (always 1).",
           *registry_)
      .Add({{"version", std::string(version)}})
      .Set(1);
  const std::lock_guard lock(mu_);
  for (const std::string& t : tenants) {
    Tenant(t);
  }
  for (const std::string& s : push_services) {
    Service(s);
  }
  for (const std::string& method : api_methods) {
    api_.emplace(std::make_pair(method, std::string("OK")),
                 &api_requests_.Add({{"method", method}, {"code", "OK"}}));
  }
}

std::string WebpushMetrics::Exposition() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

WebpushMetrics::ServiceHandles& WebpushMetrics::Service(std::string_view push_service) {
  auto it = services_.find(push_service);
  if (it != services_.end()) {
    return it->second;
  }
  const std::string name(push_service);
  ServiceHandles h;
  for (size_t i = 0; i < kMessageOutcomes; ++i) {
    h.messages[i] = &messages_.Add(
        {{"push_service", name}, {"outcome", std::string(Name(static_cast<MessageOutcome>(i)))}});
  }
  for (size_t i = 0; i < kRetryReasons; ++i) {
    h.retries[i] = &retries_.Add(
        {{"push_service", name}, {"reason", std::string(Name(static_cast<RetryReason>(i)))}});
  }
  h.delivery_latency = &delivery_latency_.Add({{"push_service", name}}, kDeliveryBuckets);
  h.request_duration = &request_duration_.Add({{"push_service", name}}, kRequestBuckets);
  h.connections_open = &connections_open_.Add({{"push_service", name}});
  h.streams_in_flight = &streams_in_flight_.Add({{"push_service", name}});
  return services_.emplace(name, h).first->second;
}

WebpushMetrics::TenantHandles& WebpushMetrics::Tenant(std::string_view tenant) {
  auto it = tenants_.find(tenant);
  if (it != tenants_.end()) {
    return it->second;
  }
  const std::string name(tenant);
  TenantHandles h;
  for (size_t i = 0; i < kQuotaReasons; ++i) {
    h.quota[i] = &quota_rejections_.Add(
        {{"tenant", name}, {"reason", std::string(Name(static_cast<QuotaReason>(i)))}});
  }
  h.targets_submitted = &targets_submitted_.Add({{"tenant", name}});
  h.backlog = &backlog_.Add({{"tenant", name}});
  return tenants_.emplace(name, h).first->second;
}

void WebpushMetrics::CountMessage(std::string_view push_service, MessageOutcome outcome,
                                  double delivery_latency_seconds, double request_seconds) {
  const std::lock_guard lock(mu_);
  ServiceHandles& h = Service(push_service);
  h.messages[static_cast<size_t>(outcome)]->Increment();
  if (delivery_latency_seconds >= 0) {
    h.delivery_latency->Observe(delivery_latency_seconds);
  }
  if (request_seconds >= 0) {
    h.request_duration->Observe(request_seconds);
  }
}

void WebpushMetrics::CountRetry(std::string_view push_service, RetryReason reason,
                                double request_seconds, std::string_view tenant) {
  const std::lock_guard lock(mu_);
  ServiceHandles& h = Service(push_service);
  h.retries[static_cast<size_t>(reason)]->Increment();
  if (request_seconds >= 0) {
    h.request_duration->Observe(request_seconds);
  }
  if (reason == RetryReason::kThrottled && !tenant.empty()) {
    Tenant(tenant).quota[static_cast<size_t>(QuotaReason::kPushServiceThrottled)]->Increment();
  }
}

void WebpushMetrics::ObserveEncryptBatch(double seconds) { encrypt_batch_.Observe(seconds); }

void WebpushMetrics::CountQuotaRejection(std::string_view tenant, QuotaReason reason) {
  const std::lock_guard lock(mu_);
  Tenant(tenant).quota[static_cast<size_t>(reason)]->Increment();
}

void WebpushMetrics::CountTargetsSubmitted(std::string_view tenant, int64_t targets) {
  const std::lock_guard lock(mu_);
  Tenant(tenant).targets_submitted->Increment(static_cast<double>(targets));
}

void WebpushMetrics::CountApiRequest(std::string_view method, std::string_view code) {
  const std::lock_guard lock(mu_);
  auto key = std::make_pair(std::string(method), std::string(code));
  auto it = api_.find(key);
  if (it == api_.end()) {
    it = api_.emplace(key, &api_requests_.Add({{"method", key.first}, {"code", key.second}})).first;
  }
  it->second->Increment();
}

void WebpushMetrics::SetBacklog(std::string_view tenant, int64_t pending_targets) {
  const std::lock_guard lock(mu_);
  Tenant(tenant).backlog->Set(static_cast<double>(pending_targets));
}

void WebpushMetrics::SetQueue(const QueueGauges& queue) {
  jobs_running_.Set(static_cast<double>(queue.jobs_running));
  oldest_pending_age_.Set(queue.oldest_pending_age_seconds);
  consumer_lag_.Set(static_cast<double>(queue.consumer_lag_entries));
}

void WebpushMetrics::SetPushServices(const std::vector<PushServiceGauges>& services) {
  const std::lock_guard lock(mu_);
  for (auto& [name, h] : services_) {
    h.connections_open->Set(0);
    h.streams_in_flight->Set(0);
  }
  // Several origins may share one push-service name: their numbers add up.
  for (const PushServiceGauges& s : services) {
    ServiceHandles& h = Service(s.push_service);
    h.connections_open->Increment(static_cast<double>(s.connections_open));
    h.streams_in_flight->Increment(static_cast<double>(s.streams_in_flight));
  }
}

void WebpushMetrics::SetPipelineInFlight(int64_t messages) {
  pipeline_in_flight_.Set(static_cast<double>(messages));
}

void WebpushMetrics::SetReady(bool ready) { ready_.Set(ready ? 1 : 0); }

}  // namespace webpush::metrics
