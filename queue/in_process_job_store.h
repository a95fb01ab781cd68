#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "queue/job.h"
#include "queue/job_store.h"

namespace webpush::queue {

// InProcessJobStore is the JobStore that keeps everything in this process's memory: for tests and
// the single-node demo. It follows the same contract as the Redis back-end (job ids, batches,
// leases, retries, events, limits and retention), but nothing survives the process. Jobs older
// than `options.retention` are dropped on the next call, as Redis key expiry would drop them.
// Every method is thread-safe; `Fetch` waits on a condition variable that new work signals.
class InProcessJobStore final : public JobStore {
 public:
  // InProcessJobStore reads the time from `now` (injectable for tests); waits in `Fetch` are in
  // real time. Uploads from `BeginUpload` must be destroyed before the store.
  explicit InProcessJobStore(JobStoreOptions options, std::function<absl::Time()> now = &absl::Now);
  ~InProcessJobStore() override;

  InProcessJobStore(const InProcessJobStore&) = delete;
  InProcessJobStore& operator=(const InProcessJobStore&) = delete;
  InProcessJobStore(InProcessJobStore&&) = delete;
  InProcessJobStore& operator=(InProcessJobStore&&) = delete;

  // JobStore
  [[nodiscard]] absl::StatusOr<SubmitResult> Submit(const JobSpec& spec,
                                                    std::span<const Target> targets) override;
  [[nodiscard]] absl::StatusOr<std::unique_ptr<JobUpload>> BeginUpload(
      const JobSpec& spec) override;
  [[nodiscard]] absl::StatusOr<std::vector<Lease>> Fetch(std::string_view consumer,
                                                         size_t max_batches, size_t max_in_flight,
                                                         absl::Duration block) override;
  [[nodiscard]] absl::Status Record(const Lease& lease,
                                    std::span<const TargetResult> results) override;
  [[nodiscard]] absl::Status Extend(const Lease& lease) override;
  [[nodiscard]] absl::StatusOr<absl::Duration> Admit(std::string_view tenant, int64_t targets,
                                                     double per_second, int64_t burst) override;
  [[nodiscard]] absl::Status Ack(const Lease& lease) override;
  [[nodiscard]] absl::StatusOr<JobStatus> GetJob(std::string_view tenant,
                                                 std::string_view job_id) override;
  [[nodiscard]] absl::Status CancelJob(std::string_view tenant, std::string_view job_id) override;
  [[nodiscard]] absl::StatusOr<std::vector<JobEvent>> ReadEvents(std::string_view tenant,
                                                                 std::string_view job_id,
                                                                 std::string_view after_offset,
                                                                 size_t max) override;
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> ListJobs(std::string_view tenant,
                                                                  std::string_view page_token,
                                                                  size_t max) override;
  [[nodiscard]] absl::StatusOr<QueueStats> Stats() override;
  [[nodiscard]] absl::StatusOr<std::pair<int64_t, int64_t>> Backlog(
      std::string_view tenant) override;

 private:
  class State;  // the mutex and everything it guards (in_process_job_store.cc)
  std::unique_ptr<State> state_;
};

}  // namespace webpush::queue
