// webpushctl's job commands (send, status, watch, cancel) against the whole service in process:
// dispatcher::Server with the in-memory queue over real gRPC, sending over real HTTP/2 + TLS to
// the test push service. The command functions run directly, with string streams.
#include "dispatcher/ctl/job_commands.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "dispatcher/ctl/ctl_io.h"
#include "dispatcher/ctl/progress.h"
#include "dispatcher/server.h"
#include "tests/service/service_harness.h"

namespace webpush::testing {
namespace {

namespace ctl = dispatcher::ctl;

class JobCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<TestPushService>> push =
        TestPushService::Start(TestPushService::Options());
    ASSERT_TRUE(push.ok()) << push.status();
    push_ = *std::move(push);
    config_ = ServiceConfigFor(*push_);
  }

  void StartServer() {
    absl::StatusOr<std::unique_ptr<dispatcher::Server>> server = dispatcher::Server::Start(config_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    address_ = "127.0.0.1:" + std::to_string(server_->port());
    connection_.server = address_;
    connection_.env_token = kTenantToken;
    connection_.timeout_seconds = 10;
    client_ = std::make_unique<ApiClient>(address_, kTenantToken);
  }

  std::vector<TestSubscription> Subscriptions(size_t n) {
    std::vector<TestSubscription> subs;
    for (size_t i = 0; i < n; ++i) {
      subs.push_back(push_->AddSubscription());
    }
    return subs;
  }

  static std::string Lines(const std::vector<TestSubscription>& subs) {
    std::string text;
    for (const TestSubscription& s : subs) {
      text += s.ToJson() + "\n";
    }
    return text;
  }

  [[nodiscard]] ctl::SendOptions Send(bool wait = false) const {
    ctl::SendOptions options;
    options.connection = connection_;
    options.subscriptions = "-";
    options.payload = "hello from webpushctl";
    options.ttl = 600;
    options.wait = wait;
    return options;
  }

  [[nodiscard]] std::vector<v1::Job> ListJobs() const {
    v1::ListJobsRequest request;
    v1::ListJobsResponse response;
    auto context = client_->Context();
    const grpc::Status status = client_->stub().ListJobs(context.get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.jobs().begin(), response.jobs().end()};
  }

  static std::string TempPath(const std::string& name) {
    return ::testing::TempDir() + "/job_commands_test_" + std::to_string(getpid()) + "_" + name;
  }

  static std::vector<std::string> ReadLines(const std::string& path) {
    std::ifstream file(path);
    std::vector<std::string> lines;
    for (std::string line; std::getline(file, line);) {
      lines.push_back(line);
    }
    return lines;
  }

  std::unique_ptr<TestPushService> push_;
  dispatcher::config::ServiceConfig config_;
  std::unique_ptr<dispatcher::Server> server_;
  std::string address_;
  ctl::ConnectionOptions connection_;
  std::unique_ptr<ApiClient> client_;
};

TEST_F(JobCommandsTest, SendWaitFollowsTheJobToItsEndAndWritesTheGoneSubscriptions) {
  StartServer();
  const std::vector<TestSubscription> subs = Subscriptions(50);
  FaultPlan faults;
  faults.gone_tokens = {subs[4].token, subs[20].token, subs[49].token};
  push_->SetFaults(faults);
  std::string text = Lines(subs);
  // Line 21 (subs[20]) carries its own id; the others are named by their line numbers.
  const size_t at = text.find(subs[20].ToJson());
  text.replace(at, subs[20].ToJson().size(),
               R"({"id":"customer-7","endpoint":")" + subs[20].endpoint +
                   R"(","keys":{"p256dh":")" + subs[20].p256dh + R"(","auth":")" + subs[20].auth +
                   R"("}})");
  ctl::SendOptions options = Send(/*wait=*/true);
  options.gone_out = TempPath("gone.jsonl");
  options.labels = {"campaign=spring"};
  std::istringstream in(text);
  std::ostringstream out;
  std::ostringstream err;
  ctl::SendResult result;
  const absl::Status status = ctl::SendJob(options, in, out, err, &result);
  ASSERT_TRUE(status.ok()) << status << "\nerr: " << err.str();
  EXPECT_FALSE(result.uploaded);
  EXPECT_EQ(result.targets, 50);
  EXPECT_NE(out.str().find("job " + result.job_id + " accepted, 50 targets\n"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("job " + result.job_id +
                           " DONE: total 50, delivered 47, gone 3, rejected 0, expired 0, "
                           "failed 0, pending 0\n"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("messages/s"), std::string::npos) << out.str();

  std::map<std::string, std::string> gone;  // endpoint -> target id
  for (const std::string& line : ReadLines(*options.gone_out)) {
    const nlohmann::json json = nlohmann::json::parse(line);
    gone[json.at("endpoint").get<std::string>()] = json.at("target_id").get<std::string>();
  }
  const std::map<std::string, std::string> expected = {
      {subs[4].endpoint, "5"}, {subs[20].endpoint, "customer-7"}, {subs[49].endpoint, "50"}};
  EXPECT_EQ(gone, expected);
  EXPECT_EQ(ReadLines(*options.gone_out).size(), 3u);
  EXPECT_EQ(push_->Deliveries().size(), 47u);
}

TEST_F(JobCommandsTest, WatchPrintsTheEventsOfAJobAndResumesAfterAnOffset) {
  StartServer();
  const std::vector<TestSubscription> subs = Subscriptions(10);
  FaultPlan faults;
  faults.gone_tokens = {subs[2].token, subs[7].token};
  push_->SetFaults(faults);
  std::istringstream in(Lines(subs));
  std::ostringstream sent;
  std::ostringstream err;
  ctl::SendResult result;
  ASSERT_TRUE(ctl::SendJob(Send(/*wait=*/true), in, sent, err, &result).ok()) << err.str();

  ctl::WatchOptions watch;
  watch.connection = connection_;
  watch.job_id = result.job_id;
  watch.json = true;
  watch.gone_out = TempPath("watch_gone.jsonl");
  std::ostringstream out;
  ASSERT_TRUE(ctl::WatchJob(watch, out, err).ok()) << err.str();
  std::vector<nlohmann::json> events;
  std::istringstream lines(out.str());
  for (std::string line; std::getline(lines, line);) {
    events.push_back(nlohmann::json::parse(line));
  }
  ASSERT_GE(events.size(), 3u);
  EXPECT_TRUE(events.back().contains("finished")) << out.str();
  EXPECT_EQ(events.back()["finished"]["state"], "JOB_STATE_DONE");
  EXPECT_EQ(ReadLines(*watch.gone_out).size(), 2u);

  // Text lines, after the first event: one line less, and no endpoint in them.
  watch.json = false;
  watch.after_offset = events[0]["offset"].get<std::string>();
  std::ostringstream rest;
  ASSERT_TRUE(ctl::WatchJob(watch, rest, err).ok()) << err.str();
  const std::string text = rest.str();
  EXPECT_EQ(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')), events.size() - 1)
      << text;
  EXPECT_NE(text.find("finished: DONE, total 10, delivered 8, gone 2"), std::string::npos) << text;
  for (const TestSubscription& s : subs) {
    EXPECT_EQ(text.find(s.token), std::string::npos) << text;
  }
}

TEST_F(JobCommandsTest, SendOfMoreThanTenThousandTargetsGoesThroughUploadJob) {
  StartServer();
  // Few distinct subscriptions, many lines: the test push service creates keys for each.
  const std::vector<TestSubscription> subs = Subscriptions(100);
  const std::string path = TempPath("many.jsonl");
  {
    std::ofstream file(path);
    for (size_t i = 0; i < 12'000; ++i) {
      file << subs[i % subs.size()].ToJson() << "\n";
    }
  }
  ctl::SendOptions options = Send(/*wait=*/true);
  options.subscriptions = path;
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  ctl::SendResult result;
  const absl::Status status = ctl::SendJob(options, in, out, err, &result);
  ASSERT_TRUE(status.ok()) << status << "\nerr: " << err.str();
  EXPECT_TRUE(result.uploaded);
  EXPECT_EQ(result.targets, 12'000);
  EXPECT_NE(out.str().find("DONE: total 12000, delivered 12000, gone 0"), std::string::npos)
      << out.str();
  const std::vector<v1::Job> jobs = ListJobs();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].job_id(), result.job_id);
  EXPECT_EQ(jobs[0].counters().total(), 12'000);
  EXPECT_EQ(push_->Deliveries().size(), 12'000u);
}

TEST_F(JobCommandsTest, AMalformedLineIsAnErrorNamingItsLineAndNothingIsSubmitted) {
  StartServer();
  const std::vector<TestSubscription> subs = Subscriptions(10);
  std::string text;
  for (size_t i = 0; i < subs.size(); ++i) {
    // Line 7 lacks its keys; its endpoint must not appear in the error.
    text += i == 6 ? R"({"endpoint":")" + subs[i].endpoint + "\"}\n" : subs[i].ToJson() + "\n";
  }
  std::istringstream in(text);
  std::ostringstream out;
  std::ostringstream err;
  const absl::Status status = ctl::SendJob(Send(), in, out, err);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_FALSE(ctl::IsUsageError(status));
  EXPECT_NE(status.message().find("line 7"), absl::string_view::npos) << status;
  EXPECT_EQ(status.message().find(subs[6].token), absl::string_view::npos) << status;
  EXPECT_TRUE(out.str().empty());
  EXPECT_TRUE(ListJobs().empty());
}

TEST_F(JobCommandsTest, ATargetTheServerRefusesIsNamedByItsInputLine) {
  StartServer();
  const std::vector<TestSubscription> subs = Subscriptions(8);
  // A point off the curve: valid base64url, 65 bytes, prefix 0x04, y wrong.
  TestSubscription bad = subs[3];
  bad.p256dh[80] = bad.p256dh[80] == 'A' ? 'B' : 'A';
  // Line 2 is blank, so the bad key on line 5 is the server's targets[3].
  const std::string text = subs[0].ToJson() + "\n\n" + subs[1].ToJson() + "\n" + subs[2].ToJson() +
                           "\n" + bad.ToJson() + "\n" + subs[4].ToJson() + "\n";
  std::istringstream in(text);
  std::ostringstream out;
  std::ostringstream err;
  const absl::Status status = ctl::SendJob(Send(), in, out, err);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(
      status.message().rfind("INVALID_ARGUMENT: --subscriptions line 5: targets[3].p256dh", 0), 0u)
      << status;
  EXPECT_TRUE(ListJobs().empty());
}

TEST_F(JobCommandsTest, AnUploadTheServerRefusesNamesTheInputLineAndLeavesNothing) {
  StartServer();
  const std::vector<TestSubscription> subs = Subscriptions(10);
  std::string text = "\n";  // line 1 blank: targets[i] is line i + 2
  for (size_t i = 0; i < 10'050; ++i) {
    TestSubscription s = subs[i % subs.size()];
    if (i == 10'040) {
      s.auth = "c2hvcnQ";  // too short
    }
    text += s.ToJson() + "\n";
  }
  std::istringstream in(text);
  std::ostringstream out;
  std::ostringstream err;
  const absl::Status status = ctl::SendJob(Send(), in, out, err);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.message().rfind(
                "INVALID_ARGUMENT: --subscriptions line 10042: targets[10040].auth", 0),
            0u)
      << status;
  EXPECT_TRUE(ListJobs().empty());
}

TEST_F(JobCommandsTest, WithoutATokenTheServerAnswersUnauthenticated) {
  StartServer();
  ctl::SendOptions options = Send();
  options.connection.env_token.reset();
  std::istringstream in(Lines(Subscriptions(1)));
  std::ostringstream out;
  std::ostringstream err;
  const absl::Status status = ctl::SendJob(options, in, out, err);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
  EXPECT_EQ(status.message().rfind("UNAUTHENTICATED: ", 0), 0u) << status;

  ctl::JobOptions job;
  job.connection = connection_;
  job.connection.env_token = "not-a-token-of-anyone-at-all";
  job.job_id = "anything";
  const absl::Status wrong = ctl::ShowJob(job, out);
  EXPECT_EQ(wrong.message(), "UNAUTHENTICATED: authorization: unknown bearer token") << wrong;
}

TEST_F(JobCommandsTest, StatusWatchAndCancelWorkOnAQueuedJob) {
  config_.workers.enabled = false;  // the job stays queued
  StartServer();
  std::istringstream in(Lines(Subscriptions(5)));
  std::ostringstream sent;
  std::ostringstream err;
  ctl::SendOptions send = Send();
  send.labels = {"campaign=spring"};
  send.idempotency_key = "order-42";
  ctl::SendResult result;
  ASSERT_TRUE(ctl::SendJob(send, in, sent, err, &result).ok()) << err.str();

  // The token from a file, trailing newline and all.
  const std::string token_file = TempPath("token");
  std::ofstream(token_file) << kTenantToken << "\n";
  ctl::JobOptions job;
  job.connection = connection_;
  job.connection.env_token.reset();
  job.connection.token_file = token_file;
  job.job_id = result.job_id;
  std::ostringstream status;
  ASSERT_TRUE(ctl::ShowJob(job, status).ok()) << status.str();
  EXPECT_NE(status.str().find("job: " + result.job_id + "\n"), std::string::npos) << status.str();
  EXPECT_NE(status.str().find("state: QUEUED\n"), std::string::npos) << status.str();
  EXPECT_NE(status.str().find("targets: total 5, delivered 0, gone 0, rejected 0, expired 0, "
                              "failed 0, pending 5\n"),
            std::string::npos)
      << status.str();
  EXPECT_NE(status.str().find("idempotency key: order-42\n"), std::string::npos) << status.str();
  EXPECT_NE(status.str().find("label: campaign=spring\n"), std::string::npos) << status.str();
  job.json = true;
  std::ostringstream json;
  ASSERT_TRUE(ctl::ShowJob(job, json).ok());
  EXPECT_EQ(nlohmann::json::parse(json.str())["state"], "JOB_STATE_QUEUED") << json.str();

  // A watcher waits for the job to end; cancelling it ends the watch, not successfully.
  ctl::WatchOptions watch;
  watch.connection = connection_;
  watch.job_id = result.job_id;
  std::ostringstream watched;
  std::ostringstream watch_err;
  absl::Status watch_status;
  std::thread watcher([&] { watch_status = ctl::WatchJob(watch, watched, watch_err); });
  job.json = false;
  std::ostringstream cancelled;
  const absl::Status cancel_status = ctl::CancelJob(job, cancelled);
  watcher.join();
  ASSERT_TRUE(cancel_status.ok()) << cancel_status;
  EXPECT_NE(cancelled.str().find("state: CANCELLED\n"), std::string::npos) << cancelled.str();
  EXPECT_EQ(watch_status.code(), absl::StatusCode::kAborted) << watch_status;
  EXPECT_NE(watched.str().find("finished: CANCELLED, total 5"), std::string::npos) << watched.str();
  // Cancelling again is the server's FAILED_PRECONDITION.
  const absl::Status again = ctl::CancelJob(job, cancelled);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition) << again;
  EXPECT_EQ(again.message().rfind("FAILED_PRECONDITION: ", 0), 0u) << again;
}

