// webpush_test_push_service: runs the test push service (tests/support/push_service) as a
// process for the demo and for manual runs. Prints `listening on 127.0.0.1:<port>` once ready,
// serves until SIGINT or SIGTERM, then prints a one-line summary and exits 0.
#include <signal.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "tests/support/push_service/test_push_service.h"

namespace {

using webpush::testing::FaultPlan;
using webpush::testing::Stats;
using webpush::testing::TestPushService;
using webpush::testing::TestSubscription;

struct Flags {
  TestPushService::Options options;
  std::string ca_out;
  int subscriptions = 0;
  std::string subscriptions_out;
  int gone_first = 0;
  std::vector<std::string> gone_tokens;
  int64_t response_delay_ms = 0;
};

void DeclareFlags(CLI::App& app, Flags& f) {
  TestPushService::Options& o = f.options;
  FaultPlan& p = o.faults;
  app.add_option("--port", o.port, "Port on 127.0.0.1 (0 = a free one)")->capture_default_str();
  app.add_option("--host-name", o.host_name, "Host name in endpoints and the certificate")
      ->capture_default_str();
  app.add_option("--ca-out", f.ca_out, "Write a copy of the CA certificate (PEM) here");
  app.add_option("--subscriptions", f.subscriptions, "Create this many subscriptions")
      ->capture_default_str();
  app.add_option("--subscriptions-out", f.subscriptions_out,
                 "Write the subscriptions here, one PushSubscription JSON per line");
  app.add_option("--vapid-public-key", o.expected_vapid_public_key,
                 "Accept only this VAPID key (base64url); others get 403");
  app.add_option("--threads", o.threads, "io_context threads")->capture_default_str();
  app.add_option("--decrypt-every-n", o.decrypt_every_n,
                 "Decrypt only the 1st, (N+1)-th, ... body of each connection (headers and VAPID "
                 "are checked on every request); for benchmarks sharing the CPU")
      ->capture_default_str();
  // FaultPlan, one flag per field.
  app.add_option("--fail-first-per-token", p.fail_first_per_token,
                 "Answer the first N requests of each token with --fail-status")
      ->capture_default_str();
  app.add_option("--fail-status", p.fail_status, "Status for those (500, 503, 429, ...)")
      ->capture_default_str();
  app.add_option("--retry-after", p.retry_after, "Retry-After value sent with --fail-status");
  app.add_option("--gone-token", f.gone_tokens, "Answer this token --gone-status (repeatable)");
  app.add_option("--gone-first", f.gone_first,
                 "Make the first N of --subscriptions gone (answered --gone-status)")
      ->capture_default_str();
  app.add_option("--gone-status", p.gone_status, "404 or 410")->capture_default_str();
  app.add_option("--response-delay-ms", f.response_delay_ms, "Delay every answer")
      ->capture_default_str();
  app.add_option("--max-concurrent-streams", p.max_concurrent_streams,
                 "SETTINGS_MAX_CONCURRENT_STREAMS to advertise (0 = none)")
      ->capture_default_str();
  app.add_option("--goaway-every-n-streams", p.goaway_every_n_streams,
                 "GOAWAY after accepting N streams on a connection (0 = never)")
      ->capture_default_str();
  app.add_option("--refuse-every-n-streams", p.refuse_every_n_streams,
                 "RST_STREAM REFUSED_STREAM every N-th stream (0 = never)")
      ->capture_default_str();
  app.add_option("--drop-connection-every-n-streams", p.drop_connection_every_n_streams,
                 "Close a connection abruptly at its N-th request (0 = never)")
      ->capture_default_str();
  app.add_flag("--drop-after-record", p.drop_after_record,
               "Record the dropped request as delivered first");
}

bool WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  return static_cast<bool>(out);
}

std::string Summary(const Stats& s) {
  std::string out =
      "summary: requests=" + std::to_string(s.requests) +
      " delivered=" + std::to_string(s.delivered) +
      " connections=" + std::to_string(s.connections_accepted) +
      " max_concurrent_streams_seen=" + std::to_string(s.max_concurrent_streams_seen) +
      " status_counts={";
  bool first = true;
  for (const auto& [status, count] : s.status_counts) {
    out += (first ? "" : ",") + std::to_string(status) + ":" + std::to_string(count);
    first = false;
  }
  out += "} refused_streams=" + std::to_string(s.refused_streams) +
         " goaways_sent=" + std::to_string(s.goaways_sent) +
         " dropped_connections=" + std::to_string(s.dropped_connections) +
         " http1_connections=" + std::to_string(s.http1_connections) +
         " http1_requests=" + std::to_string(s.http1_requests) +
         " bodies_not_decrypted=" + std::to_string(s.bodies_not_decrypted);
  return out;
}

int Run(int argc, char** argv) {
  CLI::App app{
      "webpush_test_push_service: a local Web Push service (HTTP/2 or HTTP/1.1 over TLS) for "
      "tests"};
  Flags flags;
  DeclareFlags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (flags.subscriptions < 0 || flags.gone_first < 0 || flags.gone_first > flags.subscriptions ||
      flags.response_delay_ms < 0) {
    std::cerr << "webpush_test_push_service: counts must be >= 0 and --gone-first <= "
                 "--subscriptions\n";
    return 2;
  }
  flags.options.faults.response_delay = std::chrono::milliseconds(flags.response_delay_ms);
  flags.options.faults.gone_tokens.insert(flags.gone_tokens.begin(), flags.gone_tokens.end());

  // Block the stop signals before any thread starts, so every thread inherits the mask and
  // sigwait below is the only place they arrive.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<TestPushService>> service = TestPushService::Start(flags.options);
  if (!service.ok()) {
    std::cerr << "webpush_test_push_service: " << service.status().message() << "\n";
    return 1;
  }
  TestPushService& svc = **service;

  if (!flags.ca_out.empty()) {
    std::error_code ec;
    std::filesystem::copy_file(svc.ca_file(), flags.ca_out,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) {
      std::cerr << "webpush_test_push_service: --ca-out: " << ec.message() << "\n";
      return 1;
    }
  }
  std::string lines;
  FaultPlan faults = flags.options.faults;
  for (int i = 0; i < flags.subscriptions; ++i) {
    const TestSubscription sub = svc.AddSubscription();
    lines += sub.ToJson() + "\n";
    if (i < flags.gone_first) {
      faults.gone_tokens.insert(sub.token);
    }
  }
  if (flags.gone_first > 0) {
    svc.SetFaults(faults);
  }
  if (!flags.subscriptions_out.empty() && !WriteFile(flags.subscriptions_out, lines)) {
    std::cerr << "webpush_test_push_service: --subscriptions-out: cannot write "
              << flags.subscriptions_out << "\n";
    return 1;
  }

  std::cout << "listening on 127.0.0.1:" << svc.port() << std::endl;  // flushed: scripts wait
  int signal = 0;
  sigwait(&stop_signals, &signal);
  const Stats stats = svc.stats();
  service->reset();
  std::cout << Summary(stats) << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // CLI11 reports errors by exception; none may escape main (style.md §5).
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "webpush_test_push_service: " << e.what() << "\n";
    return 1;
  }
}
