#include "dispatcher/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "crypto/batch.h"
#include "crypto/vapid.h"
#include "dispatcher/log.h"
#include "dispatcher/observability.h"
#include "dispatcher/push/endpoint_policy.h"
#include "dispatcher/push/push_client.h"
#include "dispatcher/service/api_executor.h"
#include "dispatcher/service/api_metrics_interceptor.h"
#include "dispatcher/service/dispatcher_service.h"
#include "dispatcher/service/tenants.h"
#include "dispatcher/worker/message_builder.h"
#include "dispatcher/worker/pipeline.h"
#include "metrics/webpush_metrics.h"
#include "queue/in_process_job_store.h"
#include "queue/redis_job_store.h"

namespace webpush::dispatcher {
namespace {

constexpr const char* kServiceName = "webpush.dispatcher.v1.Dispatcher";

absl::StatusOr<std::string> ReadFile(const std::string& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(field + ": cannot read " + path);
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

queue::JobStoreOptions StoreOptions(const config::QueueConfig& q,
                                    const std::vector<config::TenantConfig>& tenants) {
  queue::JobStoreOptions o;
  o.batch_size = static_cast<size_t>(q.batch_size);
  o.lease = q.lease;
  o.max_attempts = static_cast<uint32_t>(q.max_attempts);
  o.retry_base = q.retry_base;
  o.retry_max = q.retry_max;
  o.max_backlog = q.max_backlog;
  // Each job carries its tenant's own limit (JobSpec::max_pending); the store's is the largest.
  int64_t per_tenant = 1;
  for (const config::TenantConfig& t : tenants) {
    per_tenant = std::max(per_tenant, t.quotas.max_pending_targets);
  }
  o.max_backlog_per_tenant = per_tenant;
  o.retention = q.retention;
  o.progress_every = static_cast<int>(q.progress_every);
  o.zero_ttl_window = q.zero_ttl_window;
  return o;
}

absl::StatusOr<push::EndpointPolicyOptions> PolicyOptions(const config::PushConfig& p) {
  push::EndpointPolicyOptions o;
  for (size_t i = 0; i < p.allow_hosts.size(); ++i) {
    absl::StatusOr<push::HostRule> rule =
        push::ParseHostRule(p.allow_hosts[i], "push.allow_hosts[" + std::to_string(i) + "]");
    if (!rule.ok()) {
      return rule.status();
    }
    o.rules.push_back(*rule);
  }
  o.private_address_hosts = p.private_address_hosts;
  return o;
}

absl::StatusOr<push::PushClientOptions> ClientOptions(const config::PushConfig& p) {
  push::PushClientOptions o;
  absl::StatusOr<push::EndpointPolicyOptions> policy = PolicyOptions(p);
  if (!policy.ok()) {
    return policy.status();
  }
  o.policy = *std::move(policy);
  o.ca_file = p.ca_file;
  for (size_t i = 0; i < p.resolve.size(); ++i) {
    absl::StatusOr<push::ResolveOverride> r =
        push::ParseResolveOverride(p.resolve[i], "push.resolve[" + std::to_string(i) + "]");
    if (!r.ok()) {
      return r.status();
    }
    o.resolve.push_back(*r);
  }
  o.max_connections_per_origin = p.max_connections_per_origin;
  o.max_streams_per_connection = p.max_streams_per_connection;
  o.connect_timeout = p.connect_timeout;
  o.request_timeout = p.request_timeout;
  o.idle_timeout = p.idle_timeout;
  o.max_origin_pause = p.max_origin_pause;
  o.default_throttle_pause = p.default_throttle_pause;
  o.max_attempts = 1;  // the queue retries, with back-off, on any replica
  return o;
}

std::string DefaultConsumer() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) {
    host[0] = '\0';
  }
  return std::string(host[0] != '\0' ? host : "webpushd") + "-" + std::to_string(getpid());
}

bool IsLoopback(const std::string& listen) {
  return listen.starts_with("127.") || listen.starts_with("[::1]") ||
         listen.starts_with("localhost:");
}

}  // namespace

