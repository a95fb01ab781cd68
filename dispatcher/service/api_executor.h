#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

// ApiExecutor runs the blocking work of the gRPC API (queue calls that wait on Redis) on a few
// threads of its own, so that gRPC's callback reactors never block (style.md §6). Tasks may be
// delayed (WatchJob polls the event stream). Bounded: a full queue refuses new tasks and the API
// answers UNAVAILABLE rather than queueing without end.
namespace webpush::dispatcher::service {

class ApiExecutor {
 public:
  using Task = std::function<void()>;

  // Starts `threads` threads; at most `max_queued` tasks wait at once.
  ApiExecutor(int threads, size_t max_queued);
  // Runs the tasks already due, then joins the threads; delayed tasks not yet due are run at
  // once (so every reactor still reaches its Finish).
  ~ApiExecutor();
  ApiExecutor(const ApiExecutor&) = delete;
  ApiExecutor& operator=(const ApiExecutor&) = delete;

  // Post queues `task` to run as soon as a thread is free. False (task dropped) when the queue
  // is full or the executor is stopping. Thread-safe.
  [[nodiscard]] bool Post(Task task);
  // PostAfter runs `task` after `delay`. Delayed tasks are not bounded by `max_queued` (each
  // belongs to one open WatchJob stream). False when stopping.
  [[nodiscard]] bool PostAfter(absl::Duration delay, Task task);

  [[nodiscard]] size_t queued() const;

 private:
  void Run();

  const size_t max_queued_;
  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  // By due time, then by submission order.
  std::multimap<std::pair<absl::Time, uint64_t>, Task> tasks_ ABSL_GUARDED_BY(mu_);
  size_t immediate_ ABSL_GUARDED_BY(mu_) = 0;  // tasks posted without delay, not yet started
  uint64_t serial_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace webpush::dispatcher::service