TEST_F(JobCommandsTest, AQuotaRefusalShowsTheServersRetryDelay) {
  config_.tenants[0].quotas.messages_per_second = 10;
  config_.tenants[0].quotas.burst = 5;
  config_.workers.enabled = false;
  StartServer();
  const std::string lines = Lines(Subscriptions(50));
  std::istringstream first(lines);
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_TRUE(ctl::SendJob(Send(), first, out, err).ok()) << err.str();  // overdraws by 45
  std::istringstream second(lines);
  const absl::Status status = ctl::SendJob(Send(), second, out, err);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_EQ(status.message().rfind("RESOURCE_EXHAUSTED: quota: ", 0), 0u) << status;
  EXPECT_NE(status.message().find("; retry after 4."), absl::string_view::npos) << status;
  EXPECT_EQ(ListJobs().size(), 1u);
}

TEST_F(JobCommandsTest, SendWaitRetriesAfterTheServersDelayWithTheSameJob) {
  config_.tenants[0].quotas.messages_per_second = 200;
  config_.tenants[0].quotas.burst = 5;
  StartServer();
  const std::vector<TestSubscription> subs = Subscriptions(50);
  std::istringstream first(Lines(subs));
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_TRUE(ctl::SendJob(Send(), first, out, err).ok()) << err.str();  // 0.225 s overdrawn
  std::istringstream second(Lines({subs.begin(), subs.begin() + 20}));
  std::ostringstream waited;
  ctl::SendResult result;
  const absl::Status status = ctl::SendJob(Send(/*wait=*/true), second, waited, err, &result);
  ASSERT_TRUE(status.ok()) << status << "\nerr: " << err.str();
  EXPECT_NE(err.str().find("RESOURCE_EXHAUSTED"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("retrying in 0."), std::string::npos) << err.str();
  EXPECT_FALSE(result.existing);
  EXPECT_NE(waited.str().find("DONE: total 20, delivered 20"), std::string::npos) << waited.str();
  EXPECT_EQ(ListJobs().size(), 2u);
}

TEST(JobCommandsUsageTest, BadFlagCombinationsAreUsageErrors) {
  ctl::SendOptions options;
  options.connection.server = "127.0.0.1:1";
  options.subscriptions = "-";
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  EXPECT_TRUE(ctl::IsUsageError(ctl::SendJob(options, in, out, err)));  // no payload
  options.payload = "x";
  options.gone_out = "gone.jsonl";
  EXPECT_TRUE(ctl::IsUsageError(ctl::SendJob(options, in, out, err)));  // --gone-out, no --wait
  options.gone_out.reset();
  options.urgency = "urgent";
  EXPECT_TRUE(ctl::IsUsageError(ctl::SendJob(options, in, out, err)));
  options.urgency = "";
  options.labels = {"novalue"};
  EXPECT_TRUE(ctl::IsUsageError(ctl::SendJob(options, in, out, err)));
  options.labels.clear();
  options.connection.ca_file = "ca.pem";
  EXPECT_TRUE(ctl::IsUsageError(ctl::SendJob(options, in, out, err)));  // --ca-file, no --tls
  ctl::JobOptions job;
  job.connection.server = "127.0.0.1:1";
  EXPECT_TRUE(ctl::IsUsageError(ctl::ShowJob(job, out)));  // no job id
  EXPECT_TRUE(out.str().empty());
}

TEST(ProgressDisplayTest, ABarOnATerminalAndRareLinesOtherwise) {
  v1::Counters counters;
  counters.set_total(10);
  counters.set_pending(5);
  counters.set_delivered(3);
  counters.set_gone(1);
  counters.set_expired(1);
  const absl::Time start = absl::Now() - absl::Seconds(1);
  std::ostringstream terminal;
  ctl::ProgressDisplay bar(terminal, /*terminal=*/true, start);
  bar.Update(counters);
  bar.Done();
  EXPECT_EQ(terminal.str().rfind("\r[###############...............]  50%  delivered 3  gone 1  "
                                 "failed 1  pending 5  ",
                                 0),
            0u)
      << terminal.str();
  EXPECT_EQ(terminal.str().back(), '\n');

  std::ostringstream log;
  ctl::ProgressDisplay lines(log, /*terminal=*/false, start, absl::Hours(1));
  lines.Update(counters);
  lines.Done();
  EXPECT_TRUE(log.str().empty()) << log.str();  // not yet an hour
  ctl::ProgressDisplay often(log, /*terminal=*/false, start, absl::ZeroDuration());
  often.Update(counters);
  EXPECT_EQ(log.str().rfind("webpushctl: progress  50%  delivered 3", 0), 0u) << log.str();
  EXPECT_EQ(log.str().find('\r'), std::string::npos);
}

}  // namespace
}  // namespace webpush::testing
