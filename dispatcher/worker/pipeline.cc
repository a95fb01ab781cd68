#include "dispatcher/worker/pipeline.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "dispatcher/log.h"

namespace webpush::dispatcher::worker {

// LeaseState is one leased batch on its way through the pipeline. Answers arrive on the push
// client's thread; only the record thread reads them out, records and acknowledges.
struct Pipeline::LeaseState {
  queue::Lease lease;
  absl::Mutex mu;
  std::vector<queue::TargetResult> results ABSL_GUARDED_BY(mu);  // answered, not yet recorded
  bool closed ABSL_GUARDED_BY(mu) = false;  // acknowledged: later answers are ignored
  // Record thread only:
  size_t recorded = 0;
  absl::Time renewed;
  bool lost = false;
};

Pipeline::Pipeline(queue::JobStore& store, push::PushClient& client, const MessageBuilder& builder,
                   PipelineOptions options)
    : store_(store), client_(client), builder_(builder), options_(std::move(options)) {}

Pipeline::~Pipeline() { Stop(absl::ZeroDuration()); }

void Pipeline::Start() {
  running_ = true;
  // Named for `top -H` and profilers: one name per stage.
  fetcher_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "wp-fetch");
    FetchLoop();
  });
  recorder_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "wp-record");
    RecordLoop();
  });
  for (int i = 0; i < std::max(1, options_.encrypt_threads); ++i) {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "wp-encrypt");
      EncryptLoop();
    });
  }
}

void Pipeline::Stop(absl::Duration grace) {
  if (!running_.exchange(false)) {
    return;
  }
  // 1. No more leases.
  fetch_stop_ = true;
  {
    absl::MutexLock lock(&mu_);
    lease_room_cv_.SignalAll();
  }
  fetcher_.join();
  // 2. No more sends: chunks not yet encrypted stay unanswered and go back to the queue.
  stopping_ = true;
  {
    absl::MutexLock lock(&mu_);
    chunks_cv_.SignalAll();
    permits_cv_.SignalAll();
  }
  for (std::thread& t : threads_) {
    t.join();
  }
  threads_.clear();
  // 3. Let the messages in flight be answered, up to the grace period.
  {
    const absl::Time deadline = absl::Now() + grace;
    absl::MutexLock lock(&mu_);
    ++permit_waiters_;
    draining_ = true;
    while (in_flight_ > 0 && absl::Now() < deadline) {
      permits_cv_.WaitWithDeadline(&mu_, std::min(deadline, absl::Now() + absl::Milliseconds(50)));
    }
    --permit_waiters_;
    if (in_flight_ > 0) {
      Log(LogLevel::kWarning, "worker.drain_timeout",
          {{"in_flight", std::to_string(in_flight_.load())}, {"consumer", options_.consumer}});
    }
    // 4. The record thread records what came back and acknowledges every lease.
    recorder_stop_ = true;
    recorder_cv_.SignalAll();
  }
  recorder_.join();
}

void Pipeline::FetchLoop() {
  while (!fetch_stop_) {
    size_t want = 0;
    {
      absl::MutexLock lock(&mu_);
      while (!fetch_stop_ && leased_ >= options_.max_leased_batches) {
        lease_room_cv_.Wait(&mu_);
      }
      if (fetch_stop_) {
        return;
      }
      want = std::min(options_.fetch_batches, options_.max_leased_batches - leased_);
    }
    absl::StatusOr<std::vector<queue::Lease>> leases =
        store_.Fetch(options_.consumer, want, options_.max_leased_batches, options_.fetch_block);
    if (!leases.ok()) {
      stats_.fetch_failures.fetch_add(1, std::memory_order_relaxed);
      Log(LogLevel::kWarning, "worker.fetch_failed", {{"error", leases.status().ToString()}});
      absl::MutexLock lock(&mu_);
      lease_room_cv_.WaitWithTimeout(&mu_, absl::Milliseconds(500));
      continue;
    }
    if (leases->empty()) {
      continue;
    }
    const absl::Time now = absl::Now();
    absl::MutexLock lock(&mu_);
    for (queue::Lease& lease : *leases) {
      auto state = std::make_shared<LeaseState>();
      state->lease = std::move(lease);
      state->renewed = now;
      const size_t n = state->lease.targets.size();
      stats_.leases.fetch_add(1, std::memory_order_relaxed);
      stats_.targets.fetch_add(n, std::memory_order_relaxed);
      for (size_t begin = 0; begin < n; begin += options_.chunk) {
        chunks_.push_back(Chunk{state, begin, std::min(n, begin + options_.chunk)});
      }
      active_.push_back(std::move(state));
      ++leased_;
    }
    stats_.leased.store(static_cast<int64_t>(leased_), std::memory_order_relaxed);
    chunks_cv_.SignalAll();
  }
}

