#include "queue/in_process_job_store.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <charconv>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <system_error>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "queue/internal/admission_bucket.h"

namespace webpush::queue {
namespace {

// A waiting Fetch looks again at least this often, so that an injected clock that is not real
// time still lets leases expire and retries come due while it waits.
constexpr absl::Duration kMaxWaitSlice = absl::Milliseconds(100);

absl::Status NoTargets() {
  return absl::InvalidArgumentError("targets: a job needs at least one target");
}

// Slot is one target of a stored batch, at the attempt it was queued for. A slot whose target has
// since finished, or moved on to a later attempt (a retry was recorded), is skipped.
struct Slot {
  uint32_t index = 0;
  uint32_t attempt = 0;
};

// Entry is one stored batch (a stream entry in Redis); it is leased while `consumer` is set.
struct Entry {
  std::string job_id;
  std::vector<Slot> slots;
  std::string consumer;
  absl::Time lease_deadline = absl::InfinitePast();
  uint32_t deliveries = 0;
  absl::Time enqueued = absl::InfinitePast();  // for the oldest-pending gauge
};

struct TargetState {
  uint32_t attempt = 0;  // attempts already made
  bool finished = false;
};

struct Job {
  JobStatus status;
  std::shared_ptr<const Message> message;
  std::vector<Target> targets;
  std::vector<TargetState> target_states;
  std::vector<JobEvent> events;  // offset of events[i] is i + 1
  int outcomes_since_progress = 0;
};

// RetryItem is a target held until its not-before time (Redis keeps these in a delayed set).
struct RetryItem {
  std::string job_id;
  Slot slot;
};

// NewSlot avoids a designated initialiser (GCC 12's -Wmissing-field-initializers).
Slot NewSlot(uint32_t index, uint32_t attempt) {
  Slot slot;
  slot.index = index;
  slot.attempt = attempt;
  return slot;
}

bool ParseUint(std::string_view text, uint64_t* out) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return !text.empty() && ec == std::errc() && ptr == end;
}

absl::Status JobNotFound(std::string_view job_id) {
  return absl::NotFoundError("job " + std::string(job_id) + " not found");
}

}  // namespace

class InProcessJobStore::State {
 public:
  class Upload;

