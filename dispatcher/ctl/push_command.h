#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

// `webpushctl push`: encrypts one payload for many subscriptions and sends it straight over the
// HTTP/2 pools, without the queue, like the Node web-push CLI's send-notification but for a whole
// file of subscriptions at once.
namespace webpush::dispatcher::ctl {

struct PushOptions {
  std::optional<std::string> subscription;        // one PushSubscription JSON object
  std::optional<std::string> subscriptions_file;  // JSON lines ("-" = stdin)
  std::optional<std::string> payload;
  std::optional<std::string> payload_file;
  std::optional<std::string> vapid_private_key;  // base64url
  std::optional<std::string> vapid_key_file;     // base64url or PEM
  std::string subject;                           // mailto: or https:
  int64_t ttl = 2419200;                         // four weeks, as web-push defaults
  std::string urgency;
  std::string topic;
  std::string ca_file;
  std::vector<std::string> allow_hosts;  // HOST[:PORT] or *.SUFFIX[:PORT], added to the defaults
  std::vector<std::string> resolves;     // HOST:PORT:ADDRESS
  int concurrency = 100;                 // messages in flight at once
  int connections = 4;                   // per push-service origin
  int max_attempts = 5;                  // for 429, 5xx and unknown outcomes
  double timeout_seconds = 30;           // per attempt
  std::optional<std::string> gone_out;   // gone subscriptions, as JSON lines
  bool progress = false;                 // a live progress line on `err`
};

// PushSummary counts what happened to each subscription.
struct PushSummary {
  uint64_t delivered = 0, gone = 0, rejected = 0, too_large = 0, failed = 0, invalid = 0;
  double seconds = 0;
};

// Push sends and writes the summary to `out`, per-subscription problems (origin and short hash,
// never the endpoint) to `err`. OK only when every message reached a final outcome (delivered,
// gone, rejected, too large) and every input line was a valid subscription.
[[nodiscard]] absl::Status Push(const PushOptions& options, std::istream& in, std::ostream& out,
                                std::ostream& err, PushSummary* summary = nullptr);

}  // namespace webpush::dispatcher::ctl
