#include "queue/job_store.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace webpush::queue {
namespace {

// The longest TTL any push service honours (FCM: 4 weeks); longer values are a caller's mistake.
constexpr int64_t kMaxTtlSeconds = int64_t{28} * 24 * 3600;
constexpr size_t kMaxEndpointSize = 2048;
constexpr size_t kMaxTargetIdSize = 256;
constexpr size_t kMaxLabels = 16;
constexpr size_t kMaxLabelSize = 256;

absl::Status Invalid(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(field + ": " + what);
}

bool IsBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

}  // namespace

absl::Status ValidateMessage(const Message& message) {
  if (message.payload.size() > kMaxPayloadSize) {
    return Invalid("message.payload",
                   std::to_string(message.payload.size()) + " bytes exceeds the 3993-byte limit");
  }
  if (message.ttl_seconds < 0 || message.ttl_seconds > kMaxTtlSeconds) {
    return Invalid("message.ttl_seconds", "must be from 0 to " + std::to_string(kMaxTtlSeconds));
  }
  if (static_cast<uint8_t>(message.urgency) > static_cast<uint8_t>(Urgency::kHigh)) {
    return Invalid("message.urgency", "unknown value");
  }
  if (message.topic.size() > kMaxTopicSize ||
      !std::all_of(message.topic.begin(), message.topic.end(), IsBase64UrlChar)) {
    return Invalid("message.topic", "at most 32 characters of the base64url alphabet (RFC 8030)");
  }
  if (message.tenant.empty()) {
    return Invalid("message.tenant", "must not be empty");
  }
  if (message.labels.size() > kMaxLabels) {
    return Invalid("message.labels", "at most 16 labels");
  }
  for (size_t i = 0; i < message.labels.size(); ++i) {
    const auto& [key, value] = message.labels[i];
    if (key.empty() || key.size() > kMaxLabelSize || value.size() > kMaxLabelSize) {
      return Invalid("message.labels[" + std::to_string(i) + "]",
                     "key must be 1 to 256 bytes, value at most 256");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateTarget(const Target& target, size_t index) {
  // Built only on failure: this runs for every target of every submission.
  auto field = [index](const char* name) {
    return "targets[" + std::to_string(index) + "]." + name;
  };
  if (target.endpoint.size() < 9 || target.endpoint.compare(0, 8, "https://") != 0) {
    return Invalid(field("endpoint"), "must be an https:// URL");
  }
  if (target.endpoint.size() > kMaxEndpointSize) {
    return Invalid(field("endpoint"), "longer than 2048 bytes");
  }
  if (target.p256dh[0] != 0x04) {
    return Invalid(field("p256dh"), "must be an uncompressed P-256 point");
  }
  if (target.target_id.size() > kMaxTargetIdSize) {
    return Invalid(field("target_id"), "longer than 256 bytes");
  }
  if (target.payload && target.payload->size() > kMaxPayloadSize) {
    return Invalid(field("payload"),
                   std::to_string(target.payload->size()) + " bytes exceeds the 3993-byte limit");
  }
  return absl::OkStatus();
}

size_t LatencyBucket(int64_t ms) {
  if (ms <= 1) {
    return 0;
  }
  // floor(2 * log2(ms)): a factor sqrt(2) per bucket (bucket 1 stays empty).
  const double b = std::floor(2 * std::log2(static_cast<double>(ms)));
  return std::min(kLatencyBuckets - 1, static_cast<size_t>(b));
}

int64_t LatencyBucketUpperMs(size_t i) {
  if (i == 0) {
    return 1;
  }
  if (i >= kLatencyBuckets - 1) {
    return std::numeric_limits<int64_t>::max();  // the overflow bucket
  }
  // The largest ms with floor(2 * log2(ms)) == i is just below 2^((i + 1) / 2); the loops mend
  // floating-point rounding at the edges.
  auto ms = static_cast<int64_t>(std::ceil(std::exp2(static_cast<double>(i + 1) / 2))) - 1;
  while (ms > 1 && LatencyBucket(ms) > i) {
    --ms;
  }
  while (LatencyBucket(ms + 1) <= i) {
    ++ms;
  }
  return ms;
}

absl::Time DeliveryDeadline(const JobStoreOptions& options, absl::Time created,
                            int64_t ttl_seconds) {
  return created + (ttl_seconds > 0 ? absl::Seconds(ttl_seconds) : options.zero_ttl_window);
}

absl::Duration RetryDelay(const JobStoreOptions& options, uint32_t attempt, double jitter) {
  const double factor = std::ldexp(1.0, static_cast<int>(std::min<uint32_t>(attempt, 30)));
  const absl::Duration base = std::min(options.retry_base * factor, options.retry_max);
  return base * std::clamp(jitter, 0.8, 1.2);
}

}  // namespace webpush::queue
