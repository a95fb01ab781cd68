#pragma once

#include <cstdint>

#include "absl/time/time.h"

namespace webpush::queue::internal {

// AdmissionBucket is the in-process form of the admission token bucket that kAdmitScript keeps in
// Redis (redis_scripts.h), with the same rules: at most `burst` tokens, refilled at `per_second`;
// a request is admitted while the level is above zero and may overdraw it; a negative count gives
// tokens back. Not thread-safe.
class AdmissionBucket {
 public:
  // Take returns zero when `count` was admitted (and taken), otherwise the wait until the level
  // is above zero again (nothing taken).
  [[nodiscard]] absl::Duration Take(absl::Time now, int64_t count, double per_second,
                                    int64_t burst);

 private:
  bool started_ = false;
  double level_ = 0;
  absl::Time last_ = absl::InfinitePast();
};

}  // namespace webpush::queue::internal
