#include "queue/in_process_job_store.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "queue/job.h"
#include "queue/job_store.h"
#include "tests/queue/job_store_contract.h"

namespace webpush::queue {
namespace {

INSTANTIATE_TEST_SUITE_P(InProcess, JobStoreContractTest,
                         testing::Values(JobStoreFactory([](const JobStoreOptions& options) {
                           return std::unique_ptr<JobStore>(
                               std::make_unique<InProcessJobStore>(options));
                         })));

// FakeClock is the time an InProcessJobStore reads in the tests below; only Advance moves it.
class FakeClock {
 public:
  absl::Time Now() const {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::FromUnixSeconds(1'700'000'000);
};

Target MakeTarget(int i) {
  Target target;
  target.endpoint = "https://push.example.com/send/" + std::to_string(i);
  target.p256dh[0] = 0x04;
  target.target_id = "t" + std::to_string(i);
  return target;
}

JobSpec MakeSpec(std::string idempotency_key = "") {
  JobSpec spec;
  spec.message.payload = "hello";
  spec.message.ttl_seconds = 3600;
  spec.message.tenant = "tenant-a";
  spec.idempotency_key = std::move(idempotency_key);
  return spec;
}

class InProcessJobStoreTest : public testing::Test {
 protected:
  std::unique_ptr<InProcessJobStore> MakeStore(const JobStoreOptions& options) {
    return std::make_unique<InProcessJobStore>(options, [this] { return clock_.Now(); });
  }
  static std::vector<Lease> FetchNow(JobStore& store, const std::string& consumer) {
    absl::StatusOr<std::vector<Lease>> leases = store.Fetch(consumer, 10, 10, absl::ZeroDuration());
    EXPECT_TRUE(leases.ok()) << leases.status();
    return leases.ok() ? *std::move(leases) : std::vector<Lease>();
  }

  FakeClock clock_;
};

TEST_F(InProcessJobStoreTest, JobIdsCarryTheCreationMillisecond) {
  std::unique_ptr<InProcessJobStore> store = MakeStore(JobStoreOptions());
  const std::vector<Target> targets = {MakeTarget(0)};
  absl::StatusOr<SubmitResult> first = store->Submit(MakeSpec(), targets);
  absl::StatusOr<SubmitResult> second = store->Submit(MakeSpec(), targets);
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_EQ(first->job_id.size(), 22u);
  EXPECT_EQ(first->job_id.substr(0, 14), "j" + std::to_string(absl::ToUnixMillis(clock_.Now())));
  EXPECT_EQ(first->job_id.find_first_not_of("0123456789abcdef", 14), std::string::npos);
  EXPECT_NE(first->job_id, second->job_id);  // same millisecond, different random suffix
}

TEST_F(InProcessJobStoreTest, DropsJobsAfterRetention) {
  JobStoreOptions options;
  options.retention = absl::Hours(1);
  std::unique_ptr<InProcessJobStore> store = MakeStore(options);
  const std::vector<Target> targets = {MakeTarget(0), MakeTarget(1)};
  absl::StatusOr<SubmitResult> submitted = store->Submit(MakeSpec("key-1"), targets);
  ASSERT_TRUE(submitted.ok()) << submitted.status();

  clock_.Advance(absl::Minutes(59));
  EXPECT_TRUE(store->GetJob("tenant-a", submitted->job_id).ok());
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(store->GetJob("tenant-a", submitted->job_id).status().code(),
            absl::StatusCode::kNotFound);
  absl::StatusOr<std::vector<std::string>> jobs = store->ListJobs("tenant-a", "", 10);
  ASSERT_TRUE(jobs.ok());
  EXPECT_TRUE(jobs->empty());
  absl::StatusOr<std::pair<int64_t, int64_t>> backlog = store->Backlog("tenant-a");
  ASSERT_TRUE(backlog.ok());
  EXPECT_EQ(*backlog, std::make_pair(int64_t{0}, int64_t{0}));
  EXPECT_TRUE(FetchNow(*store, "c1").empty());

  // The idempotency key went with the job.
  absl::StatusOr<SubmitResult> again = store->Submit(MakeSpec("key-1"), targets);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->existing);
}

TEST_F(InProcessJobStoreTest, ReclaimsLeasesByTheInjectedClock) {
  JobStoreOptions options;
  options.lease = absl::Seconds(30);
  std::unique_ptr<InProcessJobStore> store = MakeStore(options);
  ASSERT_TRUE(store->Submit(MakeSpec(), std::vector<Target>{MakeTarget(0)}).ok());
  ASSERT_EQ(FetchNow(*store, "a").size(), 1u);

  clock_.Advance(absl::Seconds(29));
  EXPECT_TRUE(FetchNow(*store, "b").empty());
  clock_.Advance(absl::Seconds(1));
  const std::vector<Lease> reclaimed = FetchNow(*store, "b");
  ASSERT_EQ(reclaimed.size(), 1u);
  EXPECT_EQ(reclaimed[0].deliveries, 2u);
}

TEST_F(InProcessJobStoreTest, SchedulesRetriesWithJitteredBackOff) {
  JobStoreOptions options;
  options.retry_base = absl::Seconds(10);  // attempt 0: 8 to 12 s; attempt 1: 16 to 24 s
  std::unique_ptr<InProcessJobStore> store = MakeStore(options);
  ASSERT_TRUE(store->Submit(MakeSpec(), std::vector<Target>{MakeTarget(0)}).ok());

  for (uint32_t attempt = 0; attempt < 2; ++attempt) {
    std::vector<Lease> leases = FetchNow(*store, "c1");
    ASSERT_EQ(leases.size(), 1u);
    ASSERT_EQ(leases[0].targets[0].attempt, attempt);
    TargetResult retry;
    retry.index = 0;
    retry.outcome = Outcome::kRetry;
    ASSERT_TRUE(store->Record(leases[0], std::vector<TargetResult>{retry}).ok());
    ASSERT_TRUE(store->Ack(leases[0]).ok());

    const absl::Duration base = absl::Seconds(10) * (1 << attempt);
    clock_.Advance(base * 0.8 - absl::Milliseconds(1));
    EXPECT_TRUE(FetchNow(*store, "c1").empty());
    clock_.Advance(base * 0.4 + absl::Milliseconds(1));
  }
  std::vector<Lease> leases = FetchNow(*store, "c1");
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].targets[0].attempt, 2u);
}

TEST_F(InProcessJobStoreTest, RefusesOutcomesForTargetsOutsideTheLease) {
  std::unique_ptr<InProcessJobStore> store = MakeStore(JobStoreOptions());
  ASSERT_TRUE(store->Submit(MakeSpec(), std::vector<Target>{MakeTarget(0)}).ok());
  std::vector<Lease> leases = FetchNow(*store, "c1");
  ASSERT_EQ(leases.size(), 1u);
  TargetResult stray;
  stray.index = 7;
  const absl::Status s = store->Record(leases[0], std::vector<TargetResult>{stray});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("results[0].index"), std::string::npos) << s;
}

}  // namespace
}  // namespace webpush::queue
