#include "tests/support/redis_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <thread>
#include <vector>

namespace webpush::testing {
namespace {

// The child exits with this when exec fails (redis-server not on PATH), as a shell would.
constexpr int kExecFailed = 127;

// FreePort asks the kernel for an unused loopback port.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) {
    close(fd);
  }
  return port;
}

bool Ping(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    constexpr std::string_view kPing = "PING\r\n";
    char buf[64] = {};
    timeval tv{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ok = write(fd, kPing.data(), kPing.size()) == static_cast<ssize_t>(kPing.size()) &&
         read(fd, buf, sizeof(buf) - 1) > 0 &&
         // A server with a password answers NOAUTH: it is up all the same.
         (std::string_view(buf).starts_with("+PONG") ||
          std::string_view(buf).starts_with("-NOAUTH"));
  }
  close(fd);
  return ok;
}

}  // namespace

RedisProcess::RedisProcess(std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "webpush-redis-XXXXXX").string();
  if (mkdtemp(tmpl.data()) != nullptr) {
    dir_ = tmpl;
  }
  port_ = FreePort();
}

RedisProcess::~RedisProcess() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

absl::Status RedisProcess::Start() {
  if (running()) {
    return absl::OkStatus();
  }
  if (dir_.empty() || port_ == 0) {
    return absl::UnavailableError("redis-server: no temporary directory or free port");
  }
  std::vector<std::string> args = {"redis-server",
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--dir",
                                   dir_,
                                   "--appendonly",
                                   "yes",
                                   "--appendfsync",
                                   "everysec",
                                   "--save",
                                   "",
                                   "--daemonize",
                                   "no",
                                   "--logfile",
                                   dir_ + "/redis.log"};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  const pid_t pid = fork();
  if (pid < 0) {
    return absl::UnavailableError("redis-server: fork failed");
  }
  if (pid == 0) {
    std::vector<char*> argv;
    for (std::string& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    // Do not hold the caller's stdout/stderr: a test runner reading them would wait for the
    // server to exit.
    const int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, STDIN_FILENO);
      dup2(devnull, STDOUT_FILENO);
      dup2(devnull, STDERR_FILENO);
      close(devnull);
    }
    execvp("redis-server", argv.data());
    _exit(kExecFailed);
  }
  pid_ = pid;
  return WaitReady();
}

absl::Status RedisProcess::WaitReady() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (WIFEXITED(status) && WEXITSTATUS(status) == kExecFailed) {
        return absl::FailedPreconditionError(
            "redis-server not found on PATH (scripts/install-deps.sh installs it)");
      }
      return absl::UnavailableError("redis-server exited (status " + std::to_string(status) +
                                    "); log in " + dir_);
    }
    if (Ping(port_)) {
      return absl::OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Stop();
  return absl::UnavailableError("redis-server did not answer PING within 15 s");
}

void RedisProcess::Stop() { Signal(SIGTERM); }

void RedisProcess::Kill() { Signal(SIGKILL); }

void RedisProcess::Signal(int signal) {
  if (pid_ > 0) {
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
}

absl::Status RedisProcess::Restart() {
  Stop();
  return Start();
}

}  // namespace webpush::testing
