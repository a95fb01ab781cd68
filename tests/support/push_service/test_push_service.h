#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

// TestPushService is a stand-in for FCM, Mozilla autopush and Apple's push service in tests,
// benchmarks and the demo: HTTP/2 (ALPN h2) or HTTP/1.1 over TLS on 127.0.0.1 with a throw-away
// CA, browser-like subscriptions, strict RFC 8030/8291/8292 request checks, scripted faults and
// counters.
// Threading: the service runs its own io_context threads; every public member is thread-safe.
namespace webpush::testing {

// TestSubscription is what a browser's `PushSubscription.toJSON()` would give the application.
struct TestSubscription {
  std::string token;
  std::string endpoint;  // https://<host_name>:<port>/push/<token>
  std::string p256dh;    // base64url, no padding
  std::string auth;      // base64url, no padding
  // ToJson returns {"endpoint":"..","keys":{"p256dh":"..","auth":".."}}.
  [[nodiscard]] std::string ToJson() const;
};

// Delivery is one request the service accepted (answered, or about to answer, 201).
struct Delivery {
  std::string token;
  std::vector<uint8_t> plaintext;  // decrypted body (empty when `body_decrypted` is false)
  // False when Options::decrypt_every_n skipped decrypting this (non-empty) body.
  bool body_decrypted = true;
  std::string ttl;  // header values as received ("" if absent)
  std::string urgency;
  std::string topic;
  std::string vapid_subject;  // the JWT's `sub`
  uint64_t connection_id = 0;
};

// FaultPlan scripts misbehaviour. Counters behind the "first"/"every n-th" rules restart when a
// new plan is set with SetFaults.
struct FaultPlan {
  // The first `fail_first_per_token` requests for each token are answered `fail_status`
  // (e.g. 500, 503, 429) with `retry_after` as the Retry-After header if non-empty (seconds or an
  // HTTP-date); later requests for that token behave normally. Checked after the token lookup
  // and the gone rule, before any other validation.
  int fail_first_per_token = 0;
  int fail_status = 503;
  std::string retry_after;
  // Tokens answered `gone_status` (404 or 410) every time.
  std::set<std::string> gone_tokens;
  int gone_status = 410;
  // Answer every request only after this delay (a timer; the loop never blocks). The delivery is
  // recorded when the answer is submitted, so a stream reset during the delay records nothing.
  std::chrono::milliseconds response_delay{0};
  // SETTINGS_MAX_CONCURRENT_STREAMS advertised on new connections (0 = none advertised).
  uint32_t max_concurrent_streams = 100;
  // After accepting this many streams on a connection, send GOAWAY(NO_ERROR) with last-stream-id
  // = the last stream it will process, finish those, refuse the rest (never recorded), then
  // close. 0 = never.
  int goaway_every_n_streams = 0;
  // Every n-th stream (counted over the whole server) is reset with RST_STREAM REFUSED_STREAM
  // without being processed. 0 = never.
  int refuse_every_n_streams = 0;
  // When a connection has received this many requests, close its TCP connection abruptly (no
  // GOAWAY, no TLS close_notify) *before* answering or recording that request. The cut is clean:
  // the answers to earlier requests are written first, and nothing after it is processed, so a
  // client that re-sends what went unanswered delivers everything exactly once. 0 = never.
  int drop_connection_every_n_streams = 0;
  // If true, the cut happens right after recording that request, and the answers still queued
  // (that request's and any other processed in the same read) are lost: the outcome is unknown
  // to the client, and its retries legitimately duplicate those messages.
  bool drop_after_record = false;
};

// Stats counts what happened since Start or the last ResetStats.
struct Stats {
  uint64_t connections_accepted = 0;
  // Requests received completely (END_STREAM, or an HTTP/1.1 request with all its body) and
  // considered, including dropped ones; streams refused by a fault or above a GOAWAY's
  // last-stream-id, and HTTP/1.1 input that could not be framed, are not requests.
  uint64_t requests = 0;
  uint64_t delivered = 0;
  // Maximum over connections of streams open at once. A new stream that the client opened beyond
  // our advertised SETTINGS_MAX_CONCURRENT_STREAMS *after acknowledging those SETTINGS* counts
  // too (open + 1), so `max_concurrent_streams_seen <= limit` means the client obeyed the limit.
  uint64_t max_concurrent_streams_seen = 0;
  // New streams beyond the limit after the client acknowledged our SETTINGS (a client bug;
  // nghttp2 answers with a connection error).
  uint64_t concurrency_violations = 0;
  // New streams beyond the limit before the client acknowledged our SETTINGS (allowed by RFC 9113
  // §6.5.3; nghttp2 refuses them with RST_STREAM REFUSED_STREAM and the client may retry).
  uint64_t streams_refused_before_settings_ack = 0;
  std::map<int, uint64_t> status_counts;  // status code -> responses sent
  uint64_t refused_streams = 0;           // by FaultPlan::refuse_every_n_streams
  uint64_t goaways_sent = 0;              // by FaultPlan::goaway_every_n_streams
  uint64_t dropped_connections = 0;
  // Connections that negotiated HTTP/1.1 (ALPN http/1.1 or no ALPN), and the requests they
  // completed (included in `requests`).
  uint64_t http1_connections = 0;
  uint64_t http1_requests = 0;
  // Accepted bodies that were not decrypted (Options::decrypt_every_n).
  uint64_t bodies_not_decrypted = 0;
  // Short reasons, e.g. "ttl: missing"; the first kMaxValidationFailures are kept.
  std::vector<std::string> validation_failures;
  static constexpr size_t kMaxValidationFailures = 1000;
};

class TestPushService {
 public:
  struct Options {
    std::string host_name = "push.test.example";
    uint16_t port = 0;                      // 0 = pick a free port
    std::string expected_vapid_public_key;  // base64url; empty = any valid signer
    FaultPlan faults;
    int threads = 1;  // io_context threads
    // False: deliveries are validated and counted (`Stats::delivered`) but not kept, so a long
    // benchmark does not grow memory. Deliveries() is then empty.
    bool record_deliveries = true;
    // 1: decrypt every body. n > 1 (a benchmark setting, to make the service cheaper): on each
    // connection only its 1st, (n+1)-th, (2n+1)-th, ... request has its body decrypted and
    // checked; every header and the VAPID token are still validated on every request.
    int decrypt_every_n = 1;
  };

