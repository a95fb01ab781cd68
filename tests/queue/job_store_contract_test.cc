// The JobStore contract (queue/job_store.h), run against every back-end through
// JobStoreContractTest (job_store_contract.h). Real time, short durations and bounded waits: a
// test that waits for a lease or a retry polls Fetch until a deadline.

#include "tests/queue/job_store_contract.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "queue/job.h"
#include "queue/job_store.h"

namespace webpush::queue {
namespace {

constexpr const char* kTenant = "tenant-a";
constexpr const char* kOtherTenant = "tenant-b";
constexpr absl::Duration kWait = absl::Milliseconds(1500);  // bound on any single wait

Target MakeTarget(size_t i) {
  Target target;
  target.endpoint = "https://push.example.com/send/" + std::to_string(i);
  target.p256dh[0] = 0x04;
  target.p256dh[1] = static_cast<uint8_t>(i);
  target.auth[0] = static_cast<uint8_t>(i >> 8);
  target.target_id = "t" + std::to_string(i);
  return target;
}

std::vector<Target> MakeTargets(size_t count) {
  std::vector<Target> targets;
  targets.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    targets.push_back(MakeTarget(i));
  }
  return targets;
}

JobSpec MakeSpec(std::string tenant = kTenant, std::string idempotency_key = "") {
  JobSpec spec;
  spec.message.payload = "hello";
  spec.message.ttl_seconds = 3600;
  spec.message.tenant = std::move(tenant);
  spec.idempotency_key = std::move(idempotency_key);
  return spec;
}

// IsOk shows the status when a call that must succeed fails.
testing::AssertionResult IsOk(const absl::Status& s) {
  if (s.ok()) {
    return testing::AssertionSuccess();
  }
  return testing::AssertionFailure() << s;
}
template <typename T>
testing::AssertionResult IsOk(const absl::StatusOr<T>& s) {
  return IsOk(s.status());
}

// Results spells a list of outcomes (std::span cannot be built from a braced list in C++20).
using Results = std::vector<TargetResult>;

TargetResult Result(uint32_t index, Outcome outcome, std::string reason = "",
                    absl::Time not_before = absl::InfinitePast()) {
  TargetResult result;
  result.index = index;
  result.outcome = outcome;
  result.reason = std::move(reason);
  result.not_before = not_before;
  return result;
}

std::vector<TargetResult> AllResults(const Lease& lease, Outcome outcome) {
  std::vector<TargetResult> results;
  for (const LeasedTarget& target : lease.targets) {
    results.push_back(Result(target.index, outcome));
  }
  return results;
}

std::vector<uint32_t> Indices(const Lease& lease) {
  std::vector<uint32_t> indices;
  for (const LeasedTarget& target : lease.targets) {
    indices.push_back(target.index);
  }
  std::sort(indices.begin(), indices.end());
  return indices;
}

// FetchWithin polls Fetch until it returns at least one lease or `timeout` passes.
testing::AssertionResult FetchWithin(JobStore& store, std::string_view consumer,
                                     absl::Duration timeout, std::vector<Lease>* leases,
                                     size_t max_batches = 100, size_t max_in_flight = 100) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const absl::Duration block =
        std::clamp(deadline - absl::Now(), absl::ZeroDuration(), absl::Milliseconds(50));
    absl::StatusOr<std::vector<Lease>> fetched =
        store.Fetch(consumer, max_batches, max_in_flight, block);
    if (!fetched.ok()) {
      return testing::AssertionFailure() << "Fetch: " << fetched.status();
    }
    if (!fetched->empty()) {
      *leases = std::move(*fetched);
      return testing::AssertionSuccess();
    }
    if (absl::Now() >= deadline) {
      return testing::AssertionFailure() << "no lease for " << consumer << " within " << timeout;
    }
  }
}

// NothingToFetch checks that `consumer` is offered no batch right now.
testing::AssertionResult NothingToFetch(JobStore& store, std::string_view consumer) {
  absl::StatusOr<std::vector<Lease>> fetched =
      store.Fetch(consumer, 100, 100, absl::ZeroDuration());
  if (!fetched.ok()) {
    return testing::AssertionFailure() << "Fetch: " << fetched.status();
  }
  if (!fetched->empty()) {
    return testing::AssertionFailure() << fetched->size() << " unexpected batches, the first of "
                                       << (*fetched)[0].targets.size() << " targets";
  }
  return testing::AssertionSuccess();
}

// DeliverAll fetches as `consumer` until `count` targets were leased, records each delivered and
// acknowledges every lease. The indices leased go to `indices` (if not null), in lease order.
testing::AssertionResult DeliverAll(JobStore& store, std::string_view consumer, size_t count,
                                    std::vector<uint32_t>* indices = nullptr) {
  size_t delivered = 0;
  while (delivered < count) {
    std::vector<Lease> leases;
    if (testing::AssertionResult r = FetchWithin(store, consumer, kWait, &leases); !r) {
      return r << " after " << delivered << " of " << count << " targets";
    }
    for (const Lease& lease : leases) {
      if (absl::Status s = store.Record(lease, AllResults(lease, Outcome::kDelivered)); !s.ok()) {
        return testing::AssertionFailure() << "Record: " << s;
      }
      if (absl::Status s = store.Ack(lease); !s.ok()) {
        return testing::AssertionFailure() << "Ack: " << s;
      }
      delivered += lease.targets.size();
      for (const LeasedTarget& target : lease.targets) {
        if (indices != nullptr) {
          indices->push_back(target.index);
        }
      }
    }
  }
  if (delivered != count) {
    return testing::AssertionFailure() << delivered << " targets leased, expected " << count;
  }
  return testing::AssertionSuccess();
}

