#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"

// RedisProcess runs a private redis-server for tests (through the gtest wrapper RedisServer in
// redis_server.h) and for the queue benchmarks, so it uses no gtest: loopback only, a free port,
// its own temporary directory, append-only persistence with appendfsync everysec (as in
// production). Tests and benchmarks never touch a Redis they did not start.
namespace webpush::testing {

class RedisProcess {
 public:
  // `extra_args` are appended to the redis-server command line (for example
  // {"--requirepass", "secret"}).
  explicit RedisProcess(std::vector<std::string> extra_args = {});
  // Stops the server (gracefully) and removes its directory.
  ~RedisProcess();
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;

  // Start launches redis-server and waits (bounded) until it answers PING. FailedPrecondition
  // when redis-server is not installed, Unavailable when it does not come up.
  [[nodiscard]] absl::Status Start();
  // Stop shuts it down with SIGTERM (Redis flushes the append-only file) and waits. Idempotent.
  void Stop();
  // Kill stops it with SIGKILL (no flush), as a crash would. Idempotent.
  void Kill();
  // Restart is Stop then Start on the same port and directory (data reloaded from the AOF).
  [[nodiscard]] absl::Status Restart();

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] bool running() const { return pid_ > 0; }

 private:
  [[nodiscard]] absl::Status WaitReady();
  void Signal(int signal);

  std::vector<std::string> extra_args_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace webpush::testing
