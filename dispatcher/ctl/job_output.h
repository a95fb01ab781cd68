#pragma once

#include <fstream>
#include <iosfwd>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "webpush/dispatcher/v1/dispatcher.pb.h"

// How the webpushctl job commands print jobs and events: readable lines or JSON lines, the
// gone-subscriptions file, and the exit contract of a followed job.
namespace webpush::dispatcher::ctl {

// CountersText is "total 50, delivered 47, gone 3, rejected 0, expired 0, failed 0, pending 0".
[[nodiscard]] std::string CountersText(const v1::Counters& counters);

// LatencyText is the job's latency percentiles in one phrase ("p50 <= 180 ms, ...").
[[nodiscard]] std::string LatencyText(const v1::Latency& latency);

// PrintJob writes the job as `name: value` lines (id, state, counters, times, idempotency key,
// labels).
void PrintJob(const v1::Job& job, std::ostream& out);

// JsonLine is the message as one line of JSON (proto3 JSON mapping, field names as in the
// .proto file). Internal when the message cannot be converted.
[[nodiscard]] absl::StatusOr<std::string> JsonLine(const google::protobuf::Message& message);

// EventLine is one readable line for an event: its offset, its kind and what it says. A
// subscription is named by its target id and push::RedactedEndpoint, never its endpoint.
[[nodiscard]] std::string EventLine(const v1::JobEvent& event);

// JobOutcome is OK when the job is DONE with no target pending (the exit status 0 of `send
// --wait` and `watch`), Aborted naming the state and the pending count otherwise.
[[nodiscard]] absl::Status JobOutcome(const v1::Job& job);

// GoneWriter writes gone subscriptions as JSON lines {"endpoint":..,"target_id":..} to a file,
// so that the caller can delete them. Not thread-safe.
class GoneWriter {
 public:
  // Open truncates `path` (nothing is done when `path` is empty). PermissionDenied if it cannot.
  [[nodiscard]] absl::Status Open(const std::string& path);
  // Write appends one line if a file is open.
  void Write(const v1::TargetEvent& gone);
  // Close flushes and closes; DataLoss if any write failed.
  [[nodiscard]] absl::Status Close();

 private:
  std::string path_;
  std::ofstream file_;
};

}  // namespace webpush::dispatcher::ctl