std::vector<JobEvent> AllEvents(JobStore& store, std::string_view tenant, std::string_view job_id) {
  absl::StatusOr<std::vector<JobEvent>> events = store.ReadEvents(tenant, job_id, "", 100'000);
  EXPECT_TRUE(events.ok()) << events.status();
  return events.ok() ? *std::move(events) : std::vector<JobEvent>();
}

std::pair<int64_t, int64_t> BacklogOf(JobStore& store, std::string_view tenant) {
  absl::StatusOr<std::pair<int64_t, int64_t>> backlog = store.Backlog(tenant);
  EXPECT_TRUE(backlog.ok()) << backlog.status();
  return backlog.ok() ? *backlog : std::pair<int64_t, int64_t>(-1, -1);
}

std::vector<std::string> JobsOf(JobStore& store, std::string_view tenant) {
  absl::StatusOr<std::vector<std::string>> jobs = store.ListJobs(tenant, "", 1000);
  EXPECT_TRUE(jobs.ok()) << jobs.status();
  return jobs.ok() ? *std::move(jobs) : std::vector<std::string>();
}

// Contains takes absl::string_view: Status::message() is Debian's absl::string_view, not std's.
bool Contains(absl::string_view text, absl::string_view part) {
  return text.find(part) != absl::string_view::npos;
}

TEST_P(JobStoreContractTest, DeliversSubmittedJobAndFinishesIt) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());
  absl::StatusOr<SubmitResult> submitted = store->Submit(MakeSpec(), MakeTargets(3));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  EXPECT_FALSE(submitted->existing);
  EXPECT_EQ(submitted->targets, 3);

  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->job_id, submitted->job_id);
  EXPECT_EQ(status->tenant, kTenant);
  EXPECT_EQ(status->state, JobState::kQueued);
  EXPECT_EQ(status->counters.total, 3);
  EXPECT_EQ(status->counters.pending, 3);
  EXPECT_EQ(status->finished, absl::InfinitePast());
  EXPECT_GE(status->expires - status->created, absl::Seconds(3599));
  EXPECT_LE(status->expires - status->created, absl::Seconds(3601));
  EXPECT_EQ(BacklogOf(*store, kTenant), std::make_pair(int64_t{3}, int64_t{3}));

  std::vector<Lease> leases;
  ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &leases));
  ASSERT_EQ(leases.size(), 1u);
  const Lease& lease = leases[0];
  EXPECT_EQ(lease.job_id, submitted->job_id);
  EXPECT_EQ(lease.deliveries, 1u);
  EXPECT_EQ(Indices(lease), (std::vector<uint32_t>{0, 1, 2}));
  ASSERT_NE(lease.message, nullptr);
  EXPECT_EQ(lease.message->payload, "hello");
  EXPECT_LE(absl::AbsDuration(lease.expires - status->expires), absl::Milliseconds(1));
  for (const LeasedTarget& target : lease.targets) {
    EXPECT_EQ(target.attempt, 0u);
  }
  status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, JobState::kRunning);

  ASSERT_TRUE(IsOk(store->Record(lease, AllResults(lease, Outcome::kDelivered))));
  ASSERT_TRUE(IsOk(store->Ack(lease)));

  status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, JobState::kDone);
  EXPECT_EQ(status->counters.delivered, 3);
  EXPECT_EQ(status->counters.pending, 0);
  EXPECT_GE(status->finished, status->created);
  EXPECT_EQ(BacklogOf(*store, kTenant), std::make_pair(int64_t{0}, int64_t{0}));
  EXPECT_TRUE(NothingToFetch(*store, "c1"));

  const std::vector<JobEvent> events = AllEvents(*store, kTenant, submitted->job_id);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, EventType::kFinished);
  EXPECT_EQ(events.back().state, JobState::kDone);
  EXPECT_EQ(events.back().counters.delivered, 3);
}

// The gauges of /metrics: running jobs, the work queue's lag and its oldest entry's age, through
// a job's whole life and a cancellation.
TEST_P(JobStoreContractTest, StatsFollowJobsThroughTheQueue) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());
  absl::StatusOr<QueueStats> stats = store->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->jobs_running, 0);
  EXPECT_EQ(stats->consumer_lag, 0);
  EXPECT_EQ(stats->oldest_pending_age, absl::ZeroDuration());

  absl::StatusOr<SubmitResult> done = store->Submit(MakeSpec(), MakeTargets(3));
  absl::StatusOr<SubmitResult> cancelled = store->Submit(MakeSpec(), MakeTargets(2));
  ASSERT_TRUE(done.ok() && cancelled.ok());
  absl::SleepFor(absl::Milliseconds(30));
  stats = store->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->jobs_running, 2);
  EXPECT_EQ(stats->consumer_lag, 2);  // one batch each, neither read yet
  EXPECT_GE(stats->oldest_pending_age, absl::Milliseconds(20));
  EXPECT_LT(stats->oldest_pending_age, absl::Seconds(30));

  ASSERT_TRUE(IsOk(store->CancelJob(kTenant, cancelled->job_id)));
  stats = store->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->jobs_running, 1);

  // Drain the queue: the cancelled job's batch may still be handed out (and skipped).
  for (int round = 0; round < 4; ++round) {
    absl::StatusOr<std::vector<Lease>> leases = store->Fetch("c1", 10, 10, absl::Milliseconds(50));
    ASSERT_TRUE(leases.ok()) << leases.status();
    for (const Lease& lease : *leases) {
      EXPECT_EQ(store->Stats()->consumer_lag, 0);  // read: leased, no longer lagging
      ASSERT_TRUE(IsOk(store->Record(lease, AllResults(lease, Outcome::kDelivered))));
      ASSERT_TRUE(IsOk(store->Ack(lease)));
    }
  }
  stats = store->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->jobs_running, 0);
  EXPECT_EQ(stats->consumer_lag, 0);
  EXPECT_EQ(stats->oldest_pending_age, absl::ZeroDuration());
  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, done->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, JobState::kDone);
}

TEST_P(JobStoreContractTest, CutsTargetsIntoBatchesOfBatchSize) {
  JobStoreOptions options;
  options.batch_size = 500;
  std::unique_ptr<JobStore> store = MakeStore(options);
  const std::vector<Target> targets = MakeTargets(1050);
  absl::StatusOr<SubmitResult> submitted = store->Submit(MakeSpec(), targets);
  ASSERT_TRUE(submitted.ok()) << submitted.status();

  std::vector<Lease> leases;
  while (leases.size() < 3) {
    std::vector<Lease> more;
    ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &more, /*max_batches=*/10));
    std::move(more.begin(), more.end(), std::back_inserter(leases));
  }
  ASSERT_EQ(leases.size(), 3u);
  EXPECT_TRUE(NothingToFetch(*store, "c1"));

  std::multiset<size_t> sizes;
  std::vector<int> seen(targets.size(), 0);
  for (const Lease& lease : leases) {
    sizes.insert(lease.targets.size());
    for (const LeasedTarget& target : lease.targets) {
      ASSERT_LT(target.index, targets.size());
      ++seen[target.index];
      EXPECT_EQ(target.target.target_id, targets[target.index].target_id);
      EXPECT_EQ(target.target.endpoint, targets[target.index].endpoint);
    }
  }
  EXPECT_EQ(sizes, (std::multiset<size_t>{50, 500, 500}));
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 1050);
}

TEST_P(JobStoreContractTest, KeepsMessageAndPerTargetPayload) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());
  JobSpec spec = MakeSpec();
  spec.message.payload = std::string(kMaxPayloadSize, 'x');
  spec.message.ttl_seconds = 600;
  spec.message.urgency = Urgency::kHigh;
  spec.message.topic = "news";
  spec.message.vapid_key_id = "key-2";
  spec.message.labels = {{"campaign", "spring"}, {"lang", "fr"}};
  std::vector<Target> targets = MakeTargets(3);
  targets[1].payload = "just for you";
  targets[2].auth[15] = 0xab;
  absl::StatusOr<SubmitResult> submitted = store->Submit(spec, targets);
  ASSERT_TRUE(submitted.ok()) << submitted.status();

  std::vector<Lease> leases;
  ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &leases));
  ASSERT_EQ(leases.size(), 1u);
  const Message& message = *leases[0].message;
  EXPECT_EQ(message.payload, spec.message.payload);
  EXPECT_EQ(message.ttl_seconds, 600);
  EXPECT_EQ(message.urgency, Urgency::kHigh);
  EXPECT_EQ(message.topic, "news");
  EXPECT_EQ(message.vapid_key_id, "key-2");
  EXPECT_EQ(message.tenant, kTenant);
  EXPECT_EQ(message.labels, spec.message.labels);
  ASSERT_EQ(leases[0].targets.size(), 3u);
  for (const LeasedTarget& leased : leases[0].targets) {
    const Target& sent = targets[leased.index];
    EXPECT_EQ(leased.target.endpoint, sent.endpoint);
    EXPECT_EQ(leased.target.p256dh, sent.p256dh);
    EXPECT_EQ(leased.target.auth, sent.auth);
    EXPECT_EQ(leased.target.target_id, sent.target_id);
    EXPECT_EQ(leased.target.payload, sent.payload);
  }

  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->labels, spec.message.labels);
}