  // Start generates the CA and server certificate, binds 127.0.0.1:`port` and starts serving.
  // Errors: InvalidArgument for bad options, Internal for OpenSSL failures, Unavailable when the
  // port cannot be bound.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<TestPushService>> Start(Options options);
  // Stops serving (open connections are dropped), joins the threads, removes the temp files.
  ~TestPushService();
  TestPushService(const TestPushService&) = delete;
  TestPushService& operator=(const TestPushService&) = delete;

  [[nodiscard]] uint16_t port() const;
  [[nodiscard]] const std::string& host_name() const;
  // ca_file is a PEM file with the CA that signed the server certificate (valid for `host_name`,
  // localhost and 127.0.0.1). It lives until the service is destroyed.
  [[nodiscard]] const std::string& ca_file() const;
  // origin is https://host_name:port, exactly as crypto::AudienceFromEndpoint derives the VAPID
  // `aud` from an endpoint of this service.
  [[nodiscard]] std::string origin() const;

  // AddSubscription creates a subscription as a browser's push service would: a new P-256 key
  // pair, a 16-byte auth secret and a random token. Thread-safe.
  TestSubscription AddSubscription();
  // SetFaults replaces the fault plan; applies to requests from now on (and
  // `max_concurrent_streams` to connections accepted from now on). Thread-safe.
  void SetFaults(const FaultPlan& faults);
  // Deliveries returns a snapshot of the accepted requests, in the order they were recorded.
  [[nodiscard]] std::vector<Delivery> Deliveries() const;
  // ClearDeliveries forgets the recorded deliveries.
  void ClearDeliveries();
  [[nodiscard]] Stats stats() const;
  // ResetStats zeroes the counters (deliveries are kept; see ClearDeliveries).
  void ResetStats();

 private:
  class Impl;
  explicit TestPushService(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace webpush::testing
