// `webpushctl send`: one job from a file of PushSubscription JSON lines, through SubmitJob (up
// to 10,000 targets) or UploadJob, optionally followed to its end.
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <memory>
#include <ostream>
#include <sstream>
#include <string_view>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "dispatcher/ctl/ctl_io.h"
#include "dispatcher/ctl/job_commands.h"
#include "dispatcher/ctl/job_output.h"
#include "dispatcher/ctl/progress.h"
#include "dispatcher/ctl/subscription_lines.h"

namespace webpush::dispatcher::ctl {
namespace {

// TargetSource reads targets from the subscriptions file one at a time and remembers, in space
// proportional to the runs of blank lines only, which input line each target came from.
class TargetSource {
 public:
  // Open reads `path`, or `stdin_stream` when it is "-".
  static absl::StatusOr<std::unique_ptr<TargetSource>> Open(const std::string& path,
                                                            std::istream& stdin_stream) {
    std::unique_ptr<std::ifstream> file;
    if (path != "-") {
      file = std::make_unique<std::ifstream>(path);
      if (!*file) {
        return absl::NotFoundError("--subscriptions: cannot open " + path);
      }
    }
    return std::unique_ptr<TargetSource>(new TargetSource(std::move(file), stdin_stream));
  }

  // Next fills `out` and returns true, or false at the end; errors name the line.
  absl::StatusOr<bool> Next(v1::Target& out) {
    SubscriptionJson s;
    absl::StatusOr<bool> got = reader_.Next(s);
    if (!got.ok()) {
      return absl::Status(got.status().code(),
                          "--subscriptions " + std::string(got.status().message()));
    }
    if (!*got) {
      return false;
    }
    const size_t line = reader_.line_number();
    const size_t skipped = line - (count_ + 1);
    if (shifts_.empty() ? skipped != 0 : skipped != shifts_.back().second) {
      shifts_.emplace_back(count_, skipped);
    }
    ++count_;
    out.Clear();
    out.set_endpoint(std::move(s.endpoint));
    out.set_p256dh(std::move(s.p256dh));
    out.set_auth(std::move(s.auth));
    out.set_target_id(s.id ? *std::move(s.id) : std::to_string(line));
    return true;
  }

  // LineOf is the input line of the `index`-th target read (0-based); 0 if none was read.
  [[nodiscard]] size_t LineOf(size_t index) const {
    if (index >= count_) {
      return 0;
    }
    // The last shift that starts at or before `index`.
    const auto after = std::upper_bound(
        shifts_.begin(), shifts_.end(), index,
        [](size_t i, const std::pair<size_t, size_t>& shift) { return i < shift.first; });
    return index + 1 + (after == shifts_.begin() ? 0 : std::prev(after)->second);
  }

 private:
  TargetSource(std::unique_ptr<std::ifstream> file, std::istream& stdin_stream)
      : file_(std::move(file)), reader_(file_ ? *file_ : stdin_stream) {}

