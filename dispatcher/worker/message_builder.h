#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/time/time.h"
#include "crypto/batch.h"
#include "crypto/vapid.h"
#include "dispatcher/push/push_client.h"
#include "dispatcher/service/tenants.h"
#include "queue/job.h"

// The worker's middle stage: leased targets in, ready HTTP/2 requests (or final outcomes) out.
// Everything a message needs that does not wait on the network happens here, on an encryption
// thread: the TTL check, the VAPID header (from the token cache), the RFC 8291 body (one batch
// through crypto::BatchEncryptor). And the way back: a push service's answer as a queue outcome.
namespace webpush::dispatcher::worker {

// Prepared is one target after the builder: a request to send, or an outcome already final
// (expired, rejected) or to retry (no VAPID key on this replica).
struct Prepared {
  uint32_t index = 0;                        // queue::LeasedTarget::index
  std::optional<push::PushRequest> request;  // set: send it
  queue::TargetResult result;                // when `request` is not set
};

class MessageBuilder {
 public:
  // The references must outlive the builder; all three are safe to share between threads.
  MessageBuilder(const service::TenantRegistry& tenants, const crypto::BatchEncryptor& encryptor,
                 crypto::VapidTokenCache& tokens)
      : tenants_(tenants), encryptor_(encryptor), tokens_(tokens) {}

  // Build prepares `targets` (of `lease`) as of `now` into `out` (cleared first), one entry per
  // target in order. The TTL sent is what remains of the message's (RFC 8030 §5.2); a message
  // whose deadline has passed is never sent. Thread-safe.
  void Build(const queue::Lease& lease, std::span<const queue::LeasedTarget> targets,
             absl::Time now, std::vector<Prepared>& out) const;

 private:
  const service::TenantRegistry& tenants_;
  const crypto::BatchEncryptor& encryptor_;
  crypto::VapidTokenCache& tokens_;
};

// ToTargetResult turns the push client's final outcome for target `index` into what the queue
// records: delivered, gone, rejected (413 and other permanent 4xx, with the service's reason), or
// retry (not before the service's Retry-After, when it sent one).
[[nodiscard]] queue::TargetResult ToTargetResult(uint32_t index, const push::PushOutcome& outcome,
                                                 absl::Time now);

// UrgencyHeader is the RFC 8030 §5.3 value, or "" for normal (the default, not sent).
[[nodiscard]] std::string_view UrgencyHeader(queue::Urgency urgency);

}  // namespace webpush::dispatcher::worker
