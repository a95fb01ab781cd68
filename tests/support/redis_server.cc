#include "tests/support/redis_server.h"

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
#include <thread>
#include <vector>

namespace webpush::testing {
namespace {

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
    const char ping[] = "PING\r\n";
    char buf[64] = {};
    timeval tv{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ok = write(fd, ping, sizeof(ping) - 1) == sizeof(ping) - 1 && read(fd, buf, sizeof(buf)) > 0 &&
         (std::string(buf).rfind("+PONG", 0) == 0 || std::string(buf).rfind("-NOAUTH", 0) == 0);
  }
  close(fd);
  return ok;
}

}  // namespace

RedisServer::RedisServer(std::vector<std::string> extra_args) : extra_args_(std::move(extra_args)) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "webpush-redis-XXXXXX").string();
  if (mkdtemp(tmpl.data()) != nullptr) {
    dir_ = tmpl;
  }
  port_ = FreePort();
}

RedisServer::~RedisServer() {
  Kill();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

::testing::AssertionResult RedisServer::Start() {
  if (dir_.empty() || port_ == 0) {
    return ::testing::AssertionFailure() << "no temporary directory or free port";
  }
  const std::string port = std::to_string(port_);
  std::vector<std::string> args = {"redis-server", "--port", port, "--bind", "127.0.0.1"};
  const std::vector<std::string> settings = {
      "--dir",  dir_, "--appendonly", "yes", "--appendfsync", "everysec",
      "--save", "",   "--daemonize",  "no",  "--logfile",     dir_ + "/redis.log"};
  args.insert(args.end(), settings.begin(), settings.end());
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  const pid_t pid = fork();
  if (pid < 0) {
    return ::testing::AssertionFailure() << "fork failed";
  }
  if (pid == 0) {
    std::vector<char*> argv;
    for (std::string& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    // Do not hold the test's stdout/stderr: a runner reading them would wait for the server.
    const int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, STDIN_FILENO);
      dup2(devnull, STDOUT_FILENO);
      dup2(devnull, STDERR_FILENO);
      close(devnull);
    }
    execvp("redis-server", argv.data());
    _exit(127);  // redis-server missing: scripts/install-deps.sh installs it
  }
  pid_ = pid;
  return WaitReady();
}

::testing::AssertionResult RedisServer::WaitReady() {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return ::testing::AssertionFailure()
             << "redis-server exited (status " << status << "); log in " << dir_;
    }
    if (Ping(port_)) {
      return ::testing::AssertionSuccess();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ::testing::AssertionFailure() << "redis-server did not answer PING within 15 s";
}

void RedisServer::Stop() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
}

void RedisServer::Kill() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
}

::testing::AssertionResult RedisServer::Restart() {
  Stop();
  return Start();
}

}  // namespace webpush::testing
