#include "dispatcher/ctl/progress.h"

#include <algorithm>
#include <cstdint>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "absl/time/clock.h"

namespace webpush::dispatcher::ctl {
namespace {

constexpr size_t kBarWidth = 30;
constexpr absl::Duration kRedraw = absl::Milliseconds(100);

}  // namespace

ProgressDisplay::ProgressDisplay(std::ostream& err, bool terminal, absl::Time start,
                                 absl::Duration interval)
    : err_(err), terminal_(terminal), start_(start), interval_(interval), last_print_(start) {}

std::string ProgressDisplay::Text(absl::Time now) const {
  const v1::Counters& c = counters_;
  const int64_t final_outcomes = std::max<int64_t>(c.total() - c.pending(), 0);
  const int64_t failed = c.rejected() + c.expired() + c.failed();
  const double fraction =
      c.total() > 0 ? static_cast<double>(final_outcomes) / static_cast<double>(c.total()) : 0.0;
  const double seconds = absl::ToDoubleSeconds(now - start_);
  const double rate = seconds > 0 ? static_cast<double>(final_outcomes) / seconds : 0.0;
  std::ostringstream text;
  if (terminal_) {
    const auto filled = static_cast<size_t>(fraction * kBarWidth);
    text << "[" << std::string(filled, '#') << std::string(kBarWidth - filled, '.') << "] ";
  } else {
    text << "webpushctl: progress ";
  }
  text << std::fixed << std::setprecision(0) << std::setw(3) << fraction * 100 << "%  delivered "
       << c.delivered() << "  gone " << c.gone() << "  failed " << failed << "  pending "
       << c.pending() << "  " << rate << " msg/s";
  return text.str();
}

void ProgressDisplay::Update(const v1::Counters& counters) {
  counters_ = counters;
  const absl::Time now = absl::Now();
  if (now - last_print_ < (terminal_ ? kRedraw : interval_)) {
    return;
  }
  last_print_ = now;
  if (terminal_) {
    // \r and "erase to end of line" redraw in place, whatever the previous line's length.
    err_ << "\r" << Text(now) << "\x1b[K" << std::flush;
  } else {
    err_ << Text(now) << "\n";
  }
}

void ProgressDisplay::Done() {
  if (!terminal_) {
    return;
  }
  err_ << "\r" << Text(absl::Now()) << "\x1b[K\n" << std::flush;
}

}  // namespace webpush::dispatcher::ctl
