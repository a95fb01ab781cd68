#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "queue/job.h"

namespace webpush::queue {

// JobStoreOptions are the behaviour settings shared by every back-end.
struct JobStoreOptions {
  size_t batch_size = 500;                       // targets per stored batch (one stream entry)
  absl::Duration lease = absl::Seconds(30);      // after this, an unacknowledged batch is reclaimed
  uint32_t max_attempts = 5;                     // attempts per target before it fails for good
  absl::Duration retry_base = absl::Seconds(1);  // exponential back-off: base * 2^attempt,
  absl::Duration retry_max = absl::Minutes(10);  // capped, with +-20% jitter
  int64_t max_backlog = 50'000'000;              // pending targets over all tenants
  int64_t max_backlog_per_tenant = 10'000'000;
  absl::Duration retention = absl::Hours(24);  // jobs and events kept this long after creation
  int progress_every = 1000;                   // a progress event at least every this many outcomes
  // A message with TTL 0 means "deliver now or never" (RFC 8030 §5.2): it gets one attempt, made
  // if a consumer reaches it within this window, and is never retried.
  absl::Duration zero_ttl_window = absl::Seconds(30);
};

// QueueStats is the store's state for the gauges (all replicas together).
struct QueueStats {
  int64_t jobs_running = 0;  // queued or running: accepted, not finished or cancelled
  // Age of the oldest batch in the work queue, waiting or leased (zero when it is empty).
  // Retries waiting for their back-off are not in the work queue yet.
  absl::Duration oldest_pending_age = absl::ZeroDuration();
  int64_t consumer_lag = 0;  // work-queue entries not yet handed to any consumer
};

// JobUpload accumulates the targets of one job (client-streaming uploads of millions of targets)
// and commits them at once: until Commit, nothing is visible to consumers or to GetJob. Destroying
// an uncommitted upload discards what it stored. Not thread-safe.
class JobUpload {
 public:
  virtual ~JobUpload() = default;
  // Add stores more targets (any count; they are cut into batches of `batch_size`).
  [[nodiscard]] virtual absl::Status Add(std::span<const Target> targets) = 0;
  // Commit makes the job visible and its batches consumable. Fails with InvalidArgument for a job
  // without targets and ResourceExhausted when the backlog limits would be exceeded (the upload is
  // then discarded).
  [[nodiscard]] virtual absl::StatusOr<SubmitResult> Commit() = 0;
};

// JobStore is the durable job queue (architecture.md, "queue/"). Jobs are stored with their
// targets in batches; consumers in one group lease batches, record an outcome per target, and
// acknowledge. Every method is thread-safe.
//
// Delivery is at least once: a target whose outcome was recorded is never handed out again, but a
// target in flight when its consumer died is handed to another consumer after the lease.
class JobStore {
 public:
  virtual ~JobStore() = default;

  // Submit stores a job and all its targets in one call (up to a few thousand targets; larger
  // jobs use BeginUpload). Errors: InvalidArgument (names the field, e.g. "targets[3].endpoint"),
  // ResourceExhausted (backlog limits), Unavailable (store unreachable). With an idempotency key
  // already used by the tenant, returns the existing job (`existing` = true) and stores nothing.
  [[nodiscard]] virtual absl::StatusOr<SubmitResult> Submit(const JobSpec& spec,
                                                            std::span<const Target> targets) = 0;

  // BeginUpload starts a streamed submission; the spec is validated now, targets as they come.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<JobUpload>> BeginUpload(
      const JobSpec& spec) = 0;

