#pragma once

#include <cstddef>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

// PushSubscription JSON lines, the input of `webpushctl push` and `webpushctl send`: one
// `PushSubscription.toJSON()` object per line, blank lines ignored.
namespace webpush::dispatcher::ctl {

// SubscriptionJson is one subscription as the line gave it: its shape is checked, its values
// are not (the endpoint is not parsed and the keys are not decoded).
struct SubscriptionJson {
  std::string endpoint;
  std::string p256dh;
  std::string auth;
  std::optional<std::string> id;  // the optional "id" member: a string, or an integer in decimal
};

// ParseSubscriptionJson parses {"endpoint":..,"keys":{"p256dh":..,"auth":..}} with an optional
// "id". InvalidArgument naming the member at fault ("subscription.keys.auth: missing or not a
// string"); the message never quotes the input, whose endpoint is a capability URL.
[[nodiscard]] absl::StatusOr<SubscriptionJson> ParseSubscriptionJson(std::string_view text);

// SubscriptionLineReader reads subscriptions from a stream one line at a time, so a file of any
// size is never held in memory. Not thread-safe; the stream must outlive the reader.
class SubscriptionLineReader {
 public:
  explicit SubscriptionLineReader(std::istream& in) : in_(in) {}

  // Next parses the next non-blank line into `out` and returns true, or returns false at the end
  // of the stream. InvalidArgument "line N: ..." for a malformed line (the reader may go on with
  // the next one), DataLoss when the stream fails.
  [[nodiscard]] absl::StatusOr<bool> Next(SubscriptionJson& out);

  // line_number is the 1-based number of the last line read, blank lines included.
  [[nodiscard]] size_t line_number() const { return line_number_; }

 private:
  std::istream& in_;
  std::string line_;
  size_t line_number_ = 0;
};

}  // namespace webpush::dispatcher::ctl
