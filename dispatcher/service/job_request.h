#pragma once

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dispatcher/push/endpoint_policy.h"
#include "dispatcher/service/tenants.h"
#include "queue/job.h"
#include "webpush/dispatcher/v1/dispatcher.pb.h"

// The gRPC edge of a submission: proto messages checked field by field and turned into the
// queue's types. Every error is INVALID_ARGUMENT and names the field, with the target's index
// ("targets[1042].p256dh: not a point on P-256"), and never echoes an endpoint or a key.
namespace webpush::dispatcher::service {

inline constexpr size_t kMaxSubmitTargets = 10'000;
inline constexpr size_t kMaxIdempotencyKeySize = 128;

// ToJobSpec checks `message` and `idempotency_key` for `tenant` (payload within the tenant's
// max_payload_bytes, a known VAPID key id, ...) and returns the spec to queue, with the tenant's
// default key id filled in and its pending-target quota attached.
[[nodiscard]] absl::StatusOr<queue::JobSpec> ToJobSpec(const v1::Message& message,
                                                       const std::string& idempotency_key,
                                                       const Tenant& tenant);

// TargetConverter checks targets against the push-service allowlist and the tenant's limits.
class TargetConverter {
 public:
  TargetConverter(const push::EndpointPolicy& policy, const Tenant& tenant)
      : policy_(policy), tenant_(tenant) {}

  // Convert checks `in` (at position `index` of the whole job) and fills `out`.
  [[nodiscard]] absl::Status Convert(const v1::Target& in, size_t index, queue::Target& out) const;

 private:
  const push::EndpointPolicy& policy_;
  const Tenant& tenant_;
};

}  // namespace webpush::dispatcher::service
