#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"

// What a push service's answer means for the message (webpush-protocol.md §6.2), as one pure
// function with its own table test. The pool and the worker act on the classification; nothing
// else looks at status codes.
namespace webpush::dispatcher::push {

enum class PushResult {
  kDelivered,  // 2xx: accepted by the push service
  kGone,       // 404/410: the subscription is gone; report it, delete it
  kTooLarge,   // 413: permanent for this message
  kRejected,   // 400/401/403 and other 4xx: permanent, usually configuration
  kRetry,      // 429, 5xx, transport failures: try again later
};

[[nodiscard]] std::string_view PushResultName(PushResult result);

struct Classification {
  PushResult result = PushResult::kRetry;
  // The delay the service asked for (Retry-After), when it sent a usable one.
  std::optional<absl::Duration> retry_after;
  // 429 (and WNS's 406 throttling): the whole origin slows down, and it counts as a quota
  // rejection.
  bool origin_throttled = false;
  // The service's own reason: Apple's JSON `reason`, autopush's `errno` and `message`, or the
  // start of a text body; printable ASCII, at most kMaxReasonSize bytes.
  std::string reason;
};

inline constexpr size_t kMaxReasonSize = 200;

// ClassifyResponse classifies an HTTP answer. `host` is the endpoint's host (WNS answers 406 for
// throttling), `retry_after` the Retry-After header value ("" if absent), `body` the response
// body, `now` the time the answer arrived (for an HTTP-date Retry-After).
[[nodiscard]] Classification ClassifyResponse(int status, std::string_view host,
                                              std::string_view retry_after, std::string_view body,
                                              absl::Time now);

// Transport failures are all "retry": a connection lost or a timeout before the answer leaves
// the outcome unknown (the service may have accepted the message), which at-least-once delivery
// allows to retry; a refused stream or one above a GOAWAY's last stream id was never processed.
enum class TransportFailure {
  kConnect,         // DNS, TCP, TLS or ALPN failed: nothing was sent
  kRefused,         // RST_STREAM REFUSED_STREAM or above GOAWAY's last-stream-id: not processed
  kConnectionLost,  // the connection ended before the answer: outcome unknown
  kTimeout,         // no answer within the request timeout: outcome unknown
  kProtocol,        // the peer broke HTTP/2 (RST_STREAM with another code): outcome unknown
};

[[nodiscard]] std::string_view TransportFailureName(TransportFailure failure);

// ParseRetryAfter parses delta-seconds or an HTTP-date (IMF-fixdate, RFC 850 or asctime form,
// RFC 9110 §10.2.3) into a delay from `now`; a date in the past is zero. nullopt when the value
// is neither.
[[nodiscard]] std::optional<absl::Duration> ParseRetryAfter(std::string_view value, absl::Time now);

}  // namespace webpush::dispatcher::push