TEST_P(JobStoreContractTest, RejectsInvalidJobsNamingTheField) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());

  JobSpec oversized = MakeSpec();
  oversized.message.payload = std::string(kMaxPayloadSize + 1, 'x');
  absl::StatusOr<SubmitResult> result = store->Submit(oversized, MakeTargets(2));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(result.status().message(), "payload")) << result.status();

  result = store->Submit(MakeSpec(), {});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(result.status().message(), "targets")) << result.status();

  std::vector<Target> targets = MakeTargets(5);
  targets[3].endpoint = "http://push.example.com/insecure";
  result = store->Submit(MakeSpec(), targets);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(result.status().message(), "targets[3].endpoint")) << result.status();

  // Uploads: the spec is checked at BeginUpload, targets as they come, numbered over the upload.
  absl::StatusOr<std::unique_ptr<JobUpload>> upload = store->BeginUpload(oversized);
  ASSERT_FALSE(upload.ok());
  EXPECT_EQ(upload.status().code(), absl::StatusCode::kInvalidArgument);
  upload = store->BeginUpload(MakeSpec());
  ASSERT_TRUE(upload.ok()) << upload.status();
  ASSERT_TRUE(IsOk((*upload)->Add(std::vector<Target>(targets.begin(), targets.begin() + 2))));
  absl::Status added = (*upload)->Add(std::vector<Target>(targets.begin() + 2, targets.end()));
  EXPECT_EQ(added.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(added.message(), "targets[3].endpoint")) << added;
  upload->reset();

  upload = store->BeginUpload(MakeSpec());
  ASSERT_TRUE(upload.ok()) << upload.status();
  result = (*upload)->Commit();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(result.status().message(), "targets")) << result.status();
  upload->reset();

  EXPECT_TRUE(JobsOf(*store, kTenant).empty());
  EXPECT_EQ(BacklogOf(*store, kTenant), std::make_pair(int64_t{0}, int64_t{0}));
  EXPECT_TRUE(NothingToFetch(*store, "c1"));
}

TEST_P(JobStoreContractTest, IdempotencyKeyReturnsExistingJob) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());
  absl::StatusOr<SubmitResult> first = store->Submit(MakeSpec(kTenant, "order-1"), MakeTargets(3));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->existing);

  absl::StatusOr<SubmitResult> again = store->Submit(MakeSpec(kTenant, "order-1"), MakeTargets(5));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->existing);
  EXPECT_EQ(again->job_id, first->job_id);
  EXPECT_EQ(again->targets, 3);

  absl::StatusOr<std::unique_ptr<JobUpload>> upload =
      store->BeginUpload(MakeSpec(kTenant, "order-1"));
  ASSERT_TRUE(upload.ok()) << upload.status();
  ASSERT_TRUE(IsOk((*upload)->Add(MakeTargets(10))));
  absl::StatusOr<SubmitResult> committed = (*upload)->Commit();
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_TRUE(committed->existing);
  EXPECT_EQ(committed->job_id, first->job_id);
  EXPECT_EQ(committed->targets, 3);
  upload->reset();

  EXPECT_EQ(JobsOf(*store, kTenant), std::vector<std::string>{first->job_id});
  EXPECT_EQ(BacklogOf(*store, kTenant), std::make_pair(int64_t{3}, int64_t{3}));

  // Keys are per tenant, and a job without a key is always new.
  absl::StatusOr<SubmitResult> other =
      store->Submit(MakeSpec(kOtherTenant, "order-1"), MakeTargets(2));
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_FALSE(other->existing);
  EXPECT_NE(other->job_id, first->job_id);
  absl::StatusOr<SubmitResult> no_key_1 = store->Submit(MakeSpec(), MakeTargets(1));
  absl::StatusOr<SubmitResult> no_key_2 = store->Submit(MakeSpec(), MakeTargets(1));
  ASSERT_TRUE(no_key_1.ok() && no_key_2.ok());
  EXPECT_FALSE(no_key_2->existing);
  EXPECT_NE(no_key_1->job_id, no_key_2->job_id);
  EXPECT_EQ(BacklogOf(*store, kTenant), std::make_pair(int64_t{7}, int64_t{5}));

  std::vector<uint32_t> indices;
  ASSERT_TRUE(DeliverAll(*store, "c1", 7, &indices));
  EXPECT_TRUE(NothingToFetch(*store, "c1"));
}

TEST_P(JobStoreContractTest, RefusesSubmissionsOverTheBacklogLimits) {
  JobStoreOptions options;
  options.max_backlog = 8;
  options.max_backlog_per_tenant = 6;
  std::unique_ptr<JobStore> store = MakeStore(options);
  ASSERT_TRUE(IsOk(store->Submit(MakeSpec(kTenant), MakeTargets(5))));

  absl::StatusOr<SubmitResult> result = store->Submit(MakeSpec(kTenant), MakeTargets(2));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Contains(result.status().message(), "limit of 6 pending")) << result.status();

  result = store->Submit(MakeSpec(kOtherTenant), MakeTargets(4));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Contains(result.status().message(), "max_backlog")) << result.status();

  EXPECT_EQ(JobsOf(*store, kTenant).size(), 1u);
  EXPECT_TRUE(JobsOf(*store, kOtherTenant).empty());
  EXPECT_EQ(BacklogOf(*store, kTenant), std::make_pair(int64_t{5}, int64_t{5}));
  EXPECT_EQ(BacklogOf(*store, kOtherTenant), std::make_pair(int64_t{5}, int64_t{0}));

  ASSERT_TRUE(IsOk(store->Submit(MakeSpec(kOtherTenant), MakeTargets(3))));  // exactly the limit
  absl::StatusOr<std::unique_ptr<JobUpload>> upload = store->BeginUpload(MakeSpec(kOtherTenant));
  ASSERT_TRUE(upload.ok()) << upload.status();
  ASSERT_TRUE(IsOk((*upload)->Add(MakeTargets(1))));
  result = (*upload)->Commit();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  upload->reset();
  EXPECT_EQ(JobsOf(*store, kOtherTenant).size(), 1u);
  EXPECT_EQ(BacklogOf(*store, kOtherTenant), std::make_pair(int64_t{8}, int64_t{3}));

  // Delivered targets leave the backlog.
  ASSERT_TRUE(DeliverAll(*store, "c1", 8));
  EXPECT_EQ(BacklogOf(*store, kTenant), std::make_pair(int64_t{0}, int64_t{0}));
  EXPECT_TRUE(IsOk(store->Submit(MakeSpec(kTenant), MakeTargets(6))));
  EXPECT_TRUE(IsOk(store->Submit(MakeSpec(kOtherTenant), MakeTargets(2))));
}

