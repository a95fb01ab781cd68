#include "dispatcher/push/outcome.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace webpush::dispatcher::push {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT

struct Row {
  int status;
  std::string host;
  std::string retry_after;
  std::string body;
  PushResult result;
  std::optional<absl::Duration> retry;
  bool throttled;
  std::string reason;
};

TEST(ClassifyResponseTest, Table) {
  const Row rows[] = {
      {201, "fcm.googleapis.com", "", "", PushResult::kDelivered, std::nullopt, false, ""},
      {202, "fcm.googleapis.com", "", "", PushResult::kDelivered, std::nullopt, false, ""},
      {200, "x.notify.windows.com", "", "", PushResult::kDelivered, std::nullopt, false, ""},
      {404, "fcm.googleapis.com", "", "A valid push subscription endpoint should be specified",
       PushResult::kGone, std::nullopt, false,
       "A valid push subscription endpoint should be specified"},
      {410, "updates.push.services.mozilla.com", "",
       R"({"code": 410, "errno": 103, "error": "Gone", "message": "Request did not validate"})",
       PushResult::kGone, std::nullopt, false, "errno 103: Request did not validate"},
      {413, "updates.push.services.mozilla.com", "", R"({"errno":104})", PushResult::kTooLarge,
       std::nullopt, false, "errno 104"},
      {400, "web.push.apple.com", "", R"({"reason":"BadWebPushTopic"})", PushResult::kRejected,
       std::nullopt, false, "BadWebPushTopic"},
      {403, "web.push.apple.com", "", R"({"reason": "BadJwtToken"})", PushResult::kRejected,
       std::nullopt, false, "BadJwtToken"},
      {401, "updates.push.services.mozilla.com", "", "", PushResult::kRejected, std::nullopt, false,
       "HTTP 401"},
      {429, "fcm.googleapis.com", "7", "", PushResult::kRetry, absl::Seconds(7), true, "HTTP 429"},
      {429, "web.push.apple.com", "", R"({"reason":"TooManyRequests"})", PushResult::kRetry,
       std::nullopt, true, "TooManyRequests"},
      {503, "updates.push.services.mozilla.com", "120", R"({"errno":201})", PushResult::kRetry,
       absl::Seconds(120), false, "errno 201"},
      {503, "fcm.googleapis.com", "Sun, 06 Nov 1994 08:50:07 GMT", "", PushResult::kRetry,
       absl::Seconds(30), false, "HTTP 503"},
      {500, "fcm.googleapis.com", "", "", PushResult::kRetry, std::nullopt, false, "HTTP 500"},
      {502, "updates.push.services.mozilla.com", "", "", PushResult::kRetry, std::nullopt, false,
       "HTTP 502"},
      {406, "db5.notify.windows.com", "60", "", PushResult::kRetry, absl::Seconds(60), true,
       "HTTP 406"},
      {406, "fcm.googleapis.com", "", "", PushResult::kRejected, std::nullopt, false, "HTTP 406"},
      {408, "fcm.googleapis.com", "", "", PushResult::kRetry, std::nullopt, false, "HTTP 408"},
      {400, "fcm.googleapis.com", "", std::string("bad\x01\nthing"), PushResult::kRejected,
       std::nullopt, false, "bad  thing"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(testing::Message() << row.status << " " << row.host << " " << row.body);
    const Classification c =
        ClassifyResponse(row.status, row.host, row.retry_after, row.body, kNow);
    EXPECT_EQ(c.result, row.result);
    EXPECT_EQ(c.retry_after, row.retry);
    EXPECT_EQ(c.origin_throttled, row.throttled);
    EXPECT_EQ(c.reason, row.reason);
  }
}

TEST(ClassifyResponseTest, ReasonIsBounded) {
  const std::string body(5000, 'x');
  const Classification c = ClassifyResponse(400, "fcm.googleapis.com", "", body, kNow);
  EXPECT_EQ(c.reason.size(), kMaxReasonSize);
}

TEST(ParseRetryAfterTest, SecondsAndDates) {
  EXPECT_EQ(ParseRetryAfter("0", kNow), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter(" 42 ", kNow), absl::Seconds(42));
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999", kNow), absl::Hours(24 * 365));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:47 GMT", kNow), absl::Seconds(10));
  EXPECT_EQ(ParseRetryAfter("Sunday, 06-Nov-94 08:50:37 GMT", kNow), absl::Seconds(60));
  EXPECT_EQ(ParseRetryAfter("Sun Nov  6 08:49:57 1994", kNow), absl::Seconds(20));
  EXPECT_EQ(ParseRetryAfter("Sat, 05 Nov 1994 08:49:37 GMT", kNow), absl::ZeroDuration());
  EXPECT_EQ(ParseRetryAfter("", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("-5", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("1.5", kNow), std::nullopt);
  EXPECT_EQ(ParseRetryAfter("tomorrow", kNow), std::nullopt);
}

}  // namespace
}  // namespace webpush::dispatcher::push
