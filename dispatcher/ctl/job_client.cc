#include "dispatcher/ctl/job_client.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <ostream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "dispatcher/ctl/ctl_io.h"

namespace webpush::dispatcher::ctl {
namespace {

absl::StatusOr<std::string> LoadToken(const ConnectionOptions& options) {
  std::string token;
  std::string source = "WEBPUSH_TOKEN";
  if (options.token_file) {
    source = "--token-file";
    std::ifstream file(*options.token_file, std::ios::binary);
    if (!file) {
      return absl::NotFoundError("--token-file: cannot open " + *options.token_file);
    }
    absl::StatusOr<std::string> text = ReadAll(file, "--token-file");
    if (!text.ok()) {
      return text.status();
    }
    token = *std::move(text);
    if (token.empty()) {
      return absl::InvalidArgumentError("--token-file: the file is empty");
    }
  } else if (options.env_token) {
    token = *options.env_token;
  }
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) {
    token.pop_back();
  }
  // RFC 6750's b64token is visible ASCII; anything else (a second line, a space) would also be
  // refused by gRPC's metadata checks, less clearly.
  if (!std::all_of(token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    return absl::InvalidArgumentError(source + ": the token must be one line of visible ASCII");
  }
  return token;
}

bool WatchRetryable(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:  // ended without the finished event
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:  // by the server (draining); we never cancel a watch
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return true;
    default:
      return false;
  }
}

// StreamEnd is how one WatchJob stream ended.
struct StreamEnd {
  grpc::Status status;              // the call's
  absl::Status handler;             // not OK: the handler stopped the watch
  std::optional<v1::Job> finished;  // the finished event's job, if it came
};

// ReadStream reads one WatchJob stream after `after_offset`, which it advances past each event
// handled.
StreamEnd ReadStream(v1::Dispatcher::Stub& stub, grpc::ClientContext& context,
                     const std::string& job_id, std::string& after_offset,
                     const WatchEventHandler& on_event) {
  v1::WatchJobRequest request;
  request.set_job_id(job_id);
  request.set_after_offset(after_offset);
  const std::unique_ptr<grpc::ClientReader<v1::JobEvent>> reader = stub.WatchJob(&context, request);
  StreamEnd end;
  v1::JobEvent event;
  while (reader->Read(&event)) {
    if (!end.handler.ok()) {
      continue;  // cancelled: drain what is already on its way, as Finish requires
    }
    end.handler = on_event(event);
    if (!end.handler.ok()) {
      context.TryCancel();
      continue;
    }
    after_offset = event.offset();
    if (event.has_finished()) {
      end.finished = event.finished();
    }
  }
  end.status = reader->Finish();
  return end;
}

}  // namespace

absl::Status RpcError(const grpc::Status& status) {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  return {code, absl::StatusCodeToString(code) + ": " + status.error_message()};
}

std::optional<absl::Duration> RetryPushback(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  const auto it = trailers.find("grpc-retry-pushback-ms");
  int64_t ms = 0;
  if (it == trailers.end() ||
      !absl::SimpleAtoi(std::string(it->second.data(), it->second.size()), &ms) || ms < 0) {
    return std::nullopt;
  }
  return absl::Milliseconds(ms);
}

std::string StateName(v1::JobState state) {
  std::string name = v1::JobState_Name(state);
  constexpr std::string_view kPrefix = "JOB_STATE_";
  if (name.rfind(kPrefix, 0) == 0) {
    name.erase(0, kPrefix.size());
  }
  return name.empty() ? std::to_string(static_cast<int>(state)) : name;
}

absl::StatusOr<std::unique_ptr<JobClient>> JobClient::Create(const ConnectionOptions& options) {
  if (options.server.empty()) {
    return UsageError("--server: required (HOST:PORT of webpushd)");
  }
  if (!(options.timeout_seconds > 0)) {
    return UsageError("--timeout: must be positive");
  }
  if (options.ca_file && !options.tls) {
    return UsageError("--ca-file: only with --tls");
  }
  absl::StatusOr<std::string> token = LoadToken(options);
  if (!token.ok()) {
    return token.status();
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    if (options.ca_file) {
      std::ifstream file(*options.ca_file, std::ios::binary);
      if (!file) {
        return absl::NotFoundError("--ca-file: cannot open " + *options.ca_file);
      }
      absl::StatusOr<std::string> pem = ReadAll(file, "--ca-file");
      if (!pem.ok()) {
        return pem.status();
      }
      ssl.pem_root_certs = *std::move(pem);
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.server, credentials, args);
  return std::unique_ptr<JobClient>(
      new JobClient(std::move(channel), *std::move(token), absl::Seconds(options.timeout_seconds)));
}

JobClient::JobClient(std::shared_ptr<grpc::Channel> channel, std::string token,
                     absl::Duration timeout)
    : channel_(std::move(channel)),
      stub_(v1::Dispatcher::NewStub(channel_)),
      token_(std::move(token)),
      timeout_(timeout) {}

std::unique_ptr<grpc::ClientContext> JobClient::NewContext(bool deadline) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token_.empty()) {
    context->AddMetadata("authorization", "Bearer " + token_);
  }
  if (deadline) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  }
  return context;
}

absl::StatusOr<v1::Job> JobClient::GetJob(const std::string& job_id) const {
  v1::GetJobRequest request;
  request.set_job_id(job_id);
  v1::Job job;
  const std::unique_ptr<grpc::ClientContext> context = NewContext();
  if (const grpc::Status status = stub_->GetJob(context.get(), request, &job); !status.ok()) {
    return RpcError(status);
  }
  return job;
}

absl::StatusOr<v1::Job> JobClient::CancelJob(const std::string& job_id) const {
  v1::CancelJobRequest request;
  request.set_job_id(job_id);
  v1::Job job;
  const std::unique_ptr<grpc::ClientContext> context = NewContext();
  if (const grpc::Status status = stub_->CancelJob(context.get(), request, &job); !status.ok()) {
    return RpcError(status);
  }
  return job;
}

absl::StatusOr<v1::Job> JobClient::Watch(const std::string& job_id, std::string after_offset,
                                         const WatchEventHandler& on_event,
                                         std::ostream& err) const {
  constexpr absl::Duration kFirstPause = absl::Milliseconds(500);
  constexpr absl::Duration kMaxPause = absl::Seconds(8);
  absl::Duration pause = kFirstPause;
  int failures = 0;
  for (;;) {
    const std::unique_ptr<grpc::ClientContext> context = NewContext(/*deadline=*/false);
    const std::string offset_before = after_offset;
    StreamEnd end = ReadStream(*stub_, *context, job_id, after_offset, on_event);
    if (!end.handler.ok()) {
      return end.handler;
    }
    if (end.finished) {
      return *std::move(end.finished);
    }
    if (!WatchRetryable(end.status.error_code())) {
      return RpcError(end.status);
    }
    if (after_offset != offset_before) {
      failures = 0;  // the stream got somewhere: start counting again
      pause = kFirstPause;
    }
    const std::string why = end.status.ok() ? "the stream ended before the job finished"
                                            : std::string(RpcError(end.status).message());
    if (++failures > kWatchRetries) {
      return absl::UnavailableError("UNAVAILABLE: watch: gave up after " +
                                    std::to_string(kWatchRetries) + " reconnections; last: " + why);
    }
    err << "webpushctl: watch: " << why << "; reconnecting in " << absl::FormatDuration(pause)
        << (after_offset.empty() ? std::string() : " after offset " + after_offset) << "\n";
    absl::SleepFor(pause);
    pause = std::min(pause * 2, kMaxPause);
  }
}

}  // namespace webpush::dispatcher::ctl