struct Server::Parts {
  config::ServiceConfig config;
  std::unique_ptr<metrics::WebpushMetrics> metrics;
  std::unique_ptr<service::TenantRegistry> tenants;
  std::unique_ptr<push::EndpointPolicy> policy;
  std::unique_ptr<queue::JobStore> store;
  std::unique_ptr<crypto::VapidTokenCache> tokens;
  std::unique_ptr<crypto::BatchEncryptor> encryptor;
  std::unique_ptr<worker::MessageBuilder> builder;
  std::unique_ptr<push::PushClient> client;
  std::unique_ptr<worker::Pipeline> pipeline;
  std::unique_ptr<service::ApiExecutor> executor;
  std::unique_ptr<service::DispatcherService> service;
  std::unique_ptr<grpc::Server> grpc_server;
  std::unique_ptr<Observability> observability;  // reads the parts above: declared after them
  int port = 0;
  absl::Mutex mu;
  bool shut_down ABSL_GUARDED_BY(mu) = false;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Start(config::ServiceConfig config) {
  auto parts = std::make_unique<Parts>();
  parts->config = std::move(config);
  const config::ServiceConfig& c = parts->config;

  parts->tenants = std::make_unique<service::TenantRegistry>(c.tenants);
  absl::StatusOr<push::EndpointPolicyOptions> policy = PolicyOptions(c.push);
  if (!policy.ok()) {
    return policy.status();
  }
  std::vector<std::string> tenant_names;
  for (const config::TenantConfig& t : c.tenants) {
    tenant_names.push_back(t.name);
  }
  // The allowlist names the push services; the API's methods come from its descriptor.
  std::vector<std::string> push_services;
  for (const push::HostRule& rule : policy->rules) {
    push_services.push_back(push::PushServiceName(rule));
  }
  std::vector<std::string> api_methods;
  if (const google::protobuf::ServiceDescriptor* api =
          v1::SubmitJobRequest::descriptor()->file()->FindServiceByName("Dispatcher");
      api != nullptr) {
    for (int i = 0; i < api->method_count(); ++i) {
      api_methods.push_back(api->method(i)->name());
    }
  }
  parts->metrics = std::make_unique<metrics::WebpushMetrics>(WEBPUSH_VERSION, tenant_names,
                                                             push_services, api_methods);
  parts->policy = std::make_unique<push::EndpointPolicy>(*std::move(policy));

  const queue::JobStoreOptions store_options = StoreOptions(c.queue, c.tenants);
  if (c.queue.backend == "memory") {
    parts->store = std::make_unique<queue::InProcessJobStore>(store_options);
  } else {
    queue::RedisOptions redis;
    redis.host = c.queue.redis.host;
    redis.port = c.queue.redis.port;
    redis.username = c.queue.redis.username;
    redis.password = c.queue.redis.password;
    redis.db = c.queue.redis.db;
    redis.key_prefix = c.queue.redis.key_prefix;
    redis.shards = c.queue.redis.shards;
    redis.group = c.queue.redis.group;
    redis.max_connections = static_cast<size_t>(c.queue.redis.max_connections);
    redis.reconnect_deadline = c.queue.redis.connect_deadline;
    absl::StatusOr<std::unique_ptr<queue::RedisJobStore>> store =
        queue::RedisJobStore::Create(redis, store_options);
    if (!store.ok()) {
      return absl::UnavailableError("queue.redis: cannot use " + redis.host + ":" +
                                    std::to_string(redis.port) + ": " +
                                    std::string(store.status().message()));
    }
    parts->store = *std::move(store);
  }

  if (c.workers.enabled) {
    parts->tokens = std::make_unique<crypto::VapidTokenCache>();
    crypto::BatchOptions batch_options;
    absl::StatusOr<crypto::PathOption> path =
        crypto::ParsePathOption(c.workers.crypto_path, "workers.crypto_path");
    if (!path.ok()) {
      return path.status();
    }
    batch_options.path = *path;
    absl::StatusOr<crypto::BatchEncryptor> encryptor =
        crypto::BatchEncryptor::Create(batch_options);
    if (!encryptor.ok()) {
      return encryptor.status();
    }
    parts->encryptor = std::make_unique<crypto::BatchEncryptor>(*encryptor);
    parts->builder = std::make_unique<worker::MessageBuilder>(*parts->tenants, *parts->encryptor,
                                                              *parts->tokens);
    absl::StatusOr<push::PushClientOptions> client_options = ClientOptions(c.push);
    if (!client_options.ok()) {
      return client_options.status();
    }
    absl::StatusOr<std::unique_ptr<push::PushClient>> client =
        push::PushClient::Create(*std::move(client_options));
    if (!client.ok()) {
      return client.status();
    }
    parts->client = *std::move(client);
    worker::PipelineOptions w;
    w.consumer = c.workers.consumer.empty() ? DefaultConsumer() : c.workers.consumer;
    w.encrypt_threads = c.workers.encrypt_threads > 0
                            ? c.workers.encrypt_threads
                            : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
    w.fetch_batches = static_cast<size_t>(c.workers.fetch_batches);
    w.max_leased_batches = static_cast<size_t>(c.workers.max_leased_batches);
    w.max_in_flight = static_cast<size_t>(c.workers.max_in_flight);
    w.lease = c.queue.lease;
    w.max_attempts = static_cast<uint32_t>(c.queue.max_attempts);
    w.metrics = parts->metrics.get();
    parts->pipeline = std::make_unique<worker::Pipeline>(*parts->store, *parts->client,
                                                         *parts->builder, std::move(w));
    Log(LogLevel::kInfo, "worker.starting",
        {{"consumer", c.workers.consumer.empty() ? DefaultConsumer() : c.workers.consumer},
         {"crypto_path", std::string(crypto::P256PathName(parts->encryptor->path()))}});
  }

  parts->executor = std::make_unique<service::ApiExecutor>(c.server.api_threads, 10'000);
  service::DispatcherServiceOptions api;
  api.mtls = !c.server.tls_client_ca_file.empty();
  api.max_backlog = c.queue.max_backlog;
  api.metrics = parts->metrics.get();
  parts->service = std::make_unique<service::DispatcherService>(
      *parts->store, *parts->tenants, *parts->policy, *parts->executor, api);

  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (!c.server.tls_cert_file.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    absl::StatusOr<std::string> cert = ReadFile(c.server.tls_cert_file, "server.tls.cert_file");
    absl::StatusOr<std::string> key = ReadFile(c.server.tls_key_file, "server.tls.key_file");
    if (!cert.ok() || !key.ok()) {
      return cert.ok() ? key.status() : cert.status();
    }
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    if (!c.server.tls_client_ca_file.empty()) {
      absl::StatusOr<std::string> ca =
          ReadFile(c.server.tls_client_ca_file, "server.tls.client_ca_file");
      if (!ca.ok()) {
        return ca.status();
      }
      ssl.pem_root_certs = *ca;
      // Requested and verified when sent; tenants with bearer tokens need no certificate.
      ssl.client_certificate_request = GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    credentials = grpc::SslServerCredentials(ssl);
  } else {
    if (!IsLoopback(c.server.listen) && !c.server.allow_plaintext) {
      return absl::InvalidArgumentError(
          "server.listen: plaintext gRPC on a non-loopback address needs server.allow_plaintext "
          "or server.tls");
    }
    credentials = grpc::InsecureServerCredentials();
  }

  grpc::EnableDefaultHealthCheckService(true);
  if (c.server.reflection) {
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort(c.server.listen, credentials, &parts->port);
  builder.RegisterService(parts->service.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(c.server.max_receive_bytes));
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<service::ApiMetricsInterceptorFactory>(*parts->metrics));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  parts->grpc_server = builder.BuildAndStart();
  if (parts->grpc_server == nullptr || parts->port == 0) {
    return absl::UnavailableError("server.listen: cannot listen on " + c.server.listen);
  }
  grpc::HealthCheckServiceInterface* health = parts->grpc_server->GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus(kServiceName, true);
    health->SetServingStatus(true);
  }
  if (!c.metrics.listen.empty()) {
    ObservabilityOptions o;
    o.listen = c.metrics.listen;
    o.tenants = tenant_names;
    absl::StatusOr<std::unique_ptr<Observability>> observability =
        Observability::Start(std::move(o), *parts->metrics, *parts->store);
    if (!observability.ok()) {
      parts->grpc_server->Shutdown();
      return observability.status();
    }
    parts->observability = *std::move(observability);
    parts->observability->Attach(parts->client.get(),
                                 parts->pipeline != nullptr ? &parts->pipeline->stats() : nullptr);
  }
  if (parts->pipeline != nullptr) {
    parts->pipeline->Start();
  }
  if (parts->observability != nullptr) {
    parts->observability->SetServing(true);
  }
  Log(LogLevel::kInfo, "server.started",
      {{"listen", c.server.listen},
       {"port", std::to_string(parts->port)},
       {"queue", c.queue.backend},
       {"tenants", std::to_string(c.tenants.size())},
       {"tls", c.server.tls_cert_file.empty() ? "off" : "on"},
       {"workers", c.workers.enabled ? "on" : "off"},
       {"metrics_port",
        std::to_string(parts->observability != nullptr ? parts->observability->port() : 0)}});
  return std::unique_ptr<Server>(new Server(std::move(parts)));
}

Server::Server(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Server::~Server() { Shutdown(parts_->config.server.shutdown_grace); }

int Server::port() const { return parts_->port; }

int Server::metrics_port() const {
  return parts_->observability != nullptr ? parts_->observability->port() : 0;
}

const metrics::WebpushMetrics& Server::metrics() const { return *parts_->metrics; }

void Server::Shutdown(absl::Duration grace) {
  {
    absl::MutexLock lock(&parts_->mu);
    if (parts_->shut_down) {
      return;
    }
    parts_->shut_down = true;
  }
  Parts& p = *parts_;
  Log(LogLevel::kInfo, "server.draining", {{"grace", absl::FormatDuration(grace)}});
  p.service->SetDraining(true);
  if (p.observability != nullptr) {
    p.observability->SetServing(false);  // /readyz: 503, the Service stops sending calls here
  }
  if (grpc::HealthCheckServiceInterface* health = p.grpc_server->GetHealthCheckService();
      health != nullptr) {
    health->SetServingStatus(false);
  }
  // At the same time: API calls get a short deadline (watchers reconnect to another replica),
  // and the pipeline stops taking batches at once and gets the grace for what is in flight.
  // (One after the other, the pipeline would keep fetching while the API winds down.)
  std::thread api_shutdown([&p] {
    p.grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  });
  if (p.pipeline != nullptr) {
    p.pipeline->Stop(grace);
  }
  api_shutdown.join();
  // Order matters: the client's destructor completes what is still pending, calling back into
  // the (stopped) pipeline, which lives on until the Server goes, with the stats.
  if (p.observability != nullptr) {
    p.observability->Detach();
  }
  p.client.reset();
  p.grpc_server->Wait();
  // The replica's own account, for operators (and the multi-replica test) once it is gone.
  if (p.pipeline != nullptr) {
    const worker::PipelineStats& s = p.pipeline->stats();
    Log(LogLevel::kInfo, "server.stopped",
        {{"delivered", std::to_string(s.delivered.load())},
         {"gone", std::to_string(s.gone.load())},
         {"rejected", std::to_string(s.rejected.load())},
         {"retried", std::to_string(s.retried.load())},
         {"leases", std::to_string(s.leases.load())}});
  } else {
    Log(LogLevel::kInfo, "server.stopped");
  }
}

const service::ApiStats& Server::api_stats() const { return parts_->service->stats(); }

const worker::PipelineStats* Server::pipeline_stats() const {
  return parts_->pipeline != nullptr ? &parts_->pipeline->stats() : nullptr;
}

}  // namespace webpush::dispatcher