TEST_P(JobStoreContractTest, NeverLeasesMoreThanMaxInFlightPerConsumer) {
  JobStoreOptions options;
  options.batch_size = 1;
  std::unique_ptr<JobStore> store = MakeStore(options);
  ASSERT_TRUE(IsOk(store->Submit(MakeSpec(), MakeTargets(5))));

  std::vector<Lease> held;
  while (held.size() < 2) {
    std::vector<Lease> leases;
    ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &leases, /*max_batches=*/10,
                            /*max_in_flight=*/2));
    std::move(leases.begin(), leases.end(), std::back_inserter(held));
  }
  EXPECT_EQ(held.size(), 2u);
  absl::StatusOr<std::vector<Lease>> more = store->Fetch("c1", 10, 2, absl::Milliseconds(100));
  ASSERT_TRUE(more.ok()) << more.status();
  EXPECT_TRUE(more->empty());

  ASSERT_TRUE(IsOk(store->Record(held[0], AllResults(held[0], Outcome::kDelivered))));
  ASSERT_TRUE(IsOk(store->Ack(held[0])));
  std::vector<Lease> leases;
  ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &leases, 10, 2));
  EXPECT_EQ(leases.size(), 1u);

  // The limit is per consumer: another one takes the rest.
  std::vector<Lease> others;
  size_t other_batches = 0;
  while (other_batches < 2) {
    ASSERT_TRUE(FetchWithin(*store, "c2", kWait, &others, 10, 2));
    other_batches += others.size();
  }
  EXPECT_EQ(other_batches, 2u);
  EXPECT_TRUE(NothingToFetch(*store, "c3"));
}

TEST_P(JobStoreContractTest, ReclaimsLeaseAfterConsumerDies) {
  JobStoreOptions options;
  options.lease = absl::Milliseconds(300);
  std::unique_ptr<JobStore> store = MakeStore(options);
  absl::StatusOr<SubmitResult> submitted = store->Submit(MakeSpec(), MakeTargets(10));
  ASSERT_TRUE(submitted.ok()) << submitted.status();

  const absl::Time fetched_at = absl::Now();
  std::vector<Lease> dead;
  ASSERT_TRUE(FetchWithin(*store, "a", kWait, &dead));
  ASSERT_EQ(dead.size(), 1u);
  std::vector<TargetResult> some;
  for (uint32_t i = 0; i < 4; ++i) {
    some.push_back(Result(i, Outcome::kDelivered));
  }
  ASSERT_TRUE(IsOk(store->Record(dead[0], some)));
  // Consumer `a` dies here without acknowledging.

  EXPECT_TRUE(NothingToFetch(*store, "b"));
  std::vector<Lease> reclaimed;
  ASSERT_TRUE(FetchWithin(*store, "b", kWait, &reclaimed));
  EXPECT_GE(absl::Now() - fetched_at, absl::Milliseconds(290));
  ASSERT_EQ(reclaimed.size(), 1u);
  EXPECT_EQ(reclaimed[0].job_id, submitted->job_id);
  EXPECT_EQ(reclaimed[0].deliveries, 2u);
  EXPECT_EQ(Indices(reclaimed[0]), (std::vector<uint32_t>{4, 5, 6, 7, 8, 9}));

  // A late outcome from `a` still counts, once.
  ASSERT_TRUE(IsOk(store->Record(dead[0], Results{Result(4, Outcome::kDelivered)})));
  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->counters.delivered, 5);
  ASSERT_TRUE(IsOk(store->Record(reclaimed[0], AllResults(reclaimed[0], Outcome::kDelivered))));
  ASSERT_TRUE(IsOk(store->Ack(dead[0])));
  ASSERT_TRUE(IsOk(store->Ack(reclaimed[0])));

  status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, JobState::kDone);
  EXPECT_EQ(status->counters.delivered, 10);
  EXPECT_EQ(status->counters.pending, 0);
  EXPECT_TRUE(NothingToFetch(*store, "b"));
}

TEST_P(JobStoreContractTest, ExtendKeepsALeaseFromBeingReclaimed) {
  JobStoreOptions options;
  options.lease = absl::Milliseconds(400);
  std::unique_ptr<JobStore> store = MakeStore(options);
  absl::StatusOr<SubmitResult> submitted = store->Submit(MakeSpec(), MakeTargets(3));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  std::vector<Lease> held;
  ASSERT_TRUE(FetchWithin(*store, "a", kWait, &held));
  ASSERT_EQ(held.size(), 1u);

  // Renewed every 150 ms for three lease periods: nobody else gets the batch.
  const absl::Time until = absl::Now() + 3 * options.lease;
  while (absl::Now() < until) {
    ASSERT_TRUE(IsOk(store->Extend(held[0])));
    EXPECT_TRUE(NothingToFetch(*store, "b"));
    absl::SleepFor(absl::Milliseconds(150));
  }
  // Once the renewals stop, the lease runs out and `b` reclaims the batch; `a`'s renewal then
  // fails, telling it to stop sending.
  std::vector<Lease> reclaimed;
  ASSERT_TRUE(FetchWithin(*store, "b", kWait, &reclaimed));
  ASSERT_EQ(reclaimed.size(), 1u);
  EXPECT_EQ(Indices(reclaimed[0]), (std::vector<uint32_t>{0, 1, 2}));
  const absl::Status late = store->Extend(held[0]);
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition) << late;
  ASSERT_TRUE(IsOk(store->Extend(reclaimed[0])));

  ASSERT_TRUE(IsOk(store->Record(reclaimed[0], AllResults(reclaimed[0], Outcome::kDelivered))));
  ASSERT_TRUE(IsOk(store->Ack(reclaimed[0])));
  const absl::Status after_ack = store->Extend(reclaimed[0]);
  EXPECT_EQ(after_ack.code(), absl::StatusCode::kFailedPrecondition) << after_ack;
}