  State(JobStoreOptions options, std::function<absl::Time()> now)
      : options_(options), now_(std::move(now)) {
    // Job ids only need to be unique within this store (checked in NewJobId), so the time and an
    // instance count are seed enough.
    static std::atomic<uint64_t> instances{0};
    std::seed_seq seed{static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())), ++instances};
    absl::MutexLock lock(&mu_);
    rng_.seed(seed);
  }

  absl::StatusOr<SubmitResult> Store(const JobSpec& spec, std::vector<Target> targets)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<Lease>> Fetch(const std::string& consumer, size_t max_batches,
                                           size_t max_in_flight, absl::Duration block)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Record(const Lease& lease, std::span<const TargetResult> results)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Ack(const Lease& lease) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Extend(const Lease& lease) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Duration Admit(std::string_view tenant, int64_t targets, double per_second, int64_t burst)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<JobStatus> GetJob(std::string_view tenant, std::string_view job_id)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status CancelJob(std::string_view tenant, std::string_view job_id) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<JobEvent>> ReadEvents(std::string_view tenant, std::string_view job_id,
                                                   uint64_t after, size_t max)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::string> ListJobs(std::string_view tenant, std::string_view page_token,
                                    size_t max) ABSL_LOCKS_EXCLUDED(mu_);
  std::pair<int64_t, int64_t> Backlog(std::string_view tenant) ABSL_LOCKS_EXCLUDED(mu_);
  QueueStats Stats() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using JobMap = std::map<std::string, Job, std::less<>>;

  // Housekeeping run by every call: retention, lease expiry and due retries.
  void DropOldJobs(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropJob(JobMap::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Reclaim(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MoveDueRetries(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  [[nodiscard]] std::optional<absl::Time> NextDue() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Batches and leases.
  void Enqueue(const std::string& job_id, std::vector<Slot> slots, bool front)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TakeReady(const std::string& consumer, size_t max_batches, size_t max_in_flight,
                 absl::Time now, std::vector<Lease>* leases) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Release(uint64_t entry_id, Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  [[nodiscard]] size_t InFlight(const std::string& consumer) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Outcomes, counters and events.
  void Finish(Job& job, uint32_t index, Outcome outcome, std::string reason, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ScheduleRetry(Job& job, uint32_t index, const TargetResult& result, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void AppendEvent(Job& job, JobEvent event);
  static void AppendCounters(Job& job, EventType type);
  void AddBacklog(const std::string& tenant, int64_t delta) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  [[nodiscard]] int64_t TenantBacklog(std::string_view tenant) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  JobMap::iterator FindJob(std::string_view tenant, std::string_view job_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string NewJobId(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const JobStoreOptions options_;
  const std::function<absl::Time()> now_;

  absl::Mutex mu_;
  absl::CondVar work_cv_;             // signalled when a batch may have become ready
  JobMap jobs_ ABSL_GUARDED_BY(mu_);  // by id, so oldest first
  absl::flat_hash_map<std::string, std::set<std::string, std::less<>>> jobs_by_tenant_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::pair<std::string, std::string>, std::string> idempotency_
      ABSL_GUARDED_BY(mu_);  // (tenant, key) -> job id
  absl::flat_hash_map<uint64_t, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::deque<uint64_t> ready_ ABSL_GUARDED_BY(mu_);  // may name entries since acknowledged
  std::set<std::pair<absl::Time, uint64_t>> lease_deadlines_ ABSL_GUARDED_BY(mu_);
  std::multimap<absl::Time, RetryItem> retries_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, size_t> in_flight_ ABSL_GUARDED_BY(mu_);  // by consumer
  int64_t backlog_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int64_t> tenant_backlog_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, internal::AdmissionBucket> admission_ ABSL_GUARDED_BY(mu_);
  uint64_t next_entry_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

// Upload keeps the targets in the upload object itself, so destroying it discards them.
class InProcessJobStore::State::Upload final : public JobUpload {
 public:
  Upload(State* state, JobSpec spec) : state_(state), spec_(std::move(spec)) {}

  absl::Status Add(std::span<const Target> targets) override {
    if (closed_) {
      return absl::FailedPreconditionError("upload: already committed");
    }
    for (size_t i = 0; i < targets.size(); ++i) {
      if (absl::Status s = ValidateTarget(targets[i], targets_.size() + i); !s.ok()) {
        return s;
      }
    }
    targets_.insert(targets_.end(), targets.begin(), targets.end());
    return absl::OkStatus();
  }

  absl::StatusOr<SubmitResult> Commit() override {
    if (closed_) {
      return absl::FailedPreconditionError("upload: already committed");
    }
    closed_ = true;
    if (targets_.empty()) {
      return NoTargets();
    }
    return state_->Store(spec_, std::exchange(targets_, {}));
  }

 private:
  State* state_;
  JobSpec spec_;
  std::vector<Target> targets_;
  bool closed_ = false;
};

absl::StatusOr<SubmitResult> InProcessJobStore::State::Store(const JobSpec& spec,
                                                             std::vector<Target> targets) {
  if (targets.size() > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError("targets: more than 4294967295 targets in one job");
  }
  const auto count = static_cast<int64_t>(targets.size());
  const std::string& tenant = spec.message.tenant;
  absl::MutexLock lock(&mu_);
  const absl::Time now = now_();
  DropOldJobs(now);

  if (!spec.idempotency_key.empty()) {
    const auto it = idempotency_.find(std::make_pair(tenant, spec.idempotency_key));
    if (it != idempotency_.end()) {
      SubmitResult existing;
      existing.job_id = it->second;
      existing.existing = true;
      existing.targets = jobs_.find(it->second)->second.status.counters.total;
      return existing;
    }
  }
  if (backlog_ + count > options_.max_backlog) {
    return absl::ResourceExhaustedError(
        "backlog: " + std::to_string(backlog_) + " pending targets plus " + std::to_string(count) +
        " would exceed max_backlog " + std::to_string(options_.max_backlog));
  }
  const int64_t tenant_max = spec.max_pending > 0
                                 ? std::min(spec.max_pending, options_.max_backlog_per_tenant)
                                 : options_.max_backlog_per_tenant;
  if (const int64_t pending = TenantBacklog(tenant); pending + count > tenant_max) {
    return absl::ResourceExhaustedError("backlog: tenant " + tenant + " has " +
                                        std::to_string(pending) + " pending targets; " +
                                        std::to_string(count) + " more would exceed its limit of " +
                                        std::to_string(tenant_max) + " pending targets");
  }

  std::string job_id = NewJobId(now);
  Job job;
  job.status.job_id = job_id;
  job.status.tenant = tenant;
  job.status.state = JobState::kQueued;
  job.status.counters.total = count;
  job.status.counters.pending = count;
  job.status.created = now;
  job.status.expires = DeliveryDeadline(options_, now, spec.message.ttl_seconds);
  job.status.idempotency_key = spec.idempotency_key;
  job.status.labels = spec.message.labels;
  job.message = std::make_shared<const Message>(spec.message);
  job.target_states.resize(targets.size());
  job.targets = std::move(targets);

  const size_t batch_size = std::max<size_t>(options_.batch_size, 1);
  for (size_t begin = 0; begin < job.targets.size(); begin += batch_size) {
    const size_t end = std::min(begin + batch_size, job.targets.size());
    std::vector<Slot> slots;
    slots.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) {
      slots.push_back(NewSlot(static_cast<uint32_t>(i), 0));
    }
    Enqueue(job_id, std::move(slots), /*front=*/false);
  }
  jobs_by_tenant_[tenant].insert(job_id);
  if (!spec.idempotency_key.empty()) {
    idempotency_[std::make_pair(tenant, spec.idempotency_key)] = job_id;
  }
  AddBacklog(tenant, count);
  jobs_.emplace(job_id, std::move(job));
  work_cv_.SignalAll();

  SubmitResult result;
  result.job_id = std::move(job_id);
  result.existing = false;
  result.targets = count;
  return result;
}

absl::StatusOr<std::vector<Lease>> InProcessJobStore::State::Fetch(const std::string& consumer,
                                                                   size_t max_batches,
                                                                   size_t max_in_flight,
                                                                   absl::Duration block) {
  // `block` bounds the caller's wait in real time, whatever clock the store reads.
  const absl::Time deadline = absl::Now() + block;
  std::vector<Lease> leases;
  absl::MutexLock lock(&mu_);
  while (true) {
    const absl::Time now = now_();
    DropOldJobs(now);
    Reclaim(now);
    MoveDueRetries(now);
    TakeReady(consumer, max_batches, max_in_flight, now, &leases);
    const absl::Duration remaining = deadline - absl::Now();
    if (!leases.empty() || max_batches == 0 || remaining <= absl::ZeroDuration()) {
      return leases;
    }
    absl::Duration wait = std::min(remaining, kMaxWaitSlice);
    if (const std::optional<absl::Time> next = NextDue(); next.has_value()) {
      wait = std::min(wait, std::max(*next - now, absl::Milliseconds(1)));
    }
    work_cv_.WaitWithTimeout(&mu_, wait);
  }
}

absl::Status InProcessJobStore::State::Record(const Lease& lease,
                                              std::span<const TargetResult> results) {
  absl::flat_hash_map<uint32_t, uint32_t> leased_attempt;  // index -> attempt
  for (const LeasedTarget& target : lease.targets) {
    leased_attempt[target.index] = target.attempt;
  }
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string field = "results[" + std::to_string(i) + "]";
    if (!leased_attempt.contains(results[i].index)) {
      return absl::InvalidArgumentError(field + ".index: target " +
                                        std::to_string(results[i].index) + " is not in the lease");
    }
    if (static_cast<uint8_t>(results[i].outcome) > static_cast<uint8_t>(Outcome::kRetry)) {
      return absl::InvalidArgumentError(field + ".outcome: unknown value");
    }
  }

  absl::MutexLock lock(&mu_);
  const absl::Time now = now_();
  DropOldJobs(now);
  const auto it = jobs_.find(lease.job_id);
  if (it == jobs_.end()) {
    return absl::OkStatus();  // dropped after its retention: nothing left to record
  }
  Job& job = it->second;
  for (const TargetResult& result : results) {
    if (result.index >= job.target_states.size()) {
      return absl::InvalidArgumentError("lease: target " + std::to_string(result.index) +
                                        " is not in job " + lease.job_id);
    }
  }
  for (const TargetResult& result : results) {
    if (result.latency_ms >= 0) {
      ++job.status.latency[LatencyBucket(result.latency_ms)];
    }
  }
  for (const TargetResult& result : results) {
    const TargetState& target = job.target_states[result.index];
    // Idempotent: a finished target, or one already rescheduled from this attempt, is done with.
    if (target.finished || target.attempt != leased_attempt[result.index]) {
      continue;
    }
    if (result.outcome != Outcome::kRetry) {
      Finish(job, result.index, result.outcome, result.reason, now);
    } else if (job.status.state != JobState::kCancelled) {
      ScheduleRetry(job, result.index, result, now);
    }
  }
  return absl::OkStatus();
}

absl::Status InProcessJobStore::State::Ack(const Lease& lease) {
  uint64_t entry_id = 0;
  if (!ParseUint(lease.lease_id, &entry_id)) {
    return absl::InvalidArgumentError("lease.lease_id: not a lease of this store");
  }
  absl::MutexLock lock(&mu_);
  DropOldJobs(now_());
  const auto it = entries_.find(entry_id);
  // Already acknowledged, or reclaimed and handed out again since: the new holder acknowledges.
  if (it == entries_.end() || it->second.job_id != lease.job_id ||
      it->second.deliveries != lease.deliveries) {
    return absl::OkStatus();
  }
  if (!it->second.consumer.empty()) {
    Release(entry_id, it->second);
    work_cv_.SignalAll();  // the consumer may now be under its max_in_flight again
  }
  Entry entry = std::move(it->second);
  entries_.erase(it);

  const auto job_it = jobs_.find(entry.job_id);
  if (job_it == jobs_.end() || job_it->second.status.state == JobState::kCancelled ||
      job_it->second.status.state == JobState::kDone) {
    return absl::OkStatus();
  }
  const Job& job = job_it->second;
  std::erase_if(entry.slots, [&job](const Slot& slot) {
    const TargetState& target = job.target_states[slot.index];
    return target.finished || target.attempt != slot.attempt;
  });
  if (!entry.slots.empty()) {
    Enqueue(entry.job_id, std::move(entry.slots), /*front=*/true);
    work_cv_.SignalAll();
  }
  return absl::OkStatus();
}

absl::Status InProcessJobStore::State::Extend(const Lease& lease) {
  uint64_t entry_id = 0;
  if (!ParseUint(lease.lease_id, &entry_id)) {
    return absl::InvalidArgumentError("lease.lease_id: not a lease of this store");
  }
  absl::MutexLock lock(&mu_);
  const absl::Time now = now_();
  Reclaim(now);
  const auto it = entries_.find(entry_id);
  if (it == entries_.end() || it->second.job_id != lease.job_id ||
      it->second.deliveries != lease.deliveries || it->second.consumer.empty()) {
    return absl::FailedPreconditionError("lease: reclaimed by another consumer or acknowledged");
  }
  Entry& entry = it->second;
  lease_deadlines_.erase(std::make_pair(entry.lease_deadline, entry_id));
  entry.lease_deadline = now + options_.lease;
  lease_deadlines_.emplace(entry.lease_deadline, entry_id);
  return absl::OkStatus();
}

absl::Duration InProcessJobStore::State::Admit(std::string_view tenant, int64_t targets,
                                               double per_second, int64_t burst) {
  absl::MutexLock lock(&mu_);
  return admission_[std::string(tenant)].Take(now_(), targets, per_second, burst);
}

absl::StatusOr<JobStatus> InProcessJobStore::State::GetJob(std::string_view tenant,
                                                           std::string_view job_id) {
  absl::MutexLock lock(&mu_);
  DropOldJobs(now_());
  const auto it = FindJob(tenant, job_id);
  if (it == jobs_.end()) {
    return JobNotFound(job_id);
  }
  return it->second.status;
}

absl::Status InProcessJobStore::State::CancelJob(std::string_view tenant, std::string_view job_id) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = now_();
  DropOldJobs(now);
  const auto it = FindJob(tenant, job_id);
  if (it == jobs_.end()) {
    return JobNotFound(job_id);
  }
  Job& job = it->second;
  if (job.status.state == JobState::kDone || job.status.state == JobState::kCancelled) {
    return absl::FailedPreconditionError(
        "job " + std::string(job_id) + " is already " +
        (job.status.state == JobState::kDone ? "done" : "cancelled"));
  }
  // Batches and retries of the job are dropped when they come up; the pending targets leave the
  // backlog now and stay in `pending` for good.
  AddBacklog(job.status.tenant, -job.status.counters.pending);
  job.status.state = JobState::kCancelled;
  job.status.finished = now;
  AppendCounters(job, EventType::kFinished);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<JobEvent>> InProcessJobStore::State::ReadEvents(std::string_view tenant,
                                                                           std::string_view job_id,
                                                                           uint64_t after,
                                                                           size_t max) {
  absl::MutexLock lock(&mu_);
  DropOldJobs(now_());
  const auto it = FindJob(tenant, job_id);
  if (it == jobs_.end()) {
    return JobNotFound(job_id);
  }
  const std::vector<JobEvent>& events = it->second.events;
  std::vector<JobEvent> out;
  for (size_t i = std::min<uint64_t>(after, events.size()); i < events.size() && out.size() < max;
       ++i) {
    out.push_back(events[i]);
  }
  return out;
}

std::vector<std::string> InProcessJobStore::State::ListJobs(std::string_view tenant,
                                                            std::string_view page_token,
                                                            size_t max) {
  absl::MutexLock lock(&mu_);
  DropOldJobs(now_());
  std::vector<std::string> out;
  const auto it = jobs_by_tenant_.find(std::string(tenant));
  if (it == jobs_by_tenant_.end()) {
    return out;
  }
  const auto& ids = it->second;
  // Ids start with the creation time, so descending id order is newest first.
  auto pos = page_token.empty() ? ids.end() : ids.lower_bound(page_token);
  while (pos != ids.begin() && out.size() < max) {
    --pos;
    out.push_back(*pos);
  }
  return out;
}

std::pair<int64_t, int64_t> InProcessJobStore::State::Backlog(std::string_view tenant) {
  absl::MutexLock lock(&mu_);
  DropOldJobs(now_());
  return {backlog_, TenantBacklog(tenant)};
}

QueueStats InProcessJobStore::State::Stats() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = now_();
  DropOldJobs(now);
  QueueStats s;
  for (const auto& [id, job] : jobs_) {
    if (job.status.state == JobState::kQueued || job.status.state == JobState::kRunning) {
      ++s.jobs_running;
    }
  }
  absl::Time oldest = absl::InfiniteFuture();
  for (const auto& [entry_id, entry] : entries_) {
    if (entry.consumer.empty()) {
      ++s.consumer_lag;
    }
    oldest = std::min(oldest, entry.enqueued);
  }
  if (oldest != absl::InfiniteFuture()) {
    s.oldest_pending_age = std::max(absl::ZeroDuration(), now - oldest);
  }
  return s;
}

void InProcessJobStore::State::DropOldJobs(absl::Time now) {
  while (!jobs_.empty() && now >= jobs_.begin()->second.status.created + options_.retention) {
    DropJob(jobs_.begin());
  }
}

void InProcessJobStore::State::DropJob(JobMap::iterator it) {
  const std::string& job_id = it->first;
  const JobStatus& status = it->second.status;
  if (status.state != JobState::kCancelled) {
    AddBacklog(status.tenant, -status.counters.pending);
  }
  if (const auto tenant_it = jobs_by_tenant_.find(status.tenant);
      tenant_it != jobs_by_tenant_.end()) {
    tenant_it->second.erase(job_id);
    if (tenant_it->second.empty()) {
      jobs_by_tenant_.erase(tenant_it);
    }
  }
  if (!status.idempotency_key.empty()) {
    idempotency_.erase(std::make_pair(status.tenant, status.idempotency_key));
  }
  // Stale ids left in `ready_` and `retries_` are skipped when they come up.
  for (auto entry_it = entries_.begin(); entry_it != entries_.end();) {
    if (entry_it->second.job_id != job_id) {
      ++entry_it;
      continue;
    }
    if (!entry_it->second.consumer.empty()) {
      Release(entry_it->first, entry_it->second);
    }
    entries_.erase(entry_it++);
  }
  jobs_.erase(it);
}

void InProcessJobStore::State::Reclaim(absl::Time now) {
  while (!lease_deadlines_.empty() && lease_deadlines_.begin()->first <= now) {
    const uint64_t entry_id = lease_deadlines_.begin()->second;
    const auto it = entries_.find(entry_id);
    assert(it != entries_.end());
    Release(entry_id, it->second);
    ready_.push_front(entry_id);  // reclaimed work goes first, as XAUTOCLAIM runs before XREAD
  }
}

void InProcessJobStore::State::MoveDueRetries(absl::Time now) {
  // Due targets of one job are batched together again, in the order they came due.
  std::vector<std::pair<std::string, std::vector<Slot>>> due;
  absl::flat_hash_map<std::string, size_t> position;
  while (!retries_.empty() && retries_.begin()->first <= now) {
    RetryItem item = std::move(retries_.begin()->second);
    retries_.erase(retries_.begin());
    const auto job_it = jobs_.find(item.job_id);
    if (job_it == jobs_.end() || job_it->second.status.state == JobState::kCancelled) {
      continue;
    }
    const TargetState& target = job_it->second.target_states[item.slot.index];
    if (target.finished || target.attempt != item.slot.attempt) {
      continue;
    }
    auto [pos, inserted] = position.try_emplace(item.job_id, due.size());
    if (inserted) {
      due.emplace_back(std::move(item.job_id), std::vector<Slot>());
    }
    due[pos->second].second.push_back(item.slot);
  }
  const size_t batch_size = std::max<size_t>(options_.batch_size, 1);
  for (auto& [job_id, slots] : due) {
    for (size_t begin = 0; begin < slots.size(); begin += batch_size) {
      const size_t end = std::min(begin + batch_size, slots.size());
      Enqueue(job_id,
              std::vector<Slot>(slots.begin() + static_cast<ptrdiff_t>(begin),
                                slots.begin() + static_cast<ptrdiff_t>(end)),
              /*front=*/false);
    }
  }
}

std::optional<absl::Time> InProcessJobStore::State::NextDue() const {
  std::optional<absl::Time> next;
  if (!retries_.empty()) {
    next = retries_.begin()->first;
  }
  if (!lease_deadlines_.empty()) {
    const absl::Time lease = lease_deadlines_.begin()->first;
    next = next.has_value() ? std::min(*next, lease) : lease;
  }
  return next;
}

void InProcessJobStore::State::Enqueue(const std::string& job_id, std::vector<Slot> slots,
                                       bool front) {
  const uint64_t entry_id = next_entry_id_++;
  Entry& entry = entries_[entry_id];
  entry.job_id = job_id;
  entry.slots = std::move(slots);
  entry.enqueued = now_();
  if (front) {
    ready_.push_front(entry_id);
  } else {
    ready_.push_back(entry_id);
  }
}

void InProcessJobStore::State::TakeReady(const std::string& consumer, size_t max_batches,
                                         size_t max_in_flight, absl::Time now,
                                         std::vector<Lease>* leases) {
  while (leases->size() < max_batches && InFlight(consumer) < max_in_flight && !ready_.empty()) {
    const uint64_t entry_id = ready_.front();
    ready_.pop_front();
    const auto entry_it = entries_.find(entry_id);
    if (entry_it == entries_.end() || !entry_it->second.consumer.empty()) {
      continue;  // acknowledged (or dropped) while it waited
    }
    Entry& entry = entry_it->second;
    const auto job_it = jobs_.find(entry.job_id);
    if (job_it == jobs_.end() || job_it->second.status.state == JobState::kCancelled) {
      entries_.erase(entry_it);
      continue;
    }
    Job& job = job_it->second;
    std::erase_if(entry.slots, [&job](const Slot& slot) {
      const TargetState& target = job.target_states[slot.index];
      return target.finished || target.attempt != slot.attempt;
    });
    if (entry.slots.empty()) {
      entries_.erase(entry_it);
      continue;
    }
    if (now >= job.status.expires) {
      for (const Slot& slot : entry.slots) {
        Finish(job, slot.index, Outcome::kExpired, "ttl expired", now);
      }
      entries_.erase(entry_it);
      continue;
    }

    entry.consumer = consumer;
    entry.lease_deadline = now + options_.lease;
    ++entry.deliveries;
    lease_deadlines_.emplace(entry.lease_deadline, entry_id);
    ++in_flight_[consumer];
    if (job.status.state == JobState::kQueued) {
      job.status.state = JobState::kRunning;
    }

    Lease lease;
    lease.job_id = entry.job_id;
    lease.lease_id = std::to_string(entry_id);
    lease.shard = 0;
    lease.message = job.message;
    lease.expires = job.status.expires;
    lease.created = job.status.created;
    lease.deliveries = entry.deliveries;
    lease.targets.reserve(entry.slots.size());
    for (const Slot& slot : entry.slots) {
      LeasedTarget target;
      target.index = slot.index;
      target.attempt = slot.attempt;
      target.target = job.targets[slot.index];
      lease.targets.push_back(std::move(target));
    }
    leases->push_back(std::move(lease));
  }
}

void InProcessJobStore::State::Release(uint64_t entry_id, Entry& entry) {
  lease_deadlines_.erase(std::make_pair(entry.lease_deadline, entry_id));
  if (const auto it = in_flight_.find(entry.consumer);
      it != in_flight_.end() && --it->second == 0) {
    in_flight_.erase(it);
  }
  entry.consumer.clear();
}

size_t InProcessJobStore::State::InFlight(const std::string& consumer) const {
  const auto it = in_flight_.find(consumer);
  return it == in_flight_.end() ? 0 : it->second;
}

void InProcessJobStore::State::Finish(Job& job, uint32_t index, Outcome outcome, std::string reason,
                                      absl::Time now) {
  job.target_states[index].finished = true;
  JobCounters& counters = job.status.counters;
  --counters.pending;
  switch (outcome) {
    case Outcome::kDelivered:
      ++counters.delivered;
      break;
    case Outcome::kGone:
      ++counters.gone;
      break;
    case Outcome::kRejected:
      ++counters.rejected;
      break;
    case Outcome::kExpired:
      ++counters.expired;
      break;
    case Outcome::kFailed:
    case Outcome::kRetry:  // callers turn a retry into kFailed or kExpired first
      assert(outcome == Outcome::kFailed);
      ++counters.failed;
      break;
  }
  const bool cancelled = job.status.state == JobState::kCancelled;
  if (!cancelled) {
    AddBacklog(job.status.tenant, -1);  // a cancelled job left the backlog when cancelled
  }
  if (outcome != Outcome::kDelivered) {
    const Target& target = job.targets[index];
    JobEvent event;
    event.type = outcome == Outcome::kGone ? EventType::kGone : EventType::kFailed;
    event.target_id = target.target_id;
    event.endpoint = target.endpoint;
    event.outcome = outcome;
    event.reason = std::move(reason);
    AppendEvent(job, std::move(event));
  }
  if (++job.outcomes_since_progress >= std::max(options_.progress_every, 1)) {
    AppendCounters(job, EventType::kProgress);
  }
  if (counters.pending == 0 && !cancelled) {
    job.status.state = JobState::kDone;
    job.status.finished = now;
    if (job.outcomes_since_progress > 0) {
      AppendCounters(job, EventType::kProgress);
    }
    AppendCounters(job, EventType::kFinished);
  }
}

void InProcessJobStore::State::ScheduleRetry(Job& job, uint32_t index, const TargetResult& result,
                                             absl::Time now) {
  TargetState& target = job.target_states[index];
  if (job.message->ttl_seconds == 0) {
    Finish(job, index, Outcome::kExpired, "ttl 0: not retried: " + result.reason, now);
    return;
  }
  if (target.attempt + 1 >= options_.max_attempts) {
    Finish(job, index, Outcome::kFailed, "retries exhausted: " + result.reason, now);
    return;
  }
  absl::Time not_before = result.not_before;
  if (not_before == absl::InfinitePast()) {
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    not_before = now + RetryDelay(options_, target.attempt, jitter(rng_));
  }
  if (not_before >= job.status.expires) {
    Finish(job, index, Outcome::kExpired, "ttl expired before retry: " + result.reason, now);
    return;
  }
  ++target.attempt;
  RetryItem item;
  item.job_id = job.status.job_id;
  item.slot = NewSlot(index, target.attempt);
  retries_.emplace(not_before, std::move(item));
  work_cv_.SignalAll();  // a waiting Fetch may need to wake earlier than it planned
}

void InProcessJobStore::State::AppendEvent(Job& job, JobEvent event) {
  event.offset = std::to_string(job.events.size() + 1);
  event.state = job.status.state;
  job.events.push_back(std::move(event));
}

void InProcessJobStore::State::AppendCounters(Job& job, EventType type) {
  JobEvent event;
  event.type = type;
  event.counters = job.status.counters;
  AppendEvent(job, std::move(event));
  job.outcomes_since_progress = 0;
}

void InProcessJobStore::State::AddBacklog(const std::string& tenant, int64_t delta) {
  backlog_ += delta;
  const auto it = tenant_backlog_.try_emplace(tenant, 0).first;
  it->second += delta;
  if (it->second == 0) {
    tenant_backlog_.erase(it);
  }
}

int64_t InProcessJobStore::State::TenantBacklog(std::string_view tenant) const {
  const auto it = tenant_backlog_.find(std::string(tenant));
  return it == tenant_backlog_.end() ? 0 : it->second;
}

InProcessJobStore::State::JobMap::iterator InProcessJobStore::State::FindJob(
    std::string_view tenant, std::string_view job_id) {
  const auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second.status.tenant != tenant) {
    return jobs_.end();  // another tenant's job does not exist for this one
  }
  return it;
}

std::string InProcessJobStore::State::NewJobId(absl::Time now) {
  // "j" + 13-digit creation time in ms + 8 random hex digits: unique and sortable by time.
  std::string millis = std::to_string(std::max<int64_t>(absl::ToUnixMillis(now), 0));
  if (millis.size() < 13) {
    millis.insert(0, 13 - millis.size(), '0');
  }
  constexpr std::string_view kHex = "0123456789abcdef";
  while (true) {
    std::string id = "j" + millis;
    const uint64_t bits = rng_();
    for (int i = 0; i < 8; ++i) {
      id.push_back(kHex[(bits >> (4 * i)) & 0xf]);
    }
    if (!jobs_.contains(id)) {
      return id;
    }
  }
}

InProcessJobStore::InProcessJobStore(JobStoreOptions options, std::function<absl::Time()> now)
    : state_(std::make_unique<State>(options, std::move(now))) {}

InProcessJobStore::~InProcessJobStore() = default;

absl::StatusOr<SubmitResult> InProcessJobStore::Submit(const JobSpec& spec,
                                                       std::span<const Target> targets) {
  if (absl::Status s = ValidateMessage(spec.message); !s.ok()) {
    return s;
  }
  if (targets.empty()) {
    return NoTargets();
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    if (absl::Status s = ValidateTarget(targets[i], i); !s.ok()) {
      return s;
    }
  }
  return state_->Store(spec, std::vector<Target>(targets.begin(), targets.end()));
}

absl::StatusOr<std::unique_ptr<JobUpload>> InProcessJobStore::BeginUpload(const JobSpec& spec) {
  if (absl::Status s = ValidateMessage(spec.message); !s.ok()) {
    return s;
  }
  return std::make_unique<State::Upload>(state_.get(), spec);
}

absl::StatusOr<std::vector<Lease>> InProcessJobStore::Fetch(std::string_view consumer,
                                                            size_t max_batches,
                                                            size_t max_in_flight,
                                                            absl::Duration block) {
  if (consumer.empty()) {
    return absl::InvalidArgumentError("consumer: must not be empty");
  }
  return state_->Fetch(std::string(consumer), max_batches, max_in_flight, block);
}

absl::Status InProcessJobStore::Record(const Lease& lease, std::span<const TargetResult> results) {
  return state_->Record(lease, results);
}

absl::Status InProcessJobStore::Ack(const Lease& lease) { return state_->Ack(lease); }

absl::Status InProcessJobStore::Extend(const Lease& lease) { return state_->Extend(lease); }

absl::StatusOr<absl::Duration> InProcessJobStore::Admit(std::string_view tenant, int64_t targets,
                                                        double per_second, int64_t burst) {
  if (per_second <= 0 || burst <= 0) {
    return absl::InvalidArgumentError("admission: rate and burst must be positive");
  }
  return state_->Admit(tenant, targets, per_second, burst);
}

absl::StatusOr<JobStatus> InProcessJobStore::GetJob(std::string_view tenant,
                                                    std::string_view job_id) {
  return state_->GetJob(tenant, job_id);
}

absl::Status InProcessJobStore::CancelJob(std::string_view tenant, std::string_view job_id) {
  return state_->CancelJob(tenant, job_id);
}

absl::StatusOr<std::vector<JobEvent>> InProcessJobStore::ReadEvents(std::string_view tenant,
                                                                    std::string_view job_id,
                                                                    std::string_view after_offset,
                                                                    size_t max) {
  uint64_t after = 0;
  if (!after_offset.empty() && !ParseUint(after_offset, &after)) {
    return absl::InvalidArgumentError("after_offset: not an event offset");
  }
  return state_->ReadEvents(tenant, job_id, after, max);
}

absl::StatusOr<std::vector<std::string>> InProcessJobStore::ListJobs(std::string_view tenant,
                                                                     std::string_view page_token,
                                                                     size_t max) {
  return state_->ListJobs(tenant, page_token, max);
}

absl::StatusOr<QueueStats> InProcessJobStore::Stats() { return state_->Stats(); }

absl::StatusOr<std::pair<int64_t, int64_t>> InProcessJobStore::Backlog(std::string_view tenant) {
  return state_->Backlog(tenant);
}

}  // namespace webpush::queue
