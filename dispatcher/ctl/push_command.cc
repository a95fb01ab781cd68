#include "dispatcher/ctl/push_command.h"

#include <openssl/crypto.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <sstream>

#include "crypto/ece.h"
#include "crypto/keys.h"
#include "crypto/vapid.h"
#include "dispatcher/ctl/ctl_io.h"
#include "dispatcher/ctl/subscription_lines.h"
#include "dispatcher/push/push_client.h"

namespace webpush::dispatcher::ctl {
namespace {

using push::PushResult;

struct Subscription {
  std::string endpoint;
  crypto::SubscriptionKeys keys;
};

absl::StatusOr<Subscription> ParseSubscription(const std::string& line) {
  absl::StatusOr<SubscriptionJson> json = ParseSubscriptionJson(line);
  if (!json.ok()) {
    return json.status();
  }
  absl::StatusOr<crypto::SubscriptionKeys> parsed =
      crypto::ParseSubscriptionKeys(json->p256dh, json->auth);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError("subscription.keys." +
                                      std::string(parsed.status().message()));
  }
  Subscription s;
  s.endpoint = std::move(json->endpoint);
  s.keys = *parsed;
  return s;
}

// Tracker counts outcomes and bounds the messages in flight; callbacks arrive on the client's
// thread while the reader thread waits for room.
class Tracker {
 public:
  Tracker(int concurrency, std::ostream& err, std::ofstream* gone_out)
      : concurrency_(concurrency), err_(err), gone_out_(gone_out) {}

  void WaitForRoom() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return in_flight_ < concurrency_; });
    ++in_flight_;
  }
  void Unsent() {
    std::lock_guard lock(mu_);
    --in_flight_;
    cv_.notify_all();
  }
  void Invalid(size_t line, const std::string& what) {
    std::lock_guard lock(mu_);
    ++summary_.invalid;
    Problem("line " + std::to_string(line) + ": " + what);
  }
  void Done(size_t line, const std::string& redacted, const std::string& json,
            const push::PushOutcome& outcome) {
    std::lock_guard lock(mu_);
    --in_flight_;
    switch (outcome.result) {
      case PushResult::kDelivered:
        ++summary_.delivered;
        break;
      case PushResult::kGone:
        ++summary_.gone;
        if (gone_out_ != nullptr) {
          *gone_out_ << json << "\n";
        }
        break;
      case PushResult::kTooLarge:
        ++summary_.too_large;
        break;
      case PushResult::kRejected:
        ++summary_.rejected;
        break;
      case PushResult::kRetry:
        ++summary_.failed;
        break;
    }
    if (outcome.result != PushResult::kDelivered && outcome.result != PushResult::kGone) {
      Problem("line " + std::to_string(line) + " (" + redacted +
              "): " + std::string(push::PushResultName(outcome.result)) + " after " +
              std::to_string(outcome.attempts) + " attempt(s): " + outcome.reason);
    }
    cv_.notify_all();
  }
  void WaitForAll() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return in_flight_ == 0; });
  }
  PushSummary summary() {
    std::lock_guard lock(mu_);
    return summary_;
  }
  std::string ProgressLine(uint64_t read) {
    std::lock_guard lock(mu_);
    return "read " + std::to_string(read) + "  delivered " + std::to_string(summary_.delivered) +
           "  gone " + std::to_string(summary_.gone) + "  rejected " +
           std::to_string(summary_.rejected + summary_.too_large) + "  failed " +
           std::to_string(summary_.failed) + "  in flight " + std::to_string(in_flight_);
  }

 private:
  // The first problems are printed; after that only counted, so a bad file cannot flood a
  // terminal.
  void Problem(const std::string& text) {
    if (++problems_ <= kMaxProblems) {
      err_ << "webpushctl: " << text << "\n";
    } else if (problems_ == kMaxProblems + 1) {
      err_ << "webpushctl: further problems are counted in the summary only\n";
    }
  }

  static constexpr int kMaxProblems = 20;
  std::mutex mu_;
  std::condition_variable cv_;
  int concurrency_;
  int in_flight_ = 0;
  int problems_ = 0;
  std::ostream& err_;
  std::ofstream* gone_out_;
  PushSummary summary_;
};

