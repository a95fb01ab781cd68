#include "dispatcher/service/dispatcher_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <utility>

#include "dispatcher/log.h"
#include "dispatcher/service/job_request.h"
#include "dispatcher/service/proto_convert.h"

namespace webpush::dispatcher::service {
namespace {

constexpr size_t kMaxPageSize = 1000;
constexpr size_t kDefaultPageSize = 100;

grpc::Status Overloaded() {
  return {grpc::StatusCode::UNAVAILABLE, "server: overloaded, retry later"};
}

std::string Seconds(absl::Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1fs", absl::ToDoubleSeconds(d));
  return buf;
}

void AddPushback(grpc::CallbackServerContext* context, absl::Duration delay) {
  // gRFC A6: a client whose retry policy covers RESOURCE_EXHAUSTED waits this long.
  context->AddTrailingMetadata("grpc-retry-pushback-ms",
                               std::to_string(absl::ToInt64Milliseconds(delay)));
}

}  // namespace

DispatcherService::DispatcherService(queue::JobStore& store, const TenantRegistry& tenants,
                                     const push::EndpointPolicy& policy, ApiExecutor& executor,
                                     DispatcherServiceOptions options)
    : store_(store), tenants_(tenants), policy_(policy), executor_(executor), options_(options) {}

absl::StatusOr<const Tenant*> DispatcherService::Authenticate(
    grpc::CallbackServerContext* context) {
  std::optional<std::string_view> authorization;
  const auto& metadata = context->client_metadata();
  if (const auto it = metadata.find("authorization"); it != metadata.end()) {
    authorization = std::string_view(it->second.data(), it->second.size());
  }
  std::vector<std::string> identities;
  if (options_.mtls) {
    const std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
    if (auth != nullptr && auth->IsPeerAuthenticated()) {
      for (const char* property : {"x509_common_name", "x509_subject_alternative_name"}) {
        for (const grpc::string_ref& value : auth->FindPropertyValues(property)) {
          identities.emplace_back(value.data(), value.size());
        }
      }
    }
  }
  absl::StatusOr<const Tenant*> tenant = tenants_.Authenticate(authorization, identities);
  if (!tenant.ok()) {
    stats_.unauthenticated.fetch_add(1, std::memory_order_relaxed);
  }
  return tenant;
}

void DispatcherService::CountQuota(const Tenant& tenant, metrics::QuotaReason reason) {
  if (options_.metrics != nullptr) {
    options_.metrics->CountQuotaRejection(tenant.name, reason);
  }
}

void DispatcherService::Count(const absl::Status& status, const Tenant* tenant) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      stats_.invalid_argument.fetch_add(1, std::memory_order_relaxed);
      if (tenant != nullptr && status.message().find("max_payload_bytes") != std::string::npos) {
        CountQuota(*tenant, metrics::QuotaReason::kMaxPayload);
      }
      break;
    case absl::StatusCode::kUnavailable:
      stats_.unavailable.fetch_add(1, std::memory_order_relaxed);
      break;
    default:
      break;
  }
}

