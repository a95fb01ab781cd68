#include "dispatcher/service/proto_convert.h"

#include <algorithm>
#include <cmath>

#include "absl/time/time.h"

namespace webpush::dispatcher::service {
namespace {

void SetTime(absl::Time t, google::protobuf::Timestamp& out) {
  const int64_t nanos = absl::ToUnixNanos(t);
  out.set_seconds(nanos / 1'000'000'000);
  out.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

v1::JobState ToProto(queue::JobState state) {
  switch (state) {
    case queue::JobState::kQueued:
      return v1::JOB_STATE_QUEUED;
    case queue::JobState::kRunning:
      return v1::JOB_STATE_RUNNING;
    case queue::JobState::kDone:
      return v1::JOB_STATE_DONE;
    case queue::JobState::kCancelled:
      return v1::JOB_STATE_CANCELLED;
  }
  return v1::JOB_STATE_UNSPECIFIED;
}

v1::Outcome ToProto(queue::Outcome outcome) {
  switch (outcome) {
    case queue::Outcome::kDelivered:
      return v1::OUTCOME_DELIVERED;
    case queue::Outcome::kGone:
      return v1::OUTCOME_GONE;
    case queue::Outcome::kRejected:
      return v1::OUTCOME_REJECTED;
    case queue::Outcome::kExpired:
      return v1::OUTCOME_EXPIRED;
    case queue::Outcome::kFailed:
      return v1::OUTCOME_FAILED;
    case queue::Outcome::kRetry:
      break;
  }
  return v1::OUTCOME_UNSPECIFIED;
}

void ToProto(const queue::LatencyHistogram& histogram, v1::Latency& out) {
  int64_t total = 0;
  for (const int64_t n : histogram) {
    total += n;
  }
  out.set_answered(total);
  if (total == 0) {
    return;
  }
  // The bucket holding the q-quantile answer, reported by its upper bound.
  auto quantile = [&](double q) {
    const auto rank = static_cast<int64_t>(std::ceil(q * static_cast<double>(total)));
    int64_t seen = 0;
    for (size_t i = 0; i < histogram.size(); ++i) {
      seen += histogram[i];
      if (seen >= std::max<int64_t>(rank, 1)) {
        return queue::LatencyBucketUpperMs(i);
      }
    }
    return queue::LatencyBucketUpperMs(histogram.size() - 1);
  };
  out.set_p50_ms(quantile(0.50));
  out.set_p90_ms(quantile(0.90));
  out.set_p99_ms(quantile(0.99));
  out.set_max_ms(quantile(1.0));
}

}  // namespace

void ToProto(const queue::JobCounters& c, v1::Counters& out) {
  out.set_total(c.total);
  out.set_pending(c.pending);
  out.set_delivered(c.delivered);
  out.set_gone(c.gone);
  out.set_rejected(c.rejected);
  out.set_expired(c.expired);
  out.set_failed(c.failed);
}

void ToProto(const queue::JobStatus& status, v1::Job& out) {
  out.set_job_id(status.job_id);
  out.set_state(ToProto(status.state));
  ToProto(status.counters, *out.mutable_counters());
  SetTime(status.created, *out.mutable_created());
  if (status.finished != absl::InfinitePast()) {
    SetTime(status.finished, *out.mutable_finished());
  }
  if (status.expires != absl::InfinitePast()) {
    SetTime(status.expires, *out.mutable_expires());
  }
  out.set_idempotency_key(status.idempotency_key);
  ToProto(status.latency, *out.mutable_latency());
  for (const auto& [key, value] : status.labels) {
    (*out.mutable_labels())[key] = value;
  }
}

bool ToProto(const queue::JobEvent& event, const queue::JobStatus& job, v1::JobEvent& out) {
  out.set_offset(event.offset);
  for (const auto& [key, value] : job.labels) {
    (*out.mutable_labels())[key] = value;
  }
  switch (event.type) {
    case queue::EventType::kProgress:
      ToProto(event.counters, *out.mutable_progress());
      return true;
    case queue::EventType::kGone:
    case queue::EventType::kFailed: {
      v1::TargetEvent& t =
          event.type == queue::EventType::kGone ? *out.mutable_gone() : *out.mutable_failed();
      t.set_target_id(event.target_id);
      t.set_endpoint(event.endpoint);
      t.set_outcome(ToProto(event.outcome));
      t.set_reason(event.reason);
      return true;
    }
    case queue::EventType::kFinished: {
      queue::JobStatus final_status = job;
      final_status.counters = event.counters;
      final_status.state = event.state;
      ToProto(final_status, *out.mutable_finished());
      return true;
    }
  }
  return false;
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) {
    return grpc::Status::OK;
  }
  return {static_cast<grpc::StatusCode>(status.code()), std::string(status.message())};
}

}  // namespace webpush::dispatcher::service
