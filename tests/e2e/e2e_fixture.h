#pragma once

// The fixture of the end-to-end tests: a real redis-server, the test push service (HTTP/2 over
// TLS, checking every VAPID token and decrypting every body) and webpushd replicas started as
// processes, with two tenants.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "crypto/keys.h"
#include "tests/e2e/webpushd_process.h"
#include "tests/push_service/child_process.h"
#include "tests/service/api_client.h"
#include "tests/support/redis_server.h"

namespace webpush::testing {

using Clock = std::chrono::steady_clock;

class E2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start());
    TestPushService::Options options;
    options.threads = 2;
    absl::StatusOr<std::unique_ptr<TestPushService>> push = TestPushService::Start(options);
    ASSERT_TRUE(push.ok()) << push.status();
    push_ = *std::move(push);
    std::ofstream(dir_.File("acme.token")) << kTenantToken << "\n";
    std::ofstream(dir_.File("globex.token")) << kOtherToken << "\n";
    for (const char* name : {"acme", "globex"}) {
      absl::StatusOr<crypto::P256KeyPair> key = crypto::P256KeyPair::Generate();
      ASSERT_TRUE(key.ok());
      absl::StatusOr<std::string> pem = key->ToPem();
      ASSERT_TRUE(pem.ok());
      std::ofstream(dir_.File(std::string(name) + ".pem")) << *pem;
    }
  }

  // Yaml is a replica's configuration: Redis, the push service, two tenants; `extra` is merged
  // in as more top-level YAML (later keys of the same map win in the loader's merge, so extra
  // settings go through --set instead when they override).
  std::string Yaml(const std::string& consumer) const {
    const std::string host_port = push_->host_name() + ":" + std::to_string(push_->port());
    std::string y;
    y += "server:\n  listen: 127.0.0.1:0\n  shutdown_grace: 5s\n";
    y += "metrics:\n  listen: \"\"\n";
    y += "queue:\n  backend: redis\n  batch_size: 200\n  lease: 8s\n  retry_base: 500ms\n";
    y += "  redis:\n    host: 127.0.0.1\n    port: " + std::to_string(redis_.port()) + "\n";
    y += "workers:\n  consumer: " + consumer + "\n  max_leased_batches: 4\n  max_in_flight: 400\n";
    y += "push:\n  ca_file: " + push_->ca_file() + "\n  allow_hosts: [\"" + host_port + "\"]\n";
    y += "  resolve: [\"" + host_port + ":127.0.0.1\"]\n  request_timeout: 3s\n";
    y += "  max_origin_pause: 3s\n";
    y += "tenants:\n";
    for (const char* name : {"acme", "globex"}) {
      y += "  - name: " + std::string(name) + "\n";
      y += "    token_file: " + dir_.File(std::string(name) + ".token") + "\n";
      y += "    vapid:\n      subject: mailto:ops@" + std::string(name) + ".example\n";
      y += "      keys:\n        - id: main\n          private_key_file: " +
           dir_.File(std::string(name) + ".pem") + "\n";
    }
    return y;
  }

  std::unique_ptr<WebpushdProcess> StartReplica(const std::string& name,
                                                const std::vector<std::string>& sets = {}) {
    std::vector<std::string> args;
    for (const std::string& s : sets) {
      args.push_back("--set");
      args.push_back(s);
    }
    auto replica = std::make_unique<WebpushdProcess>(dir_.path(), name, Yaml(name), args);
    EXPECT_NE(replica->port(), 0) << replica->output();
    return replica;
  }

  std::vector<TestSubscription> Subscriptions(size_t n) {
    std::vector<TestSubscription> subs;
    subs.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      subs.push_back(push_->AddSubscription());
    }
    return subs;
  }

  // Upload submits `subs` as one job through UploadJob.
  std::string Upload(const ApiClient& client, const std::vector<TestSubscription>& subs,
                     const std::string& payload, int64_t ttl = 3600) {
    v1::UploadJobHeader header;
    header.mutable_message()->set_payload(payload);
    header.mutable_message()->set_ttl_seconds(ttl);
    std::vector<v1::Target> targets;
    targets.reserve(subs.size());
    for (size_t i = 0; i < subs.size(); ++i) {
      targets.push_back(ToTarget(subs[i], std::to_string(i)));
    }
    v1::SubmitJobResponse response;
    const grpc::Status status = client.Upload(header, targets, 1000, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.job_id();
  }

  // WaitDone polls GetJob until the job is done (or `timeout`), through any of `clients`.
  v1::Job WaitDone(const std::vector<const ApiClient*>& clients, const std::string& job_id,
                   std::chrono::seconds timeout = std::chrono::seconds(120)) {
    const auto deadline = Clock::now() + timeout;
    v1::Job job;
    while (Clock::now() < deadline) {
      for (const ApiClient* client : clients) {
        if (client->Get(job_id, &job).ok() && job.state() == v1::JOB_STATE_DONE) {
          return job;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "job " << job_id << " not done within " << timeout.count() << " s; pending "
                  << job.counters().pending();
    return job;
  }

  // DeliveriesPerToken counts the accepted requests per subscription token, checking each
  // plaintext.
  std::map<std::string, int> DeliveriesPerToken(const std::string& payload) {
    std::map<std::string, int> per_token;
    for (const Delivery& d : push_->Deliveries()) {
      ++per_token[d.token];
      EXPECT_EQ(std::string(d.plaintext.begin(), d.plaintext.end()), payload);
    }
    return per_token;
  }

  // Duplicates counts the deliveries beyond the first of each token.
  static size_t Duplicates(const std::map<std::string, int>& per_token) {
    size_t duplicates = 0;
    for (const auto& [token, n] : per_token) {
      duplicates += static_cast<size_t>(n - 1);
    }
    return duplicates;
  }

  RedisServer redis_;
  std::unique_ptr<TestPushService> push_;
  TempDir dir_;
};

}  // namespace webpush::testing
