#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

// The job model of the queue: what a caller submits (a message and its targets), what a worker
// leases (a batch of unfinished targets), what it reports (an outcome per target) and what a
// caller reads back (counters, state, events). Plain data; no Redis, gRPC, crypto or HTTP.
namespace webpush::queue {

inline constexpr size_t kMaxPayloadSize = 3993;  // RFC 8291 §4 plaintext limit
inline constexpr size_t kP256dhSize = 65;
inline constexpr size_t kAuthSize = 16;
inline constexpr size_t kMaxTopicSize = 32;  // RFC 8030 §5.4

// RFC 8030 §5.3 urgency.
enum class Urgency : uint8_t { kVeryLow = 0, kLow = 1, kNormal = 2, kHigh = 3 };

// Message is what every target of a job receives (stored once per job).
struct Message {
  std::string payload;  // bytes, at most kMaxPayloadSize
  int64_t ttl_seconds = 0;
  Urgency urgency = Urgency::kNormal;
  std::string topic;         // empty: none
  std::string vapid_key_id;  // which configured VAPID key signs
  std::string tenant;
  std::vector<std::pair<std::string, std::string>> labels;  // echoed in events
};

// Target is one subscription to deliver to.
struct Target {
  std::string endpoint;
  std::array<uint8_t, kP256dhSize> p256dh{};
  std::array<uint8_t, kAuthSize> auth{};
  std::string target_id;               // the caller's own id, echoed in events
  std::optional<std::string> payload;  // replaces Message::payload for this target
};

struct JobSpec {
  Message message;
  std::string idempotency_key;  // empty: none; per tenant
  // The tenant's own bound on its pending targets (its quota); 0 = the store's
  // `max_backlog_per_tenant`. The smaller of the two applies.
  int64_t max_pending = 0;
};

enum class JobState : uint8_t { kQueued = 0, kRunning = 1, kDone = 2, kCancelled = 3 };

// JobCounters: total = pending + delivered + gone + rejected + expired + failed, except after a
// cancellation, where the targets never sent stay in `pending` (the state says they never will be).
struct JobCounters {
  int64_t total = 0;
  int64_t pending = 0;
  int64_t delivered = 0;
  int64_t gone = 0;
  int64_t rejected = 0;
  int64_t expired = 0;
  int64_t failed = 0;
};

// Latency histogram of a job: how long after the job's creation each target's answer came back
// (submission to the push service's answer), in buckets of a factor sqrt(2): bucket i counts
// latencies of at most LatencyBucketUpperMs(i) milliseconds (and more than bucket i - 1's); the
// last bucket takes everything longer. Answers are counted as recorded, so a duplicate delivery
// after a crash counts twice.
inline constexpr size_t kLatencyBuckets = 48;
// LatencyBucket is the bucket of a latency of `ms` milliseconds.
[[nodiscard]] size_t LatencyBucket(int64_t ms);
// LatencyBucketUpperMs is the largest latency, in milliseconds, counted in bucket `i`.
[[nodiscard]] int64_t LatencyBucketUpperMs(size_t i);
using LatencyHistogram = std::array<int64_t, kLatencyBuckets>;

struct JobStatus {
  std::string job_id;
  std::string tenant;
  JobState state = JobState::kQueued;
  JobCounters counters;
  absl::Time created = absl::InfinitePast();
  absl::Time finished = absl::InfinitePast();  // InfinitePast while not done or cancelled
  absl::Time expires = absl::InfinitePast();   // created + message TTL: nothing is sent after
  std::string idempotency_key;
  std::vector<std::pair<std::string, std::string>> labels;
  LatencyHistogram latency{};
};

struct SubmitResult {
  std::string job_id;
  bool existing = false;  // true when the idempotency key named an earlier job
  int64_t targets = 0;
};

// Outcome of one delivery attempt for one target, as the worker reports it.
enum class Outcome : uint8_t {
  kDelivered = 0,  // 201/202
  kGone = 1,       // 404/410: the caller should delete the subscription
  kRejected = 2,   // other 4xx, permanent; `reason` says why
  kExpired = 3,    // the TTL passed before delivery
  kFailed = 4,     // permanent failure (for example retries exhausted)
  kRetry = 5,      // try again at or after `not_before`
};

// LeasedTarget is one unfinished target of a leased batch.
struct LeasedTarget {
  uint32_t index = 0;    // position within the job (stable across retries)
  uint32_t attempt = 0;  // attempts already made (0 on first delivery)
  Target target;
};

// Lease is one batch handed to one consumer. It stays leased until acknowledged; a consumer that
// dies loses it after the lease time, when another consumer reclaims it.
struct Lease {
  std::string job_id;
  std::string lease_id;  // opaque to callers (the stream entry id for Redis)
  int shard = 0;
  std::shared_ptr<const Message> message;
  std::vector<LeasedTarget> targets;          // targets already finished are never included
  absl::Time expires = absl::InfinitePast();  // the message TTL deadline
  absl::Time created = absl::InfinitePast();  // when the job was accepted (for latencies)
  uint32_t deliveries = 1;  // how many times this batch was handed out (>1 after a reclaim)
};

struct TargetResult {
  uint32_t index = 0;  // LeasedTarget::index
  Outcome outcome = Outcome::kDelivered;
  std::string reason;  // for kRejected / kFailed (and kRetry, for the record)
  absl::Time not_before = absl::InfinitePast();  // for kRetry; InfinitePast: use back-off
  // Time from the job's creation to this answer, for the job's latency histogram; negative:
  // not measured (outcomes decided without asking a push service).
  int64_t latency_ms = -1;
};

enum class EventType : uint8_t {
  kGone = 0,      // a subscription is gone: delete it
  kFailed = 1,    // a target failed permanently (rejected, failed, expired); `reason` says why
  kProgress = 2,  // counters changed
  kFinished = 3,  // the job is done or cancelled
};

struct JobEvent {
  std::string offset;  // pass back to ReadEvents to continue after this event
  EventType type = EventType::kProgress;
  std::string target_id;
  std::string endpoint;
  Outcome outcome = Outcome::kDelivered;  // for kGone / kFailed
  std::string reason;
  JobCounters counters;  // for kProgress / kFinished
  JobState state = JobState::kQueued;
};

}  // namespace webpush::queue
