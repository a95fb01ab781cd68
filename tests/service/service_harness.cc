#include "tests/service/service_harness.h"

#include <utility>

namespace webpush::testing {

dispatcher::config::ServiceConfig ServiceConfigFor(const TestPushService& push) {
  namespace config = dispatcher::config;
  config::ServiceConfig c;
  c.server.listen = "127.0.0.1:0";
  c.server.shutdown_grace = absl::Seconds(5);
  c.metrics.listen = "";
  c.queue.backend = "memory";
  c.queue.lease = absl::Seconds(30);
  c.workers.encrypt_threads = 2;
  c.workers.consumer = "test-worker";
  const std::string host_port = push.host_name() + ":" + std::to_string(push.port());
  c.push.ca_file = push.ca_file();
  c.push.allow_hosts = {host_port};
  c.push.resolve = {host_port + ":127.0.0.1"};
  c.push.request_timeout = absl::Seconds(10);
  for (const auto& [name, token] : {std::pair<std::string, std::string>("acme", kTenantToken),
                                    std::pair<std::string, std::string>("globex", kOtherToken)}) {
    config::TenantConfig t;
    t.name = name;
    t.token = token;
    t.vapid_subject = kSubject;
    config::VapidKey key;
    key.id = "main";
    absl::StatusOr<crypto::P256KeyPair> pair = crypto::P256KeyPair::Generate();
    key.key = std::make_shared<const crypto::P256KeyPair>(*std::move(pair));
    t.vapid_keys.push_back(std::move(key));
    c.tenants.push_back(std::move(t));
  }
  return c;
}

}  // namespace webpush::testing
