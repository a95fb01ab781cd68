#pragma once

#include <iosfwd>
#include <string>

#include "absl/time/time.h"
#include "webpush/dispatcher/v1/dispatcher.pb.h"

namespace webpush::dispatcher::ctl {

// ProgressDisplay shows on `err` how a followed job goes while `send --wait` waits: on a
// terminal, one bar redrawn in place (at most ten times a second); otherwise a line at most
// every `interval`, so that a log is not flooded. "failed" there sums rejected, expired and
// failed; the rate is targets with a final outcome per second since `start`. Not thread-safe.
class ProgressDisplay {
 public:
  ProgressDisplay(std::ostream& err, bool terminal, absl::Time start,
                  absl::Duration interval = absl::Seconds(5));

  // Update takes the job's latest counters and may print them.
  void Update(const v1::Counters& counters);

  // Done draws the bar a last time and ends its line (terminal only).
  void Done();

 private:
  [[nodiscard]] std::string Text(absl::Time now) const;

  std::ostream& err_;
  const bool terminal_;
  const absl::Time start_;
  const absl::Duration interval_;
  absl::Time last_print_;
  v1::Counters counters_;
};

}  // namespace webpush::dispatcher::ctl
