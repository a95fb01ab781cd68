// Redis-specific behaviour of RedisJobStore against a real redis-server started by the fixture:
// replicas sharing one consumer group, a consumer dying with batches leased, Redis restarting in
// the middle of a job. The behaviour common to every back-end is in job_store_contract.h.
#include "queue/redis_job_store.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/redis_server.h"

namespace webpush::queue {
namespace {

using ::webpush::testing::RedisServer;

Target MakeTarget(size_t i) {
  Target t;
  t.endpoint = "https://push.example.net/p/" + std::to_string(i);
  t.p256dh.fill(static_cast<uint8_t>(i));
  t.p256dh[0] = 0x04;
  t.auth.fill(7);
  t.target_id = "t" + std::to_string(i);
  return t;
}

JobSpec MakeSpec(const std::string& tenant = "acme") {
  JobSpec spec;
  spec.message.payload = "hello";
  spec.message.ttl_seconds = 3600;
  spec.message.tenant = tenant;
  return spec;
}

std::vector<Target> MakeTargets(size_t n) {
  std::vector<Target> targets;
  for (size_t i = 0; i < n; ++i) {
    targets.push_back(MakeTarget(i));
  }
  return targets;
}

class RedisJobStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new RedisServer();
    ASSERT_TRUE(server_->Start());
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(server_->running() || server_->Start());
    auto store = NewStore();
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->DeleteAllForTest().ok());
  }

  absl::StatusOr<std::unique_ptr<RedisJobStore>> NewStore(JobStoreOptions options = {}) {
    RedisOptions redis;
    redis.port = server_->port();
    redis.reconnect_deadline = absl::Seconds(20);
    if (options.batch_size == JobStoreOptions().batch_size) {
      options.batch_size = 100;
    }
    return RedisJobStore::Create(redis, options);
  }

  // DrainAll fetches, delivers and acknowledges until `want` targets were delivered or the
  // deadline passes; returns how often each index was handed out.
  static std::map<uint32_t, int> DrainAll(JobStore& store, const std::string& consumer, size_t want,
                                          absl::Duration deadline) {
    std::map<uint32_t, int> seen;
    size_t delivered = 0;
    const absl::Time end = absl::Now() + deadline;
    while (delivered < want && absl::Now() < end) {
      auto leases = store.Fetch(consumer, 8, 8, absl::Milliseconds(100));
      if (!leases.ok()) {
        continue;  // Redis restarting: the store reconnects on the next call
      }
      for (const Lease& lease : *leases) {
        std::vector<TargetResult> results;
        for (const LeasedTarget& t : lease.targets) {
          seen[t.index]++;
          TargetResult r;
          r.index = t.index;
          results.push_back(r);
        }
        if (store.Record(lease, results).ok()) {
          delivered += results.size();
        }
        (void)store.Ack(lease);
      }
    }
    return seen;
  }

  static RedisServer* server_;
};

RedisServer* RedisJobStoreTest::server_ = nullptr;

TEST_F(RedisJobStoreTest, DeliversAJobInBatchesAndFinishesIt) {
  auto store = NewStore();
  ASSERT_TRUE(store.ok()) << store.status();
  const std::vector<Target> targets = MakeTargets(1050);
  auto submitted = (*store)->Submit(MakeSpec(), targets);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  auto backlog = (*store)->Backlog("acme");
  ASSERT_TRUE(backlog.ok());
  EXPECT_EQ(backlog->first, 1050);

  const auto seen = DrainAll(**store, "c1", 1050, absl::Seconds(10));
  ASSERT_EQ(seen.size(), 1050u);
  for (const auto& [index, count] : seen) {
    EXPECT_EQ(count, 1) << index;
  }
  auto job = (*store)->GetJob("acme", submitted->job_id);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state, JobState::kDone);
  EXPECT_EQ(job->counters.delivered, 1050);
  EXPECT_EQ(job->counters.pending, 0);
  backlog = (*store)->Backlog("acme");
  EXPECT_EQ(backlog->first, 0);
  EXPECT_EQ((*store)->GetJob("other", submitted->job_id).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(RedisJobStoreTest, AnotherReplicaReclaimsTheBatchesOfADeadOne) {
  JobStoreOptions options;
  options.lease = absl::Milliseconds(300);
  auto a = NewStore(options);
  auto b = NewStore(options);
  ASSERT_TRUE(a.ok() && b.ok());
  auto submitted = (*a)->Submit(MakeSpec(), MakeTargets(100));
  ASSERT_TRUE(submitted.ok()) << submitted.status();

  // Replica A leases the batch, records 40 targets, then dies without acknowledging.
  auto leases = (*a)->Fetch("replica-a", 1, 1, absl::Milliseconds(200));
  ASSERT_TRUE(leases.ok() && leases->size() == 1);
  std::vector<TargetResult> some;
  for (size_t i = 0; i < 40; ++i) {
    TargetResult r;
    r.index = (*leases)[0].targets[i].index;
    some.push_back(r);
  }
  ASSERT_TRUE((*a)->Record((*leases)[0], some).ok());
  a->reset();

  // Before the lease ends, B gets nothing; after it, B gets exactly the 60 unfinished targets.
  auto early = (*b)->Fetch("replica-b", 1, 1, absl::ZeroDuration());
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->empty());
  std::vector<Lease> reclaimed;
  const absl::Time end = absl::Now() + absl::Seconds(5);
  while (reclaimed.empty() && absl::Now() < end) {
    auto got = (*b)->Fetch("replica-b", 1, 1, absl::Milliseconds(50));
    ASSERT_TRUE(got.ok()) << got.status();
    reclaimed = std::move(*got);
  }
  ASSERT_EQ(reclaimed.size(), 1u);
  EXPECT_EQ(reclaimed[0].deliveries, 2u);
  ASSERT_EQ(reclaimed[0].targets.size(), 60u);
  for (const LeasedTarget& t : reclaimed[0].targets) {
    EXPECT_GE(t.index, 40u);
  }
}