absl::StatusOr<push::PushClientOptions> ClientOptions(const PushOptions& options) {
  push::PushClientOptions client;
  client.ca_file = options.ca_file;
  for (const std::string& allow : options.allow_hosts) {
    absl::StatusOr<push::HostRule> rule = push::ParseHostRule(allow, "--allow-host");
    if (!rule.ok()) {
      return rule.status();
    }
    client.policy.rules.push_back(*rule);
  }
  for (const std::string& resolve : options.resolves) {
    absl::StatusOr<push::ResolveOverride> o = push::ParseResolveOverride(resolve, "--resolve");
    if (!o.ok()) {
      return o.status();
    }
    client.resolve.push_back(*o);
  }
  if (options.concurrency < 1 || options.connections < 1 || options.max_attempts < 1 ||
      options.timeout_seconds <= 0) {
    return absl::InvalidArgumentError(
        "--concurrency, --connections, --max-attempts and --timeout: must be positive");
  }
  client.max_connections_per_origin = options.connections;
  client.max_attempts = options.max_attempts;
  client.request_timeout = absl::Seconds(options.timeout_seconds);
  // A command-line run should not sit for ten minutes on one Retry-After.
  client.max_origin_pause = absl::Seconds(60);
  client.retry_backoff_max = absl::Seconds(10);
  return client;
}

absl::Status CheckRequestFields(const PushOptions& options) {
  if (options.ttl < 0) {
    return absl::InvalidArgumentError("--ttl: must not be negative");
  }
  if (!options.urgency.empty() && options.urgency != "very-low" && options.urgency != "low" &&
      options.urgency != "normal" && options.urgency != "high") {
    return absl::InvalidArgumentError("--urgency: must be very-low, low, normal or high");
  }
  if (options.topic.size() > 32 ||
      options.topic.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                      "0123456789-_") != std::string::npos) {
    return absl::InvalidArgumentError("--topic: at most 32 characters of the base64url alphabet");
  }
  if (options.subscription.has_value() == options.subscriptions_file.has_value()) {
    return absl::InvalidArgumentError("give exactly one of --subscription and --subscriptions");
  }
  if (options.subscriptions_file == "-" && options.payload_file == "-") {
    return absl::InvalidArgumentError("--payload-file: stdin already carries --subscriptions");
  }
  return crypto::ValidateSubject(options.subject, "--sub");
}

}  // namespace

