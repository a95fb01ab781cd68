#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "queue/job_store.h"

namespace webpush::queue {

namespace internal {
class RedisConnection;
}

// RedisOptions say how to reach Redis and how the keys are laid out.
struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string username;  // ACL user; empty: the default user
  std::string password;  // empty: no AUTH
  int db = 0;
  std::string key_prefix = "wp";
  // Keys carry the hash tag {<prefix>:s<N>} of one of `shards` shards; a job and everything about
  // it live in one shard, so every atomic step touches one Redis Cluster slot. Consumers read all
  // shards; backlog limits apply per shard (limit / shards).
  int shards = 1;
  std::string group = "workers";  // the consumer group all replicas share
  size_t max_connections = 16;
  absl::Duration reconnect_deadline = absl::Seconds(30);
};

// RedisJobStore is the production JobStore on Redis Streams (hiredis). Per shard:
//   <p>:{<p>:sN}:work            stream of batch references (job id, batch number), one
//                                consumer group; acknowledged entries are deleted, never trimmed
//   <p>:{<p>:sN}:delayed         sorted set of retry batches by due time
//   <p>:{<p>:sN}:dead            dead-letter stream (permanent failures other than gone)
//   <p>:{<p>:sN}:backlog         hash of pending targets: "*" and "t:<tenant>"
//   <p>:{<p>:sN}:jobs:<tenant>   sorted set of the tenant's job ids by creation time
//   <p>:{<p>:sN}:idem:<t>:<key>  idempotency key -> job id
//   <p>:{<p>:sN}:job:<id>        hash: message, state, counters, times
//   <p>:{<p>:sN}:job:<id>:b      hash: batch number -> encoded targets
//   <p>:{<p>:sN}:job:<id>:done   bitmap of targets with a final outcome
//   <p>:{<p>:sN}:job:<id>:events stream of job events
// Job keys expire `retention` after the job's TTL deadline.
class RedisJobStore final : public JobStore {
 public:
  using NowFunction = std::function<absl::Time()>;

  // Create connects (with the configured retries), loads the scripts and creates the consumer
  // groups. Unavailable when Redis cannot be reached before the reconnect deadline.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RedisJobStore>> Create(
      RedisOptions redis, JobStoreOptions options, NowFunction now = &absl::Now);
  ~RedisJobStore() override;

  // JobStore
  absl::StatusOr<SubmitResult> Submit(const JobSpec& spec,
                                      std::span<const Target> targets) override;
  absl::StatusOr<std::unique_ptr<JobUpload>> BeginUpload(const JobSpec& spec) override;
  absl::StatusOr<std::vector<Lease>> Fetch(std::string_view consumer, size_t max_batches,
                                           size_t max_in_flight, absl::Duration block) override;
  absl::Status Record(const Lease& lease, std::span<const TargetResult> results) override;
  absl::Status Extend(const Lease& lease) override;
  absl::StatusOr<absl::Duration> Admit(std::string_view tenant, int64_t targets, double per_second,
                                       int64_t burst) override;
  absl::Status Ack(const Lease& lease) override;
  absl::StatusOr<JobStatus> GetJob(std::string_view tenant, std::string_view job_id) override;
  absl::Status CancelJob(std::string_view tenant, std::string_view job_id) override;
  absl::StatusOr<std::vector<JobEvent>> ReadEvents(std::string_view tenant, std::string_view job_id,
                                                   std::string_view after_offset,
                                                   size_t max) override;
  absl::StatusOr<std::vector<std::string>> ListJobs(std::string_view tenant,
                                                    std::string_view page_token,
                                                    size_t max) override;
  absl::StatusOr<std::pair<int64_t, int64_t>> Backlog(std::string_view tenant) override;
  absl::StatusOr<QueueStats> Stats() override;

  // DeleteAllForTest removes every key of this store's prefix (tests start from empty).
  [[nodiscard]] absl::Status DeleteAllForTest();

 private:
  class Upload;

  RedisJobStore(RedisOptions redis, JobStoreOptions options, NowFunction now);

  [[nodiscard]] absl::Status Init();
  [[nodiscard]] std::unique_ptr<internal::RedisConnection> Acquire();
  void Release(std::unique_ptr<internal::RedisConnection> conn);

  [[nodiscard]] std::string ShardTag(int shard) const;
  [[nodiscard]] int ShardOf(std::string_view job_id) const;
  [[nodiscard]] std::string JobKey(int shard, std::string_view job_id,
                                   std::string_view suffix = "") const;
  [[nodiscard]] std::string NewJobId(const JobSpec& spec) const;

  [[nodiscard]] absl::StatusOr<SubmitResult> CommitStaged(const JobSpec& spec,
                                                          const std::string& job_id, int shard,
                                                          int64_t targets, int64_t batches);
  // Maintain moves due retries back to the work streams.
  [[nodiscard]] absl::Status Maintain(internal::RedisConnection& conn);
  // RecordFinal runs the record script once; a non-empty `ack_consumer` also acknowledges the
  // lease's batch if that consumer still holds it.
  [[nodiscard]] absl::Status RecordFinal(internal::RedisConnection& conn, const Lease& lease,
                                         std::span<const TargetResult> finals,
                                         std::span<const LeasedTarget> retry, absl::Time due,
                                         const std::string& ack_consumer = "",
                                         std::span<const TargetResult> latencies = {});

  RedisOptions redis_;
  JobStoreOptions options_;
  NowFunction now_;
  // SHA1 of each Lua script, set once by Init (EVALSHA; EVAL after a Redis restart lost them).
  std::vector<std::string> script_shas_;

  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<internal::RedisConnection>> pool_ ABSL_GUARDED_BY(pool_mu_);

  std::atomic<uint64_t> lease_serial_{0};
  absl::Mutex mu_;
  // Leases handed out by this process and not acknowledged: per consumer count, and the targets
  // recorded so far per lease (so Ack can hand back the rest).
  absl::flat_hash_map<std::string, size_t> in_flight_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<uint32_t>> recorded_ ABSL_GUARDED_BY(mu_);
  // Lease -> the consumer it was handed to.
  absl::flat_hash_map<std::string, std::string> consumers_ ABSL_GUARDED_BY(mu_);
  // Leases whose batch Record already acknowledged (every target had an outcome).
  absl::flat_hash_set<std::string> acked_ ABSL_GUARDED_BY(mu_);
  absl::Time last_maintain_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace webpush::queue
