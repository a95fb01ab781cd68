// End to end: webpushd processes (the built executable) with a real redis-server, real gRPC and
// real HTTP/2 over TLS against the test push service, which checks every VAPID token and
// decrypts every body. Replicas are killed with SIGKILL, Redis is restarted, push services
// throttle; nothing may be lost and duplicates may only come from what a dead replica had in
// flight (counted).
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crypto/keys.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/e2e/webpushd_process.h"
#include "tests/push_service/child_process.h"
#include "tests/service/api_client.h"
#include "tests/support/redis_server.h"

namespace webpush::testing {
namespace {

TEST_F(E2eTest, DeliversEveryTargetOnceDecryptedAndReportsGoneThroughWatch) {
  auto replica = StartReplica("a");
  ASSERT_NE(replica->port(), 0);
  ApiClient client(replica->address(), kTenantToken);
  std::vector<TestSubscription> subs = Subscriptions(3000);
  FaultPlan faults;
  for (size_t i = 0; i < 30; ++i) {
    faults.gone_tokens.insert(subs[i * 100 + 7].token);
  }
  faults.gone_status = 404;
  push_->SetFaults(faults);
  const std::string payload(1024, 'p');
  const std::string job_id = Upload(client, subs, payload);
  std::vector<v1::JobEvent> events;
  const grpc::Status watched = client.WatchAll(job_id, &events);
  ASSERT_TRUE(watched.ok()) << watched.error_message();
  ASSERT_FALSE(events.empty());
  ASSERT_TRUE(events.back().has_finished());
  const v1::Job& job = events.back().finished();
  EXPECT_EQ(job.state(), v1::JOB_STATE_DONE);
  EXPECT_EQ(job.counters().delivered(), 2970);
  EXPECT_EQ(job.counters().gone(), 30);
  std::set<std::string> gone;
  for (const v1::JobEvent& e : events) {
    if (e.has_gone()) {
      const size_t i = std::stoul(e.gone().target_id());
      EXPECT_EQ(e.gone().endpoint(), subs[i].endpoint);
      EXPECT_TRUE(faults.gone_tokens.contains(subs[i].token));
      gone.insert(e.gone().target_id());
    }
  }
  EXPECT_EQ(gone.size(), 30u);
  const std::map<std::string, int> per_token = DeliveriesPerToken(payload);
  EXPECT_EQ(per_token.size(), 2970u);
  for (const auto& [token, n] : per_token) {
    ASSERT_EQ(n, 1);
  }
  EXPECT_TRUE(push_->stats().validation_failures.empty());
  // No capability URL in the service's log.
  EXPECT_EQ(replica->output().find(subs[7].token), std::string::npos);
}

TEST_F(E2eTest, A429StormSlowsTheOriginAndEverythingStillArrives) {
  auto replica = StartReplica("a");
  ASSERT_NE(replica->port(), 0);
  ApiClient client(replica->address(), kTenantToken);
  std::vector<TestSubscription> subs = Subscriptions(400);
  FaultPlan faults;
  faults.fail_first_per_token = 2;
  faults.fail_status = 429;
  faults.retry_after = "1";
  push_->SetFaults(faults);
  const auto start = Clock::now();
  const std::string job_id = Upload(client, subs, "storm");
  const v1::Job job = WaitDone({&client}, job_id);
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(job.counters().delivered(), 400);
  EXPECT_EQ(job.counters().failed(), 0);
  const std::map<std::string, int> per_token = DeliveriesPerToken("storm");
  EXPECT_EQ(per_token.size(), 400u);
  for (const auto& [token, n] : per_token) {
    ASSERT_EQ(n, 1);
  }
  // Every target was refused twice, and the origin was paused for Retry-After each time.
  EXPECT_EQ(push_->stats().status_counts.at(429), 800u);
  EXPECT_GE(elapsed, std::chrono::seconds(2));
}

TEST_F(E2eTest, AReplicaKilledMidJobLeavesTheRestToTheOtherWithBoundedDuplicates) {
  auto a = StartReplica("a");
  auto b = StartReplica("b");
  ASSERT_NE(a->port(), 0);
  ASSERT_NE(b->port(), 0);
  ApiClient client_a(a->address(), kTenantToken);
  ApiClient client_b(b->address(), kTenantToken);
  std::vector<TestSubscription> subs = Subscriptions(8000);
  FaultPlan faults;
  faults.response_delay = std::chrono::milliseconds(20);
  push_->SetFaults(faults);
  const std::string job_id = Upload(client_a, subs, "survive");
  // Kill `a` once the job is well under way, with batches in its hands.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (push_->stats().delivered < 2000 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  a->Signal(SIGKILL);
  EXPECT_EQ(a->Wait(std::chrono::seconds(10)), 128 + SIGKILL);
  const uint64_t at_kill = push_->stats().delivered;
  EXPECT_LT(at_kill, 8000u) << "the job ended before the kill: make it longer";

  const v1::Job job = WaitDone({&client_b}, job_id);
  EXPECT_EQ(job.counters().delivered(), 8000);
  EXPECT_EQ(job.counters().pending(), 0);
  const std::map<std::string, int> per_token = DeliveriesPerToken("survive");
  EXPECT_EQ(per_token.size(), 8000u) << "a message was lost";
  const size_t duplicates = Duplicates(per_token);
  // A dead replica's window: what it held leased, at most max_leased_batches x batch_size = 800
  // targets, and of those only the ones sent but not yet recorded (max_in_flight = 400).
  std::printf("[ duplicates ] %zu duplicate deliveries after the SIGKILL (bound 800)\n",
              duplicates);
  EXPECT_LE(duplicates, 800u);
}

TEST_F(E2eTest, RedisRestartedMidJobLosesNothing) {
  auto replica = StartReplica("a");
  ASSERT_NE(replica->port(), 0);
  ApiClient client(replica->address(), kTenantToken);
  std::vector<TestSubscription> subs = Subscriptions(4000);
  FaultPlan faults;
  faults.response_delay = std::chrono::milliseconds(20);
  push_->SetFaults(faults);
  const std::string job_id = Upload(client, subs, "restart");
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (push_->stats().delivered < 1000 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const uint64_t at_restart = push_->stats().delivered;
  ASSERT_TRUE(redis_.Restart());
  EXPECT_LT(at_restart, 4000u) << "the job ended before the restart: make it longer";
  const v1::Job job = WaitDone({&client}, job_id);
  EXPECT_EQ(job.counters().delivered(), 4000);
  const std::map<std::string, int> per_token = DeliveriesPerToken("restart");
  EXPECT_EQ(per_token.size(), 4000u) << "a message was lost";
  const size_t duplicates = Duplicates(per_token);
  std::printf("[ duplicates ] %zu duplicate deliveries across the Redis restart\n", duplicates);
  EXPECT_LE(duplicates, 800u);
  EXPECT_TRUE(replica->running());
}

TEST_F(E2eTest, RefusesBadInputStrangersAndEndpointsOutsideTheAllowlist) {
  auto replica = StartReplica("a");
  ASSERT_NE(replica->port(), 0);
  ApiClient client(replica->address(), kTenantToken);
  ApiClient stranger(replica->address(), "");
  ApiClient other(replica->address(), kOtherToken);
  std::vector<TestSubscription> subs = Subscriptions(3);
  v1::SubmitJobRequest request;
  request.mutable_message()->set_payload("x");
  for (size_t i = 0; i < subs.size(); ++i) {
    *request.add_targets() = ToTarget(subs[i], std::to_string(i));
  }
  v1::SubmitJobResponse response;
  EXPECT_EQ(stranger.Submit(request, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  v1::SubmitJobRequest outside = request;
  outside.mutable_targets(2)->set_endpoint("https://push.attacker.example/steal/1");
  grpc::Status status = client.Submit(outside, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("targets[2].endpoint", 0), 0u) << status.error_message();
  v1::SubmitJobRequest loopback = request;
  loopback.mutable_targets(1)->set_endpoint("https://127.0.0.1:6379/");
  status = client.Submit(loopback, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("targets[1].endpoint", 0), 0u) << status.error_message();
  v1::SubmitJobRequest too_big = request;
  too_big.mutable_message()->set_payload(std::string(3994, 'x'));
  status = client.Submit(too_big, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("message.payload", 0), 0u) << status.error_message();

  ASSERT_TRUE(client.Submit(request, &response).ok());
  v1::Job job;
  EXPECT_EQ(other.Get(response.job_id(), &job).error_code(), grpc::StatusCode::NOT_FOUND);
  WaitDone({&client}, response.job_id());
  EXPECT_EQ(push_->Deliveries().size(), 3u);
}

TEST_F(E2eTest, HealthAndReflectionAnswerForProbesAndGrpcurl) {
  auto replica = StartReplica("a");
  ASSERT_NE(replica->port(), 0);
  auto channel = grpc::CreateChannel(replica->address(), grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("webpush.dispatcher.v1.Dispatcher");
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(health->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  grpc::ClientContext reflection_context;
  auto stream = reflection->ServerReflectionInfo(&reflection_context);
  grpc::reflection::v1alpha::ServerReflectionRequest list;
  list.set_list_services("");
  ASSERT_TRUE(stream->Write(list));
  grpc::reflection::v1alpha::ServerReflectionResponse answer;
  ASSERT_TRUE(stream->Read(&answer));
  std::set<std::string> services;
  for (const auto& s : answer.list_services_response().service()) {
    services.insert(s.name());
  }
  EXPECT_TRUE(services.contains("webpush.dispatcher.v1.Dispatcher"));
  EXPECT_TRUE(services.contains("grpc.health.v1.Health"));
  stream->WritesDone();
  (void)stream->Finish();

  // SIGTERM: drains and exits 0.
  replica->Signal(SIGTERM);
  EXPECT_EQ(replica->Wait(std::chrono::seconds(20)), 0) << replica->output();
}

TEST_F(E2eTest, StartUpFailsFastWithOneLineOnABadConfiguration) {
  // Redis unreachable after the retries.
  {
    WebpushdProcess replica(
        dir_.path(), "noredis", Yaml("x"),
        {"--set", "queue.redis.port=1", "--set", "queue.redis.connect_deadline=1s"});
    EXPECT_EQ(replica.port(), 0);
    EXPECT_NE(replica.Wait(std::chrono::seconds(20)), 0);
    EXPECT_NE(replica.output().find("queue.redis"), std::string::npos) << replica.output();
  }
  // A VAPID key file that is not a key.
  std::ofstream(dir_.File("bad.pem")) << "not a key\n";
  {
    WebpushdProcess replica(
        dir_.path(), "badkey", Yaml("x"),
        {"--set", "tenants.0.vapid.keys.0.private_key_file=" + dir_.File("bad.pem")});
    EXPECT_EQ(replica.port(), 0);
    EXPECT_NE(replica.Wait(std::chrono::seconds(20)), 0);
    const std::string out = replica.output();
    EXPECT_NE(out.find("tenants[0].vapid.keys[0].private_key_file"), std::string::npos) << out;
    EXPECT_EQ(out.find("not a key"), std::string::npos) << "the key file's content was printed";
  }
  // A bad subject.
  {
    WebpushdProcess replica(dir_.path(), "badsub", Yaml("x"),
                            {"--set", "tenants.1.vapid.subject=ops@example.com"});
    EXPECT_EQ(replica.port(), 0);
    EXPECT_NE(replica.Wait(std::chrono::seconds(20)), 0);
    EXPECT_NE(replica.output().find("tenants[1].vapid.subject"), std::string::npos)
        << replica.output();
  }
}

}  // namespace
}  // namespace webpush::testing