absl::Status Push(const PushOptions& options, std::istream& in, std::ostream& out,
                  std::ostream& err, PushSummary* summary_out) {
  if (absl::Status status = CheckRequestFields(options); !status.ok()) {
    return status;
  }
  absl::StatusOr<crypto::P256KeyPair> vapid_key = LoadKey(
      options.vapid_private_key, options.vapid_key_file, "--vapid-private-key", "--vapid-key-file");
  if (!vapid_key.ok()) {
    return vapid_key.status();
  }
  // No payload is allowed: the browser gets a push event without data.
  absl::StatusOr<std::string> payload = options.payload || options.payload_file
                                            ? LoadPayload(options.payload, options.payload_file, in)
                                            : absl::StatusOr<std::string>(std::string());
  if (!payload.ok()) {
    return payload.status();
  }
  if (payload->size() > crypto::kMaxPlaintextSize) {
    return absl::InvalidArgumentError("--payload: at most " +
                                      std::to_string(crypto::kMaxPlaintextSize) + " bytes");
  }
  absl::StatusOr<push::PushClientOptions> client_options = ClientOptions(options);
  if (!client_options.ok()) {
    return client_options.status();
  }
  std::ifstream file;
  std::istream* lines = nullptr;
  std::istringstream single(options.subscription.value_or(""));
  if (options.subscription) {
    lines = &single;
  } else if (*options.subscriptions_file == "-") {
    lines = &in;
  } else {
    file.open(*options.subscriptions_file);
    if (!file) {
      return absl::NotFoundError("--subscriptions: cannot open " + *options.subscriptions_file);
    }
    lines = &file;
  }
  std::ofstream gone_file;
  if (options.gone_out) {
    gone_file.open(*options.gone_out, std::ios::trunc);
    if (!gone_file) {
      return absl::PermissionDeniedError("--gone-out: cannot write " + *options.gone_out);
    }
  }
  absl::StatusOr<std::unique_ptr<push::PushClient>> client =
      push::PushClient::Create(*client_options);
  if (!client.ok()) {
    return client.status();
  }
  Tracker tracker(options.concurrency, err, options.gone_out ? &gone_file : nullptr);
  crypto::VapidTokenCache tokens;
  const auto start = std::chrono::steady_clock::now();
  auto last_progress = start;
  std::string line;
  size_t line_number = 0;
  uint64_t read = 0;
  const std::span<const uint8_t> plaintext(reinterpret_cast<const uint8_t*>(payload->data()),
                                           payload->size());
  while (std::getline(*lines, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      continue;
    }
    ++read;
    absl::StatusOr<Subscription> sub = ParseSubscription(line);
    absl::StatusOr<std::string> audience =
        sub.ok() ? crypto::AudienceFromEndpoint(sub->endpoint, "subscription.endpoint")
                 : absl::StatusOr<std::string>(sub.status());
    absl::StatusOr<std::string> authorization =
        audience.ok() ? tokens.Authorization("vapid", *vapid_key, *audience, options.subject)
                      : audience;
    if (!authorization.ok()) {
      tracker.Invalid(line_number, std::string(authorization.status().message()));
      continue;
    }
    push::PushRequest request;
    if (!plaintext.empty()) {
      absl::StatusOr<std::vector<uint8_t>> body = crypto::Encrypt(sub->keys, plaintext);
      if (!body.ok()) {
        tracker.Invalid(line_number, std::string(body.status().message()));
        continue;
      }
      request.body = std::move(*body);
    }
    request.endpoint = sub->endpoint;
    request.ttl_seconds = options.ttl;
    request.urgency = options.urgency;
    request.topic = options.topic;
    request.authorization = std::move(*authorization);
    const std::string redacted = push::RedactedEndpoint(sub->endpoint);
    tracker.WaitForRoom();
    const absl::Status sent = (*client)->Send(
        std::move(request), [&tracker, line_number, redacted, json = options.gone_out ? line : ""](
                                const push::PushOutcome& outcome) {
          tracker.Done(line_number, redacted, json, outcome);
        });
    if (!sent.ok()) {
      tracker.Unsent();
      tracker.Invalid(line_number, std::string(sent.message()) + " (" + redacted + ")");
    }
    const auto now = std::chrono::steady_clock::now();
    if (options.progress && now - last_progress > std::chrono::milliseconds(200)) {
      err << "\r" << tracker.ProgressLine(read) << std::flush;
      last_progress = now;
    }
  }
  if (lines->bad()) {
    return absl::DataLossError("--subscriptions: read error");
  }
  tracker.WaitForAll();
  client->reset();  // every callback has run; close the connections
  PushSummary summary = tracker.summary();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (options.progress) {
    err << "\r" << tracker.ProgressLine(read) << "\n";
  }
  const uint64_t messages =
      summary.delivered + summary.gone + summary.rejected + summary.too_large + summary.failed;
  out << "delivered " << summary.delivered << ", gone " << summary.gone << ", rejected "
      << summary.rejected << ", too large " << summary.too_large << ", failed " << summary.failed
      << ", invalid " << summary.invalid << "; " << messages << " messages in " << std::fixed
      << std::setprecision(2) << summary.seconds << " s (" << std::setprecision(0)
      << (summary.seconds > 0 ? static_cast<double>(messages) / summary.seconds : 0.0)
      << " requests/s)\n";
  if (summary_out != nullptr) {
    *summary_out = summary;
  }
  if (gone_file.is_open()) {
    gone_file.close();
    if (!gone_file) {
      return absl::DataLossError("--gone-out: write error");
    }
  }
  if (summary.failed > 0 || summary.invalid > 0) {
    return absl::UnavailableError(std::to_string(summary.failed) + " message(s) failed and " +
                                  std::to_string(summary.invalid) +
                                  " subscription(s) were invalid; see above");
  }
  return absl::OkStatus();
}

}  // namespace webpush::dispatcher::ctl
