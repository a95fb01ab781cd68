#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/push_service/child_process.h"

// WebpushdProcess runs the built `webpushd` executable as a replica for the end-to-end tests:
// with a YAML configuration file, its output in a file, its gRPC port read from the line it
// prints once serving. SIGKILL, SIGTERM and the exit status are the test's to use.
namespace webpush::testing {

class WebpushdProcess {
 public:
  // Start writes `yaml` to `dir`/`name`.yaml and starts webpushd with it (and `extra_args`),
  // waiting up to `timeout` for "serving gRPC on port N". On failure port() is 0 and output()
  // says why.
  WebpushdProcess(const std::string& dir, const std::string& name, const std::string& yaml,
                  const std::vector<std::string>& extra_args = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ~WebpushdProcess();  // SIGKILL if still running

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // metrics_port: the metrics port when metrics.listen is set, else 0.
  [[nodiscard]] int metrics_port() const { return metrics_port_; }
  [[nodiscard]] std::string output() const;
  [[nodiscard]] bool running() const { return child_ != nullptr && child_->running(); }
  void Signal(int signal) const;
  // Wait returns the exit status (128 + signal when killed), -1 on timeout (then killed).
  int Wait(std::chrono::milliseconds timeout);

 private:
  std::string output_file_;
  std::unique_ptr<ChildProcess> child_;
  int port_ = 0;
  int metrics_port_ = 0;
};

// WebpushdPath is the path of the built webpushd executable.
[[nodiscard]] std::string WebpushdPath();

}  // namespace webpush::testing