void Pipeline::EncryptLoop() {
  std::vector<Prepared> prepared;
  while (true) {
    Chunk chunk;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && chunks_.empty()) {
        chunks_cv_.Wait(&mu_);
      }
      if (stopping_) {
        return;
      }
      chunk = std::move(chunks_.front());
      chunks_.pop_front();
      // Permits before building: the memory of built requests is bounded too.
      const size_t n = chunk.end - chunk.begin;
      while (!stopping_ && in_flight_ + n > options_.max_in_flight && in_flight_ > 0) {
        ++permit_waiters_;
        permits_cv_.WaitWithTimeout(&mu_, absl::Milliseconds(50));
        --permit_waiters_;
      }
      if (stopping_) {
        return;  // the chunk stays unanswered: its lease's Ack hands it back
      }
      stats_.in_flight.store(static_cast<int64_t>(in_flight_ += n), std::memory_order_relaxed);
    }
    const std::span<const queue::LeasedTarget> targets(
        chunk.lease->lease.targets.data() + chunk.begin, chunk.end - chunk.begin);
    const absl::Time start = absl::Now();
    builder_.Build(chunk.lease->lease, targets, start, prepared);
    const absl::Duration took = absl::Now() - start;
    stats_.encrypt_nanos.fetch_add(absl::ToInt64Nanoseconds(took), std::memory_order_relaxed);
    stats_.encrypt_batches.fetch_add(1, std::memory_order_relaxed);
    if (options_.metrics != nullptr) {
      options_.metrics->ObserveEncryptBatch(absl::ToDoubleSeconds(took));
    }
    Send(chunk.lease, targets, prepared);
  }
}

void Pipeline::Send(const std::shared_ptr<LeaseState>& lease,
                    std::span<const queue::LeasedTarget> targets, std::vector<Prepared>& prepared) {
  for (size_t i = 0; i < prepared.size(); ++i) {
    Prepared& p = prepared[i];
    const uint32_t attempt = targets[i].attempt;  // Build keeps the order of `targets`
    if (!p.request.has_value()) {
      if (p.result.outcome == queue::Outcome::kExpired) {
        stats_.expired_before_send.fetch_add(1, std::memory_order_relaxed);
      }
      CountOutcome(lease->lease, attempt, push::PushOutcome{}, p.result);
      Complete(*lease, std::move(p.result));
      continue;
    }
    const uint32_t index = p.index;
    stats_.sent.fetch_add(1, std::memory_order_relaxed);
    // No wake-up per request: the whole chunk goes to the push loop at once (Flush below).
    absl::Status sent = client_.Send(
        std::move(*p.request),
        [this, lease, index, attempt](const push::PushOutcome& outcome) {
          const absl::Time now = absl::Now();
          queue::TargetResult result = ToTargetResult(index, outcome, now);
          // Submission to the push service's final answer, for the job's latency histogram.
          if (outcome.status != 0 && result.outcome != queue::Outcome::kRetry &&
              lease->lease.created != absl::InfinitePast()) {
            result.latency_ms = absl::ToInt64Milliseconds(now - lease->lease.created);
          }
          CountOutcome(lease->lease, attempt, outcome, result);
          Complete(*lease, std::move(result));
        },
        /*flush=*/false);
    if (!sent.ok()) {
      // The allowlist refused the endpoint (it changed since the job was accepted).
      queue::TargetResult r;
      r.index = index;
      r.outcome = queue::Outcome::kRejected;
      r.reason = std::string(sent.message());
      CountOutcome(lease->lease, attempt, push::PushOutcome{}, r);
      Complete(*lease, std::move(r));
    }
  }
  client_.Flush();
}

void Pipeline::CountOutcome(const queue::Lease& lease, uint32_t attempt,
                            const push::PushOutcome& outcome,
                            const queue::TargetResult& result) const {
  metrics::WebpushMetrics* m = options_.metrics;
  if (m == nullptr) {
    return;
  }
  // Outcomes decided before any request (expired, refused by the allowlist) have no push service.
  const std::string_view service =
      outcome.push_service.empty() ? std::string_view("none") : outcome.push_service;
  const double request =
      outcome.request_duration.has_value() ? absl::ToDoubleSeconds(*outcome.request_duration) : -1;
  const double latency =
      result.latency_ms >= 0 ? static_cast<double>(result.latency_ms) / 1000 : -1;
  using metrics::MessageOutcome;
  switch (result.outcome) {
    case queue::Outcome::kDelivered:
      m->CountMessage(service, MessageOutcome::kDelivered, latency, request);
      return;
    case queue::Outcome::kGone:
      m->CountMessage(service, MessageOutcome::kGone, latency, request);
      return;
    case queue::Outcome::kRejected:
      m->CountMessage(service,
                      outcome.result == push::PushResult::kTooLarge ? MessageOutcome::kTooLarge
                                                                    : MessageOutcome::kRejected,
                      latency, request);
      return;
    case queue::Outcome::kExpired:
      m->CountMessage(service, MessageOutcome::kExpired, latency, request);
      return;
    case queue::Outcome::kFailed:
      m->CountMessage(service, MessageOutcome::kFailed, latency, request);
      return;
    case queue::Outcome::kRetry:
      break;
  }
  // The store ends a retry on the last attempt, or of a TTL-0 message, for good (the rarer end,
  // a back-off past the TTL, is decided there and shows in the job's counters only).
  if (lease.message->ttl_seconds == 0) {
    m->CountMessage(service, MessageOutcome::kExpired, latency, request);
    return;
  }
  if (attempt + 1 >= options_.max_attempts) {
    m->CountMessage(service, MessageOutcome::kFailed, latency, request);
    return;
  }
  metrics::RetryReason reason = metrics::RetryReason::kTransport;
  if (outcome.origin_throttled) {
    reason = metrics::RetryReason::kThrottled;
  } else if (outcome.status != 0) {
    reason = metrics::RetryReason::kServerError;  // 5xx, or another retryable status (408, ...)
  } else if (outcome.reason.find("overloaded") != std::string::npos) {
    reason = metrics::RetryReason::kOverloaded;
  }
  m->CountRetry(service, reason, request, lease.message->tenant);
}

