#include "dispatcher/ctl/job_output.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string_view>

#include "dispatcher/ctl/job_client.h"
#include "dispatcher/push/endpoint_policy.h"

namespace webpush::dispatcher::ctl {
namespace {

std::string OutcomeName(v1::Outcome outcome) {
  std::string name = v1::Outcome_Name(outcome);
  constexpr std::string_view kPrefix = "OUTCOME_";
  if (name.rfind(kPrefix, 0) == 0) {
    name.erase(0, kPrefix.size());
  }
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return name.empty() ? std::to_string(static_cast<int>(outcome)) : name;
}

std::string TargetText(const v1::TargetEvent& target) {
  std::string text =
      "target " + target.target_id() + " " + push::RedactedEndpoint(target.endpoint());
  if (!target.reason().empty()) {
    text += ": " + target.reason();
  }
  return text;
}

}  // namespace

std::string CountersText(const v1::Counters& c) {
  return "total " + std::to_string(c.total()) + ", delivered " + std::to_string(c.delivered()) +
         ", gone " + std::to_string(c.gone()) + ", rejected " + std::to_string(c.rejected()) +
         ", expired " + std::to_string(c.expired()) + ", failed " + std::to_string(c.failed()) +
         ", pending " + std::to_string(c.pending());
}

std::string LatencyText(const v1::Latency& l) {
  if (l.answered() == 0) {
    return "no answers yet";
  }
  return "p50 <= " + std::to_string(l.p50_ms()) + " ms, p90 <= " + std::to_string(l.p90_ms()) +
         " ms, p99 <= " + std::to_string(l.p99_ms()) + " ms, max <= " + std::to_string(l.max_ms()) +
         " ms (" + std::to_string(l.answered()) + " answers)";
}

void PrintJob(const v1::Job& job, std::ostream& out) {
  using google::protobuf::util::TimeUtil;
  out << "job: " << job.job_id() << "\n";
  out << "state: " << StateName(job.state()) << "\n";
  out << "targets: " << CountersText(job.counters()) << "\n";
  out << "latency (submission to answer): " << LatencyText(job.latency()) << "\n";
  if (job.has_created()) {
    out << "created: " << TimeUtil::ToString(job.created()) << "\n";
  }
  if (job.has_expires()) {
    out << "expires: " << TimeUtil::ToString(job.expires()) << "\n";
  }
  if (job.has_finished()) {
    out << "finished: " << TimeUtil::ToString(job.finished()) << "\n";
  }
  if (!job.idempotency_key().empty()) {
    out << "idempotency key: " << job.idempotency_key() << "\n";
  }
  // A proto map iterates in no fixed order: print labels sorted.
  const std::map<std::string, std::string> labels(job.labels().begin(), job.labels().end());
  for (const auto& [key, value] : labels) {
    out << "label: " << key << "=" << value << "\n";
  }
}

absl::StatusOr<std::string> JsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;  // counters of 0 are printed too
  std::string json;
  if (const auto status = google::protobuf::util::MessageToJsonString(message, &json, options);
      !status.ok()) {
    return absl::InternalError("json: " + status.ToString());
  }
  return json;
}

std::string EventLine(const v1::JobEvent& event) {
  std::string line = event.offset() + " ";
  switch (event.event_case()) {
    case v1::JobEvent::kProgress:
      return line + "progress: " + CountersText(event.progress());
    case v1::JobEvent::kGone:
      return line + "gone: " + TargetText(event.gone());
    case v1::JobEvent::kFailed:
      return line + OutcomeName(event.failed().outcome()) + ": " + TargetText(event.failed());
    case v1::JobEvent::kFinished:
      return line + "finished: " + StateName(event.finished().state()) + ", " +
             CountersText(event.finished().counters());
    case v1::JobEvent::EVENT_NOT_SET:
      break;
  }
  return line + "unknown event";
}

absl::Status JobOutcome(const v1::Job& job) {
  if (job.state() == v1::JOB_STATE_DONE && job.counters().pending() == 0) {
    return absl::OkStatus();
  }
  return absl::AbortedError("job " + job.job_id() + " ended " + StateName(job.state()) + " with " +
                            std::to_string(job.counters().pending()) + " target(s) pending");
}

absl::Status GoneWriter::Open(const std::string& path) {
  if (path.empty()) {
    return absl::OkStatus();
  }
  path_ = path;
  file_.open(path, std::ios::trunc);
  if (!file_) {
    return absl::PermissionDeniedError("--gone-out: cannot write " + path);
  }
  return absl::OkStatus();
}

void GoneWriter::Write(const v1::TargetEvent& gone) {
  if (!file_.is_open()) {
    return;
  }
  const nlohmann::json line = {{"endpoint", gone.endpoint()}, {"target_id", gone.target_id()}};
  // Invalid UTF-8 (which the API never sends) is replaced rather than thrown about.
  file_ << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

absl::Status GoneWriter::Close() {
  if (!file_.is_open()) {
    return absl::OkStatus();
  }
  file_.close();
  if (!file_) {
    return absl::DataLossError("--gone-out: write error on " + path_);
  }
  return absl::OkStatus();
}

}  // namespace webpush::dispatcher::ctl
