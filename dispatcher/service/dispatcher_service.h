#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dispatcher/push/endpoint_policy.h"
#include "dispatcher/service/api_executor.h"
#include "dispatcher/service/tenants.h"
#include "metrics/webpush_metrics.h"
#include "queue/job_store.h"
#include "webpush/dispatcher/v1/dispatcher.grpc.pb.h"

// DispatcherService implements webpush.dispatcher.v1.Dispatcher (proto/webpush/dispatcher/v1/
// dispatcher.proto) on gRPC's callback API. Reactors never block: authentication happens on the
// gRPC thread, everything that waits on the queue runs on the ApiExecutor, which finishes the
// reactor. Each reactor has at most one operation outstanding at a time (a store call, a read or
// a write), so it is finished exactly once and never touched after.
namespace webpush::dispatcher::service {

struct DispatcherServiceOptions {
  bool mtls = false;  // client certificates are verified: their identities authenticate tenants
  absl::Duration watch_poll = absl::Milliseconds(200);  // WatchJob re-reads events this often
  size_t watch_batch = 500;                             // events read per poll
  int64_t max_backlog = 50'000'000;                     // queue.max_backlog (for retry delays)
  metrics::WebpushMetrics* metrics = nullptr;           // optional; must outlive the service
};

// ApiStats counts what the API did; read from any thread. Issue 7 exports them as metrics.
struct ApiStats {
  std::atomic<uint64_t> jobs_accepted{0};
  std::atomic<uint64_t> targets_accepted{0};
  std::atomic<uint64_t> jobs_existing{0};  // idempotent repeats
  std::atomic<uint64_t> invalid_argument{0};
  std::atomic<uint64_t> unauthenticated{0};
  std::atomic<uint64_t> quota_rate{0};     // RESOURCE_EXHAUSTED: messages per second
  std::atomic<uint64_t> quota_pending{0};  // RESOURCE_EXHAUSTED: pending targets / backlog
  std::atomic<uint64_t> unavailable{0};
};

class DispatcherService final : public v1::Dispatcher::CallbackService {
 public:
  // All references must outlive the service (and the grpc::Server it is registered with).
  DispatcherService(queue::JobStore& store, const TenantRegistry& tenants,
                    const push::EndpointPolicy& policy, ApiExecutor& executor,
                    DispatcherServiceOptions options);

  // SetDraining makes new submissions fail with UNAVAILABLE ("draining"); reads still work.
  void SetDraining(bool draining) { draining_.store(draining); }
  [[nodiscard]] const ApiStats& stats() const { return stats_; }

  // v1::Dispatcher::CallbackService
  grpc::ServerUnaryReactor* SubmitJob(grpc::CallbackServerContext* context,
                                      const v1::SubmitJobRequest* request,
                                      v1::SubmitJobResponse* response) override;
  grpc::ServerReadReactor<v1::UploadJobRequest>* UploadJob(
      grpc::CallbackServerContext* context, v1::SubmitJobResponse* response) override;
  grpc::ServerUnaryReactor* GetJob(grpc::CallbackServerContext* context,
                                   const v1::GetJobRequest* request, v1::Job* response) override;
  grpc::ServerWriteReactor<v1::JobEvent>* WatchJob(grpc::CallbackServerContext* context,
                                                   const v1::WatchJobRequest* request) override;
  grpc::ServerUnaryReactor* CancelJob(grpc::CallbackServerContext* context,
                                      const v1::CancelJobRequest* request,
                                      v1::Job* response) override;
  grpc::ServerUnaryReactor* ListJobs(grpc::CallbackServerContext* context,
                                     const v1::ListJobsRequest* request,
                                     v1::ListJobsResponse* response) override;

 private:
  // The reactors of UploadJob and WatchJob (dispatcher_service.cc).
  class UploadReactor;
  class WatchReactor;

  // Authenticate finds the calling tenant from the metadata or the client certificate.
  [[nodiscard]] absl::StatusOr<const Tenant*> Authenticate(grpc::CallbackServerContext* context);
  // RunForTenant is the shape of the unary read calls: authenticate, answer INVALID_ARGUMENT
  // with `precheck` when set (after authentication, before any store call), else run
  // `work(tenant name) -> absl::Status` on the executor, count and finish.
  template <typename Work>
  grpc::ServerUnaryReactor* RunForTenant(grpc::CallbackServerContext* context, Work work,
                                         const char* precheck = nullptr);
  // Commit admits and queues a validated job (through `submit`), answering quota refusals with
  // RESOURCE_EXHAUSTED and a retry delay in the trailing metadata `grpc-retry-pushback-ms`.
  template <typename SubmitFn>
  [[nodiscard]] absl::StatusOr<queue::SubmitResult> Commit(grpc::CallbackServerContext* context,
                                                           const Tenant& tenant, int64_t targets,
                                                           SubmitFn submit);
  // Count records a refused call in the stats.
  // Count counts a refusal; with the tenant, a payload over its max_payload_bytes is also a
  // quota rejection in the metrics.
  void Count(const absl::Status& status, const Tenant* tenant = nullptr);
  void CountQuota(const Tenant& tenant, metrics::QuotaReason reason);

  queue::JobStore& store_;
  const TenantRegistry& tenants_;
  const push::EndpointPolicy& policy_;
  ApiExecutor& executor_;
  const DispatcherServiceOptions options_;
  std::atomic<bool> draining_{false};
  ApiStats stats_;
};

}  // namespace webpush::dispatcher::service
