#pragma once

#include <grpcpp/support/status.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "queue/job.h"
#include "webpush/dispatcher/v1/dispatcher.pb.h"

// Conversions between the queue's types and the public API's, in one place (style.md §5: the
// service layer maps absl::Status to grpc::Status here and nowhere else).
namespace webpush::dispatcher::service {

void ToProto(const queue::JobStatus& status, v1::Job& out);
void ToProto(const queue::JobCounters& counters, v1::Counters& out);
// ToProto fills `out` from `event`; `job` supplies the labels and, for a finished event, the
// job's final state. Returns false for an event type the API does not show.
[[nodiscard]] bool ToProto(const queue::JobEvent& event, const queue::JobStatus& job,
                           v1::JobEvent& out);

// ToGrpcStatus maps the code (Abseil's codes are gRPC's) and keeps the message.
[[nodiscard]] grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace webpush::dispatcher::service