void Pipeline::Complete(LeaseState& lease, queue::TargetResult result) {
  switch (result.outcome) {
    case queue::Outcome::kDelivered:
      stats_.delivered.fetch_add(1, std::memory_order_relaxed);
      break;
    case queue::Outcome::kGone:
      stats_.gone.fetch_add(1, std::memory_order_relaxed);
      break;
    case queue::Outcome::kRetry:
      stats_.retried.fetch_add(1, std::memory_order_relaxed);
      break;
    default:
      stats_.rejected.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  {
    absl::MutexLock lock(&lease.mu);
    if (!lease.closed) {
      lease.results.push_back(std::move(result));
    }
  }
  const size_t left = --in_flight_;
  stats_.in_flight.store(static_cast<int64_t>(left), std::memory_order_relaxed);
  // Wake only who waits, and only once it can go on: an encryption thread needs room for a
  // chunk, Stop needs the last answer. With the window full, waking a waiter on every answer
  // cost a lock, a futex wake and a context switch per message for nothing (it went back to
  // sleep): now one wake-up per chunk's worth of answers. Waiters also re-check every 50 ms.
  if (permit_waiters_ > 0 && (left + options_.chunk <= options_.max_in_flight || left == 0)) {
    absl::MutexLock lock(&mu_);
    permits_cv_.SignalAll();
  }
}

void Pipeline::RecordLoop() {
  while (true) {
    bool stop = false;
    {
      absl::MutexLock lock(&mu_);
      if (!recorder_stop_) {
        recorder_cv_.WaitWithTimeout(&mu_, options_.record_interval);
      }
      stop = recorder_stop_;
    }
    RecordOnce(stop);
    if (stop) {
      return;
    }
  }
}

bool Pipeline::RecordOnce(bool final_pass) {
  std::vector<std::shared_ptr<LeaseState>> active;
  {
    absl::MutexLock lock(&mu_);
    active.assign(active_.begin(), active_.end());
  }
  const absl::Time now = absl::Now();
  bool completed = false;
  for (const std::shared_ptr<LeaseState>& state : active) {
    std::vector<queue::TargetResult> results;
    {
      absl::MutexLock lock(&state->mu);
      results.swap(state->results);
    }
    if (!results.empty()) {
      if (absl::Status s = store_.Record(state->lease, results); !s.ok()) {
        stats_.record_failures.fetch_add(1, std::memory_order_relaxed);
        Log(LogLevel::kWarning, "worker.record_failed",
            {{"job", state->lease.job_id}, {"error", s.ToString()}});
        absl::MutexLock lock(&state->mu);
        state->results.insert(state->results.begin(), results.begin(), results.end());
        continue;  // the lease stays; the next pass tries again
      }
      state->recorded += results.size();
    }
    const bool all = state->recorded >= state->lease.targets.size();
    if (all || final_pass) {
      // Complete: Ack only drops bookkeeping (Record acknowledged in Redis). On the final pass,
      // the unanswered targets go back to the queue for another consumer.
      if (absl::Status s = store_.Ack(state->lease); !s.ok()) {
        stats_.record_failures.fetch_add(1, std::memory_order_relaxed);
        Log(LogLevel::kWarning, "worker.ack_failed",
            {{"job", state->lease.job_id}, {"error", s.ToString()}});
        if (!final_pass) {
          continue;
        }
      }
      {
        absl::MutexLock lock(&state->mu);
        state->closed = true;
      }
      absl::MutexLock lock(&mu_);
      active_.remove(state);
      --leased_;
      stats_.leased.store(static_cast<int64_t>(leased_), std::memory_order_relaxed);
      lease_room_cv_.SignalAll();
      completed = true;
      continue;
    }
    if (!state->lost && now - state->renewed >= options_.lease / 3) {
      const absl::Status s = store_.Extend(state->lease);
      if (s.ok()) {
        state->renewed = now;
      } else if (s.code() == absl::StatusCode::kFailedPrecondition) {
        // Another consumer reclaimed it (we were too slow or cut off): its answers still count,
        // idempotently, but it is no longer ours to renew.
        state->lost = true;
        stats_.leases_lost.fetch_add(1, std::memory_order_relaxed);
        Log(LogLevel::kWarning, "worker.lease_lost", {{"job", state->lease.job_id}});
      }
    }
  }
  return completed;
}

}  // namespace webpush::dispatcher::worker