TEST_F(RedisJobStoreTest, ReclaimsFromAConsumerProcessThatCrashed) {
  JobStoreOptions options;
  options.lease = absl::Milliseconds(300);
  auto store = NewStore(options);
  ASSERT_TRUE(store.ok());
  auto submitted = (*store)->Submit(MakeSpec(), MakeTargets(250));  // 3 batches of 100/100/50
  ASSERT_TRUE(submitted.ok()) << submitted.status();

  // A child process leases every batch, finishes 30 targets of each, and dies abruptly.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto worker = NewStore(options);
    int finished = 0;
    if (worker.ok()) {
      auto leases = (*worker)->Fetch("doomed", 8, 8, absl::Milliseconds(500));
      for (const Lease& lease : leases.ok() ? *leases : std::vector<Lease>()) {
        std::vector<TargetResult> results;
        for (size_t i = 0; i < 30 && i < lease.targets.size(); ++i) {
          TargetResult r;
          r.index = lease.targets[i].index;
          results.push_back(r);
        }
        finished += (*worker)->Record(lease, results).ok() ? 30 : 0;
      }
    }
    _exit(finished == 90 ? 0 : 1);  // no Ack, no destructors: a crash
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child worker failed";

  // The survivor gets the 160 unfinished targets, each once, and none of the 90 finished ones.
  const auto seen = DrainAll(**store, "survivor", 160, absl::Seconds(10));
  EXPECT_EQ(seen.size(), 160u);
  for (const auto& [index, count] : seen) {
    EXPECT_EQ(count, 1) << index;
    EXPECT_GE(index % 100, 30u) << index;
  }
  auto job = (*store)->GetJob("acme", submitted->job_id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->counters.delivered, 250);
  EXPECT_EQ(job->state, JobState::kDone);
}

TEST_F(RedisJobStoreTest, LosesNothingWhenRedisRestartsMidJob) {
  auto store = NewStore();
  ASSERT_TRUE(store.ok());
  auto submitted = (*store)->Submit(MakeSpec(), MakeTargets(2000));
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  auto first = DrainAll(**store, "c1", 1000, absl::Seconds(10));
  ASSERT_GE(first.size(), 1000u);

  ASSERT_TRUE(server_->Restart());  // graceful: the append-only file is flushed

  auto second = DrainAll(**store, "c1", 2000 - first.size(), absl::Seconds(20));
  for (const auto& [index, count] : second) {
    first[index] += count;
  }
  EXPECT_EQ(first.size(), 2000u);
  for (const auto& [index, count] : first) {
    EXPECT_EQ(count, 1) << index;  // nothing was acknowledged in flight, so nothing repeats
  }
  auto job = (*store)->GetJob("acme", submitted->job_id);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->counters.delivered, 2000);
  EXPECT_EQ(job->state, JobState::kDone);
}