template <typename SubmitFn>
absl::StatusOr<queue::SubmitResult> DispatcherService::Commit(grpc::CallbackServerContext* context,
                                                              const Tenant& tenant, int64_t targets,
                                                              SubmitFn submit) {
  const config::TenantQuotas& q = tenant.quotas;
  absl::StatusOr<absl::Duration> wait =
      store_.Admit(tenant.name, targets, q.messages_per_second, q.burst);
  if (!wait.ok()) {
    return wait.status();
  }
  if (*wait > absl::ZeroDuration()) {
    stats_.quota_rate.fetch_add(1, std::memory_order_relaxed);
    CountQuota(tenant, metrics::QuotaReason::kRateLimit);
    Log(LogLevel::kInfo, "job.refused",
        {{"tenant", tenant.name}, {"reason", "rate_limit"}, {"targets", std::to_string(targets)}});
    AddPushback(context, *wait);
    return absl::ResourceExhaustedError(
        "quota: tenant " + tenant.name + " is over its messages_per_second (" +
        std::to_string(static_cast<int64_t>(q.messages_per_second)) + "); retry in " +
        Seconds(*wait));
  }
  absl::StatusOr<queue::SubmitResult> result = submit();
  if (!result.ok() || result->existing) {
    // Nothing was queued: give the admission back.
    (void)store_.Admit(tenant.name, -targets, q.messages_per_second, q.burst);
  }
  if (!result.ok() && result.status().code() == absl::StatusCode::kResourceExhausted) {
    stats_.quota_pending.fetch_add(1, std::memory_order_relaxed);
    CountQuota(tenant, metrics::QuotaReason::kMaxPending);
    Log(LogLevel::kInfo, "job.refused",
        {{"tenant", tenant.name}, {"reason", "max_pending"}, {"targets", std::to_string(targets)}});
    // The wait is the time the excess needs to drain at the tenant's rate (at least a second).
    absl::Duration delay = absl::Seconds(1);
    if (absl::StatusOr<std::pair<int64_t, int64_t>> backlog = store_.Backlog(tenant.name);
        backlog.ok()) {
      const int64_t excess =
          std::max({backlog->second + targets - q.max_pending_targets,
                    backlog->first + targets - options_.max_backlog, int64_t{0}});
      delay = std::max(
          delay, absl::Seconds(std::ceil(static_cast<double>(excess) / q.messages_per_second)));
    }
    AddPushback(context, delay);
    return absl::ResourceExhaustedError(std::string(result.status().message()) + "; retry in " +
                                        Seconds(delay));
  }
  if (result.ok()) {
    Log(LogLevel::kInfo, "job.accepted",
        {{"job", result->job_id},
         {"tenant", tenant.name},
         {"targets", std::to_string(result->targets)},
         {"existing", result->existing ? "true" : "false"}});
  }
  if (result.ok() && !result->existing) {
    stats_.jobs_accepted.fetch_add(1, std::memory_order_relaxed);
    stats_.targets_accepted.fetch_add(static_cast<uint64_t>(targets), std::memory_order_relaxed);
    if (options_.metrics != nullptr) {
      options_.metrics->CountTargetsSubmitted(tenant.name, targets);
    }
  } else if (result.ok()) {
    stats_.jobs_existing.fetch_add(1, std::memory_order_relaxed);
  }
  return result;
}

grpc::ServerUnaryReactor* DispatcherService::SubmitJob(grpc::CallbackServerContext* context,
                                                       const v1::SubmitJobRequest* request,
                                                       v1::SubmitJobResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<const Tenant*> tenant = Authenticate(context);
  if (!tenant.ok()) {
    reactor->Finish(ToGrpcStatus(tenant.status()));
    return reactor;
  }
  if (draining_.load()) {
    reactor->Finish({grpc::StatusCode::UNAVAILABLE, "server: draining, retry on another replica"});
    return reactor;
  }
  const Tenant& t = **tenant;
  const bool posted = executor_.Post([this, context, request, response, reactor, &t] {
    auto run = [&]() -> absl::Status {
      absl::StatusOr<queue::JobSpec> spec =
          ToJobSpec(request->message(), request->idempotency_key(), t);
      if (!spec.ok()) {
        return spec.status();
      }
      if (request->targets().empty()) {
        return absl::InvalidArgumentError("targets: a job needs at least one target");
      }
      if (static_cast<size_t>(request->targets_size()) > kMaxSubmitTargets) {
        return absl::InvalidArgumentError("targets: at most 10000 per SubmitJob; use UploadJob");
      }
      const TargetConverter converter(policy_, t);
      std::vector<queue::Target> targets(static_cast<size_t>(request->targets_size()));
      for (size_t i = 0; i < targets.size(); ++i) {
        if (absl::Status s =
                converter.Convert(request->targets(static_cast<int>(i)), i, targets[i]);
            !s.ok()) {
          return s;
        }
      }
      absl::StatusOr<queue::SubmitResult> result =
          Commit(context, t, static_cast<int64_t>(targets.size()),
                 [&] { return store_.Submit(*spec, targets); });
      if (!result.ok()) {
        return result.status();
      }
      response->set_job_id(result->job_id);
      response->set_existing(result->existing);
      response->set_targets(result->targets);
      return absl::OkStatus();
    };
    const absl::Status status = run();
    Count(status, &t);
    reactor->Finish(ToGrpcStatus(status));
  });
  if (!posted) {
    reactor->Finish(Overloaded());
  }
  return reactor;
}