  std::unique_ptr<std::ifstream> file_;  // null: stdin
  SubscriptionLineReader reader_;
  size_t count_ = 0;
  // (first target index, blank lines before it), one entry where that count changes.
  std::vector<std::pair<size_t, size_t>> shifts_;
};

std::string Seconds(absl::Duration d) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(2) << absl::ToDoubleSeconds(d) << " s";
  return text.str();
}

absl::Status CheckSendOptions(const SendOptions& options) {
  if (options.subscriptions.empty()) {
    return UsageError("--subscriptions: required");
  }
  if (options.payload.has_value() == options.payload_file.has_value()) {
    return UsageError("give exactly one of --payload and --payload-file");
  }
  if (options.subscriptions == "-" && options.payload_file == "-") {
    return UsageError("--payload-file: stdin already carries --subscriptions");
  }
  if (options.ttl < 0) {
    return UsageError("--ttl: must not be negative");
  }
  if (options.gone_out && !options.wait) {
    return UsageError("--gone-out: only with --wait");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Message> BuildMessage(const SendOptions& options, std::string payload) {
  v1::Message message;
  message.set_payload(std::move(payload));
  message.set_ttl_seconds(options.ttl);
  if (options.urgency.empty()) {
    message.set_urgency(v1::URGENCY_UNSPECIFIED);
  } else if (options.urgency == "very-low") {
    message.set_urgency(v1::URGENCY_VERY_LOW);
  } else if (options.urgency == "low") {
    message.set_urgency(v1::URGENCY_LOW);
  } else if (options.urgency == "normal") {
    message.set_urgency(v1::URGENCY_NORMAL);
  } else if (options.urgency == "high") {
    message.set_urgency(v1::URGENCY_HIGH);
  } else {
    return UsageError("--urgency: must be very-low, low, normal or high");
  }
  message.set_topic(options.topic);
  message.set_vapid_key_id(options.vapid_key_id);
  for (const std::string& label : options.labels) {
    const size_t eq = label.find('=');
    if (eq == std::string::npos || eq == 0) {
      return UsageError("--label: expected KEY=VALUE");
    }
    if (!message.mutable_labels()->emplace(label.substr(0, eq), label.substr(eq + 1)).second) {
      return UsageError("--label: key \"" + label.substr(0, eq) + "\" given twice");
    }
  }
  return message;
}

// RandomIdempotencyKey makes the key of a submission the user gave none for, so that a retried
// call finds the job of the first instead of queuing a second one.
absl::StatusOr<std::string> RandomIdempotencyKey() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return absl::InternalError("idempotency key: no randomness");
  }
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string key = "webpushctl-";
  for (const unsigned char b : bytes) {
    key += kHex[b >> 4];
    key += kHex[b & 0xf];
  }
  return key;
}

// CallError is RpcError with a target's index ("targets[4].p256dh: ...") put back as the input
// line it came from ("--subscriptions line 6: targets[4].p256dh: ...").
absl::Status CallError(const grpc::Status& status, const TargetSource& source) {
  const std::string& message = status.error_message();
  constexpr std::string_view kPrefix = "targets[";
  const size_t close = message.find(']');
  size_t index = 0;
  if (status.error_code() != grpc::StatusCode::INVALID_ARGUMENT || message.rfind(kPrefix, 0) != 0 ||
      close == std::string::npos ||
      !absl::SimpleAtoi(message.substr(kPrefix.size(), close - kPrefix.size()), &index) ||
      source.LineOf(index) == 0) {
    return RpcError(status);
  }
  return RpcError(grpc::Status(
      status.error_code(),
      "--subscriptions line " + std::to_string(source.LineOf(index)) + ": " + message));
}

absl::Status SubmitOnce(const JobClient& client, grpc::ClientContext& context,
                        const v1::SubmitJobRequest& request, const TargetSource& source,
                        v1::SubmitJobResponse& response) {
  if (const grpc::Status status = client.stub().SubmitJob(&context, request, &response);
      !status.ok()) {
    return CallError(status, source);
  }
  return absl::OkStatus();
}

// UploadOnce streams the header, the targets already read (`head`, consumed) and the rest of
// `source`. A line that fails to parse cancels the call, which leaves nothing queued.
absl::Status UploadOnce(const JobClient& client, grpc::ClientContext& context,
                        const v1::UploadJobHeader& header, std::vector<v1::Target>& head,
                        TargetSource& source, v1::SubmitJobResponse& response) {
  const std::unique_ptr<grpc::ClientWriter<v1::UploadJobRequest>> writer =
      client.stub().UploadJob(&context, &response);
  v1::UploadJobRequest request;
  *request.mutable_header() = header;
  bool open = writer->Write(request);
  request.Clear();
  v1::TargetBatch* batch = request.mutable_batch();
  auto add = [&](v1::Target&& target) {
    batch->mutable_targets()->Add(std::move(target));
    if (static_cast<size_t>(batch->targets_size()) >= kUploadBatchTargets) {
      open = writer->Write(request);
      batch->Clear();
    }
  };
  for (size_t i = 0; open && i < head.size(); ++i) {
    add(std::move(head[i]));
  }
  head.clear();
  absl::Status local;
  while (open) {
    v1::Target target;
    absl::StatusOr<bool> got = source.Next(target);
    if (!got.ok()) {
      local = got.status();
      break;
    }
    if (!*got) {
      break;
    }
    add(std::move(target));
  }
  if (!local.ok()) {
    context.TryCancel();
    (void)writer->Finish();
    return local;
  }
  if (open && batch->targets_size() > 0) {
    open = writer->Write(request);
  }
  if (open) {
    writer->WritesDone();
  }
  if (const grpc::Status status = writer->Finish(); !status.ok()) {
    return CallError(status, source);
  }
  return absl::OkStatus();
}

// Submission is a job ready to go: the SubmitJob request, or the UploadJob header with the
// targets read ahead (`head`) and the rest still in `source`.
struct Submission {
  bool upload = false;
  v1::SubmitJobRequest submit;
  v1::UploadJobHeader header;
  std::vector<v1::Target> head;
  std::unique_ptr<TargetSource> source;
};

// SubmitWithRetries makes the call and, with --wait, repeats it after RESOURCE_EXHAUSTED (after
// the server's delay) or UNAVAILABLE (after a growing pause), at most kSubmitRetries times. The
// idempotency key makes a retry safe even when an earlier call did queue the job.
absl::Status SubmitWithRetries(const JobClient& client, const SendOptions& options,
                               std::istream& in, std::ostream& err, Submission& job,
                               v1::SubmitJobResponse& response) {
  absl::Duration backoff = absl::Seconds(1);
  for (int attempt = 0;; ++attempt) {
    const std::unique_ptr<grpc::ClientContext> context =
        client.NewContext(/*deadline=*/!job.upload);
    response.Clear();
    const absl::Status status =
        job.upload ? UploadOnce(client, *context, job.header, job.head, *job.source, response)
                   : SubmitOnce(client, *context, job.submit, *job.source, response);
    if (status.ok()) {
      return absl::OkStatus();
    }
    std::optional<absl::Duration> delay;
    const std::string text(status.message());
    if (status.code() == absl::StatusCode::kResourceExhausted) {
      delay = RetryPushback(*context);
    } else if (status.code() == absl::StatusCode::kUnavailable) {
      delay = backoff;
      backoff *= 2;
    }
    // The server's delay (grpc-retry-pushback-ms) is printed whether or not we retry.
    const std::string after = status.code() == absl::StatusCode::kResourceExhausted && delay
                                  ? "; retry after " + Seconds(*delay)
                                  : "";
    if (!options.wait || !delay || attempt >= kSubmitRetries) {
      return {status.code(), text + after};
    }
    if (job.upload && options.subscriptions == "-") {
      return {status.code(), text + after + " (an upload read from stdin cannot be retried)"};
    }
    err << "webpushctl: " << text << "; retrying in " << Seconds(*delay) << " (" << attempt + 1
        << " of " << kSubmitRetries << ")\n";
    absl::SleepFor(*delay);
    if (job.upload) {
      absl::StatusOr<std::unique_ptr<TargetSource>> source =
          TargetSource::Open(options.subscriptions, in);
      if (!source.ok()) {
        return source.status();
      }
      job.source = *std::move(source);
    }
  }
}

// Follow watches the job to its end for `send --wait` and prints the summary.
absl::Status Follow(const JobClient& client, const SendOptions& options, const std::string& job_id,
                    absl::Time start, GoneWriter& gone, std::ostream& out, std::ostream& err) {
  ProgressDisplay progress(err, options.progress_terminal, start);
  auto on_event = [&](const v1::JobEvent& event) {
    if (event.has_progress()) {
      progress.Update(event.progress());
    } else if (event.has_gone()) {
      gone.Write(event.gone());
    } else if (event.has_finished()) {
      progress.Update(event.finished().counters());
    }
    return absl::OkStatus();
  };
  absl::StatusOr<v1::Job> job = client.Watch(job_id, "", on_event, err);
  progress.Done();
  if (absl::Status s = gone.Close(); !s.ok()) {
    return s;
  }
  if (!job.ok()) {
    return job.status();
  }
  const absl::Duration elapsed = absl::Now() - start;
  const v1::Counters& c = job->counters();
  const double seconds = absl::ToDoubleSeconds(elapsed);
  const double rate = seconds > 0 ? static_cast<double>(c.total() - c.pending()) / seconds : 0;
  out << "job " << job_id << " " << StateName(job->state()) << ": " << CountersText(c) << "\n"
      << "elapsed " << std::fixed << std::setprecision(2) << seconds << " s, "
      << std::setprecision(1) << rate << " messages/s\n"
      << std::defaultfloat
      << "latency from submission to the push service's answer: " << LatencyText(job->latency())
      << "\n";
  return JobOutcome(*job);
}

}  // namespace

