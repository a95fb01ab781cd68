#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"

// RedisProcess runs a private redis-server for the queue benchmarks, as the test fixture
// (tests/support/redis_server.h) does for tests, without gtest: loopback only, a free port, its
// own temporary directory, append-only persistence with appendfsync everysec (as in production).
// Benchmarks never touch a Redis they did not start.
namespace webpush::bench {

class RedisProcess {
 public:
  RedisProcess();
  // Stops the server (gracefully) and removes its directory.
  ~RedisProcess();
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;

  // Start launches redis-server and waits (bounded) until it answers PING. FailedPrecondition
  // when redis-server is not installed, Unavailable when it does not come up.
  [[nodiscard]] absl::Status Start();
  // Stop shuts it down with SIGTERM (Redis flushes the append-only file) and waits. Idempotent.
  void Stop();

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] bool running() const { return pid_ > 0; }

 private:
  [[nodiscard]] absl::Status WaitReady();

  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace webpush::bench
