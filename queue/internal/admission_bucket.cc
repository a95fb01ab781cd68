#include "queue/internal/admission_bucket.h"

#include <algorithm>
#include <cmath>

namespace webpush::queue::internal {

absl::Duration AdmissionBucket::Take(absl::Time now, int64_t count, double per_second,
                                     int64_t burst) {
  const auto capacity = static_cast<double>(burst);
  if (!started_) {
    started_ = true;
    level_ = capacity;
    last_ = now;
  }
  if (now > last_) {
    level_ = std::min(capacity, level_ + absl::ToDoubleSeconds(now - last_) * per_second);
    last_ = now;
  }
  if (count > 0 && level_ <= 0) {
    // Milliseconds, rounded up, as the Lua script answers.
    return absl::Milliseconds(std::ceil((1 - level_) * 1000 / per_second));
  }
  level_ = std::min(capacity, level_ - static_cast<double>(count));
  return absl::ZeroDuration();
}

}  // namespace webpush::queue::internal