TEST_P(JobStoreContractTest, AdmitLetsABurstThroughThenMakesTheNextWait) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());
  // 100 per second, burst 50: a job of 500 is admitted at once (overdrawing by 450), the next
  // must wait about 4.5 s for the level to climb back above zero.
  absl::StatusOr<absl::Duration> first = store->Admit(kTenant, 500, 100, 50);
  ASSERT_TRUE(IsOk(first));
  EXPECT_EQ(*first, absl::ZeroDuration());
  absl::StatusOr<absl::Duration> second = store->Admit(kTenant, 1, 100, 50);
  ASSERT_TRUE(IsOk(second));
  EXPECT_GT(*second, absl::Seconds(4));
  EXPECT_LE(*second, absl::Milliseconds(4520));
  // Another tenant has its own bucket.
  absl::StatusOr<absl::Duration> other = store->Admit(kOtherTenant, 10, 100, 50);
  ASSERT_TRUE(IsOk(other));
  EXPECT_EQ(*other, absl::ZeroDuration());
  // Giving 460 back (a refused submission) brings the level above zero again.
  ASSERT_TRUE(IsOk(store->Admit(kTenant, -460, 100, 50)));
  absl::StatusOr<absl::Duration> third = store->Admit(kTenant, 1, 100, 50);
  ASSERT_TRUE(IsOk(third));
  EXPECT_EQ(*third, absl::ZeroDuration());
  EXPECT_EQ(store->Admit(kTenant, 1, 0, 50).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(JobStoreContractTest, AppliesTheJobsOwnPendingLimit) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());
  JobSpec spec = MakeSpec();
  spec.max_pending = 4;
  ASSERT_TRUE(IsOk(store->Submit(spec, MakeTargets(3))));
  absl::StatusOr<SubmitResult> over = store->Submit(spec, MakeTargets(2));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(Contains(over.status().message(), "limit of 4 pending")) << over.status();
  ASSERT_TRUE(IsOk(store->Submit(spec, MakeTargets(1))));
  EXPECT_EQ(BacklogOf(*store, kTenant), std::make_pair(int64_t{4}, int64_t{4}));
}

TEST_P(JobStoreContractTest, KeepsALatencyHistogramOfTheAnswers) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());
  const absl::Time before = absl::Now();
  absl::StatusOr<SubmitResult> submitted = store->Submit(MakeSpec(), MakeTargets(4));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  std::vector<Lease> leases;
  ASSERT_TRUE(FetchWithin(*store, "a", kWait, &leases));
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_GE(leases[0].created, before - absl::Seconds(1));
  EXPECT_LE(leases[0].created, absl::Now());
  std::vector<TargetResult> results = AllResults(leases[0], Outcome::kDelivered);
  results[0].latency_ms = 1;    // bucket 0
  results[1].latency_ms = 100;  // bucket 13
  results[2].latency_ms = 100;
  results[3].latency_ms = -1;  // not measured
  ASSERT_TRUE(IsOk(store->Record(leases[0], results)));
  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->latency[0], 1);
  EXPECT_EQ(status->latency[LatencyBucket(100)], 2);
  int64_t total = 0;
  for (const int64_t n : status->latency) {
    total += n;
  }
  EXPECT_EQ(total, 3);
}

TEST(LatencyBucketTest, BucketsGrowBySquareRootOfTwoAndBoundsAgree) {
  EXPECT_EQ(LatencyBucket(0), 0u);
  EXPECT_EQ(LatencyBucket(1), 0u);
  EXPECT_EQ(LatencyBucket(2), 2u);
  EXPECT_EQ(LatencyBucket(100), 13u);
  EXPECT_EQ(LatencyBucket(int64_t{1} << 40), kLatencyBuckets - 1);
  for (size_t i = 0; i + 1 < kLatencyBuckets; ++i) {
    const int64_t upper = LatencyBucketUpperMs(i);
    EXPECT_LE(LatencyBucket(upper), i) << i;
    EXPECT_GT(LatencyBucket(upper + 1), i) << i;
  }
  for (int64_t ms = 0; ms < 100'000; ms += 7) {
    EXPECT_LE(ms, LatencyBucketUpperMs(LatencyBucket(ms)));
  }
}

TEST_P(JobStoreContractTest, AckHandsOutUnrecordedTargetsAgain) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());
  absl::StatusOr<SubmitResult> submitted = store->Submit(MakeSpec(), MakeTargets(4));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  std::vector<Lease> first;
  ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &first));
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(
      store->Record(first[0], Results{Result(0, Outcome::kDelivered), Result(3, Outcome::kGone)})
          .ok());
  ASSERT_TRUE(IsOk(store->Ack(first[0])));

  std::vector<Lease> again;
  ASSERT_TRUE(FetchWithin(*store, "c2", kWait, &again));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(Indices(again[0]), (std::vector<uint32_t>{1, 2}));
  for (const LeasedTarget& target : again[0].targets) {
    EXPECT_EQ(target.attempt, 0u);
  }
  ASSERT_TRUE(IsOk(store->Ack(first[0])));  // a second Ack changes nothing
  EXPECT_TRUE(NothingToFetch(*store, "c3"));

  ASSERT_TRUE(IsOk(store->Record(again[0], AllResults(again[0], Outcome::kDelivered))));
  ASSERT_TRUE(IsOk(store->Ack(again[0])));
  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, JobState::kDone);
  EXPECT_EQ(status->counters.delivered, 3);
  EXPECT_EQ(status->counters.gone, 1);
}

TEST_P(JobStoreContractTest, IgnoresASecondOutcomeForAFinishedTarget) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());
  absl::StatusOr<SubmitResult> submitted = store->Submit(MakeSpec(), MakeTargets(2));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  std::vector<Lease> leases;
  ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &leases));
  absl::Status first = store->Record(leases[0], Results{Result(0, Outcome::kDelivered)});
  ASSERT_TRUE(first.ok()) << first;
  absl::Status second = store->Record(leases[0], Results{Result(0, Outcome::kDelivered)});
  ASSERT_TRUE(second.ok()) << second;
  ASSERT_TRUE(IsOk(store->Record(leases[0], Results{Result(0, Outcome::kGone, "410")})));
  ASSERT_TRUE(IsOk(store->Record(leases[0], Results{Result(0, Outcome::kRetry, "503")})));

  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->counters.delivered, 1);
  EXPECT_EQ(status->counters.gone, 0);
  EXPECT_EQ(status->counters.pending, 1);
  for (const JobEvent& event : AllEvents(*store, kTenant, submitted->job_id)) {
    EXPECT_NE(event.type, EventType::kGone);
  }
}

TEST_P(JobStoreContractTest, RetryComesBackNotBeforeItsTimeWithTheNextAttempt) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());
  absl::StatusOr<SubmitResult> submitted = store->Submit(MakeSpec(), MakeTargets(3));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  std::vector<Lease> leases;
  ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &leases));
  const absl::Time not_before = absl::Now() + absl::Milliseconds(300);
  ASSERT_TRUE(store
                  ->Record(leases[0],
                           std::vector<TargetResult>{Result(0, Outcome::kDelivered),
                                                     Result(1, Outcome::kRetry, "429", not_before),
                                                     Result(2, Outcome::kDelivered)})
                  .ok());
  ASSERT_TRUE(IsOk(store->Ack(leases[0])));
  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->counters.pending, 1);
  EXPECT_EQ(status->state, JobState::kRunning);
  EXPECT_TRUE(NothingToFetch(*store, "c1"));

  std::vector<Lease> retried;
  ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &retried));
  EXPECT_GE(absl::Now(), not_before - absl::Milliseconds(1));
  ASSERT_EQ(retried.size(), 1u);
  ASSERT_EQ(retried[0].targets.size(), 1u);
  EXPECT_EQ(retried[0].targets[0].index, 1u);
  EXPECT_EQ(retried[0].targets[0].attempt, 1u);
  EXPECT_EQ(retried[0].targets[0].target.target_id, "t1");
  ASSERT_TRUE(IsOk(store->Record(retried[0], AllResults(retried[0], Outcome::kDelivered))));
  ASSERT_TRUE(IsOk(store->Ack(retried[0])));
  status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, JobState::kDone);
  EXPECT_EQ(status->counters.delivered, 3);
}