// UploadReactor: header, then target batches, each handed to the executor in turn (one read or
// one task outstanding at a time), then the commit when the client half-closes.
class DispatcherService::UploadReactor final
    : public grpc::ServerReadReactor<v1::UploadJobRequest> {
 public:
  UploadReactor(DispatcherService& service, grpc::CallbackServerContext* context,
                v1::SubmitJobResponse* response, const Tenant& tenant)
      : service_(service),
        context_(context),
        response_(response),
        tenant_(tenant),
        converter_(service.policy_, tenant) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    const bool posted = service_.executor_.Post([this, ok] { ok ? Handle() : CommitUpload(); });
    if (!posted) {
      Finish(Overloaded());
    }
  }

  void OnDone() override { delete this; }  // an uncommitted upload is discarded with it

 private:
  void Handle() {
    absl::Status status = request_.has_header() ? Begin() : AddBatch();
    if (!status.ok()) {
      service_.Count(status, &tenant_);
      Finish(ToGrpcStatus(status));
      return;
    }
    StartRead(&request_);
  }

  absl::Status Begin() {
    if (upload_ != nullptr) {
      return absl::InvalidArgumentError("header: only the first request may carry the header");
    }
    absl::StatusOr<queue::JobSpec> spec =
        ToJobSpec(request_.header().message(), request_.header().idempotency_key(), tenant_);
    if (!spec.ok()) {
      return spec.status();
    }
    absl::StatusOr<std::unique_ptr<queue::JobUpload>> upload = service_.store_.BeginUpload(*spec);
    if (!upload.ok()) {
      return upload.status();
    }
    upload_ = *std::move(upload);
    return absl::OkStatus();
  }

  absl::Status AddBatch() {
    if (upload_ == nullptr) {
      return absl::InvalidArgumentError("header: the first request must carry the header");
    }
    const auto& in = request_.batch().targets();
    if (count_ + static_cast<uint64_t>(in.size()) >
        static_cast<uint64_t>(tenant_.quotas.max_pending_targets)) {
      service_.stats_.quota_pending.fetch_add(1, std::memory_order_relaxed);
      service_.CountQuota(tenant_, metrics::QuotaReason::kMaxPending);
      return absl::ResourceExhaustedError(
          "quota: the upload has more targets than the tenant's max_pending_targets (" +
          std::to_string(tenant_.quotas.max_pending_targets) + ")");
    }
    batch_.resize(static_cast<size_t>(in.size()));
    for (int i = 0; i < in.size(); ++i) {
      if (absl::Status s = converter_.Convert(in[i], count_ + static_cast<size_t>(i),
                                              batch_[static_cast<size_t>(i)]);
          !s.ok()) {
        return s;
      }
    }
    if (absl::Status s = upload_->Add(batch_); !s.ok()) {
      return s;
    }
    count_ += static_cast<uint64_t>(in.size());
    return absl::OkStatus();
  }

  void CommitUpload() {
    // OnReadDone(false) also follows a cancellation: never commit what the client abandoned.
    if (context_->IsCancelled()) {
      Finish({grpc::StatusCode::CANCELLED, "upload: cancelled by the client; nothing queued"});
      return;
    }
    absl::Status status;
    if (upload_ == nullptr) {
      status = absl::InvalidArgumentError("header: the upload carried no header");
    } else if (count_ == 0) {
      status = absl::InvalidArgumentError("targets: a job needs at least one target");
    } else {
      absl::StatusOr<queue::SubmitResult> result = service_.Commit(
          context_, tenant_, static_cast<int64_t>(count_), [this] { return upload_->Commit(); });
      if (result.ok()) {
        response_->set_job_id(result->job_id);
        response_->set_existing(result->existing);
        response_->set_targets(result->targets);
      }
      status = result.status();
    }
    service_.Count(status, &tenant_);
    Finish(ToGrpcStatus(status));
  }

  DispatcherService& service_;
  grpc::CallbackServerContext* context_;
  v1::SubmitJobResponse* response_;
  const Tenant& tenant_;
  const TargetConverter converter_;
  v1::UploadJobRequest request_;
  std::unique_ptr<queue::JobUpload> upload_;
  std::vector<queue::Target> batch_;
  uint64_t count_ = 0;
};

