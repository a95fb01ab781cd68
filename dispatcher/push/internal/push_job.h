#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "dispatcher/push/push_client.h"

// Shared between the client, the origin pools and the connections; all of it lives on the
// client's event loop thread except the atomic counters.
namespace webpush::dispatcher::push::internal {

// Job is one accepted request travelling between the pool's queue and a connection's stream.
struct Job {
  PushRequest request;
  PushCallback done;
  std::string path;  // the endpoint's path and query, as given
  std::string ttl;   // decimal, prepared once
  std::string content_length;
  int attempts = 0;       // HTTP attempts that ended with an answer or an unknown outcome
  int refusals = 0;       // re-sends of never-processed streams
  absl::Time not_before;  // retry back-off: not dispatched earlier than this
  absl::Time started = absl::InfinitePast();  // the latest attempt's stream was opened
  PushOutcome last;                           // the outcome of the latest attempt
};

struct AtomicStats {
  std::atomic<uint64_t> requests_accepted{0}, requests_refused{0}, streams_opened{0}, responses{0},
      delivered{0}, gone{0}, too_large{0}, rejected{0}, failed{0}, retries{0}, refused_streams{0},
      goaways{0}, timeouts{0}, connections_lost{0}, connections_opened{0}, connect_failures{0},
      origin_throttles{0}, pings_sent{0}, tls_resumptions{0};

  static void Add(std::atomic<uint64_t>& counter, uint64_t n = 1) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
};

}  // namespace webpush::dispatcher::push::internal
