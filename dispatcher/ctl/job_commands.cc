#include "dispatcher/ctl/job_commands.h"

#include <memory>
#include <ostream>

#include "dispatcher/ctl/ctl_io.h"
#include "dispatcher/ctl/job_output.h"

namespace webpush::dispatcher::ctl {
namespace {

absl::Status CheckJobId(const std::string& job_id) {
  if (job_id.empty()) {
    return UsageError("JOB_ID: required");
  }
  return absl::OkStatus();
}

absl::Status Print(const v1::Job& job, bool json, std::ostream& out) {
  if (!json) {
    PrintJob(job, out);
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> line = JsonLine(job);
  if (!line.ok()) {
    return line.status();
  }
  out << *line << "\n";
  return absl::OkStatus();
}

}  // namespace

absl::Status ShowJob(const JobOptions& options, std::ostream& out) {
  if (absl::Status s = CheckJobId(options.job_id); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<JobClient>> client = JobClient::Create(options.connection);
  if (!client.ok()) {
    return client.status();
  }
  absl::StatusOr<v1::Job> job = (*client)->GetJob(options.job_id);
  if (!job.ok()) {
    return job.status();
  }
  return Print(*job, options.json, out);
}

absl::Status CancelJob(const JobOptions& options, std::ostream& out) {
  if (absl::Status s = CheckJobId(options.job_id); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<JobClient>> client = JobClient::Create(options.connection);
  if (!client.ok()) {
    return client.status();
  }
  absl::StatusOr<v1::Job> job = (*client)->CancelJob(options.job_id);
  if (!job.ok()) {
    return job.status();
  }
  return Print(*job, options.json, out);
}

absl::Status WatchJob(const WatchOptions& options, std::ostream& out, std::ostream& err) {
  if (absl::Status s = CheckJobId(options.job_id); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<JobClient>> client = JobClient::Create(options.connection);
  if (!client.ok()) {
    return client.status();
  }
  GoneWriter gone;
  if (absl::Status s = gone.Open(options.gone_out.value_or("")); !s.ok()) {
    return s;
  }
  auto on_event = [&](const v1::JobEvent& event) -> absl::Status {
    if (event.has_gone()) {
      gone.Write(event.gone());
    }
    if (!options.json) {
      out << EventLine(event) << "\n";
    } else if (absl::StatusOr<std::string> line = JsonLine(event); line.ok()) {
      out << *line << "\n";
    } else {
      return line.status();
    }
    out.flush();  // a pipe reader sees each event as it comes
    return absl::OkStatus();
  };
  absl::StatusOr<v1::Job> job =
      (*client)->Watch(options.job_id, options.after_offset, on_event, err);
  if (absl::Status s = gone.Close(); !s.ok()) {
    return s;
  }
  if (!job.ok()) {
    return job.status();
  }
  return JobOutcome(*job);
}

}  // namespace webpush::dispatcher::ctl
