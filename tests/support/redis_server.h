#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"

// RedisServer runs a private redis-server for one test suite: loopback only, a free port, its
// own temporary directory, append-only persistence (appendfsync everysec, as in production).
// Tests never touch a Redis they did not start.
namespace webpush::testing {

class RedisServer {
 public:
  // `extra_args` are appended to the redis-server command line (for example
  // {"--requirepass", "secret"}).
  explicit RedisServer(std::vector<std::string> extra_args = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Start launches the server and waits (bounded) until it answers PING.
  [[nodiscard]] ::testing::AssertionResult Start();
  // Stop shuts it down gracefully (SIGTERM: Redis flushes the append-only file) and waits.
  void Stop();
  // Kill stops it with SIGKILL (no flush), as a crash would.
  void Kill();
  // Restart is Stop then Start on the same port and directory (data reloaded from the AOF).
  [[nodiscard]] ::testing::AssertionResult Restart();

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] bool running() const { return pid_ > 0; }

 private:
  [[nodiscard]] ::testing::AssertionResult WaitReady();

  std::vector<std::string> extra_args_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace webpush::testing
