#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

// One synchronous hiredis connection with reconnection and pipelining. Not thread-safe: the store
// keeps a pool and lends each connection to one thread at a time. hiredis 0.14 (Debian 12) has no
// TLS; everything TLS-specific would live here when hiredis 1.x arrives.
namespace webpush::queue::internal {

struct ReplyFree {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string username;  // ACL user (Redis 6+); empty: default user
  std::string password;  // empty: no AUTH
  int db = 0;
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(10);
  // Reconnection: exponential back-off from `backoff_base` to `backoff_max`, giving up (and
  // returning Unavailable) after `reconnect_deadline`.
  absl::Duration backoff_base = absl::Milliseconds(20);
  absl::Duration backoff_max = absl::Seconds(1);
  absl::Duration reconnect_deadline = absl::Seconds(30);
};

// Command is one Redis command as its arguments (binary-safe).
using Command = std::vector<std::string>;

class RedisConnection {
 public:
  explicit RedisConnection(RedisEndpoint endpoint) : endpoint_(std::move(endpoint)) {}

  // Run sends `commands` as one pipeline and returns one reply per command. On a connection
  // error it reconnects with back-off and sends the whole pipeline again, so callers only
  // pipeline commands that are safe to repeat. A reply of type error is returned as a reply
  // (callers decide), except LOADING (Redis restarting), which is retried like a connection error.
  // `block` extends the read timeout for blocking commands (XREADGROUP BLOCK).
  [[nodiscard]] absl::StatusOr<std::vector<ReplyPtr>> Run(
      const std::vector<Command>& commands, absl::Duration block = absl::ZeroDuration());

  // RunOne is Run for a single command.
  [[nodiscard]] absl::StatusOr<ReplyPtr> RunOne(const Command& command,
                                                absl::Duration block = absl::ZeroDuration());

  [[nodiscard]] uint64_t reconnects() const { return reconnects_; }

 private:
  [[nodiscard]] absl::Status Connect();
  // Once returns Unavailable for a connection-level failure, anything else is final.
  [[nodiscard]] absl::StatusOr<std::vector<ReplyPtr>> Once(const std::vector<Command>& commands,
                                                           absl::Duration block);

  struct ContextFree {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  RedisEndpoint endpoint_;
  std::unique_ptr<redisContext, ContextFree> ctx_;
  uint64_t reconnects_ = 0;
};

// ReplyString returns the bytes of a string or status reply ("" otherwise).
[[nodiscard]] std::string_view ReplyString(const redisReply* reply);
// ReplyError returns a Status for an error reply (Internal with Redis's message), OK otherwise.
[[nodiscard]] absl::Status ReplyError(const redisReply* reply, std::string_view what);

}  // namespace webpush::queue::internal