TEST_P(JobStoreContractTest, RetryWithoutNotBeforeWaitsForTheBackOff) {
  JobStoreOptions options;
  options.retry_base = absl::Milliseconds(200);  // first retry after 160 to 240 ms
  std::unique_ptr<JobStore> store = MakeStore(options);
  ASSERT_TRUE(IsOk(store->Submit(MakeSpec(), MakeTargets(1))));
  std::vector<Lease> leases;
  ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &leases));
  const absl::Time recorded_at = absl::Now();
  ASSERT_TRUE(IsOk(store->Record(leases[0], Results{Result(0, Outcome::kRetry, "503")})));
  ASSERT_TRUE(IsOk(store->Ack(leases[0])));

  std::vector<Lease> retried;
  ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &retried));
  EXPECT_GE(absl::Now() - recorded_at, absl::Milliseconds(159));
  ASSERT_EQ(retried[0].targets.size(), 1u);
  EXPECT_EQ(retried[0].targets[0].attempt, 1u);
}

TEST_P(JobStoreContractTest, FailsTargetAfterMaxAttempts) {
  JobStoreOptions options;
  options.max_attempts = 2;
  options.retry_base = absl::Milliseconds(20);
  std::unique_ptr<JobStore> store = MakeStore(options);
  absl::StatusOr<SubmitResult> submitted = store->Submit(MakeSpec(), MakeTargets(1));
  ASSERT_TRUE(submitted.ok()) << submitted.status();

  std::vector<Lease> leases;
  ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &leases));
  ASSERT_TRUE(IsOk(store->Record(leases[0], Results{Result(0, Outcome::kRetry, "503")})));
  ASSERT_TRUE(IsOk(store->Ack(leases[0])));
  ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &leases));
  ASSERT_EQ(leases[0].targets.size(), 1u);
  EXPECT_EQ(leases[0].targets[0].attempt, 1u);
  ASSERT_TRUE(IsOk(store->Record(leases[0], Results{Result(0, Outcome::kRetry, "503 again")})));
  ASSERT_TRUE(IsOk(store->Ack(leases[0])));

  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, JobState::kDone);
  EXPECT_EQ(status->counters.failed, 1);
  EXPECT_EQ(status->counters.pending, 0);
  EXPECT_TRUE(NothingToFetch(*store, "c1"));
  int failed_events = 0;
  for (const JobEvent& event : AllEvents(*store, kTenant, submitted->job_id)) {
    if (event.type == EventType::kFailed) {
      ++failed_events;
      EXPECT_EQ(event.outcome, Outcome::kFailed);
      EXPECT_EQ(event.target_id, "t0");
      EXPECT_EQ(event.endpoint, MakeTarget(0).endpoint);
      EXPECT_TRUE(event.reason.starts_with("retries exhausted")) << event.reason;
      EXPECT_TRUE(Contains(event.reason, "503 again")) << event.reason;
    }
  }
  EXPECT_EQ(failed_events, 1);
}

TEST_P(JobStoreContractTest, ExpiresTargetsWhoseTtlPassedBeforeFetch) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());
  JobSpec spec = MakeSpec();
  spec.message.ttl_seconds = 1;
  absl::StatusOr<SubmitResult> submitted = store->Submit(spec, MakeTargets(2));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  absl::SleepFor(status->expires - absl::Now() + absl::Milliseconds(20));  // the TTL must pass

  EXPECT_TRUE(NothingToFetch(*store, "c1"));
  status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->counters.expired, 2);
  EXPECT_EQ(status->counters.pending, 0);
  EXPECT_EQ(status->state, JobState::kDone);
  EXPECT_EQ(BacklogOf(*store, kTenant), std::make_pair(int64_t{0}, int64_t{0}));
  int expired_events = 0;
  for (const JobEvent& event : AllEvents(*store, kTenant, submitted->job_id)) {
    if (event.type == EventType::kFailed) {
      ++expired_events;
      EXPECT_EQ(event.outcome, Outcome::kExpired);
      EXPECT_TRUE(Contains(event.reason, "ttl expired")) << event.reason;
    }
  }
  EXPECT_EQ(expired_events, 2);
}

TEST_P(JobStoreContractTest, ExpiresRetriesThatWouldComeAfterTheTtl) {
  JobStoreOptions options;
  options.retry_base = absl::Seconds(5);  // the back-off alone passes the TTL
  std::unique_ptr<JobStore> store = MakeStore(options);
  JobSpec spec = MakeSpec();
  spec.message.ttl_seconds = 2;
  absl::StatusOr<SubmitResult> submitted = store->Submit(spec, MakeTargets(2));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  std::vector<Lease> leases;
  ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &leases));
  ASSERT_TRUE(store
                  ->Record(leases[0],
                           std::vector<TargetResult>{
                               Result(0, Outcome::kRetry, "429", absl::Now() + absl::Seconds(10)),
                               Result(1, Outcome::kRetry, "503")})
                  .ok());
  ASSERT_TRUE(IsOk(store->Ack(leases[0])));

  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->counters.expired, 2);
  EXPECT_EQ(status->counters.pending, 0);
  EXPECT_EQ(status->state, JobState::kDone);
  EXPECT_TRUE(NothingToFetch(*store, "c1"));
}

TEST_P(JobStoreContractTest, CancelStopsFurtherBatchesAndReleasesBacklog) {
  JobStoreOptions options;
  options.batch_size = 2;
  std::unique_ptr<JobStore> store = MakeStore(options);
  absl::StatusOr<SubmitResult> submitted = store->Submit(MakeSpec(), MakeTargets(6));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  std::vector<Lease> in_flight;
  ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &in_flight, /*max_batches=*/1));
  ASSERT_EQ(in_flight.size(), 1u);

  EXPECT_EQ(store->CancelJob(kOtherTenant, submitted->job_id).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(IsOk(store->CancelJob(kTenant, submitted->job_id)));
  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, JobState::kCancelled);
  EXPECT_NE(status->finished, absl::InfinitePast());
  EXPECT_EQ(status->counters.pending, 6);
  EXPECT_EQ(BacklogOf(*store, kTenant), std::make_pair(int64_t{0}, int64_t{0}));
  EXPECT_TRUE(NothingToFetch(*store, "c2"));

  // The send already in flight is still recorded; the rest stays pending for good.
  ASSERT_TRUE(IsOk(store->Record(in_flight[0], AllResults(in_flight[0], Outcome::kDelivered))));
  ASSERT_TRUE(IsOk(store->Ack(in_flight[0])));
  status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, JobState::kCancelled);
  EXPECT_EQ(status->counters.delivered, 2);
  EXPECT_EQ(status->counters.pending, 4);
  EXPECT_EQ(BacklogOf(*store, kTenant), std::make_pair(int64_t{0}, int64_t{0}));
  EXPECT_TRUE(NothingToFetch(*store, "c1"));

  EXPECT_EQ(store->CancelJob(kTenant, submitted->job_id).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->GetJob(kOtherTenant, submitted->job_id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store->ReadEvents(kOtherTenant, submitted->job_id, "", 10).status().code(),
            absl::StatusCode::kNotFound);
  bool finished_event = false;
  for (const JobEvent& event : AllEvents(*store, kTenant, submitted->job_id)) {
    if (event.type == EventType::kFinished) {
      finished_event = true;
      EXPECT_EQ(event.state, JobState::kCancelled);
    }
  }
  EXPECT_TRUE(finished_event);

  // A finished job cannot be cancelled either.
  absl::StatusOr<SubmitResult> done = store->Submit(MakeSpec(), MakeTargets(1));
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_TRUE(DeliverAll(*store, "c1", 1));
  EXPECT_EQ(store->CancelJob(kTenant, done->job_id).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->CancelJob(kTenant, "j0000000000000nosuchjob").code(),
            absl::StatusCode::kNotFound);
}