grpc::ServerReadReactor<v1::UploadJobRequest>* DispatcherService::UploadJob(
    grpc::CallbackServerContext* context, v1::SubmitJobResponse* response) {
  absl::StatusOr<const Tenant*> tenant = Authenticate(context);
  if (!tenant.ok() || draining_.load()) {
    // A reactor that finishes at once: gRPC still needs a reactor object to own the call.
    class Refused final : public grpc::ServerReadReactor<v1::UploadJobRequest> {
     public:
      explicit Refused(const grpc::Status& status) { Finish(status); }
      void OnDone() override { delete this; }
    };
    return new Refused(tenant.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                  "server: draining, retry on another replica")
                                   : ToGrpcStatus(tenant.status()));
  }
  return new UploadReactor(*this, context, response, **tenant);
}

template <typename Work>
grpc::ServerUnaryReactor* DispatcherService::RunForTenant(grpc::CallbackServerContext* context,
                                                          Work work, const char* precheck) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<const Tenant*> tenant = Authenticate(context);
  if (!tenant.ok()) {
    reactor->Finish(ToGrpcStatus(tenant.status()));
    return reactor;
  }
  if (precheck != nullptr) {
    reactor->Finish({grpc::StatusCode::INVALID_ARGUMENT, precheck});
    return reactor;
  }
  if (!executor_.Post([this, reactor, name = (*tenant)->name, work = std::move(work)] {
        const absl::Status status = work(name);
        Count(status);
        reactor->Finish(ToGrpcStatus(status));
      })) {
    reactor->Finish(Overloaded());
  }
  return reactor;
}

grpc::ServerUnaryReactor* DispatcherService::GetJob(grpc::CallbackServerContext* context,
                                                    const v1::GetJobRequest* request,
                                                    v1::Job* response) {
  return RunForTenant(context, [this, request, response](const std::string& name) {
    absl::StatusOr<queue::JobStatus> job = store_.GetJob(name, request->job_id());
    if (job.ok()) {
      ToProto(*job, *response);
    }
    return job.status();
  });
}

grpc::ServerUnaryReactor* DispatcherService::CancelJob(grpc::CallbackServerContext* context,
                                                       const v1::CancelJobRequest* request,
                                                       v1::Job* response) {
  return RunForTenant(context, [this, request, response](const std::string& name) {
    if (absl::Status status = store_.CancelJob(name, request->job_id()); !status.ok()) {
      return status;
    }
    Log(LogLevel::kInfo, "job.cancelled", {{"job", request->job_id()}, {"tenant", name}});
    absl::StatusOr<queue::JobStatus> job = store_.GetJob(name, request->job_id());
    if (job.ok()) {
      ToProto(*job, *response);
    }
    return job.status();
  });
}

grpc::ServerUnaryReactor* DispatcherService::ListJobs(grpc::CallbackServerContext* context,
                                                      const v1::ListJobsRequest* request,
                                                      v1::ListJobsResponse* response) {
  const bool bad_page =
      request->page_size() < 0 || static_cast<size_t>(request->page_size()) > kMaxPageSize;
  return RunForTenant(
      context,
      [this, request, response](const std::string& name) {
        const size_t page = request->page_size() == 0 ? kDefaultPageSize
                                                      : static_cast<size_t>(request->page_size());
        absl::StatusOr<std::vector<std::string>> ids =
            store_.ListJobs(name, request->page_token(), page);
        absl::Status status = ids.status();
        for (size_t i = 0; status.ok() && i < ids->size(); ++i) {
          absl::StatusOr<queue::JobStatus> job = store_.GetJob(name, (*ids)[i]);
          if (job.ok()) {
            ToProto(*job, *response->add_jobs());
          } else if (job.status().code() != absl::StatusCode::kNotFound) {
            status = job.status();  // a job that expired between the two reads is skipped
          }
        }
        if (status.ok() && ids->size() == page) {
          response->set_next_page_token(ids->back());
        }
        return status;
      },
      bad_page ? "page_size: must be from 0 to 1000" : nullptr);
}

