// HTTP/2 push client throughput against a real server (nghttpd, started by
// bench/run_push_comparison.sh, which also runs h2load against the same server as the
// reference). Reports requests per wall second and per CPU second of this whole process (the
// client's event loop thread plus the submitting thread), the figure compared with h2load.
//
// Environment: WEBPUSH_PUSH_BENCH_TARGET=host:port:address (the server), WEBPUSH_PUSH_BENCH_CA
// (its CA certificate). Without them the benchmarks are skipped.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>

#include "dispatcher/push/push_client.h"

namespace {

namespace push = webpush::dispatcher::push;

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// A VAPID header of realistic size (a real ES256 JWT and key are about this long).
const std::string kAuthorization =
    "vapid t=eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJhdWQiOiJodHRwczovL3B1c2gudGVzdC5leGFtcGxlOj"
    "E4NDQzIiwiZXhwIjoxNzk0NDQ0NDQ0LCJzdWIiOiJtYWlsdG86b3BzQGV4YW1wbGUuY29tIn0.MEUCIQDx5KZ3tVRl"
    "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG9mcmVkcGx1Z3h5enp5, k=BC38Hg7sH5D8zk3Lf"
    "hTbwV3RGwTeeMjSf39cXAvAyjQz7kCqZTZT1c4wBd6ke1eyWS8qDVh6vPEvAoLhJBl7Sg8";

void BM_PushClient(benchmark::State& state) {
  const char* target = std::getenv("WEBPUSH_PUSH_BENCH_TARGET");
  const char* ca = std::getenv("WEBPUSH_PUSH_BENCH_CA");
  if (target == nullptr || ca == nullptr) {
    state.SkipWithError(
        "set WEBPUSH_PUSH_BENCH_TARGET and WEBPUSH_PUSH_BENCH_CA "
        "(bench/run_push_comparison.sh does)");
    return;
  }
  const size_t body_size = static_cast<size_t>(state.range(0));
  const int connections = static_cast<int>(state.range(1));
  constexpr int kStreamsPerConnection = 100;
  constexpr int kRequestsPerIteration = 2000;

  absl::StatusOr<push::ResolveOverride> resolve = push::ParseResolveOverride(target, "target");
  if (!resolve.ok()) {
    state.SkipWithError(std::string(resolve.status().message()).c_str());
    return;
  }
  push::PushClientOptions options;
  options.ca_file = ca;
  options.resolve.push_back(*resolve);
  push::HostRule rule;
  rule.host = resolve->host;
  rule.port = resolve->port;
  options.policy.rules.push_back(rule);
  options.max_connections_per_origin = connections;
  options.max_streams_per_connection = kStreamsPerConnection;
  absl::StatusOr<std::unique_ptr<push::PushClient>> client =
      push::PushClient::Create(std::move(options));
  if (!client.ok()) {
    state.SkipWithError(std::string(client.status().message()).c_str());
    return;
  }
  const std::string endpoint = "https://" + resolve->host + ":" + std::to_string(resolve->port) +
                               "/push/subscription-token-0123456789abcdef";
  const std::vector<uint8_t> body(body_size, 0x5a);

  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  uint64_t delivered = 0;
  uint64_t other = 0;
  // Twice the streams the connections can carry are handed to the client, so that its queue never
  // runs dry and every connection keeps 100 streams open, as h2load -m 100 does.
  const int window = 2 * connections * kStreamsPerConnection;
  // The submitter refills in bursts of a quarter window, so that neither side wakes the other
  // for every single request (as an application feeding the client from batches would).
  const int low_water = window - window / 4;
  auto make_request = [&] {
    push::PushRequest request;
    request.endpoint = endpoint;
    request.body = body;
    request.ttl_seconds = 60;
    request.authorization = kAuthorization;
    return request;
  };
  auto send_one = [&](push::PushRequest request) {
    {
      std::unique_lock lock(mu);
      if (in_flight >= window) {
        cv.wait(lock, [&] { return in_flight <= low_water; });
      }
      ++in_flight;
    }
    const absl::Status sent = (*client)->Send(std::move(request), [&](push::PushOutcome outcome) {
      std::lock_guard lock(mu);
      --in_flight;
      (outcome.result == push::PushResult::kDelivered ? delivered : other) += 1;
      if (in_flight == low_water || in_flight == 0) {
        cv.notify_all();
      }
    });
    if (!sent.ok()) {
      std::lock_guard lock(mu);
      --in_flight;
      ++other;
    }
  };
  // Warm up: connections open and TLS handshakes happen outside the measurement.
  for (int i = 0; i < window; ++i) {
    send_one(make_request());
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return in_flight == 0; });
  }
  // The requests are built outside the measurement: an application hands the client bodies it
  // already has (the encryption output), and h2load builds nothing per request either.
  double cpu = 0;
  uint64_t requests = 0;
  std::vector<push::PushRequest> batch;
  for (auto _ : state) {
    state.PauseTiming();
    batch.clear();
    for (int i = 0; i < kRequestsPerIteration; ++i) {
      batch.push_back(make_request());
    }
    state.ResumeTiming();
    const double cpu_start = ProcessCpuSeconds();
    for (push::PushRequest& request : batch) {
      send_one(std::move(request));
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return in_flight == 0; });
    cpu += ProcessCpuSeconds() - cpu_start;
    requests += kRequestsPerIteration;
  }
  state.SetItemsProcessed(static_cast<int64_t>(requests));
  state.counters["cpu_us_per_request"] = cpu * 1e6 / static_cast<double>(requests);
  state.counters["requests_per_cpu_second"] = static_cast<double>(requests) / cpu;
  if (other > 0) {
    state.SkipWithError(("not every request was delivered: " + std::to_string(other)).c_str());
  }
}

BENCHMARK(BM_PushClient)
    ->ArgNames({"body", "connections"})
    ->ArgsProduct({{1024, 4096}, {1, 2, 4}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
