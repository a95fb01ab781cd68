#include "dispatcher/service/api_executor.h"

#include <pthread.h>

#include <algorithm>

#include "absl/time/clock.h"

namespace webpush::dispatcher::service {

ApiExecutor::ApiExecutor(int threads, size_t max_queued) : max_queued_(max_queued) {
  threads_.reserve(static_cast<size_t>(std::max(1, threads)));
  for (int i = 0; i < std::max(1, threads); ++i) {
    threads_.emplace_back([this] {
      pthread_setname_np(pthread_self(), "wp-api");
      Run();
    });
  }
}

ApiExecutor::~ApiExecutor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    cv_.SignalAll();
  }
  for (std::thread& t : threads_) {
    t.join();
  }
}

bool ApiExecutor::Post(Task task) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || immediate_ >= max_queued_) {
    return false;
  }
  ++immediate_;
  // Immediate tasks are due "now": InfinitePast sorts them before every delayed task.
  tasks_.emplace(std::make_pair(absl::InfinitePast(), serial_++), std::move(task));
  cv_.Signal();
  return true;
}

bool ApiExecutor::PostAfter(absl::Duration delay, Task task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    return false;
  }
  tasks_.emplace(std::make_pair(absl::Now() + delay, serial_++), std::move(task));
  cv_.Signal();
  return true;
}

size_t ApiExecutor::queued() const {
  absl::MutexLock lock(&mu_);
  return tasks_.size();
}

void ApiExecutor::Run() {
  while (true) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      while (true) {
        if (!tasks_.empty()) {
          const absl::Time due = tasks_.begin()->first.first;
          // While stopping, delayed tasks run at once: each ends a reactor.
          if (stopping_ || due <= absl::Now()) {
            break;
          }
          // Woken early by a new task (it may be due sooner) or by the destructor.
          cv_.WaitWithDeadline(&mu_, due);
          continue;
        }
        if (stopping_) {
          return;
        }
        cv_.Wait(&mu_);
      }
      auto it = tasks_.begin();
      if (it->first.first == absl::InfinitePast()) {
        --immediate_;
      }
      task = std::move(it->second);
      tasks_.erase(it);
    }
    task();
  }
}

}  // namespace webpush::dispatcher::service
