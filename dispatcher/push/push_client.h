#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "dispatcher/push/endpoint_policy.h"
#include "dispatcher/push/outcome.h"

// The HTTP/2 push client: one pool of TLS connections per push-service origin, many concurrent
// streams per connection (nghttp2, bytes in and bytes out), on one Asio event loop thread.
// Requests are RFC 8030 POSTs; answers are classified by outcome.h; refused streams and streams
// above a GOAWAY's last-stream-id are re-sent on another connection, never failed.
namespace webpush::dispatcher::push {

// PushRequest is one message for one subscription, its body already encrypted (crypto/ece.h)
// and its Authorization header value already signed (crypto/vapid.h).
struct PushRequest {
  std::string endpoint;       // the subscription's endpoint URL, sent byte for byte
  std::vector<uint8_t> body;  // aes128gcm body; empty = no payload
  int64_t ttl_seconds = 0;    // RFC 8030 §5.2, always sent
  std::string urgency;        // very-low | low | normal | high; empty = not sent
  std::string topic;          // ≤ 32 base64url characters; empty = not sent
  std::string authorization;  // "vapid t=…, k=…"
};

struct PushOutcome {
  PushResult result = PushResult::kRetry;
  int status = 0;                             // last HTTP status; 0 when none arrived
  std::optional<TransportFailure> transport;  // why no answer, when status is 0
  std::string reason;                         // the service's reason, or the failure's
  std::optional<absl::Duration> retry_after;  // asked for by the service
  bool origin_throttled = false;              // the origin answered 429 (quota)
  int attempts = 0;                           // HTTP attempts (refused streams not counted)
  std::string push_service;                   // Endpoint::service: the metrics label
  // The latest attempt, stream open to answer; unset when no answer arrived.
  std::optional<absl::Duration> request_duration;
};

// Called exactly once per accepted request, on the client's event loop thread: keep it short.
using PushCallback = std::function<void(PushOutcome)>;

// ResolveOverride points a host name at a fixed address, like curl's --resolve.
struct ResolveOverride {
  std::string host;
  uint16_t port = 443;
  std::string address;
};
[[nodiscard]] absl::StatusOr<ResolveOverride> ParseResolveOverride(std::string_view text,
                                                                   std::string_view field);

struct PushClientOptions {
  EndpointPolicyOptions policy;
  std::string ca_file;                   // PEM bundle; empty = the system's trust store
  std::vector<ResolveOverride> resolve;  // hosts listed here may resolve to private addresses
  int max_connections_per_origin = 4;
  int max_streams_per_connection = 100;    // our bound; the peer's SETTINGS may lower it
  size_t max_pending_per_origin = 100000;  // beyond this Send answers kRetry "overloaded"
  absl::Duration connect_timeout = absl::Seconds(10);
  absl::Duration request_timeout = absl::Seconds(30);  // per attempt, from stream open
  absl::Duration idle_timeout = absl::Seconds(60);     // close a connection idle this long
  absl::Duration ping_interval = absl::Seconds(30);    // PING when streams wait this long silently
  absl::Duration ping_timeout = absl::Seconds(10);     // no PING ack: the connection is dead
  absl::Duration reconnect_backoff_min = absl::Milliseconds(100);
  absl::Duration reconnect_backoff_max = absl::Seconds(10);
  // HTTP-level attempts for kRetry outcomes (429, 5xx, lost, timeout); 1 = report the first
  // kRetry to the caller (the service's queue retries later). Refused streams are re-sent
  // regardless, up to max_refusals times.
  int max_attempts = 1;
  int max_refusals = 20;
  absl::Duration retry_backoff_min = absl::Milliseconds(500);
  absl::Duration retry_backoff_max = absl::Seconds(60);
  absl::Duration default_throttle_pause = absl::Seconds(5);  // 429 without Retry-After
  absl::Duration max_origin_pause = absl::Minutes(10);       // caps Retry-After
};

// OriginSnapshot is one origin's state, for the gauges.
struct OriginSnapshot {
  std::string origin;
  std::string push_service;  // Endpoint::service
  int connections_open = 0;
  int streams_in_flight = 0;
  size_t queued = 0;  // accepted, waiting for a stream or a retry
};

// Counters since start; read at any time from any thread.
struct PushClientStats {
  uint64_t requests_accepted = 0;  // Send calls that passed the allowlist
  uint64_t requests_refused = 0;   // Send calls refused by the allowlist
  uint64_t streams_opened = 0;     // HTTP attempts, including re-sends
  uint64_t responses = 0;
  uint64_t delivered = 0, gone = 0, too_large = 0, rejected = 0, failed = 0;  // final outcomes
  uint64_t retries = 0;          // attempts re-sent after a kRetry outcome
  uint64_t refused_streams = 0;  // REFUSED_STREAM or above GOAWAY's last stream id
  uint64_t goaways = 0;
  uint64_t timeouts = 0;
  uint64_t connections_lost = 0;  // ended with streams in flight
  uint64_t connections_opened = 0;
  uint64_t connect_failures = 0;
  uint64_t origin_throttles = 0;  // 429 answers (quota rejections)
  uint64_t pings_sent = 0;
  uint64_t tls_resumptions = 0;  // handshakes that resumed an earlier session of the origin
};

class PushClient {
 public:
  static absl::StatusOr<std::unique_ptr<PushClient>> Create(PushClientOptions options);
  // Closes all connections; requests still pending complete with kRetry ("client stopped").
  ~PushClient();
  PushClient(const PushClient&) = delete;
  PushClient& operator=(const PushClient&) = delete;

  // Send checks `request.endpoint` against the allowlist now and returns InvalidArgument
  // ("endpoint: ...") without calling `done` when it is refused; otherwise `done` is called
  // exactly once with the final outcome. Thread-safe. With `flush` false the request waits in
  // the hand-over queue until a later Send or Flush wakes the event loop: a caller with many
  // requests at once saves a wake-up (and a context switch) per request.
  absl::Status Send(PushRequest request, PushCallback done, bool flush = true);
  // Flush wakes the event loop for the requests sent with `flush` false.
  void Flush();

  [[nodiscard]] PushClientStats stats() const;
  // Origins asks the event loop for every origin's state; waits at most a second (empty on a
  // timeout). For scrapes, not for hot paths.
  [[nodiscard]] std::vector<OriginSnapshot> Origins() const;

  class Impl;

 private:
  explicit PushClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace webpush::dispatcher::push
