#include "dispatcher/observability.h"

#include <pthread.h>

#include "absl/time/clock.h"
#include "dispatcher/log.h"
#include "dispatcher/push/push_client.h"
#include "dispatcher/worker/pipeline.h"

namespace webpush::dispatcher {

absl::StatusOr<std::unique_ptr<Observability>> Observability::Start(
    ObservabilityOptions options, metrics::WebpushMetrics& metrics, queue::JobStore& store) {
  std::unique_ptr<Observability> o(new Observability(std::move(options), metrics, store));
  absl::StatusOr<std::unique_ptr<metrics::HttpEndpoint>> http = metrics::HttpEndpoint::Start(
      o->options_.listen, [self = o.get()](std::string_view path) { return self->Handle(path); });
  if (!http.ok()) {
    return http.status();
  }
  o->http_ = *std::move(http);
  o->RefreshOnce();  // the first scrape and probe already see the store's state
  o->refresher_ = std::thread([self = o.get()] {
    pthread_setname_np(pthread_self(), "wp-gauges");
    self->RefreshLoop();
  });
  return o;
}

Observability::Observability(ObservabilityOptions options, metrics::WebpushMetrics& metrics,
                             queue::JobStore& store)
    : options_(std::move(options)), metrics_(metrics), store_(store) {}

Observability::~Observability() {
  http_.reset();  // no more requests into this object
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    stop_cv_.SignalAll();
  }
  if (refresher_.joinable()) {
    refresher_.join();
  }
}

void Observability::Attach(push::PushClient* client, const worker::PipelineStats* pipeline) {
  absl::MutexLock lock(&mu_);
  client_ = client;
  pipeline_ = pipeline;
}

void Observability::Detach() {
  // Taking mu_ waits for a refresh that is using the client to finish.
  absl::MutexLock lock(&mu_);
  client_ = nullptr;
  pipeline_ = nullptr;
}

void Observability::SetServing(bool serving) {
  serving_ = serving;
  metrics_.SetReady(Readiness().first);
}

std::pair<bool, std::string> Observability::Readiness() const {
  if (!serving_) {
    return {false, "not serving (starting or draining)"};
  }
  absl::MutexLock lock(&mu_);
  if (absl::Now() - store_ok_at_ > options_.store_stale) {
    return {false, "queue store unreachable: " + store_error_};
  }
  return {true, "ready"};
}

void Observability::RefreshLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      stop_cv_.WaitWithTimeout(&mu_, options_.refresh);
      if (stop_) {
        return;
      }
    }
    RefreshOnce();
  }
}

void Observability::RefreshOnce() {
  absl::StatusOr<queue::QueueStats> stats = store_.Stats();
  if (stats.ok()) {
    metrics_.SetQueue({stats->jobs_running, absl::ToDoubleSeconds(stats->oldest_pending_age),
                       stats->consumer_lag});
    for (const std::string& tenant : options_.tenants) {
      if (absl::StatusOr<std::pair<int64_t, int64_t>> b = store_.Backlog(tenant); b.ok()) {
        metrics_.SetBacklog(tenant, b->second);
      }
    }
  }
  {
    absl::MutexLock lock(&mu_);
    if (stats.ok()) {
      store_ok_at_ = absl::Now();
    } else {
      store_error_ = std::string(stats.status().message());
    }
    if (client_ != nullptr) {
      std::vector<metrics::PushServiceGauges> services;
      for (const push::OriginSnapshot& o : client_->Origins()) {
        services.push_back({o.push_service, o.connections_open, o.streams_in_flight});
      }
      metrics_.SetPushServices(services);
    }
  }
  metrics_.SetReady(Readiness().first);
}

metrics::HttpResponse Observability::Handle(std::string_view path) {
  if (path == "/metrics") {
    {
      absl::MutexLock lock(&mu_);
      if (pipeline_ != nullptr) {
        metrics_.SetPipelineInFlight(pipeline_->in_flight.load(std::memory_order_relaxed));
      }
    }
    metrics_.SetReady(Readiness().first);
    return {200, "text/plain; version=0.0.4; charset=utf-8", metrics_.Exposition()};
  }
  if (path == "/healthz") {
    return {200, "text/plain; charset=utf-8", "ok\n"};
  }
  if (path == "/readyz") {
    auto [ready, reason] = Readiness();
    return {ready ? 200 : 503, "text/plain; charset=utf-8", reason + "\n"};
  }
  return {404, "text/plain; charset=utf-8", "not found: try /metrics, /healthz or /readyz\n"};
}

}  // namespace webpush::dispatcher