TEST_F(RedisJobStoreTest, RetriesComeBackAfterTheirNotBeforeTime) {
  auto store = NewStore();
  ASSERT_TRUE(store.ok());
  auto submitted = (*store)->Submit(MakeSpec(), MakeTargets(3));
  ASSERT_TRUE(submitted.ok());
  auto leases = (*store)->Fetch("c1", 1, 1, absl::Milliseconds(200));
  ASSERT_TRUE(leases.ok() && leases->size() == 1);
  const absl::Time not_before = absl::Now() + absl::Milliseconds(500);
  std::vector<TargetResult> results;
  for (const LeasedTarget& t : (*leases)[0].targets) {
    TargetResult r;
    r.index = t.index;
    r.outcome = t.index == 1 ? Outcome::kRetry : Outcome::kDelivered;
    r.not_before = not_before;
    results.push_back(r);
  }
  ASSERT_TRUE((*store)->Record((*leases)[0], results).ok());
  ASSERT_TRUE((*store)->Ack((*leases)[0]).ok());

  std::vector<Lease> retry;
  const absl::Time end = absl::Now() + absl::Seconds(5);
  while (retry.empty() && absl::Now() < end) {
    auto got = (*store)->Fetch("c1", 1, 1, absl::Milliseconds(50));
    ASSERT_TRUE(got.ok());
    retry = std::move(*got);
  }
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_GE(absl::Now(), not_before);
  ASSERT_EQ(retry[0].targets.size(), 1u);
  EXPECT_EQ(retry[0].targets[0].index, 1u);
  EXPECT_EQ(retry[0].targets[0].attempt, 1u);
}

// RedisCli runs redis-cli against the fixture's server and returns its output (test set-up only).
std::string RedisCli(int port, const std::string& args) {
  const std::string command = "redis-cli -p " + std::to_string(port) + " " + args;
  std::string out;
  // NOLINTNEXTLINE(cert-env33-c): fixed command line on a private test server
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return out;
  }
  char buf[256];
  while (fgets(buf, sizeof(buf), pipe) != nullptr) {
    out += buf;
  }
  pclose(pipe);
  return out;
}

TEST_F(RedisJobStoreTest, DeadLettersABatchThatCannotBeDecoded) {
  auto store = NewStore();
  ASSERT_TRUE(store.ok());
  auto submitted = (*store)->Submit(MakeSpec(), MakeTargets(3));
  ASSERT_TRUE(submitted.ok());
  const std::string batches = "'wp:{wp:s0}:job:" + submitted->job_id + ":b'";
  ASSERT_EQ(RedisCli(server_->port(), "HSET " + batches + " 0 garbage"), "0\n");

  auto leases = (*store)->Fetch("c1", 8, 8, absl::Milliseconds(100));
  ASSERT_TRUE(leases.ok()) << leases.status();
  EXPECT_TRUE(leases->empty());                                           // never handed out...
  EXPECT_EQ(RedisCli(server_->port(), "XLEN 'wp:{wp:s0}:dead'"), "1\n");  // ...nor lost
  EXPECT_EQ(RedisCli(server_->port(), "HEXISTS " + batches + " 0"), "1\n");
}

TEST_F(RedisJobStoreTest, RefusesUnreachableRedisWithUnavailable) {
  RedisOptions redis;
  redis.port = 1;  // nothing listens there
  redis.reconnect_deadline = absl::Milliseconds(200);
  auto store = RedisJobStore::Create(redis, JobStoreOptions());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace webpush::queue

namespace webpush::queue {
namespace {

TEST(RedisJobStoreAuthTest, AuthenticatesWithPasswordAndAclUser) {
  ::webpush::testing::RedisServer server(std::vector<std::string>{"--requirepass", "s3cret"});
  ASSERT_TRUE(server.Start());
  const std::string add_user = "redis-cli -p " + std::to_string(server.port()) +
                               " --no-auth-warning -a s3cret ACL SETUSER dispatcher on '>d1spatch'"
                               " '~*' '&*' '+@all' > /dev/null";
  // NOLINTNEXTLINE(concurrency-mt-unsafe): single-threaded set-up, before any store exists
  ASSERT_EQ(std::system(add_user.c_str()), 0);
  RedisOptions redis;
  redis.port = server.port();
  redis.reconnect_deadline = absl::Seconds(2);

  redis.password = "s3cret";  // the default user
  auto by_password = RedisJobStore::Create(redis, JobStoreOptions());
  ASSERT_TRUE(by_password.ok()) << by_password.status();

  redis.username = "dispatcher";
  redis.password = "d1spatch";
  auto by_acl = RedisJobStore::Create(redis, JobStoreOptions());
  ASSERT_TRUE(by_acl.ok()) << by_acl.status();
  auto submitted = (*by_acl)->Submit(MakeSpec(), MakeTargets(3));
  EXPECT_TRUE(submitted.ok()) << submitted.status();

  redis.password = "wrong";
  auto refused = RedisJobStore::Create(redis, JobStoreOptions());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(std::string(refused.status().message()).find("wrong"), std::string::npos);
}

}  // namespace
}  // namespace webpush::queue
