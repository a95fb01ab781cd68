// Operating webpushd (issue 7), end to end with real processes: the metrics port as Prometheus
// and the Kubernetes probes see it, graceful shutdown on SIGTERM, and three replicas sharing one
// Redis while one is killed and one is terminated.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/e2e_fixture.h"
#include "tests/metrics/exposition.h"
#include "tests/support/http_get.h"

namespace webpush::testing {
namespace {

constexpr const char* kMetricsOn = "metrics.listen=127.0.0.1:0";

// Scrape returns the replica's /metrics text (empty on failure).
std::string Scrape(const WebpushdProcess& replica) {
  const HttpGetResult r = HttpGet(replica.metrics_port(), "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  return r.body;
}

double Delivered(const std::string& scrape) {
  // Every push service's series (the allowlist's are there from the start, at zero).
  return SampleSum(scrape, "webpush_messages_total", {{"outcome", "delivered"}});
}

// StoppedDelivered reads the count from a replica's "server.stopped delivered=N" line.
double StoppedDelivered(const std::string& output) {
  std::smatch m;
  if (std::regex_search(output, m, std::regex("server\\.stopped delivered=(\\d+)"))) {
    return std::stod(m[1]);
  }
  ADD_FAILURE() << "no server.stopped line in:\n" << output;
  return 0;
}

// RunTool runs a command with `input` on its standard input; returns its exit status and output.
std::pair<int, std::string> RunTool(const std::string& command, const std::string& input,
                                    const TempDir& dir) {
  const std::string in = dir.File("tool-input.txt");
  const std::string out = dir.File("tool-output.txt");
  std::ofstream(in) << input;
  const int rc = std::system((command + " <" + in + " >" + out + " 2>&1").c_str());
  std::ifstream f(out);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, text};
}

class OperateTest : public E2eTest {};

// A live scrape after a job: promtool accepts it, the counters account for the job, the probes
// answer, and the dashboard and alert rules under deploy/ query only metrics that exist.
TEST_F(OperateTest, LiveMetricsPassPromtoolAccountForTheJobAndCoverTheDashboard) {
  auto replica = StartReplica("a", {kMetricsOn});
  ASSERT_NE(replica->port(), 0);
  ASSERT_NE(replica->metrics_port(), 0) << replica->output();
  EXPECT_EQ(HttpGet(replica->metrics_port(), "/healthz").status, 200);
  EXPECT_EQ(HttpGet(replica->metrics_port(), "/readyz").status, 200);

  ApiClient client(replica->address(), kTenantToken);
  std::vector<TestSubscription> subs = Subscriptions(300);
  FaultPlan faults;
  for (size_t i = 0; i < 10; ++i) {
    faults.gone_tokens.insert(subs[i * 30].token);
  }
  push_->SetFaults(faults);
  const std::string job_id = Upload(client, subs, "counted");
  const v1::Job job = WaitDone({&client}, job_id);
  EXPECT_EQ(job.counters().delivered(), 290);
  EXPECT_EQ(job.counters().gone(), 10);
  const std::string service = push_->host_name() + ":" + std::to_string(push_->port());
  // The gauges are refreshed every 2 s: wait for a refresh after the job.
  std::string scrape;
  for (int i = 0; i < 50; ++i) {
    scrape = Scrape(*replica);
    if (SampleValue(scrape, "webpush_jobs_running", {}) == 0 &&
        SampleValue(scrape, "webpush_push_connections_open", {{"push_service", service}}) >= 1) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_FALSE(scrape.empty());
  EXPECT_EQ(SampleValue(scrape, "webpush_messages_total",
                        {{"push_service", service}, {"outcome", "delivered"}}),
            290);
  EXPECT_EQ(SampleValue(scrape, "webpush_messages_total",
                        {{"push_service", service}, {"outcome", "gone"}}),
            10);
  EXPECT_EQ(
      SampleValue(scrape, "webpush_delivery_latency_seconds_count", {{"push_service", service}}),
      300);
  EXPECT_EQ(SampleValue(scrape, "webpush_push_request_duration_seconds_count",
                        {{"push_service", service}}),
            300);
  EXPECT_EQ(SampleValue(scrape, "webpush_targets_submitted_total", {{"tenant", "acme"}}), 300);
  EXPECT_EQ(
      SampleValue(scrape, "webpush_api_requests_total", {{"method", "UploadJob"}, {"code", "OK"}}),
      1);
  EXPECT_GE(SampleValue(scrape, "webpush_api_requests_total", {{"method", "GetJob"}}), 1);
  EXPECT_GT(SampleValue(scrape, "webpush_encrypt_batch_duration_seconds_count", {}), 0);
  EXPECT_EQ(SampleValue(scrape, "webpush_backlog_pending_targets", {{"tenant", "acme"}}), 0);
  EXPECT_EQ(SampleValue(scrape, "webpush_jobs_running", {}), 0);
  EXPECT_EQ(SampleValue(scrape, "webpush_ready", {}), 1);
  EXPECT_GE(SampleValue(scrape, "webpush_push_connections_open", {{"push_service", service}}), 1);
  // Capability URLs never reach a label.
  EXPECT_EQ(scrape.find("https://"), std::string::npos);
  for (const TestSubscription& s : subs) {
    ASSERT_EQ(scrape.find(s.token), std::string::npos);
  }

  // Prometheus's own linter on the live scrape.
  auto [lint_rc, lint_out] = RunTool("promtool check metrics", scrape, dir_);
  EXPECT_EQ(lint_rc, 0) << "promtool check metrics (Debian package prometheus) said:\n" << lint_out;

  // The dashboard and the alerts query only what this scrape has.
  const std::string scrape_file = dir_.File("scrape.prom");
  std::ofstream(scrape_file) << scrape;
  const std::string root = WEBPUSH_SOURCE_DIR;
  auto [ref_rc, ref_out] =
      RunTool("python3 " + root + "/tests/deploy/check_metric_references.py --dashboard " + root +
                  "/deploy/grafana/webpushd-dashboard.json --rules " + root +
                  "/deploy/prometheus/alerts.yaml --scrape " + scrape_file,
              "", dir_);
  EXPECT_EQ(ref_rc, 0) << ref_out;
}

// /healthz is the process; /readyz is "send me work": Redis down makes the replica not ready
// without failing liveness (a restart would not bring Redis back), and it recovers with Redis.
TEST_F(OperateTest, ReadinessFollowsRedisWhileLivenessStays) {
  auto replica = StartReplica("a", {kMetricsOn, "queue.redis.connect_deadline=60s"});
  ASSERT_NE(replica->metrics_port(), 0) << replica->output();
  EXPECT_EQ(HttpGet(replica->metrics_port(), "/readyz").status, 200);
  redis_.Stop();
  int status = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    status = HttpGet(replica->metrics_port(), "/readyz").status;
    EXPECT_EQ(HttpGet(replica->metrics_port(), "/healthz", "GET", 1500).status, 200)
        << "liveness must not wait on Redis";
    if (status == 503) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(status, 503) << "not ready while Redis is down";
  const HttpGetResult why = HttpGet(replica->metrics_port(), "/readyz");
  EXPECT_NE(why.body.find("queue store unreachable"), std::string::npos) << why.body;
  ASSERT_TRUE(redis_.Restart());
  const auto back = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < back && status != 200) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    status = HttpGet(replica->metrics_port(), "/readyz").status;
  }
  EXPECT_EQ(status, 200) << "ready again once Redis is back";
}

// SIGTERM mid-job: the replica stops taking work, lets what is in flight be answered, hands the
// rest back and exits 0; the other replica finishes, and nothing is lost or sent twice.
TEST_F(OperateTest, SigtermMidJobDrainsAndLosesNothing) {
  auto a = StartReplica("a", {kMetricsOn});
  auto b = StartReplica("b");
  ASSERT_NE(a->port(), 0);
  ASSERT_NE(b->port(), 0);
  ApiClient client_a(a->address(), kTenantToken);
  ApiClient client_b(b->address(), kTenantToken);
  constexpr size_t kTargets = 8000;
  std::vector<TestSubscription> subs = Subscriptions(kTargets);
  FaultPlan faults;
  faults.response_delay = std::chrono::milliseconds(20);
  push_->SetFaults(faults);
  const std::string job_id = Upload(client_a, subs, "drained");
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (push_->stats().delivered < 1500 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto term = Clock::now();
  a->Signal(SIGTERM);
  const uint64_t at_term = push_->stats().delivered;
  // Not ready as soon as it drains (Kubernetes stops routing to it), then gone with status 0.
  // The signal is handled asynchronously: poll briefly for the change.
  int during = 200;
  for (int i = 0; i < 100 && during == 200; ++i) {
    during = HttpGet(a->metrics_port(), "/readyz").status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(during == 503 || during == 0) << during;  // 0: it exited already
  EXPECT_EQ(a->Wait(std::chrono::seconds(20)), 0) << a->output();
  const auto drained = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - term);
  EXPECT_LT(at_term, kTargets) << "the job ended before the SIGTERM: make it longer";

  const v1::Job job = WaitDone({&client_b}, job_id);
  EXPECT_EQ(job.counters().delivered(), static_cast<int64_t>(kTargets));
  const std::map<std::string, int> per_token = DeliveriesPerToken("drained");
  EXPECT_EQ(per_token.size(), kTargets) << "a message was lost";
  const size_t duplicates = Duplicates(per_token);
  std::printf(
      "[ drain ] SIGTERM at %llu of %zu delivered; replica a drained in %lld ms, having "
      "delivered %.0f; duplicates %zu\n",
      static_cast<unsigned long long>(at_term), kTargets, static_cast<long long>(drained.count()),
      StoppedDelivered(a->output()), duplicates);
  // Everything in flight was answered and recorded before a exited: no duplicates at all.
  EXPECT_EQ(duplicates, 0u);
}

// Three replicas share one Redis. One is killed (SIGKILL) and one terminated (SIGTERM) mid-job:
// the job completes, nothing is lost, duplicates come only from the killed replica's in-flight
// window, and the replicas' own counts account for every message the push service accepted.
TEST_F(OperateTest, ThreeReplicasSurviveAKillAndATermAndTheirMetricsAccountForEveryMessage) {
  auto a = StartReplica("a", {kMetricsOn});
  auto b = StartReplica("b", {kMetricsOn});
  auto c = StartReplica("c", {kMetricsOn});
  for (const auto* r : {a.get(), b.get(), c.get()}) {
    ASSERT_NE(r->port(), 0);
    ASSERT_NE(r->metrics_port(), 0);
  }
  ApiClient client_c(c->address(), kTenantToken);
  constexpr size_t kTargets = 9000;
  std::vector<TestSubscription> subs = Subscriptions(kTargets);
  FaultPlan faults;
  faults.response_delay = std::chrono::milliseconds(20);
  push_->SetFaults(faults);
  const std::string job_id = Upload(client_c, subs, "three");

  auto wait_delivered = [&](uint64_t n) {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (push_->stats().delivered < n && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  wait_delivered(2000);
  // Hold every new answer for 2 s (below the 3 s request timeout) so that `a` gets none between
  // its last scrape and the kill: that scrape is then its final account.
  FaultPlan hold = faults;
  hold.response_delay = std::chrono::milliseconds(2000);
  push_->SetFaults(hold);
  // Earlier answers still arrive and are counted: wait until `a`'s count stands still (a
  // sanitizer build processes them slowly), then take that as its final account.
  double a_delivered = Delivered(Scrape(*a));
  for (int still = 0, i = 0; still < 3 && i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const double now = Delivered(Scrape(*a));
    still = now == a_delivered ? still + 1 : 0;
    a_delivered = now;
  }
  a->Signal(SIGKILL);
  EXPECT_EQ(a->Wait(std::chrono::seconds(10)), 128 + SIGKILL);
  push_->SetFaults(faults);

  wait_delivered(4500);
  b->Signal(SIGTERM);
  const uint64_t at_term = push_->stats().delivered;
  EXPECT_EQ(b->Wait(std::chrono::seconds(20)), 0) << b->output();
  const double b_delivered = StoppedDelivered(b->output());
  EXPECT_LT(at_term, kTargets) << "the job ended too early: make it longer";

  const v1::Job job = WaitDone({&client_c}, job_id);
  EXPECT_EQ(job.counters().delivered(), static_cast<int64_t>(kTargets));
  EXPECT_EQ(job.counters().pending(), 0);
  const std::map<std::string, int> per_token = DeliveriesPerToken("three");
  EXPECT_EQ(per_token.size(), kTargets) << "a message was lost";
  const size_t duplicates = Duplicates(per_token);
  const double c_delivered = Delivered(Scrape(*c));
  const double counted = a_delivered + b_delivered + c_delivered;
  const double accepted = static_cast<double>(push_->stats().delivered);
  std::printf(
      "[ replicas ] delivered by a (killed) %.0f, b (terminated) %.0f, c %.0f = %.0f; the push "
      "service accepted %.0f; duplicates %zu (bound 800)\n",
      a_delivered, b_delivered, c_delivered, counted, accepted, duplicates);
  // Only the killed replica's window can be sent twice: what it held leased
  // (max_leased_batches 4 x batch_size 200), of that only what was sent and unrecorded.
  EXPECT_LE(duplicates, 800u);
  // Every target's delivery is in some replica's count, and no replica counts what the push
  // service did not accept. An accepted answer that no replica counted can only be one that
  // reached `a` too late (held answers were never sent: its connections died with it); `a`
  // recorded none of those, so each was sent again and is one of the duplicates.
  EXPECT_GE(counted, static_cast<double>(kTargets));
  EXPECT_LE(counted, accepted);
  EXPECT_LE(accepted - counted, static_cast<double>(duplicates)) << "answers no replica counted";
}

}  // namespace
}  // namespace webpush::testing