TEST_P(JobStoreContractTest, EventsReportGoneAndFailedTargetsAndResumeFromAnOffset) {
  JobStoreOptions options;
  options.progress_every = 2;
  std::unique_ptr<JobStore> store = MakeStore(options);
  absl::StatusOr<SubmitResult> submitted = store->Submit(MakeSpec(), MakeTargets(6));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  std::vector<Lease> leases;
  ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &leases));
  ASSERT_TRUE(store
                  ->Record(leases[0],
                           std::vector<TargetResult>{Result(0, Outcome::kDelivered),
                                                     Result(1, Outcome::kGone, "410"),
                                                     Result(2, Outcome::kRejected, "400 bad key")})
                  .ok());
  ASSERT_TRUE(
      store
          ->Record(leases[0], Results{Result(3, Outcome::kDelivered), Result(4, Outcome::kGone),
                                      Result(5, Outcome::kDelivered)})
          .ok());
  ASSERT_TRUE(IsOk(store->Ack(leases[0])));

  const std::vector<JobEvent> events = AllEvents(*store, kTenant, submitted->job_id);
  std::vector<std::string> gone;
  int progress = 0;
  int failed = 0;
  for (const JobEvent& event : events) {
    switch (event.type) {
      case EventType::kGone:
        gone.push_back(event.target_id);
        EXPECT_EQ(event.outcome, Outcome::kGone);
        EXPECT_EQ(event.endpoint, MakeTarget(event.target_id == "t1" ? 1 : 4).endpoint);
        break;
      case EventType::kFailed:
        ++failed;
        EXPECT_EQ(event.target_id, "t2");
        EXPECT_EQ(event.endpoint, MakeTarget(2).endpoint);
        EXPECT_EQ(event.outcome, Outcome::kRejected);
        EXPECT_EQ(event.reason, "400 bad key");
        break;
      case EventType::kProgress:
        ++progress;
        break;
      case EventType::kFinished:
        break;
    }
  }
  EXPECT_EQ(gone, (std::vector<std::string>{"t1", "t4"}));
  EXPECT_EQ(failed, 1);
  EXPECT_GE(progress, 2);  // 6 outcomes in two calls of 3, progress_every 2: one per call
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().type, EventType::kFinished);
  EXPECT_EQ(events.back().state, JobState::kDone);
  EXPECT_EQ(events.back().counters.delivered, 3);
  EXPECT_EQ(events.back().counters.gone, 2);
  EXPECT_EQ(events.back().counters.rejected, 1);
  const auto last_progress = std::find_if(events.rbegin(), events.rend(), [](const JobEvent& e) {
    return e.type == EventType::kProgress;
  });
  ASSERT_NE(last_progress, events.rend());
  EXPECT_EQ(last_progress->counters.pending, 0);
  EXPECT_EQ(last_progress->counters.delivered, 3);

  // A reader following in pages of two sees every event once, in order.
  std::vector<JobEvent> followed;
  std::string offset;
  while (true) {
    absl::StatusOr<std::vector<JobEvent>> page =
        store->ReadEvents(kTenant, submitted->job_id, offset, 2);
    ASSERT_TRUE(page.ok()) << page.status();
    if (page->empty()) {
      break;
    }
    ASSERT_LE(page->size(), 2u);
    offset = page->back().offset;
    std::move(page->begin(), page->end(), std::back_inserter(followed));
    ASSERT_LE(followed.size(), events.size());
  }
  ASSERT_EQ(followed.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(followed[i].offset, events[i].offset);
    EXPECT_EQ(followed[i].type, events[i].type);
    EXPECT_EQ(followed[i].target_id, events[i].target_id);
  }
}

TEST_P(JobStoreContractTest, ListsJobsOfATenantNewestFirstInPages) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());
  std::vector<std::string> submitted;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<SubmitResult> result = store->Submit(MakeSpec(kTenant), MakeTargets(1));
    ASSERT_TRUE(result.ok()) << result.status();
    submitted.push_back(result->job_id);
    absl::SleepFor(absl::Milliseconds(2));  // distinct creation milliseconds
  }
  absl::StatusOr<SubmitResult> other = store->Submit(MakeSpec(kOtherTenant), MakeTargets(1));
  ASSERT_TRUE(other.ok()) << other.status();

  std::vector<std::string> listed;
  std::string token;
  std::vector<size_t> page_sizes;
  while (true) {
    absl::StatusOr<std::vector<std::string>> page = store->ListJobs(kTenant, token, 2);
    ASSERT_TRUE(page.ok()) << page.status();
    page_sizes.push_back(page->size());
    if (page->empty()) {
      break;
    }
    token = page->back();
    listed.insert(listed.end(), page->begin(), page->end());
    ASSERT_LE(listed.size(), submitted.size());
  }
  EXPECT_EQ(page_sizes, (std::vector<size_t>{2, 2, 1, 0}));
  EXPECT_EQ(listed, std::vector<std::string>(submitted.rbegin(), submitted.rend()));
  EXPECT_EQ(JobsOf(*store, kOtherTenant), std::vector<std::string>{other->job_id});
  EXPECT_TRUE(JobsOf(*store, "tenant-without-jobs").empty());
}

TEST_P(JobStoreContractTest, UploadCommitsALargeJobAtOnce) {
  JobStoreOptions options;
  options.batch_size = 500;
  std::unique_ptr<JobStore> store = MakeStore(options);
  absl::StatusOr<std::unique_ptr<JobUpload>> upload = store->BeginUpload(MakeSpec());
  ASSERT_TRUE(upload.ok()) << upload.status();
  const std::vector<Target> targets = MakeTargets(5000);
  for (size_t begin = 0; begin < targets.size(); begin += 1000) {
    ASSERT_TRUE(IsOk((*upload)->Add(std::span<const Target>(targets).subspan(begin, 1000))));
  }
  EXPECT_TRUE(JobsOf(*store, kTenant).empty());
  EXPECT_EQ(BacklogOf(*store, kTenant), std::make_pair(int64_t{0}, int64_t{0}));
  EXPECT_TRUE(NothingToFetch(*store, "c1"));

  absl::StatusOr<SubmitResult> committed = (*upload)->Commit();
  ASSERT_TRUE(committed.ok()) << committed.status();
  EXPECT_FALSE(committed->existing);
  EXPECT_EQ(committed->targets, 5000);
  upload->reset();
  EXPECT_EQ(JobsOf(*store, kTenant), std::vector<std::string>{committed->job_id});
  EXPECT_EQ(BacklogOf(*store, kTenant), std::make_pair(int64_t{5000}, int64_t{5000}));

  std::vector<uint32_t> indices;
  ASSERT_TRUE(DeliverAll(*store, "c1", 5000, &indices));
  std::sort(indices.begin(), indices.end());
  std::vector<uint32_t> expected(5000);
  for (uint32_t i = 0; i < expected.size(); ++i) {
    expected[i] = i;
  }
  EXPECT_EQ(indices, expected);
  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, committed->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, JobState::kDone);
  EXPECT_EQ(status->counters.delivered, 5000);
}

