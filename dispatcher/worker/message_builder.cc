#include "dispatcher/worker/message_builder.h"

#include <algorithm>
#include <string>

#include "crypto/ece.h"

namespace webpush::dispatcher::worker {
namespace {

queue::TargetResult Result(uint32_t index, queue::Outcome outcome, std::string reason) {
  queue::TargetResult r;
  r.index = index;
  r.outcome = outcome;
  r.reason = std::move(reason);
  return r;
}

// The largest group handed to the encryptor at once (a lease is cut into chunks of about this
// size before it reaches the builder); the scratch arrays live on this thread and are reused.
struct Scratch {
  std::vector<crypto::SubscriptionKeys> keys;
  std::vector<crypto::BatchItem> items;
  std::vector<crypto::BatchResult> results;
  std::vector<size_t> slot;  // items[k] belongs to out[slot[k]]
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

}  // namespace

std::string_view UrgencyHeader(queue::Urgency urgency) {
  switch (urgency) {
    case queue::Urgency::kVeryLow:
      return "very-low";
    case queue::Urgency::kLow:
      return "low";
    case queue::Urgency::kNormal:
      return "";
    case queue::Urgency::kHigh:
      return "high";
  }
  return "";
}

void MessageBuilder::Build(const queue::Lease& lease, std::span<const queue::LeasedTarget> targets,
                           absl::Time now, std::vector<Prepared>& out) const {
  out.clear();
  out.resize(targets.size());
  const queue::Message& message = *lease.message;
  if (now >= lease.expires) {
    for (size_t i = 0; i < targets.size(); ++i) {
      out[i].index = targets[i].index;
      out[i].result = Result(targets[i].index, queue::Outcome::kExpired, "ttl expired before send");
    }
    return;
  }
  // What remains of the TTL, in whole seconds, never more than asked (TTL 0 stays 0).
  const int64_t ttl = std::min<int64_t>(
      message.ttl_seconds, std::max<int64_t>(0, absl::ToInt64Seconds(lease.expires - now)));
  const service::VapidSigner* signer = tenants_.Signer(message.tenant, message.vapid_key_id);

  Scratch& s = ThreadScratch();
  s.keys.resize(targets.size());
  s.items.clear();
  s.slot.clear();
  for (size_t i = 0; i < targets.size(); ++i) {
    const queue::LeasedTarget& t = targets[i];
    Prepared& p = out[i];
    p.index = t.index;
    if (signer == nullptr) {
      // A configuration that differs between replicas (a rolling update): another replica, or
      // this one after its restart, may know the key.
      p.result =
          Result(t.index, queue::Outcome::kRetry,
                 "vapid: key " + message.vapid_key_id + " is not configured on this replica");
      continue;
    }
    absl::StatusOr<std::string> audience =
        crypto::AudienceFromEndpoint(t.target.endpoint, "endpoint");
    if (!audience.ok()) {
      p.result =
          Result(t.index, queue::Outcome::kRejected, std::string(audience.status().message()));
      continue;
    }
    absl::StatusOr<std::string> authorization =
        tokens_.Authorization(signer->cache_key, *signer->key, *audience, signer->subject);
    if (!authorization.ok()) {
      p.result =
          Result(t.index, queue::Outcome::kRetry, std::string(authorization.status().message()));
      continue;
    }
    push::PushRequest& request = p.request.emplace();
    request.endpoint = t.target.endpoint;
    request.ttl_seconds = ttl;
    request.urgency = std::string(UrgencyHeader(message.urgency));
    request.topic = message.topic;
    request.authorization = *std::move(authorization);
    const std::string& payload = t.target.payload ? *t.target.payload : message.payload;
    if (payload.empty()) {
      continue;  // a push without payload has no body (RFC 8030 §5)
    }
    std::copy(t.target.p256dh.begin(), t.target.p256dh.end(), s.keys[i].p256dh.begin());
    std::copy(t.target.auth.begin(), t.target.auth.end(), s.keys[i].auth.begin());
    request.body.resize(crypto::EncryptedSize(payload.size()));
    crypto::BatchItem item;
    item.to = &s.keys[i];
    item.plaintext =
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
    item.out = request.body;
    s.items.push_back(item);
    s.slot.push_back(i);
  }
  s.results.assign(s.items.size(), crypto::BatchResult{});
  const absl::Status status = encryptor_.Encrypt(s.items, s.results);
  for (size_t k = 0; k < s.items.size(); ++k) {
    Prepared& p = out[s.slot[k]];
    if (status.ok() && s.results[k].outcome == crypto::BatchOutcome::kOk) {
      p.request->body.resize(s.results[k].size);
      continue;
    }
    const absl::Status why = status.ok() ? crypto::BatchItemStatus(k, s.results[k]) : status;
    const bool internal = !status.ok() || s.results[k].outcome == crypto::BatchOutcome::kInternal;
    p.request.reset();
    p.result = Result(p.index, internal ? queue::Outcome::kRetry : queue::Outcome::kRejected,
                      "encryption: " + std::string(why.message()));
  }
  // Secrets do not live here (the encryptor wipes its own); the keys are public, cleared anyway
  // so the scratch holds nothing of this lease.
  std::fill(s.keys.begin(), s.keys.end(), crypto::SubscriptionKeys{});
}

queue::TargetResult ToTargetResult(uint32_t index, const push::PushOutcome& outcome,
                                   absl::Time now) {
  const std::string status = outcome.status != 0 ? std::to_string(outcome.status) : "";
  switch (outcome.result) {
    case push::PushResult::kDelivered:
      return Result(index, queue::Outcome::kDelivered, "");
    case push::PushResult::kGone:
      return Result(index, queue::Outcome::kGone, status);
    case push::PushResult::kTooLarge:
      return Result(index, queue::Outcome::kRejected, "413 payload too large: " + outcome.reason);
    case push::PushResult::kRejected:
      return Result(index, queue::Outcome::kRejected, status + " " + outcome.reason);
    case push::PushResult::kRetry:
      break;
  }
  std::string reason = status.empty() && outcome.transport.has_value()
                           ? std::string(push::TransportFailureName(*outcome.transport))
                           : status;
  if (!outcome.reason.empty()) {
    reason += ": " + outcome.reason;
  }
  queue::TargetResult r = Result(index, queue::Outcome::kRetry, std::move(reason));
  if (outcome.retry_after.has_value()) {
    r.not_before = now + *outcome.retry_after;
  }
  return r;
}

}  // namespace webpush::dispatcher::worker