// WatchReactor alternates between one store poll (on the executor) and the writes of what it
// found; exactly one of the two is outstanding at any time, so whichever sees the end (the
// finished event, a cancellation, an error) calls Finish and nothing touches the reactor after.
class DispatcherService::WatchReactor final : public grpc::ServerWriteReactor<v1::JobEvent> {
 public:
  WatchReactor(DispatcherService& service, grpc::CallbackServerContext* context,
               const v1::WatchJobRequest* request, std::string tenant)
      : service_(service),
        context_(context),
        job_id_(request->job_id()),
        offset_(request->after_offset()),
        skip_progress_(request->skip_progress()),
        tenant_(std::move(tenant)) {
    Schedule(absl::ZeroDuration());
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish({grpc::StatusCode::CANCELLED, "watch: the stream broke"});
      return;
    }
    pending_.pop_front();
    if (finishing_ && pending_.empty()) {
      Finish(grpc::Status::OK);
      return;
    }
    if (!pending_.empty()) {
      StartWrite(&pending_.front());
      return;
    }
    Schedule(absl::ZeroDuration());
  }

  void OnDone() override { delete this; }

 private:
  void Schedule(absl::Duration delay) {
    auto task = [this] { Poll(); };
    const bool posted = delay > absl::ZeroDuration() ? service_.executor_.PostAfter(delay, task)
                                                     : service_.executor_.Post(task);
    if (!posted) {
      Finish(Overloaded());
    }
  }

  void Poll() {
    if (context_->IsCancelled()) {
      Finish({grpc::StatusCode::CANCELLED, "watch: cancelled"});
      return;
    }
    if (!have_job_) {
      absl::StatusOr<queue::JobStatus> job = service_.store_.GetJob(tenant_, job_id_);
      if (!job.ok()) {
        Finish(ToGrpcStatus(job.status()));
        return;
      }
      job_ = *std::move(job);
      have_job_ = true;
    }
    absl::StatusOr<std::vector<queue::JobEvent>> events =
        service_.store_.ReadEvents(tenant_, job_id_, offset_, service_.options_.watch_batch);
    if (!events.ok()) {
      if (events.status().code() == absl::StatusCode::kUnavailable) {
        Schedule(absl::Seconds(1));  // Redis away: keep the stream and try again
        return;
      }
      Finish(ToGrpcStatus(events.status()));
      return;
    }
    for (const queue::JobEvent& event : *events) {
      offset_ = event.offset;
      if (event.type == queue::EventType::kProgress && skip_progress_) {
        continue;
      }
      if (event.type == queue::EventType::kFinished) {
        // The job's final record (finished time, counters) for the last event.
        if (absl::StatusOr<queue::JobStatus> job = service_.store_.GetJob(tenant_, job_id_);
            job.ok()) {
          job_ = *std::move(job);
        }
        finishing_ = true;
      }
      v1::JobEvent out;
      if (ToProto(event, job_, out)) {
        pending_.push_back(std::move(out));
      }
      if (finishing_) {
        break;
      }
    }
    if (!pending_.empty()) {
      StartWrite(&pending_.front());
      return;
    }
    if (finishing_) {
      Finish(grpc::Status::OK);
      return;
    }
    // A job that had already ended when the watch began, watched from an offset past its last
    // event: nothing will ever come, so the stream ends now instead of polling forever.
    if (job_.state == queue::JobState::kDone || job_.state == queue::JobState::kCancelled) {
      Finish(grpc::Status::OK);
      return;
    }
    Schedule(service_.options_.watch_poll);
  }

  DispatcherService& service_;
  grpc::CallbackServerContext* context_;
  const std::string job_id_;
  std::string offset_;
  const bool skip_progress_;
  const std::string tenant_;
  bool have_job_ = false;
  queue::JobStatus job_;
  std::deque<v1::JobEvent> pending_;
  bool finishing_ = false;
};

grpc::ServerWriteReactor<v1::JobEvent>* DispatcherService::WatchJob(
    grpc::CallbackServerContext* context, const v1::WatchJobRequest* request) {
  absl::StatusOr<const Tenant*> tenant = Authenticate(context);
  if (!tenant.ok()) {
    class Refused final : public grpc::ServerWriteReactor<v1::JobEvent> {
     public:
      explicit Refused(const grpc::Status& status) { Finish(status); }
      void OnDone() override { delete this; }
    };
    return new Refused(ToGrpcStatus(tenant.status()));
  }
  return new WatchReactor(*this, context, request, (*tenant)->name);
}

}  // namespace webpush::dispatcher::service
