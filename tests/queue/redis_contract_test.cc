// Runs the JobStore contract suite (job_store_contract_test.cc) against RedisJobStore on a real
// redis-server, started once per test binary on a free loopback port.
#include <memory>

#include "gtest/gtest.h"
#include "queue/redis_job_store.h"
#include "tests/queue/job_store_contract.h"
#include "tests/support/redis_server.h"

namespace webpush::queue {
namespace {

// SharedServer starts the server on first use (never during test discovery) and stops it when the
// process exits.
::webpush::testing::RedisServer& SharedServer() {
  // A function-local static is destroyed at exit, which stops the server.
  static ::webpush::testing::RedisServer server;
  static const bool started = [] {
    const bool ok = server.Start();
    EXPECT_TRUE(ok);
    return ok;
  }();
  (void)started;
  return server;
}

std::unique_ptr<JobStore> MakeRedisStore(const JobStoreOptions& options) {
  RedisOptions redis;
  redis.port = SharedServer().port();
  redis.reconnect_deadline = absl::Seconds(5);
  auto store = RedisJobStore::Create(redis, options);
  if (!store.ok()) {
    ADD_FAILURE() << store.status();
    return nullptr;
  }
  EXPECT_TRUE((*store)->DeleteAllForTest().ok());
  return std::move(*store);
}

INSTANTIATE_TEST_SUITE_P(Redis, JobStoreContractTest,
                         ::testing::Values(JobStoreFactory(MakeRedisStore)));

}  // namespace
}  // namespace webpush::queue