TEST_P(JobStoreContractTest, UploadDestroyedWithoutCommitLeavesNothing) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());
  {
    absl::StatusOr<std::unique_ptr<JobUpload>> upload = store->BeginUpload(MakeSpec());
    ASSERT_TRUE(upload.ok()) << upload.status();
    ASSERT_TRUE(IsOk((*upload)->Add(MakeTargets(100))));
  }
  EXPECT_TRUE(JobsOf(*store, kTenant).empty());
  EXPECT_EQ(BacklogOf(*store, kTenant), std::make_pair(int64_t{0}, int64_t{0}));
  EXPECT_TRUE(NothingToFetch(*store, "c1"));

  // The store is unaffected: the next job goes through.
  ASSERT_TRUE(IsOk(store->Submit(MakeSpec(), MakeTargets(2))));
  EXPECT_TRUE(DeliverAll(*store, "c1", 2));
}

TEST_P(JobStoreContractTest, BlockedFetchWakesUpForNewWork) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());
  absl::StatusOr<std::vector<Lease>> fetched;
  absl::Duration waited;
  std::thread consumer([&] {
    const absl::Time start = absl::Now();
    fetched = store->Fetch("c1", 10, 10, absl::Seconds(1));
    waited = absl::Now() - start;
  });
  absl::SleepFor(absl::Milliseconds(50));
  const absl::StatusOr<SubmitResult> submitted = store->Submit(MakeSpec(), MakeTargets(1));
  consumer.join();
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  ASSERT_EQ(fetched->size(), 1u);
  EXPECT_EQ((*fetched)[0].job_id, submitted->job_id);
  EXPECT_LT(waited, absl::Milliseconds(900));
}

TEST_P(JobStoreContractTest, ConcurrentConsumersDeliverEveryTargetOnce) {
  JobStoreOptions options;
  options.batch_size = 50;
  std::unique_ptr<JobStore> store = MakeStore(options);
  absl::StatusOr<SubmitResult> submitted = store->Submit(MakeSpec(), MakeTargets(2000));
  ASSERT_TRUE(submitted.ok()) << submitted.status();

  std::mutex mu;
  std::vector<int> seen(2000, 0);
  std::atomic<int64_t> delivered{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> consumers;
  consumers.reserve(4);
  for (int c = 0; c < 4; ++c) {
    consumers.emplace_back([&, c] {
      const std::string name = "c" + std::to_string(c);
      const absl::Time deadline = absl::Now() + kWait;
      while (delivered.load() < 2000 && absl::Now() < deadline && !failed.load()) {
        absl::StatusOr<std::vector<Lease>> leases =
            store->Fetch(name, 3, 3, absl::Milliseconds(20));
        if (!leases.ok()) {
          failed = true;
          return;
        }
        for (const Lease& lease : *leases) {
          {
            const std::lock_guard<std::mutex> lock(mu);
            for (const LeasedTarget& target : lease.targets) {
              ++seen[target.index];
            }
          }
          if (!store->Record(lease, AllResults(lease, Outcome::kDelivered)).ok() ||
              !store->Ack(lease).ok()) {
            failed = true;
            return;
          }
          delivered += static_cast<int64_t>(lease.targets.size());
        }
      }
    });
  }
  for (std::thread& consumer : consumers) {
    consumer.join();
  }
  ASSERT_FALSE(failed.load());
  EXPECT_EQ(delivered.load(), 2000);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), 2000);
  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, JobState::kDone);
  EXPECT_EQ(status->counters.delivered, 2000);
}

}  // namespace
}  // namespace webpush::queue

namespace webpush::queue {
namespace {

TEST_P(JobStoreContractTest, ZeroTtlGetsOneAttemptAndIsNeverRetried) {
  std::unique_ptr<JobStore> store = MakeStore(JobStoreOptions());
  JobSpec spec = MakeSpec();
  spec.message.ttl_seconds = 0;  // "deliver now or never"
  absl::StatusOr<SubmitResult> submitted = store->Submit(spec, MakeTargets(2));
  ASSERT_TRUE(IsOk(submitted));
  std::vector<Lease> leases;
  ASSERT_TRUE(FetchWithin(*store, "c1", kWait, &leases));
  ASSERT_EQ(leases[0].targets.size(), 2u);
  ASSERT_TRUE(IsOk(store->Record(
      leases[0], Results{Result(0, Outcome::kDelivered), Result(1, Outcome::kRetry, "503")})));
  ASSERT_TRUE(IsOk(store->Ack(leases[0])));
  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(IsOk(status));
  EXPECT_EQ(status->counters.delivered, 1);
  EXPECT_EQ(status->counters.expired, 1);
  EXPECT_EQ(status->state, JobState::kDone);
}

TEST_P(JobStoreContractTest, LateAckAfterAReclaimLeavesTheBatchToItsNewHolder) {
  JobStoreOptions options;
  options.lease = absl::Milliseconds(300);
  std::unique_ptr<JobStore> store = MakeStore(options);
  absl::StatusOr<SubmitResult> submitted = store->Submit(MakeSpec(), MakeTargets(4));
  ASSERT_TRUE(IsOk(submitted));
  std::vector<Lease> slow;
  ASSERT_TRUE(FetchWithin(*store, "slow", kWait, &slow));
  std::vector<Lease> taken;
  ASSERT_TRUE(FetchWithin(*store, "fast", kWait, &taken));  // after the lease ran out
  ASSERT_EQ(taken[0].targets.size(), 4u);

  // The slow consumer wakes up and acknowledges without outcomes: its targets must not be
  // offered again, since "fast" is sending them.
  ASSERT_TRUE(IsOk(store->Ack(slow[0])));
  EXPECT_TRUE(NothingToFetch(*store, "third"));
  ASSERT_TRUE(IsOk(store->Record(taken[0], AllResults(taken[0], Outcome::kDelivered))));
  ASSERT_TRUE(IsOk(store->Ack(taken[0])));
  EXPECT_TRUE(NothingToFetch(*store, "third"));
  absl::StatusOr<JobStatus> status = store->GetJob(kTenant, submitted->job_id);
  ASSERT_TRUE(IsOk(status));
  EXPECT_EQ(status->counters.delivered, 4);
  EXPECT_EQ(status->state, JobState::kDone);
}

}  // namespace
}  // namespace webpush::queue
