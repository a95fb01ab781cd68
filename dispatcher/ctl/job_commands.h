#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "dispatcher/ctl/job_client.h"

// The webpushctl commands that talk to webpushd over gRPC: `send` (a job from a file of
// PushSubscription JSON lines), `status`, `watch` and `cancel`. Each writes to the given
// streams and returns a status, so tests run them without the binary: OK is exit status 0,
// UsageError (ctl_io.h) 2 and any other error 1, printed as one line. RPC errors start with the
// gRPC code's name.
namespace webpush::dispatcher::ctl {

struct SendOptions {
  ConnectionOptions connection;
  std::string subscriptions;                // --subscriptions: JSON lines ("-" = stdin)
  std::optional<std::string> payload;       // --payload TEXT
  std::optional<std::string> payload_file;  // --payload-file F ("-" = stdin)
  int64_t ttl = 2419200;                    // --ttl seconds (four weeks, as web-push defaults)
  std::string urgency;                      // very-low | low | normal | high; empty = normal
  std::string topic;
  std::string vapid_key_id;             // empty = the tenant's first key
  std::string idempotency_key;          // empty = a random one (retries still find the same job)
  std::vector<std::string> labels;      // K=V
  bool wait = false;                    // follow the job to its end
  std::optional<std::string> gone_out;  // with `wait`: gone subscriptions as JSON lines
  bool progress_terminal = false;       // `err` is a terminal: draw a live progress bar
};

// SendResult is what the server answered.
struct SendResult {
  std::string job_id;
  int64_t targets = 0;
  bool existing = false;  // the idempotency key named an earlier job
  bool uploaded = false;  // UploadJob (more than kSubmitJobMaxTargets targets), not SubmitJob
};

// kSubmitJobMaxTargets is the most targets one SubmitJob carries (dispatcher.proto); larger jobs
// go through UploadJob in messages of kUploadBatchTargets targets.
inline constexpr size_t kSubmitJobMaxTargets = 10'000;
inline constexpr size_t kUploadBatchTargets = 1000;

// SendJob reads the subscriptions (each line's "id" is its target id, else its line number),
// submits them as one job and prints `job <id> accepted, N targets`. An invalid line, or a target
// the server refuses, fails naming the input line, and nothing is queued. RESOURCE_EXHAUSTED is
// printed with the server's retry delay; with `wait` the submission is retried after it (at most
// kSubmitRetries times; an upload read from stdin cannot be). With `wait` the job is then
// followed to its end (progress on `err`, gone subscriptions to `gone_out`), a summary printed,
// and the result is JobOutcome's.
[[nodiscard]] absl::Status SendJob(const SendOptions& options, std::istream& in, std::ostream& out,
                                   std::ostream& err, SendResult* result = nullptr);
inline constexpr int kSubmitRetries = 5;

struct JobOptions {
  ConnectionOptions connection;
  std::string job_id;
  bool json = false;  // one JSON object (the API's Job) instead of readable lines
};

// ShowJob prints the job (GetJob) as `name: value` lines or JSON: `webpushctl status`.
[[nodiscard]] absl::Status ShowJob(const JobOptions& options, std::ostream& out);

// CancelJob cancels the job and prints its final state as ShowJob does: `webpushctl cancel`.
[[nodiscard]] absl::Status CancelJob(const JobOptions& options, std::ostream& out);

struct WatchOptions {
  ConnectionOptions connection;
  std::string job_id;
  std::string after_offset;             // --after: the offset of the last event already seen
  std::optional<std::string> gone_out;  // gone subscriptions as JSON lines
  bool json = false;                    // events as JSON lines (the API's JobEvent)
};

// WatchJob prints the job's events as they come, one line each, until it finishes; the result
// is JobOutcome's. Text lines name subscriptions by target id and redacted endpoint; JSON lines
// are the API's events, endpoints included.
[[nodiscard]] absl::Status WatchJob(const WatchOptions& options, std::ostream& out,
                                    std::ostream& err);

}  // namespace webpush::dispatcher::ctl
