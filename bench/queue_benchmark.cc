// Benchmarks of the durable job queue (queue/redis_job_store.h) against a private redis-server
// with appendonly yes / appendfsync everysec: submit and consume+ack throughput in targets per
// second for stored batches of 100, 500 and 1000 targets of about 250 bytes, and a naive
// one-stream-entry-per-target baseline written with hiredis directly (style.md §9). Results are in
// bench/README.md, "Queue (Redis Streams)".

#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "queue/job.h"
#include "queue/job_store.h"
#include "queue/redis_job_store.h"
#include "tests/support/redis_process.h"

namespace webpush::queue {
namespace {

// One job of this many targets per iteration: 200 stored batches of 100, 20 of 1000.
constexpr size_t kTargetsPerJob = 20'000;
// A streaming caller (gRPC client-streaming upload) hands targets over in chunks of this size.
constexpr size_t kUploadChunk = 1000;
// Redis is emptied (timing paused) once this many targets were stored, so memory stays bounded.
constexpr size_t kClearAfterTargets = 200'000;
constexpr size_t kFetchBatches = 16;  // Fetch max_batches and max_in_flight
constexpr std::string_view kNaiveStream = "naive:work";
constexpr std::string_view kNaiveGroup = "workers";
// The bar of issue 3 ("Done when"), for the summary line.
constexpr double kBarTargetsPerSecond = 500'000;

// --- The private redis-server, shared by every benchmark of the run -----------------------------

::webpush::testing::RedisProcess* server = nullptr;  // created on first use, deleted by StopServer

// EnsureServer starts the server on first use; a failure is remembered and reported by every
// benchmark (SkipWithError), so a machine without redis-server still exits 0.
const absl::Status& EnsureServer() {
  static const absl::Status* status = [] {
    server = new ::webpush::testing::RedisProcess();
    return new absl::Status(server->Start());
  }();
  return *status;
}

void StopServer() {
  delete server;  // stops redis-server and removes its directory
  server = nullptr;
}

// RedisVersion is the first line of `redis-server --version`, for the benchmark context.
std::string RedisVersion() {
  std::string out;
  if (FILE* pipe = popen("redis-server --version 2>/dev/null", "r"); pipe != nullptr) {
    char line[256] = {};
    if (std::fgets(line, sizeof(line), pipe) != nullptr) {
      out = line;
    }
    pclose(pipe);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
    out.pop_back();
  }
  return out.empty() ? "redis-server not found" : out;
}

// --- Test data ----------------------------------------------------------------------------------

// Targets returns kTargetsPerJob distinct targets of about 250 bytes each: a 150-byte FCM-like
// endpoint, a 65-byte p256dh, a 16-byte auth secret and a 16-byte target id.
const std::vector<Target>& Targets() {
  static const std::vector<Target>* targets = [] {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::mt19937_64 rng(42);
    auto* out = new std::vector<Target>(kTargetsPerJob);
    for (size_t i = 0; i < out->size(); ++i) {
      Target& t = (*out)[i];
      t.endpoint = "https://fcm.googleapis.com/fcm/send/";
      while (t.endpoint.size() < 150) {
        t.endpoint.push_back(kAlphabet[rng() % 64]);
      }
      t.p256dh[0] = 0x04;
      for (size_t k = 1; k < t.p256dh.size(); ++k) {
        t.p256dh[k] = static_cast<uint8_t>(rng());
      }
      for (uint8_t& b : t.auth) {
        b = static_cast<uint8_t>(rng());
      }
      char id[32];
      std::snprintf(id, sizeof(id), "user-%011zu", i);
      t.target_id = id;
    }
    return out;
  }();
  return *targets;
}

JobSpec Spec() {
  JobSpec spec;
  spec.message.payload = std::string(1024, 'p');
  spec.message.ttl_seconds = 3600;
  spec.message.tenant = "bench";
  spec.message.labels = {{"campaign", "queue-bench"}};
  return spec;
}

// --- Our store ----------------------------------------------------------------------------------

// NewStore connects a RedisJobStore with `batch_size` to the private server and empties it.
// On failure it marks `state` skipped and returns null.
std::unique_ptr<RedisJobStore> NewStore(benchmark::State& state, size_t batch_size) {
  if (const absl::Status& s = EnsureServer(); !s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
    return nullptr;
  }
  RedisOptions redis;
  redis.port = server->port();
  redis.key_prefix = "wpbench";
  redis.reconnect_deadline = absl::Seconds(5);
  JobStoreOptions options;
  options.batch_size = batch_size;
  options.max_backlog = int64_t{1} << 50;  // the benchmark measures throughput, not limits
  options.max_backlog_per_tenant = int64_t{1} << 50;
  absl::StatusOr<std::unique_ptr<RedisJobStore>> store = RedisJobStore::Create(redis, options);
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return nullptr;
  }
  if (absl::Status s = (*store)->DeleteAllForTest(); !s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
    return nullptr;
  }
  return *std::move(store);
}

// SubmitJob stores one job of every target through BeginUpload / Add (in chunks) / Commit.
absl::Status SubmitJob(RedisJobStore& store, const JobSpec& spec) {
  absl::StatusOr<std::unique_ptr<JobUpload>> upload = store.BeginUpload(spec);
  if (!upload.ok()) {
    return upload.status();
  }
  const std::span<const Target> all(Targets());
  for (size_t i = 0; i < all.size(); i += kUploadChunk) {
    if (absl::Status s = (*upload)->Add(all.subspan(i, std::min(kUploadChunk, all.size() - i)));
        !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<SubmitResult> result = (*upload)->Commit();
  if (!result.ok()) {
    return result.status();
  }
  return result->targets == static_cast<int64_t>(all.size())
             ? absl::OkStatus()
             : absl::InternalError("commit stored a different number of targets");
}

// BM_Submit: one job of kTargetsPerJob targets per iteration, cut into stored batches of `batch`.
void BM_Submit(benchmark::State& state) {
  std::unique_ptr<RedisJobStore> store = NewStore(state, static_cast<size_t>(state.range(0)));
  if (!store) {
    return;
  }
  const JobSpec spec = Spec();
  size_t stored = 0;
  for (auto _ : state) {
    if (absl::Status s = SubmitJob(*store, spec); !s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
    stored += kTargetsPerJob;
    if (stored >= kClearAfterTargets) {
      state.PauseTiming();
      if (absl::Status s = store->DeleteAllForTest(); !s.ok()) {
        state.SkipWithError(std::string(s.message()).c_str());
        return;
      }
      stored = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kTargetsPerJob));
}

// ConsumeAll leases, records (all delivered) and acknowledges as `consumer` until `done` (shared by
// all consumers of the job) reaches `targets`, as a dispatcher's consumer loop would with instant
// deliveries.
absl::Status ConsumeAll(RedisJobStore& store, const std::string& consumer, size_t targets,
                        std::atomic<size_t>& done) {
  std::vector<TargetResult> results;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (done.load(std::memory_order_relaxed) < targets) {
    absl::StatusOr<std::vector<Lease>> leases =
        store.Fetch(consumer, kFetchBatches, kFetchBatches, absl::ZeroDuration());
    if (!leases.ok()) {
      return leases.status();
    }
    if (leases->empty() && absl::Now() > deadline) {
      return absl::DeadlineExceededError("Fetch returned nothing while targets were left");
    }
    for (const Lease& lease : *leases) {
      results.clear();
      for (const LeasedTarget& t : lease.targets) {
        results.push_back(TargetResult{t.index, Outcome::kDelivered, {}, absl::InfinitePast()});
      }
      if (absl::Status s = store.Record(lease, results); !s.ok()) {
        return s;
      }
      if (absl::Status s = store.Ack(lease); !s.ok()) {
        return s;
      }
      done.fetch_add(lease.targets.size(), std::memory_order_relaxed);
    }
  }
  return absl::OkStatus();
}

// ConsumeJob runs `consumers` consumer loops (one on this thread, the others on their own
// threads, as a dispatcher's workers would) until the job's targets are all done.
absl::Status ConsumeJob(RedisJobStore& store, int consumers) {
  std::atomic<size_t> done{0};
  std::vector<absl::Status> statuses(static_cast<size_t>(consumers));
  std::vector<std::thread> threads;
  for (int i = 1; i < consumers; ++i) {
    threads.emplace_back([&store, &done, &statuses, i] {
      statuses[static_cast<size_t>(i)] =
          ConsumeAll(store, "bench-consumer-" + std::to_string(i), kTargetsPerJob, done);
    });
  }
  statuses[0] = ConsumeAll(store, "bench-consumer-0", kTargetsPerJob, done);
  for (std::thread& t : threads) {
    t.join();
  }
  for (const absl::Status& s : statuses) {
    if (!s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// BM_ConsumeAck: one job of kTargetsPerJob targets is submitted (not timed), then consumed by
// `consumers` consumers with Fetch (16 batches) + Record (every target delivered) + Ack of each
// lease (timed).
void BM_ConsumeAck(benchmark::State& state) {
  std::unique_ptr<RedisJobStore> store = NewStore(state, static_cast<size_t>(state.range(0)));
  if (!store) {
    return;
  }
  const auto consumers = static_cast<int>(state.range(1));
  const JobSpec spec = Spec();
  size_t stored = 0;
  for (auto _ : state) {
    state.PauseTiming();
    if (stored >= kClearAfterTargets) {
      if (absl::Status s = store->DeleteAllForTest(); !s.ok()) {
        state.SkipWithError(std::string(s.message()).c_str());
        return;
      }
      stored = 0;
    }
    if (absl::Status s = SubmitJob(*store, spec); !s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
    stored += kTargetsPerJob;
    state.ResumeTiming();
    if (absl::Status s = ConsumeJob(*store, consumers); !s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kTargetsPerJob));
}

// --- Naive baseline: one stream entry per target, hiredis directly -------------------------------

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;
using Args = std::vector<std::string_view>;

// Pipeline sends `commands` at once and returns their replies; an error reply is an error.
absl::StatusOr<std::vector<ReplyPtr>> Pipeline(redisContext* c, const std::vector<Args>& commands) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const Args& command : commands) {
    argv.clear();
    lens.clear();
    for (const std::string_view arg : command) {
      argv.push_back(arg.data());
      lens.push_back(arg.size());
    }
    if (redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      return absl::UnavailableError(c->errstr);
    }
  }
  std::vector<ReplyPtr> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
      return absl::UnavailableError(c->errstr);
    }
    replies.emplace_back(static_cast<redisReply*>(raw));
    if (replies.back()->type == REDIS_REPLY_ERROR) {
      return absl::InternalError(std::string(replies.back()->str, replies.back()->len));
    }
  }
  return replies;
}

// Connect opens a hiredis connection to the private server and empties it.
ContextPtr Connect(benchmark::State& state) {
  if (const absl::Status& s = EnsureServer(); !s.ok()) {
    state.SkipWithError(std::string(s.message()).c_str());
    return nullptr;
  }
  ContextPtr c(redisConnect("127.0.0.1", server->port()));
  if (c == nullptr || c->err != 0) {
    state.SkipWithError("cannot connect to the private redis-server");
    return nullptr;
  }
  if (absl::StatusOr<std::vector<ReplyPtr>> r = Pipeline(c.get(), {{"FLUSHALL"}}); !r.ok()) {
    state.SkipWithError(std::string(r.status().message()).c_str());
    return nullptr;
  }
  return c;
}

Args XaddArgs(const Target& t) {
  return {"XADD",
          kNaiveStream,
          "*",
          "endpoint",
          t.endpoint,
          "p256dh",
          std::string_view(reinterpret_cast<const char*>(t.p256dh.data()), t.p256dh.size()),
          "auth",
          std::string_view(reinterpret_cast<const char*>(t.auth.data()), t.auth.size()),
          "id",
          t.target_id};
}

// XaddAll writes one entry per target, `pipeline` commands per round trip.
absl::Status XaddAll(redisContext* c, size_t pipeline) {
  std::vector<Args> commands;
  const std::vector<Target>& targets = Targets();
  for (size_t i = 0; i < targets.size(); ++i) {
    commands.push_back(XaddArgs(targets[i]));
    if (commands.size() == pipeline || i + 1 == targets.size()) {
      if (absl::StatusOr<std::vector<ReplyPtr>> r = Pipeline(c, commands); !r.ok()) {
        return r.status();
      }
      commands.clear();
    }
  }
  return absl::OkStatus();
}

// BM_NaiveXaddPerTarget: one XADD per target (endpoint, p256dh, auth, id), `pipeline` XADDs per
// round trip: what a queue without batches does.
void BM_NaiveXaddPerTarget(benchmark::State& state) {
  ContextPtr c = Connect(state);
  if (!c) {
    return;
  }
  const auto pipeline = static_cast<size_t>(state.range(0));
  size_t stored = 0;
  for (auto _ : state) {
    if (absl::Status s = XaddAll(c.get(), pipeline); !s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      return;
    }
    stored += kTargetsPerJob;
    if (stored >= kClearAfterTargets) {
      state.PauseTiming();
      (void)Pipeline(c.get(), {{"DEL", kNaiveStream}});
      stored = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kTargetsPerJob));
}

// ReadAndAck reads up to 100 entries with XREADGROUP, copies each into a Target (as a consumer
// must) and acknowledges them with one XACK per target, pipelined. Returns the count read.
absl::StatusOr<size_t> ReadAndAck(redisContext* c, std::vector<Target>& out) {
  absl::StatusOr<std::vector<ReplyPtr>> read = Pipeline(
      c,
      {{"XREADGROUP", "GROUP", kNaiveGroup, "c1", "COUNT", "100", "STREAMS", kNaiveStream, ">"}});
  if (!read.ok()) {
    return read.status();
  }
  const redisReply* streams = read->front().get();
  if (streams->type != REDIS_REPLY_ARRAY || streams->elements == 0) {
    return 0;
  }
  const redisReply* entries = streams->element[0]->element[1];
  std::vector<Args> acks;
  out.clear();
  for (size_t i = 0; i < entries->elements; ++i) {
    const redisReply* entry = entries->element[i];
    const redisReply* fields = entry->element[1];
    Target& t = out.emplace_back();
    for (size_t f = 0; f + 1 < fields->elements; f += 2) {
      const std::string_view name(fields->element[f]->str, fields->element[f]->len);
      const redisReply* value = fields->element[f + 1];
      if (name == "endpoint") {
        t.endpoint.assign(value->str, value->len);
      } else if (name == "p256dh" && value->len == t.p256dh.size()) {
        std::memcpy(t.p256dh.data(), value->str, value->len);
      } else if (name == "auth" && value->len == t.auth.size()) {
        std::memcpy(t.auth.data(), value->str, value->len);
      } else if (name == "id") {
        t.target_id.assign(value->str, value->len);
      }
    }
    acks.push_back({"XACK", kNaiveStream, kNaiveGroup,
                    std::string_view(entry->element[0]->str, entry->element[0]->len)});
  }
  if (absl::StatusOr<std::vector<ReplyPtr>> r = Pipeline(c, acks); !r.ok()) {
    return r.status();
  }
  return entries->elements;
}

// BM_NaiveConsumePerTarget: entries written by the naive producer (not timed) are consumed with
// XREADGROUP COUNT 100 and one XACK per target (timed).
void BM_NaiveConsumePerTarget(benchmark::State& state) {
  ContextPtr c = Connect(state);
  if (!c) {
    return;
  }
  std::vector<Target> read;
  for (auto _ : state) {
    state.PauseTiming();
    absl::Status setup = absl::OkStatus();
    if (absl::StatusOr<std::vector<ReplyPtr>> r =
            Pipeline(c.get(), {{"DEL", kNaiveStream},
                               {"XGROUP", "CREATE", kNaiveStream, kNaiveGroup, "0", "MKSTREAM"}});
        !r.ok()) {
      setup = r.status();
    } else {
      setup = XaddAll(c.get(), 1000);
    }
    if (!setup.ok()) {
      state.SkipWithError(std::string(setup.message()).c_str());
      return;
    }
    state.ResumeTiming();
    size_t done = 0;
    while (done < kTargetsPerJob) {
      absl::StatusOr<size_t> n = ReadAndAck(c.get(), read);
      if (!n.ok() || *n == 0) {
        state.SkipWithError(n.ok() ? "stream drained early"
                                   : std::string(n.status().message()).c_str());
        return;
      }
      done += *n;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kTargetsPerJob));
}

BENCHMARK(BM_Submit)->ArgNames({"batch"})->Arg(100)->Arg(500)->Arg(1000)->UseRealTime()->Unit(
    benchmark::kMillisecond);
BENCHMARK(BM_ConsumeAck)
    ->ArgNames({"batch", "consumers"})
    ->ArgsProduct({{100, 500, 1000}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NaiveXaddPerTarget)
    ->ArgNames({"pipeline"})
    ->Arg(1000)
    ->Arg(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NaiveConsumePerTarget)->UseRealTime()->Unit(benchmark::kMillisecond);

// --- Summary ------------------------------------------------------------------------------------

// SummaryReporter prints as the console reporter does, keeps items/s per benchmark (the median
// when repeated) and prints one comparison block at the end.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& reports) override {
    ConsoleReporter::ReportRuns(reports);
    for (const Run& run : reports) {
      const auto it = run.counters.find("items_per_second");
      const bool usable =
          run.run_type == Run::RT_Iteration ? run.repetitions <= 1 : run.aggregate_name == "median";
      if (!run.error_occurred && usable && it != run.counters.end()) {
        rates_[run.run_name.function_name + "/" + run.run_name.args] = it->second.value;
      }
    }
  }

  void PrintSummary() const {
    const double naive_submit = Rate("BM_NaiveXaddPerTarget/pipeline:1000");
    const double naive_consume = Rate("BM_NaiveConsumePerTarget/");
    std::printf("\nQueue summary, targets/s (median when repeated); bar %.0f targets/s\n",
                kBarTargetsPerSecond);
    for (const char* batch : {"100", "500", "1000"}) {
      const double submit = Rate(std::string("BM_Submit/batch:") + batch);
      const double consume = Rate(std::string("BM_ConsumeAck/batch:") + batch + "/consumers:1");
      const double consume2 = Rate(std::string("BM_ConsumeAck/batch:") + batch + "/consumers:2");
      std::printf(
          "  batch %4s: submit %8.0f (%5.2fx naive XADD, %s); consume+ack, 1 consumer %8.0f "
          "(%5.2fx naive consume, %s), 2 consumers %8.0f (%s)\n",
          batch, submit, Ratio(submit, naive_submit), Verdict(submit), consume,
          Ratio(consume, naive_consume), Verdict(consume), consume2, Verdict(consume2));
    }
    std::printf("  naive: XADD per target pipelined %.0f, unpipelined %.0f; consume %.0f\n",
                naive_submit, Rate("BM_NaiveXaddPerTarget/pipeline:1"), naive_consume);
  }

 private:
  double Rate(const std::string& name) const {
    const auto it = rates_.find(name);
    return it == rates_.end() ? 0 : it->second;
  }
  static double Ratio(double a, double b) { return b > 0 ? a / b : 0; }
  static const char* Verdict(double rate) {
    return rate <= 0 ? "not run" : rate >= kBarTargetsPerSecond ? "meets bar" : "BELOW BAR";
  }

  std::map<std::string, double> rates_;
};

}  // namespace
}  // namespace webpush::queue

int main(int argc, char** argv) {
  // Our reporter replaces the console one only when the console format is asked for.
  bool console = true;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--benchmark_format=") && arg != "--benchmark_format=console") {
      console = false;
    }
  }
  benchmark::AddCustomContext(
      "redis", webpush::queue::RedisVersion() + "; private, appendonly yes, appendfsync everysec");
  benchmark::AddCustomContext("targets_per_iteration",
                              std::to_string(webpush::queue::kTargetsPerJob));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  if (console) {
    webpush::queue::SummaryReporter reporter(isatty(STDOUT_FILENO) != 0
                                                 ? benchmark::ConsoleReporter::OO_Color
                                                 : benchmark::ConsoleReporter::OO_None);
    benchmark::RunSpecifiedBenchmarks(&reporter);
    reporter.PrintSummary();
  } else {
    benchmark::RunSpecifiedBenchmarks();
  }
  webpush::queue::StopServer();
  benchmark::Shutdown();
  return 0;
}
