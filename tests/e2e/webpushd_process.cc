#include "tests/e2e/webpushd_process.h"

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <thread>

namespace webpush::testing {

std::string WebpushdPath() { return WEBPUSHD_PATH; }

WebpushdProcess::WebpushdProcess(const std::string& dir, const std::string& name,
                                 const std::string& yaml,
                                 const std::vector<std::string>& extra_args,
                                 std::chrono::milliseconds timeout)
    : output_file_(dir + "/" + name + ".log") {
  const std::string config = dir + "/" + name + ".yaml";
  std::ofstream(config) << yaml;
  std::vector<std::string> argv = {WebpushdPath(), "--config", config};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  child_ = std::make_unique<ChildProcess>(argv, output_file_);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  constexpr std::string_view kServing = "serving gRPC on port ";
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string out = output();
    if (const size_t at = out.find(kServing); at != std::string::npos) {
      port_ = std::atoi(out.c_str() + at + kServing.size());
      constexpr std::string_view kMetrics = "serving metrics on port ";
      if (const size_t m = out.find(kMetrics); m != std::string::npos) {
        metrics_port_ = std::atoi(out.c_str() + m + kMetrics.size());
      }
      return;
    }
    // Exited already (without reaping it: Wait does that and tells the status)?
    siginfo_t info{};
    if (!child_->running() ||
        (waitid(P_PID, static_cast<id_t>(child_->pid()), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid != 0)) {
      return;  // output() says why
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

WebpushdProcess::~WebpushdProcess() = default;

std::string WebpushdProcess::output() const { return ReadFile(output_file_); }

void WebpushdProcess::Signal(int signal) const {
  if (child_ != nullptr) {
    child_->Signal(signal);
  }
}

int WebpushdProcess::Wait(std::chrono::milliseconds timeout) { return child_->Wait(timeout); }

}  // namespace webpush::testing
