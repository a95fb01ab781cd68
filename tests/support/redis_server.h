#pragma once

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/redis_process.h"

// RedisServer is RedisProcess (redis_process.h) for tests: the same private redis-server, with
// results as testing::AssertionResult so a test can ASSERT_TRUE(server.Start()).
namespace webpush::testing {

class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra_args = {})
      : process_(std::move(extra_args)) {}

  [[nodiscard]] ::testing::AssertionResult Start() { return Result(process_.Start()); }
  void Stop() { process_.Stop(); }
  void Kill() { process_.Kill(); }
  [[nodiscard]] ::testing::AssertionResult Restart() { return Result(process_.Restart()); }

  [[nodiscard]] int port() const { return process_.port(); }
  [[nodiscard]] bool running() const { return process_.running(); }

 private:
  static ::testing::AssertionResult Result(const absl::Status& status) {
    if (status.ok()) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << status;
  }

  RedisProcess process_;
};

}  // namespace webpush::testing
