#include "dispatcher/push/push_client.h"

#include <openssl/ssl.h>
#include <pthread.h>

#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "dispatcher/push/internal/origin_pool.h"

namespace webpush::dispatcher::push {

using internal::AtomicStats;
using internal::Job;
using internal::OriginPool;

absl::StatusOr<ResolveOverride> ParseResolveOverride(std::string_view text,
                                                     std::string_view field) {
  // HOST:PORT:ADDRESS, ADDRESS possibly a bracketed IPv6 literal, as curl's --resolve.
  const size_t first = text.find(':');
  const size_t second = first == std::string_view::npos ? first : text.find(':', first + 1);
  if (second == std::string_view::npos) {
    return absl::InvalidArgumentError(std::string(field) + ": expected HOST:PORT:ADDRESS");
  }
  ResolveOverride o;
  absl::StatusOr<HostRule> rule =
      ParseHostRule(std::string(text.substr(0, second)), field);  // checks host and port
  if (!rule.ok() || rule->suffix) {
    return absl::InvalidArgumentError(std::string(field) + ": expected HOST:PORT:ADDRESS");
  }
  o.host = rule->host;  // lower-cased, as the pools compare it
  o.port = rule->port;
  std::string address(text.substr(second + 1));
  if (address.size() > 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  asio::error_code ec;
  asio::ip::make_address(address, ec);
  if (ec) {
    return absl::InvalidArgumentError(std::string(field) + ": '" + address +
                                      "' is not an IP address");
  }
  o.address = std::move(address);
  return o;
}

class PushClient::Impl {
 public:
  Impl(PushClientOptions options, SSL_CTX* tls)
      : options_(std::move(options)),
        policy_(options_.policy),
        tls_(tls),  // owns the SSL_CTX from here on
        work_(asio::make_work_guard(io_)),
        tick_(io_) {
    for (const ResolveOverride& o : options_.resolve) {
      policy_.AllowPrivateAddresses(o.host);
    }
    shared_.io = &io_;
    shared_.tls = &tls_;
    shared_.options = &options_;
    shared_.policy = &policy_;
    shared_.stats = &stats_;
    ScheduleTick();
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "wp-push");  // `top -H` names the stage
      io_.run();
    });
  }

  ~Impl() {
    std::promise<void> stopped;
    asio::post(io_, [this, &stopped] {
      stopping_ = true;
      DrainInbox();  // pools are stopping: these complete as "client stopped"
      tick_.cancel();
      for (auto& [origin, pool] : pools_) {
        pool->Stop();
      }
      stopped.set_value();
    });
    stopped.get_future().wait();
    work_.reset();
    io_.stop();
    thread_.join();
    pools_.clear();
  }

  absl::Status Send(PushRequest request, PushCallback done, bool flush) {
    absl::StatusOr<Endpoint> endpoint = policy_.Check(request.endpoint, "endpoint");
    if (!endpoint.ok()) {
      AtomicStats::Add(stats_.requests_refused);
      return endpoint.status();
    }
    if (request.ttl_seconds < 0) {
      return absl::InvalidArgumentError("ttl: must not be negative");
    }
    auto job = std::make_unique<Job>();
    job->path = std::move(endpoint->path);
    job->ttl = std::to_string(request.ttl_seconds);
    job->content_length = std::to_string(request.body.size());
    job->request = std::move(request);
    job->done = std::move(done);
    AtomicStats::Add(stats_.requests_accepted);
    Incoming incoming;
    incoming.host = std::move(endpoint->host);
    incoming.port = endpoint->port;
    incoming.origin = std::move(endpoint->origin);
    incoming.service = std::move(endpoint->service);
    incoming.job = std::move(job);
    bool wake = false;
    {
      std::lock_guard lock(inbox_mu_);
      inbox_.push_back(std::move(incoming));
      wake = flush && !drain_posted_;
      drain_posted_ = drain_posted_ || wake;
    }
    // One wake-up of the loop per burst of Send calls, not one per request.
    if (wake) {
      asio::post(io_, [this] { DrainInbox(); });
    }
    return absl::OkStatus();
  }

  void Flush() {
    bool wake = false;
    {
      std::lock_guard lock(inbox_mu_);
      wake = !inbox_.empty() && !drain_posted_;
      drain_posted_ = drain_posted_ || wake;
    }
    if (wake) {
      asio::post(io_, [this] { DrainInbox(); });
    }
  }

  std::vector<OriginSnapshot> Origins() {
    auto result = std::make_shared<std::promise<std::vector<OriginSnapshot>>>();
    std::future<std::vector<OriginSnapshot>> future = result->get_future();
    asio::post(io_, [this, result] {
      std::vector<OriginSnapshot> out;
      out.reserve(pools_.size());
      for (const auto& [origin, pool] : pools_) {
        OriginSnapshot s;
        s.origin = origin;
        s.push_service = pool->service();
        s.connections_open = pool->connections_open();
        s.streams_in_flight = pool->streams_in_flight();
        s.queued = pool->queued();
        out.push_back(std::move(s));
      }
      result->set_value(std::move(out));
    });
    if (future.wait_for(std::chrono::seconds(1)) != std::future_status::ready) {
      return {};
    }
    return future.get();
  }

  PushClientStats stats() const {
    PushClientStats s;
    auto get = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
    s.requests_accepted = get(stats_.requests_accepted);
    s.requests_refused = get(stats_.requests_refused);
    s.streams_opened = get(stats_.streams_opened);
    s.responses = get(stats_.responses);
    s.delivered = get(stats_.delivered);
    s.gone = get(stats_.gone);
    s.too_large = get(stats_.too_large);
    s.rejected = get(stats_.rejected);
    s.failed = get(stats_.failed);
    s.retries = get(stats_.retries);
    s.refused_streams = get(stats_.refused_streams);
    s.goaways = get(stats_.goaways);
    s.timeouts = get(stats_.timeouts);
    s.connections_lost = get(stats_.connections_lost);
    s.connections_opened = get(stats_.connections_opened);
    s.connect_failures = get(stats_.connect_failures);
    s.origin_throttles = get(stats_.origin_throttles);
    s.pings_sent = get(stats_.pings_sent);
    s.tls_resumptions = get(stats_.tls_resumptions);
    return s;
  }

 private:
  struct Incoming {
    std::string host;
    uint16_t port = 443;
    std::string origin;
    std::string service;
    std::unique_ptr<Job> job;
  };

  void DrainInbox() {
    std::vector<Incoming> batch;
    {
      std::lock_guard lock(inbox_mu_);
      batch.swap(inbox_);
      drain_posted_ = false;  // later Sends post again
    }
    for (Incoming& in : batch) {
      auto& pool = pools_[in.origin];
      if (pool == nullptr) {
        pool = std::make_unique<OriginPool>(shared_, std::move(in.host), in.port,
                                            std::move(in.service));
      }
      if (stopping_) {
        pool->Stop();
      }
      pool->Enqueue(std::move(in.job));
    }
  }

  // One timer for all pools: deadlines, PINGs, idle connections and due retries are checked
  // every kTick, which is far cheaper than a timer per request.
  static constexpr std::chrono::milliseconds kTick{50};

  void ScheduleTick() {
    tick_.expires_after(kTick);
    tick_.async_wait([this](const asio::error_code& ec) {
      if (ec || stopping_) {
        return;
      }
      const absl::Time now = absl::Now();
      for (auto& [origin, pool] : pools_) {
        pool->Tick(now);
      }
      ScheduleTick();
    });
  }

  PushClientOptions options_;
  EndpointPolicy policy_;
  asio::ssl::context tls_;
  AtomicStats stats_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer tick_;
  internal::ClientShared shared_;
  std::unordered_map<std::string, std::unique_ptr<OriginPool>> pools_;
  bool stopping_ = false;
  std::mutex inbox_mu_;
  std::vector<Incoming> inbox_;  // Send → loop hand-over, drained in bursts
  bool drain_posted_ = false;    // a DrainInbox is queued on the loop (guarded by inbox_mu_)
  std::thread thread_;
};

absl::StatusOr<std::unique_ptr<PushClient>> PushClient::Create(PushClientOptions options) {
  if (options.max_connections_per_origin < 1 || options.max_streams_per_connection < 1) {
    return absl::InvalidArgumentError(
        "max_connections_per_origin and max_streams_per_connection: must be at least 1");
  }
  if (options.max_attempts < 1) {
    return absl::InvalidArgumentError("max_attempts: must be at least 1");
  }
  absl::StatusOr<SSL_CTX*> tls = internal::MakeClientTlsContext(options.ca_file);
  if (!tls.ok()) {
    return tls.status();
  }
  return std::unique_ptr<PushClient>(
      new PushClient(std::make_unique<Impl>(std::move(options), *tls)));
}

PushClient::PushClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PushClient::~PushClient() = default;

absl::Status PushClient::Send(PushRequest request, PushCallback done, bool flush) {
  return impl_->Send(std::move(request), std::move(done), flush);
}

void PushClient::Flush() { impl_->Flush(); }

PushClientStats PushClient::stats() const { return impl_->stats(); }

std::vector<OriginSnapshot> PushClient::Origins() const { return impl_->Origins(); }

}  // namespace webpush::dispatcher::push
