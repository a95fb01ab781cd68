// The whole service in process (dispatcher::Server with the in-memory queue) over real gRPC and
// real HTTP/2 + TLS against the test push service: delivery, events, validation, tenants,
// quotas, uploads, health.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "dispatcher/server.h"
#include "dispatcher/service/dispatcher_service.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/service/service_harness.h"

namespace webpush::testing {
namespace {

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestPushService::Options options;
    absl::StatusOr<std::unique_ptr<TestPushService>> push = TestPushService::Start(options);
    ASSERT_TRUE(push.ok()) << push.status();
    push_ = *std::move(push);
    config_ = ServiceConfigFor(*push_);
  }

  void StartServer() {
    absl::StatusOr<std::unique_ptr<dispatcher::Server>> server = dispatcher::Server::Start(config_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    address_ = "127.0.0.1:" + std::to_string(server_->port());
    client_ = std::make_unique<ApiClient>(address_, kTenantToken);
  }

  std::vector<TestSubscription> Subscriptions(size_t n) {
    std::vector<TestSubscription> subs;
    for (size_t i = 0; i < n; ++i) {
      subs.push_back(push_->AddSubscription());
    }
    return subs;
  }

  static v1::SubmitJobRequest Request(const std::vector<TestSubscription>& subs,
                                      const std::string& payload) {
    v1::SubmitJobRequest request;
    request.mutable_message()->set_payload(payload);
    request.mutable_message()->set_ttl_seconds(600);
    (*request.mutable_message()->mutable_labels())["campaign"] = "spring";
    for (size_t i = 0; i < subs.size(); ++i) {
      *request.add_targets() = ToTarget(subs[i], "sub-" + std::to_string(i));
    }
    return request;
  }

  // Finished returns the final event of a full watch of `job_id`.
  v1::Job WatchToEnd(const std::string& job_id, std::vector<v1::JobEvent>* events_out = nullptr) {
    std::vector<v1::JobEvent> events;
    const grpc::Status status = client_->WatchAll(job_id, &events);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_FALSE(events.empty());
    if (events_out != nullptr) {
      *events_out = events;
    }
    if (events.empty() || !events.back().has_finished()) {
      ADD_FAILURE() << "the watch did not end with a finished event";
      return {};
    }
    return events.back().finished();
  }

  std::unique_ptr<TestPushService> push_;
  dispatcher::config::ServiceConfig config_;
  std::unique_ptr<dispatcher::Server> server_;
  std::string address_;
  std::unique_ptr<ApiClient> client_;
};

TEST_F(ServiceTest, DeliversEveryTargetOnceAndReportsGoneThroughWatch) {
  StartServer();
  std::vector<TestSubscription> subs = Subscriptions(300);
  FaultPlan faults;
  for (size_t i = 0; i < 10; ++i) {
    faults.gone_tokens.insert(subs[i * 30].token);
  }
  faults.gone_status = 410;
  push_->SetFaults(faults);
  const std::string payload = R"({"title":"Hello","body":"from the dispatcher"})";
  v1::SubmitJobResponse submitted;
  const grpc::Status status = client_->Submit(Request(subs, payload), &submitted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(submitted.targets(), 300);
  EXPECT_FALSE(submitted.existing());

  std::vector<v1::JobEvent> events;
  const v1::Job job = WatchToEnd(submitted.job_id(), &events);
  EXPECT_EQ(job.state(), v1::JOB_STATE_DONE);
  EXPECT_EQ(job.counters().delivered(), 290);
  EXPECT_EQ(job.counters().gone(), 10);
  EXPECT_EQ(job.counters().pending(), 0);
  EXPECT_TRUE(job.has_finished());
  EXPECT_EQ(job.latency().answered(), 300);
  EXPECT_GT(job.latency().p50_ms(), 0);
  EXPECT_LE(job.latency().p50_ms(), job.latency().p99_ms());
  EXPECT_LE(job.latency().p99_ms(), job.latency().max_ms());
  EXPECT_LT(job.latency().max_ms(), 60'000);
  std::set<std::string> gone_ids;
  for (const v1::JobEvent& e : events) {
    EXPECT_EQ(e.labels().at("campaign"), "spring");
    if (e.has_gone()) {
      gone_ids.insert(e.gone().target_id());
      const size_t i = std::stoul(e.gone().target_id().substr(4));
      EXPECT_EQ(e.gone().endpoint(), subs[i].endpoint);
      EXPECT_EQ(e.gone().outcome(), v1::OUTCOME_GONE);
    }
  }
  EXPECT_EQ(gone_ids.size(), 10u);
  EXPECT_TRUE(gone_ids.contains("sub-0") && gone_ids.contains("sub-270"));

  std::map<std::string, int> per_token;
  for (const Delivery& d : push_->Deliveries()) {
    ++per_token[d.token];
    EXPECT_EQ(std::string(d.plaintext.begin(), d.plaintext.end()), payload);
    EXPECT_EQ(d.vapid_subject, kSubject);
    EXPECT_FALSE(d.ttl.empty());
    EXPECT_LE(std::stoi(d.ttl), 600);
  }
  EXPECT_EQ(per_token.size(), 290u);
  for (const auto& [token, n] : per_token) {
    EXPECT_EQ(n, 1) << "token delivered " << n << " times";
  }
  EXPECT_TRUE(push_->stats().validation_failures.empty());
}

TEST_F(ServiceTest, RefusesCallsWithoutValidCredentials) {
  StartServer();
  std::vector<TestSubscription> subs = Subscriptions(1);
  v1::SubmitJobResponse response;
  ApiClient anonymous(address_, "");
  grpc::Status status = anonymous.Submit(Request(subs, "x"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  ApiClient wrong(address_, "not-a-token-of-anyone-at-all");
  status = wrong.Submit(Request(subs, "x"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();
  EXPECT_EQ(status.error_message().find("not-a-token"), std::string::npos);
  v1::Job job;
  EXPECT_EQ(wrong.Get("anything", &job).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  std::vector<v1::JobEvent> events;
  EXPECT_EQ(wrong.WatchAll("anything", &events).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(push_->Deliveries().empty());
}

TEST_F(ServiceTest, ATenantNeverSeesOrCancelsAnothersJob) {
  config_.workers.enabled = false;  // the job stays queued
  StartServer();
  std::vector<TestSubscription> subs = Subscriptions(2);
  v1::SubmitJobResponse submitted;
  ASSERT_TRUE(client_->Submit(Request(subs, "x"), &submitted).ok());
  ApiClient other(address_, kOtherToken);
  v1::Job job;
  EXPECT_EQ(other.Get(submitted.job_id(), &job).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::CancelJobRequest cancel;
  cancel.set_job_id(submitted.job_id());
  auto context = other.Context();
  EXPECT_EQ(other.stub().CancelJob(context.get(), cancel, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);
  std::vector<v1::JobEvent> events;
  EXPECT_EQ(other.WatchAll(submitted.job_id(), &events).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::ListJobsRequest list;
  v1::ListJobsResponse listed;
  context = other.Context();
  ASSERT_TRUE(other.stub().ListJobs(context.get(), list, &listed).ok());
  EXPECT_EQ(listed.jobs_size(), 0);
  // The owner still sees it, queued, and can cancel it.
  ASSERT_TRUE(client_->Get(submitted.job_id(), &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_QUEUED);
  context = client_->Context();
  ASSERT_TRUE(client_->stub().CancelJob(context.get(), cancel, &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_CANCELLED);
}

TEST_F(ServiceTest, RejectsAnInvalidTargetNamingItsIndexAndQueuesNothing) {
  StartServer();
  std::vector<TestSubscription> subs = Subscriptions(20);
  struct Case {
    std::string field;
    std::function<void(v1::Target&)> spoil;
    std::string expect;
  };
  // A point off the curve: valid base64url, 65 bytes, prefix 0x04, y wrong.
  std::string off_curve = subs[0].p256dh;
  off_curve[80] = off_curve[80] == 'A' ? 'B' : 'A';
  const std::vector<Case> cases = {
      {"p256dh", [&](v1::Target& t) { t.set_p256dh(off_curve); }, "targets[7].p256dh"},
      {"auth", [](v1::Target& t) { t.set_auth("c2hvcnQ"); }, "targets[7].auth"},
      {"endpoint", [](v1::Target& t) { t.set_endpoint("http://push.test.example/x"); },
       "targets[7].endpoint"},
      {"allowlist",
       [](v1::Target& t) { t.set_endpoint("https://metadata.internal.example/push/abc"); },
       "targets[7].endpoint"},
      {"ip", [](v1::Target& t) { t.set_endpoint("https://169.254.169.254/latest"); },
       "targets[7].endpoint"},
      {"payload", [](v1::Target& t) { t.set_payload(std::string(4000, 'x')); },
       "targets[7].payload"},
  };
  for (const Case& c : cases) {
    v1::SubmitJobRequest request = Request(subs, "hi");
    c.spoil(*request.mutable_targets(7));
    v1::SubmitJobResponse response;
    const grpc::Status status = client_->Submit(request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(status.error_message().rfind(c.expect, 0), 0u)
        << c.field << ": " << status.error_message();
    // The host may be named, never the path (the capability part of an endpoint).
    EXPECT_EQ(status.error_message().find("/push/abc"), std::string::npos);
  }
  v1::SubmitJobRequest bad_ttl = Request(subs, "hi");
  bad_ttl.mutable_message()->set_ttl_seconds(-1);
  v1::SubmitJobResponse response;
  grpc::Status status = client_->Submit(bad_ttl, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("message.ttl_seconds", 0), 0u) << status.error_message();
  v1::SubmitJobRequest bad_key = Request(subs, "hi");
  bad_key.mutable_message()->set_vapid_key_id("nope");
  status = client_->Submit(bad_key, &response);
  EXPECT_EQ(status.error_message().rfind("message.vapid_key_id", 0), 0u) << status.error_message();

  v1::ListJobsRequest list;
  v1::ListJobsResponse listed;
  auto context = client_->Context();
  ASSERT_TRUE(client_->stub().ListJobs(context.get(), list, &listed).ok());
  EXPECT_EQ(listed.jobs_size(), 0);
  EXPECT_TRUE(push_->Deliveries().empty());
}

TEST_F(ServiceTest, UploadJobStreamsALargeJobAndPerTargetPayloads) {
  StartServer();
  std::vector<TestSubscription> subs = Subscriptions(1200);
  v1::UploadJobHeader header;
  header.mutable_message()->set_payload("common");
  header.mutable_message()->set_ttl_seconds(300);
  header.mutable_message()->set_urgency(v1::URGENCY_HIGH);
  header.mutable_message()->set_topic("news");
  std::vector<v1::Target> targets;
  for (size_t i = 0; i < subs.size(); ++i) {
    targets.push_back(ToTarget(subs[i], "t" + std::to_string(i)));
    if (i % 100 == 0) {
      targets.back().set_payload("own " + std::to_string(i));
    }
  }
  v1::SubmitJobResponse response;
  const grpc::Status status = client_->Upload(header, targets, 250, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.targets(), 1200);
  const v1::Job job = WatchToEnd(response.job_id());
  EXPECT_EQ(job.counters().delivered(), 1200);
  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < subs.size(); ++i) {
    index_of[subs[i].token] = i;
  }
  size_t own = 0;
  for (const Delivery& d : push_->Deliveries()) {
    const size_t i = index_of.at(d.token);
    const std::string text(d.plaintext.begin(), d.plaintext.end());
    EXPECT_EQ(text, i % 100 == 0 ? "own " + std::to_string(i) : "common");
    own += i % 100 == 0 ? 1 : 0;
    EXPECT_EQ(d.urgency, "high");
    EXPECT_EQ(d.topic, "news");
  }
  EXPECT_EQ(own, 12u);
  EXPECT_EQ(push_->Deliveries().size(), 1200u);
}

TEST_F(ServiceTest, AnUploadWithABadTargetLeavesNothingBehind) {
  StartServer();
  std::vector<TestSubscription> subs = Subscriptions(30);
  v1::UploadJobHeader header;
  header.mutable_message()->set_payload("x");
  std::vector<v1::Target> targets;
  for (size_t i = 0; i < subs.size(); ++i) {
    targets.push_back(ToTarget(subs[i], "t" + std::to_string(i)));
  }
  targets[23].set_auth("");
  v1::SubmitJobResponse response;
  const grpc::Status status = client_->Upload(header, targets, 10, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("targets[23].auth", 0), 0u) << status.error_message();
  v1::ListJobsRequest list;
  v1::ListJobsResponse listed;
  auto context = client_->Context();
  ASSERT_TRUE(client_->stub().ListJobs(context.get(), list, &listed).ok());
  EXPECT_EQ(listed.jobs_size(), 0);
}

TEST_F(ServiceTest, AQuotaOverrunIsResourceExhaustedWithARetryDelay) {
  config_.tenants[0].quotas.messages_per_second = 10;
  config_.tenants[0].quotas.burst = 5;
  config_.workers.enabled = false;
  StartServer();
  std::vector<TestSubscription> subs = Subscriptions(50);
  v1::SubmitJobResponse response;
  ASSERT_TRUE(client_->Submit(Request(subs, "x"), &response).ok());  // overdraws by 45
  auto context = client_->Context();
  const grpc::Status status =
      client_->stub().SubmitJob(context.get(), Request(subs, "x"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  const auto& trailers = context->GetServerTrailingMetadata();
  const auto it = trailers.find("grpc-retry-pushback-ms");
  ASSERT_NE(it, trailers.end());
  const int ms = std::stoi(std::string(it->second.data(), it->second.size()));
  EXPECT_GT(ms, 4000);
  EXPECT_LE(ms, 4700);
  // Another tenant is not affected.
  ApiClient other(address_, kOtherToken);
  EXPECT_TRUE(other.Submit(Request(subs, "x"), &response).ok());

  // Pending targets: a limit of 60 refuses a second job of 50 whatever the rate.
  config_.tenants[0].quotas.messages_per_second = 1e6;
  config_.tenants[0].quotas.burst = 1'000'000;
  config_.tenants[0].quotas.max_pending_targets = 60;
  server_.reset();
  StartServer();
  ASSERT_TRUE(client_->Submit(Request(subs, "x"), &response).ok());
  context = client_->Context();
  const grpc::Status pending =
      client_->stub().SubmitJob(context.get(), Request(subs, "x"), &response);
  EXPECT_EQ(pending.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << pending.error_message();
  EXPECT_NE(context->GetServerTrailingMetadata().find("grpc-retry-pushback-ms"),
            context->GetServerTrailingMetadata().end());
}

TEST_F(ServiceTest, TheSameIdempotencyKeyReturnsTheFirstJob) {
  config_.workers.enabled = false;
  StartServer();
  std::vector<TestSubscription> subs = Subscriptions(3);
  v1::SubmitJobRequest request = Request(subs, "x");
  request.set_idempotency_key("order-42");
  v1::SubmitJobResponse first;
  v1::SubmitJobResponse second;
  ASSERT_TRUE(client_->Submit(request, &first).ok());
  ASSERT_TRUE(client_->Submit(request, &second).ok());
  EXPECT_FALSE(first.existing());
  EXPECT_TRUE(second.existing());
  EXPECT_EQ(first.job_id(), second.job_id());
  EXPECT_EQ(second.targets(), 3);
}

TEST_F(ServiceTest, WatchResumesFromAnOffsetAndListJobsPages) {
  StartServer();
  std::vector<std::string> ids;
  for (int j = 0; j < 3; ++j) {
    std::vector<TestSubscription> subs = Subscriptions(5);
    FaultPlan faults;
    faults.gone_tokens = {subs[0].token, subs[1].token};
    push_->SetFaults(faults);
    v1::SubmitJobResponse response;
    ASSERT_TRUE(client_->Submit(Request(subs, "x"), &response).ok());
    ids.push_back(response.job_id());
    WatchToEnd(response.job_id());
  }
  std::vector<v1::JobEvent> all;
  ASSERT_TRUE(client_->WatchAll(ids[0], &all).ok());
  ASSERT_GE(all.size(), 3u);
  std::vector<v1::JobEvent> rest;
  ASSERT_TRUE(client_->WatchAll(ids[0], &rest, all[0].offset()).ok());
  ASSERT_EQ(rest.size(), all.size() - 1);
  EXPECT_EQ(rest[0].offset(), all[1].offset());
  // From the last offset of a finished job: nothing more, and the stream ends.
  std::vector<v1::JobEvent> none;
  ASSERT_TRUE(
      client_->WatchAll(ids[0], &none, all.back().offset(), false, std::chrono::seconds(10)).ok());
  EXPECT_TRUE(none.empty());
  std::vector<v1::JobEvent> quiet;
  ASSERT_TRUE(client_->WatchAll(ids[0], &quiet, "", /*skip_progress=*/true).ok());
  for (const v1::JobEvent& e : quiet) {
    EXPECT_FALSE(e.has_progress());
  }

  v1::ListJobsRequest list;
  list.set_page_size(2);
  v1::ListJobsResponse page1;
  auto context = client_->Context();
  ASSERT_TRUE(client_->stub().ListJobs(context.get(), list, &page1).ok());
  ASSERT_EQ(page1.jobs_size(), 2);
  EXPECT_EQ(page1.jobs(0).job_id(), ids[2]);  // newest first
  ASSERT_FALSE(page1.next_page_token().empty());
  list.set_page_token(page1.next_page_token());
  v1::ListJobsResponse page2;
  context = client_->Context();
  ASSERT_TRUE(client_->stub().ListJobs(context.get(), list, &page2).ok());
  ASSERT_EQ(page2.jobs_size(), 1);
  EXPECT_EQ(page2.jobs(0).job_id(), ids[0]);
}

TEST_F(ServiceTest, HealthServesThenNotServingWhenDraining) {
  StartServer();
  auto health = grpc::health::v1::Health::NewStub(client_->channel());
  for (const std::string service : {"", "webpush.dispatcher.v1.Dispatcher"}) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(health->Check(&context, request, &response).ok());
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  server_->Shutdown(absl::Seconds(1));
}

}  // namespace
}  // namespace webpush::testing
