#include "dispatcher/service/job_request.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "crypto/keys.h"
#include "queue/job_store.h"

namespace webpush::dispatcher::service {
namespace {

absl::Status Invalid(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(field + ": " + what);
}

absl::Status CheckPayloadSize(size_t size, const Tenant& tenant, const std::string& field) {
  if (size > queue::kMaxPayloadSize) {
    return Invalid(
        field, std::to_string(size) + " bytes exceeds the 3993-byte limit of one Web Push record");
  }
  if (static_cast<int64_t>(size) > tenant.quotas.max_payload_bytes) {
    return Invalid(field, std::to_string(size) + " bytes exceeds the tenant's max_payload_bytes " +
                              std::to_string(tenant.quotas.max_payload_bytes));
  }
  return absl::OkStatus();
}

absl::StatusOr<queue::Urgency> ToUrgency(v1::Urgency urgency) {
  switch (urgency) {
    case v1::URGENCY_UNSPECIFIED:
    case v1::URGENCY_NORMAL:
      return queue::Urgency::kNormal;
    case v1::URGENCY_VERY_LOW:
      return queue::Urgency::kVeryLow;
    case v1::URGENCY_LOW:
      return queue::Urgency::kLow;
    case v1::URGENCY_HIGH:
      return queue::Urgency::kHigh;
    default:
      return Invalid("message.urgency", "unknown value " + std::to_string(urgency));
  }
}

// IsValidUtf8 tells whether a label (echoed as text in logs and events) is UTF-8.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    size_t n = 0;
    if (c < 0x80) {
      n = 0;
    } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
      n = 1;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
      n = 3;
    } else {
      return false;
    }
    if (i + n >= s.size()) {
      return false;  // truncated sequence
    }
    for (size_t k = 1; k <= n; ++k) {
      if ((static_cast<uint8_t>(s[i + k]) & 0xC0) != 0x80) {
        return false;
      }
    }
    i += n + 1;
  }
  return true;
}

}  // namespace

absl::StatusOr<queue::JobSpec> ToJobSpec(const v1::Message& message,
                                         const std::string& idempotency_key, const Tenant& tenant) {
  queue::JobSpec spec;
  if (absl::Status s = CheckPayloadSize(message.payload().size(), tenant, "message.payload");
      !s.ok()) {
    return s;
  }
  spec.message.payload = message.payload();
  spec.message.ttl_seconds = message.ttl_seconds();
  absl::StatusOr<queue::Urgency> urgency = ToUrgency(message.urgency());
  if (!urgency.ok()) {
    return urgency.status();
  }
  spec.message.urgency = *urgency;
  spec.message.topic = message.topic();
  spec.message.tenant = tenant.name;
  const std::string key_id =
      message.vapid_key_id().empty() ? tenant.default_key_id : message.vapid_key_id();
  if (!tenant.signers.contains(key_id)) {
    return Invalid("message.vapid_key_id",
                   "no VAPID key \"" + key_id.substr(0, 64) + "\" is configured for this tenant");
  }
  spec.message.vapid_key_id = key_id;
  for (const auto& [key, value] : message.labels()) {
    if (!IsValidUtf8(key) || !IsValidUtf8(value)) {
      return Invalid("message.labels", "keys and values must be UTF-8");
    }
    if (key.size() > 64) {
      return Invalid("message.labels", "a key is longer than 64 bytes");
    }
    spec.message.labels.emplace_back(key, value);
  }
  // A proto map has no order; sorted labels make stored jobs and events deterministic.
  std::sort(spec.message.labels.begin(), spec.message.labels.end());
  if (idempotency_key.size() > kMaxIdempotencyKeySize) {
    return Invalid("idempotency_key", "longer than 128 bytes");
  }
  spec.idempotency_key = idempotency_key;
  spec.max_pending = tenant.quotas.max_pending_targets;
  // The queue's own checks (TTL range, topic alphabet, label counts) name the same fields.
  if (absl::Status s = queue::ValidateMessage(spec.message); !s.ok()) {
    return s;
  }
  return spec;
}

absl::Status TargetConverter::Convert(const v1::Target& in, size_t index,
                                      queue::Target& out) const {
  // Field names are built only on failure: this runs for every target of every job.
  auto field = [index](const char* name) {
    return "targets[" + std::to_string(index) + "]." + name;
  };
  if (in.endpoint().empty()) {
    return Invalid(field("endpoint"), "missing");
  }
  if (absl::StatusOr<push::Endpoint> endpoint = policy_.Check(in.endpoint(), field("endpoint"));
      !endpoint.ok()) {
    return endpoint.status();
  }
  if (in.p256dh().empty()) {
    return Invalid(field("p256dh"), "missing");
  }
  absl::StatusOr<crypto::P256PublicKey> p256dh =
      crypto::ParseP256PublicKey(in.p256dh(), field("p256dh"));
  if (!p256dh.ok()) {
    return p256dh.status();
  }
  if (in.auth().empty()) {
    return Invalid(field("auth"), "missing");
  }
  absl::StatusOr<crypto::AuthSecret> auth = crypto::ParseAuthSecret(in.auth(), field("auth"));
  if (!auth.ok()) {
    return auth.status();
  }
  if (in.has_payload()) {
    if (absl::Status s = CheckPayloadSize(in.payload().size(), tenant_, field("payload"));
        !s.ok()) {
      return s;
    }
    out.payload = in.payload();
  } else {
    out.payload.reset();
  }
  out.endpoint = in.endpoint();
  out.p256dh = *p256dh;
  out.auth = *auth;
  out.target_id = in.target_id();
  return queue::ValidateTarget(out, index);
}

}  // namespace webpush::dispatcher::service
