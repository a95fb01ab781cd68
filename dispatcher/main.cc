// webpushd: the batch Web Push dispatcher service. Loads the configuration (YAML file,
// WEBPUSHD__* environment variables, --set flags), starts the server and runs until SIGTERM or
// SIGINT, then drains (dispatcher/server.h). Everything else lives in the library.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "dispatcher/config/config_loader.h"
#include "dispatcher/log.h"
#include "dispatcher/server.h"

namespace {

int Run(int argc, char** argv) {
  using webpush::dispatcher::LogLevel;
  namespace config = webpush::dispatcher::config;

  CLI::App app{"webpushd: batch Web Push dispatcher (gRPC API, Redis Streams queue, HTTP/2 sends)"};
  config::ConfigSources sources;
  bool print_config = false;
  bool print_default = false;
  bool check_config = false;
  app.add_option("-c,--config", sources.yaml_file, "YAML configuration file (default: built-in)");
  app.add_option("--set", sources.overrides,
                 "Override one key, e.g. --set queue.redis.host=10.0.0.5 (repeatable; wins over "
                 "the file and WEBPUSHD__* variables)");
  app.add_flag("--print-config", print_config,
               "Print the effective configuration (secrets redacted) and exit");
  app.add_flag("--print-default-config", print_default,
               "Print the documented default configuration and exit");
  app.add_flag("--check-config", check_config,
               "Load and check the configuration (secret and key files too) and exit");
  CLI11_PARSE(app, argc, argv);

  if (print_default) {
    std::cout << config::DefaultConfigYaml();
    return 0;
  }
  sources.environment = config::CurrentEnvironment();
  absl::StatusOr<config::ServiceConfig> loaded = config::LoadConfig(sources);
  if (!loaded.ok()) {
    std::fprintf(stderr, "webpushd: configuration: %s\n",
                 std::string(loaded.status().message()).c_str());
    return 2;
  }
  if (print_config) {
    std::cout << config::PrintConfig(*loaded);
    return 0;
  }
  if (check_config) {
    std::cout << "webpushd: configuration OK (" << loaded->tenants.size() << " tenants)\n";
    return 0;
  }
  absl::StatusOr<LogLevel> level = webpush::dispatcher::ParseLogLevel(loaded->log.level);
  webpush::dispatcher::ConfigureLogging(level.ok() ? *level : LogLevel::kInfo,
                                        loaded->log.format == "json");

  // Signals are taken synchronously by this thread: blocked before any other thread starts, so
  // every thread inherits the mask and none is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const absl::Duration grace = loaded->server.shutdown_grace;
  absl::StatusOr<std::unique_ptr<webpush::dispatcher::Server>> server =
      webpush::dispatcher::Server::Start(*std::move(loaded));
  if (!server.ok()) {
    std::fprintf(stderr, "webpushd: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  // The lines scripts and tests wait for (the metrics line first: it is there when they see the
  // gRPC one).
  if ((*server)->metrics_port() != 0) {
    std::printf("webpushd: serving metrics on port %d\n", (*server)->metrics_port());
  }
  std::printf("webpushd: serving gRPC on port %d\n", (*server)->port());
  std::fflush(stdout);
  int received = 0;
  sigwait(&signals, &received);
  webpush::dispatcher::Log(LogLevel::kInfo, "server.signal",
                           {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*server)->Shutdown(grace);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing of ours throws; this catches what a library might (CLI11, yaml-cpp, std::bad_alloc),
  // so the process ends with one line instead of std::terminate.
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "webpushd: fatal: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "webpushd: fatal: unknown exception\n");
  }
  return 1;
}
