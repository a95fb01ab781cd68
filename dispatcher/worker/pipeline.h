#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "dispatcher/push/push_client.h"
#include "dispatcher/worker/message_builder.h"
#include "metrics/webpush_metrics.h"
#include "queue/job_store.h"

// The worker pipeline of one replica (architecture.md, "Data flow"):
//
//   fetch thread ──leases──> chunk queue ──> encryption threads ──Send──> push client loop
//        ^                                   (MessageBuilder,              │ answers
//        │ room for more leases               in-flight permits)           v
//        └──────────────── record thread <── per-lease results ────────────┘
//                          (Record, Extend every lease/3, Ack when complete)
//
// Bounds between the stages, never a thread per message: at most `max_leased_batches` leases
// held, at most `max_in_flight` messages encrypted and not yet answered. Outcomes are recorded
// before the lease is acknowledged (a crash leaves only the unanswered in-flight messages to be
// sent again by another replica).
namespace webpush::dispatcher::worker {

struct PipelineOptions {
  std::string consumer;  // the queue consumer name, unique per replica
  int encrypt_threads = 2;
  size_t fetch_batches = 4;        // batches per Fetch call
  size_t max_leased_batches = 16;  // leases held at once
  size_t max_in_flight = 8192;     // messages built and not yet answered
  size_t chunk = 64;               // targets per encryption task (eight groups of eight lanes)
  absl::Duration lease = absl::Seconds(30);  // the store's lease: renewed every lease / 3
  absl::Duration record_interval = absl::Milliseconds(100);
  absl::Duration fetch_block = absl::Milliseconds(500);
  // The queue's max_attempts: a retry answer on the last attempt is counted as failed (the
  // store fails the target for good); the queue itself decides, this is only for the metrics.
  uint32_t max_attempts = 5;
  metrics::WebpushMetrics* metrics = nullptr;  // optional; must outlive the pipeline
};

// PipelineStats: counters since start (and two gauges), read from any thread.
struct PipelineStats {
  std::atomic<uint64_t> leases{0};
  std::atomic<uint64_t> targets{0};  // targets leased
  std::atomic<uint64_t> sent{0};     // handed to the push client
  std::atomic<uint64_t> delivered{0}, gone{0}, rejected{0}, retried{0};
  std::atomic<uint64_t> expired_before_send{0};
  std::atomic<uint64_t> encrypt_batches{0};
  std::atomic<uint64_t> encrypt_nanos{0};    // time in MessageBuilder::Build
  std::atomic<uint64_t> record_failures{0};  // Record/Ack calls that failed (retried)
  std::atomic<uint64_t> leases_lost{0};      // renewals refused: another replica took over
  std::atomic<uint64_t> fetch_failures{0};
  std::atomic<int64_t> in_flight{0};  // gauge
  std::atomic<int64_t> leased{0};     // gauge
};

class Pipeline {
 public:
  // The references must outlive the pipeline, and the push client must be destroyed before it
  // (its destructor completes the requests still pending, which calls back into the pipeline).
  Pipeline(queue::JobStore& store, push::PushClient& client, const MessageBuilder& builder,
           PipelineOptions options);
  // Stops with no grace if Stop was not called.
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Start starts the threads. Call once.
  void Start();
  // Stop stops fetching, waits up to `grace` for the messages in flight to be answered, records
  // every outcome it has and acknowledges every lease; targets still unanswered go back to the
  // queue at once for another replica (and are sent again: at least once). Idempotent.
  void Stop(absl::Duration grace);

  [[nodiscard]] const PipelineStats& stats() const { return stats_; }
  // Running tells whether the threads run and no Stop began (for readiness).
  [[nodiscard]] bool Running() const { return running_.load(); }

  struct LeaseState;  // pipeline.cc

 private:
  struct Chunk {
    std::shared_ptr<LeaseState> lease;
    size_t begin = 0;
    size_t end = 0;
  };

  void FetchLoop();
  void EncryptLoop();
  void RecordLoop();
  // RecordOnce records and renews every active lease; true when one was completed.
  bool RecordOnce(bool final_pass);
  void Send(const std::shared_ptr<LeaseState>& lease, std::span<const queue::LeasedTarget> targets,
            std::vector<Prepared>& prepared);
  // CountOutcome feeds the metrics (when configured) with one message's answer.
  void CountOutcome(const queue::Lease& lease, uint32_t attempt, const push::PushOutcome& outcome,
                    const queue::TargetResult& result) const;
  void Complete(LeaseState& lease, queue::TargetResult result);

  queue::JobStore& store_;
  push::PushClient& client_;
  const MessageBuilder& builder_;
  const PipelineOptions options_;
  PipelineStats stats_;

  std::atomic<bool> running_{false};
  std::atomic<bool> fetch_stop_{false};  // no more fetches
  std::atomic<bool> stopping_{false};    // no more sends
  std::vector<std::thread> threads_;
  std::thread fetcher_, recorder_;

  absl::Mutex mu_;
  absl::CondVar chunks_cv_;      // a chunk arrived, or stopping
  absl::CondVar lease_room_cv_;  // a lease was acknowledged (the fetcher may fetch), or stopping
  absl::CondVar permits_cv_;     // permits came back (to waiters only), or the last answer
  absl::CondVar recorder_cv_;    // the record thread's final pass is due
  std::deque<Chunk> chunks_ ABSL_GUARDED_BY(mu_);
  std::list<std::shared_ptr<LeaseState>> active_ ABSL_GUARDED_BY(mu_);
  size_t leased_ ABSL_GUARDED_BY(mu_) = 0;

  bool recorder_stop_ ABSL_GUARDED_BY(mu_) = false;
  // Messages built and not yet answered. Atomic, so that an answer (on the push client's thread)
  // takes no lock unless someone waits: a waiter raises `permit_waiters_` before it checks
  // `in_flight_` under `mu_`, and an answer lowers `in_flight_` before it reads
  // `permit_waiters_` (both sequentially consistent), so no wake-up is lost.
  std::atomic<size_t> in_flight_{0};
  std::atomic<int> permit_waiters_{0};
  std::atomic<bool> draining_{false};  // Stop waits for the answers in flight
};

}  // namespace webpush::dispatcher::worker