  // Fetch leases up to `max_batches` batches for `consumer`, waiting up to `block` when none is
  // ready. First reclaims batches whose lease expired and moves due retries back to the queue.
  // Targets whose TTL has passed are recorded as expired and not returned; batches of cancelled
  // jobs are acknowledged and skipped. A consumer never holds more than `max_in_flight` leased
  // batches: Fetch returns fewer (or none) until it acknowledges.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Lease>> Fetch(std::string_view consumer,
                                                                 size_t max_batches,
                                                                 size_t max_in_flight,
                                                                 absl::Duration block) = 0;

  // Record stores outcomes of targets of `lease` (any subset, any number of calls). Idempotent per
  // target: a second outcome for an already finished target is ignored. kRetry schedules the
  // target again (not before `not_before`, or after back-off) unless attempts or the TTL are
  // exhausted, in which case it is recorded failed or expired. Permanent failures other than gone
  // also go to the dead-letter stream.
  [[nodiscard]] virtual absl::Status Record(const Lease& lease,
                                            std::span<const TargetResult> results) = 0;

  // Extend renews `lease` for another `lease` period from now, so that a consumer still waiting
  // for answers keeps its batch while a consumer that died loses it after one lease period.
  // FailedPrecondition when the batch is no longer this consumer's (the lease expired and another
  // consumer reclaimed it, or it was acknowledged): the caller should stop sending it.
  [[nodiscard]] virtual absl::Status Extend(const Lease& lease) = 0;

  // Admit takes `targets` from `tenant`'s admission bucket, which refills at `per_second` up to
  // `burst`, shared by every replica using this store. A submission is admitted while the bucket
  // is above zero and may overdraw it (a job of any size fits); the next one then waits until it
  // is refilled. Returns zero when admitted, otherwise how long to wait (nothing is taken). A
  // negative `targets` gives tokens back (a submission admitted but then refused) and is always
  // admitted.
  [[nodiscard]] virtual absl::StatusOr<absl::Duration> Admit(std::string_view tenant,
                                                             int64_t targets, double per_second,
                                                             int64_t burst) = 0;

  // Ack releases `lease`. Targets of the lease without a recorded outcome are handed out again
  // (as a reclaim would). Safe to call twice.
  [[nodiscard]] virtual absl::Status Ack(const Lease& lease) = 0;

  // GetJob returns the state of a job of `tenant`; NotFound for an unknown job or another
  // tenant's job.
  [[nodiscard]] virtual absl::StatusOr<JobStatus> GetJob(std::string_view tenant,
                                                         std::string_view job_id) = 0;

  // CancelJob stops further sends of a job: batches not yet leased are skipped, and outcomes of
  // sends already in flight are still recorded. NotFound as for GetJob; cancelling a finished job
  // is FailedPrecondition.
  [[nodiscard]] virtual absl::Status CancelJob(std::string_view tenant,
                                               std::string_view job_id) = 0;

  // ReadEvents returns up to `max` events of a job after `after_offset` ("" = from the start).
  [[nodiscard]] virtual absl::StatusOr<std::vector<JobEvent>> ReadEvents(
      std::string_view tenant, std::string_view job_id, std::string_view after_offset,
      size_t max) = 0;

  // ListJobs returns up to `max` job ids of `tenant`, newest first, after `page_token` ("" =
  // first page); the last element of a full page is the next token.
  [[nodiscard]] virtual absl::StatusOr<std::vector<std::string>> ListJobs(
      std::string_view tenant, std::string_view page_token, size_t max) = 0;

  // Backlog returns the pending targets over all tenants and for `tenant`.
  [[nodiscard]] virtual absl::StatusOr<std::pair<int64_t, int64_t>> Backlog(
      std::string_view tenant) = 0;

  // Stats reads the queue-wide gauges (a few cheap reads per shard; for scrapes and /readyz, it
  // also tells whether the store answers).
  [[nodiscard]] virtual absl::StatusOr<QueueStats> Stats() = 0;
};

// ValidateJob checks a job before anything is stored; errors name the field ("payload",
// "message.ttl_seconds", "targets[12].endpoint", ...). Every back-end calls it.
[[nodiscard]] absl::Status ValidateMessage(const Message& message);
[[nodiscard]] absl::Status ValidateTarget(const Target& target, size_t index);

// DeliveryDeadline is when a message submitted at `created` may no longer be sent: created + TTL,
// or created + `zero_ttl_window` for TTL 0.
[[nodiscard]] absl::Time DeliveryDeadline(const JobStoreOptions& options, absl::Time created,
                                          int64_t ttl_seconds);

// RetryDelay is the back-off before attempt `attempt` + 1: base * 2^attempt capped at `max`,
// scaled by `jitter` in [0.8, 1.2].
[[nodiscard]] absl::Duration RetryDelay(const JobStoreOptions& options, uint32_t attempt,
                                        double jitter);

}  // namespace webpush::queue