absl::Status SendJob(const SendOptions& options, std::istream& in, std::ostream& out,
                     std::ostream& err, SendResult* result) {
  if (absl::Status s = CheckSendOptions(options); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> payload = LoadPayload(options.payload, options.payload_file, in);
  if (!payload.ok()) {
    return payload.status();
  }
  absl::StatusOr<v1::Message> message = BuildMessage(options, *std::move(payload));
  if (!message.ok()) {
    return message.status();
  }
  absl::StatusOr<std::string> key = options.idempotency_key.empty()
                                        ? RandomIdempotencyKey()
                                        : absl::StatusOr<std::string>(options.idempotency_key);
  if (!key.ok()) {
    return key.status();
  }
  absl::StatusOr<std::unique_ptr<JobClient>> client = JobClient::Create(options.connection);
  if (!client.ok()) {
    return client.status();
  }
  absl::StatusOr<std::unique_ptr<TargetSource>> source =
      TargetSource::Open(options.subscriptions, in);
  if (!source.ok()) {
    return source.status();
  }
  GoneWriter gone;
  if (absl::Status s = gone.Open(options.gone_out.value_or("")); !s.ok()) {
    return s;
  }

  // Read one target past SubmitJob's limit to choose between the two calls.
  std::vector<v1::Target> head;
  for (;;) {
    v1::Target target;
    absl::StatusOr<bool> got = (*source)->Next(target);
    if (!got.ok()) {
      return got.status();
    }
    if (!*got) {
      break;
    }
    head.push_back(std::move(target));
    if (head.size() > kSubmitJobMaxTargets) {
      break;
    }
  }
  if (head.empty()) {
    return absl::InvalidArgumentError("--subscriptions: no subscriptions in " +
                                      options.subscriptions);
  }
  Submission job;
  job.upload = head.size() > kSubmitJobMaxTargets;
  job.source = *std::move(source);
  if (job.upload) {
    *job.header.mutable_message() = *std::move(message);
    job.header.set_idempotency_key(*key);
    job.head = std::move(head);
  } else {
    *job.submit.mutable_message() = *std::move(message);
    job.submit.set_idempotency_key(*key);
    for (v1::Target& target : head) {
      job.submit.mutable_targets()->Add(std::move(target));
    }
  }
  const absl::Time start = absl::Now();
  v1::SubmitJobResponse response;
  if (absl::Status s = SubmitWithRetries(**client, options, in, err, job, response); !s.ok()) {
    return s;
  }
  out << "job " << response.job_id() << " accepted, " << response.targets() << " targets"
      << (response.existing() ? " (existing job)" : "") << "\n";
  out.flush();
  if (result != nullptr) {
    result->job_id = response.job_id();
    result->targets = response.targets();
    result->existing = response.existing();
    result->uploaded = job.upload;
  }
  if (!options.wait) {
    return absl::OkStatus();
  }
  return Follow(**client, options, response.job_id(), start, gone, out, err);
}

}  // namespace webpush::dispatcher::ctl
