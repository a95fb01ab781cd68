#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "metrics/http_endpoint.h"
#include "metrics/webpush_metrics.h"
#include "queue/job_store.h"

// Observability serves the metrics port of one replica (GET /metrics, /healthz, /readyz) and
// keeps the gauges that need a store read fresh.
//
// Probes never wait on Redis: a refresher thread reads the queue gauges every `refresh`, and
// /readyz answers from its latest result. So a Redis outage makes the replica not ready (the
// Service stops routing API calls to it) but never fails /healthz, which would only make
// Kubernetes restart a healthy process that is waiting for Redis to come back.
namespace webpush::dispatcher {

namespace push {
class PushClient;
}  // namespace push
namespace worker {
struct PipelineStats;
}  // namespace worker

struct ObservabilityOptions {
  std::string listen;  // metrics.listen
  std::vector<std::string> tenants;
  absl::Duration refresh = absl::Seconds(2);
  // Not ready when the store has not answered for this long.
  absl::Duration store_stale = absl::Seconds(10);
};

class Observability {
 public:
  // Start binds the port and starts the refresher. `store` must outlive this object; the push
  // client and pipeline stats are attached later (they may not exist: workers disabled).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Observability>> Start(
      ObservabilityOptions options, metrics::WebpushMetrics& metrics, queue::JobStore& store);
  ~Observability();
  Observability(const Observability&) = delete;
  Observability& operator=(const Observability&) = delete;

  [[nodiscard]] int port() const { return http_->port(); }

  // Attach adds the worker side (both may be null); call before traffic, once.
  void Attach(push::PushClient* client, const worker::PipelineStats* pipeline);
  // Detach drops them again (before they are destroyed).
  void Detach();
  // SetServing: false while starting and once draining; /readyz answers 503 then.
  void SetServing(bool serving);

  // Readiness: ready, or the reason it is not (for /readyz and tests).
  [[nodiscard]] std::pair<bool, std::string> Readiness() const;

 private:
  Observability(ObservabilityOptions options, metrics::WebpushMetrics& metrics,
                queue::JobStore& store);
  void RefreshLoop();
  void RefreshOnce();
  [[nodiscard]] metrics::HttpResponse Handle(std::string_view path);

  const ObservabilityOptions options_;
  metrics::WebpushMetrics& metrics_;
  queue::JobStore& store_;
  std::atomic<bool> serving_{false};

  mutable absl::Mutex mu_;
  push::PushClient* client_ ABSL_GUARDED_BY(mu_) = nullptr;
  const worker::PipelineStats* pipeline_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Time store_ok_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::string store_error_ ABSL_GUARDED_BY(mu_) = "not checked yet";
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar stop_cv_;

  std::thread refresher_;
  std::unique_ptr<metrics::HttpEndpoint> http_;  // last: stops first, before what it reads
};

}  // namespace webpush::dispatcher
