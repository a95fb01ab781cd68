#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "webpush/dispatcher/v1/dispatcher.grpc.pb.h"

// The client side of webpushd's gRPC API for the webpushctl job commands: the channel
// (plaintext or TLS), the tenant's bearer token, deadlines, errors that name their status code,
// and WatchJob followed across broken streams.
namespace webpush::dispatcher::ctl {

// ConnectionOptions are the flags every command that talks to webpushd shares.
struct ConnectionOptions {
  std::string server;                     // --server HOST:PORT (any gRPC target)
  std::optional<std::string> token_file;  // --token-file: the bearer token (one line)
  std::optional<std::string> env_token;   // $WEBPUSH_TOKEN as main read it; used without a file
  bool tls = false;                       // --tls; plaintext otherwise
  std::optional<std::string> ca_file;     // --ca-file: PEM roots instead of the system's (TLS)
  double timeout_seconds = 30;            // --timeout: deadline of each unary call
};

// RpcError converts a failed call's status into an absl::Status of the same code whose message
// starts with the code's name: "UNAUTHENTICATED: authorization: unknown bearer token".
[[nodiscard]] absl::Status RpcError(const grpc::Status& status);

// RetryPushback returns the delay the server asked for in the trailing metadata
// `grpc-retry-pushback-ms` of a finished call, or nullopt when there is none (or it is garbled).
[[nodiscard]] std::optional<absl::Duration> RetryPushback(const grpc::ClientContext& context);

// StateName is a job state without its enum prefix: "QUEUED", "DONE".
[[nodiscard]] std::string StateName(v1::JobState state);

// WatchEventHandler sees each event of a watch; a non-OK status ends the watch with it.
using WatchEventHandler = std::function<absl::Status(const v1::JobEvent&)>;

// JobClient holds one channel to webpushd. Calls block; thread-compatible.
class JobClient {
 public:
  // Create checks the options (UsageError for an empty --server, a non-positive --timeout or
  // --ca-file without --tls; NotFound for an unreadable file; InvalidArgument for a token that
  // is not one line of visible ASCII) and makes the channel, which connects on the first call.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<JobClient>> Create(
      const ConnectionOptions& options);

  // NewContext returns a context carrying the token and, if `deadline`, the --timeout deadline.
  [[nodiscard]] std::unique_ptr<grpc::ClientContext> NewContext(bool deadline = true) const;

  [[nodiscard]] v1::Dispatcher::Stub& stub() const { return *stub_; }

  // GetJob and CancelJob make the call; errors as RpcError.
  [[nodiscard]] absl::StatusOr<v1::Job> GetJob(const std::string& job_id) const;
  [[nodiscard]] absl::StatusOr<v1::Job> CancelJob(const std::string& job_id) const;

  // Watch follows the job's events after `after_offset` (empty: from the first) and passes each
  // to `on_event`, the last (finished) one included, whose job it returns. A stream that breaks
  // (UNAVAILABLE, CANCELLED by the server, ...) or ends early is reopened after the offset of
  // the last event seen, with a growing pause and a line on `err`, at most kWatchRetries times
  // in a row; other errors end the watch at once.
  [[nodiscard]] absl::StatusOr<v1::Job> Watch(const std::string& job_id, std::string after_offset,
                                              const WatchEventHandler& on_event,
                                              std::ostream& err) const;

  static constexpr int kWatchRetries = 5;

 private:
  JobClient(std::shared_ptr<grpc::Channel> channel, std::string token, absl::Duration timeout);

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Dispatcher::Stub> stub_;
  std::string token_;  // empty: no authorization metadata
  absl::Duration timeout_;
};

}  // namespace webpush::dispatcher::ctl
