#include "queue/internal/redis_connection.h"

#include <sys/time.h>

#include <algorithm>
#include <thread>

#include "absl/time/clock.h"

namespace webpush::queue::internal {
namespace {

bool IsLoading(const redisReply* reply) {
  return reply != nullptr && reply->type == REDIS_REPLY_ERROR &&
         std::string_view(reply->str, reply->len).starts_with("LOADING");
}

}  // namespace

std::string_view ReplyString(const redisReply* reply) {
  if (reply == nullptr ||
      (reply->type != REDIS_REPLY_STRING && reply->type != REDIS_REPLY_STATUS)) {
    return {};
  }
  return {reply->str, reply->len};
}

absl::Status ReplyError(const redisReply* reply, std::string_view what) {
  if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
    return absl::InternalError("redis: " + std::string(what) + ": " +
                               std::string(reply->str, reply->len));
  }
  return absl::OkStatus();
}

absl::Status RedisConnection::Connect() {
  ctx_.reset();
  const timeval tv = absl::ToTimeval(endpoint_.connect_timeout);
  redisContext* c = redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, tv);
  if (c == nullptr) {
    return absl::UnavailableError("redis: cannot allocate a connection");
  }
  ctx_.reset(c);
  if (c->err != 0) {
    return absl::UnavailableError("redis: connect to " + endpoint_.host + ":" +
                                  std::to_string(endpoint_.port) + ": " + c->errstr);
  }
  const timeval command_tv = absl::ToTimeval(endpoint_.command_timeout);
  redisSetTimeout(c, command_tv);
  std::vector<Command> setup;
  if (!endpoint_.password.empty()) {
    if (endpoint_.username.empty()) {
      setup.push_back({"AUTH", endpoint_.password});
    } else {
      setup.push_back({"AUTH", endpoint_.username, endpoint_.password});
    }
  }
  if (endpoint_.db != 0) {
    setup.push_back({"SELECT", std::to_string(endpoint_.db)});
  }
  if (setup.empty()) {
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<ReplyPtr>> replies = Once(setup, absl::ZeroDuration());
  if (!replies.ok()) {
    return replies.status();
  }
  for (const ReplyPtr& reply : *replies) {
    if (reply->type == REDIS_REPLY_ERROR) {
      // A wrong password will not fix itself: report it as such, without the secret.
      ctx_.reset();
      return absl::PermissionDeniedError("redis: AUTH/SELECT refused: " +
                                         std::string(reply->str, reply->len));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ReplyPtr>> RedisConnection::Once(const std::vector<Command>& commands,
                                                            absl::Duration block) {
  redisContext* c = ctx_.get();
  if (block > absl::ZeroDuration()) {
    const timeval tv = absl::ToTimeval(endpoint_.command_timeout + block);
    redisSetTimeout(c, tv);
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const Command& command : commands) {
    argv.clear();
    lens.clear();
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lens.push_back(arg.size());
    }
    if (redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      return absl::UnavailableError(std::string("redis: ") + c->errstr);
    }
  }
  std::vector<ReplyPtr> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
      return absl::UnavailableError(std::string("redis: ") + c->errstr);
    }
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  if (block > absl::ZeroDuration()) {
    const timeval tv = absl::ToTimeval(endpoint_.command_timeout);
    redisSetTimeout(c, tv);
  }
  return replies;
}

absl::StatusOr<std::vector<ReplyPtr>> RedisConnection::Run(const std::vector<Command>& commands,
                                                           absl::Duration block) {
  const absl::Time deadline = absl::Now() + endpoint_.reconnect_deadline;
  absl::Duration backoff = endpoint_.backoff_base;
  absl::Status last;
  while (true) {
    if (!ctx_ || ctx_->err != 0) {
      if (ctx_) {
        ++reconnects_;
      }
      last = Connect();
    } else {
      last = absl::OkStatus();
    }
    if (last.ok()) {
      absl::StatusOr<std::vector<ReplyPtr>> replies = Once(commands, block);
      if (replies.ok()) {
        const bool loading = std::any_of(replies->begin(), replies->end(),
                                         [](const ReplyPtr& r) { return IsLoading(r.get()); });
        if (!loading) {
          return replies;
        }
        last = absl::UnavailableError("redis: server is loading its data set");
      } else {
        last = replies.status();
        ctx_.reset();  // the connection state is unknown: start afresh
      }
    }
    if (last.code() != absl::StatusCode::kUnavailable || absl::Now() + backoff > deadline) {
      return last;
    }
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(backoff));
    backoff = std::min(backoff * 2, endpoint_.backoff_max);
  }
}

absl::StatusOr<ReplyPtr> RedisConnection::RunOne(const Command& command, absl::Duration block) {
  absl::StatusOr<std::vector<ReplyPtr>> replies = Run({command}, block);
  if (!replies.ok()) {
    return replies.status();
  }
  return std::move(replies->front());
}

}  // namespace webpush::queue::internal
