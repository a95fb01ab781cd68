#include "metrics/http_endpoint.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>
#include <thread>

namespace webpush::metrics {
namespace {

constexpr size_t kMaxRequestBytes = 8192;
constexpr int kReadTimeoutMs = 2000;

const char* StatusText(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

// SplitHostPort accepts "host:port" and "[v6]:port".
bool SplitHostPort(std::string_view listen, std::string& host, std::string& port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == listen.size()) {
    return false;
  }
  host = std::string(listen.substr(0, colon));
  port = std::string(listen.substr(colon + 1));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  for (char c : port) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return !host.empty() && port.size() <= 5 && std::stoi(port) <= 65535;
}

// ErrnoText is strerror's text, thread-safely (std::system_category keeps no shared buffer).
std::string ErrnoText(int error) { return std::system_category().message(error); }

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;  // the client went away: nothing to do
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

class HttpEndpoint::Impl {
 public:
  Impl(int listen_fd, int port, HttpHandler handler)
      : listen_fd_(listen_fd), port_(port), handler_(std::move(handler)) {
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
      wake_[0] = wake_[1] = -1;
    }
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "wp-metrics");
      Run();
    });
  }

  ~Impl() {
    stop_ = true;
    if (wake_[1] >= 0) {
      const char byte = 0;
      (void)!::write(wake_[1], &byte, 1);
    }
    thread_.join();
    ::close(listen_fd_);
    if (wake_[0] >= 0) {
      ::close(wake_[0]);
      ::close(wake_[1]);
    }
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  [[nodiscard]] int port() const { return port_; }

 private:
  void Run() {
    while (!stop_) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      // Without the wake pipe, poll with a timeout so that the destructor is still honoured.
      const int ready = ::poll(fds, wake_[0] >= 0 ? 2 : 1, wake_[0] >= 0 ? -1 : 200);
      if (ready <= 0 || stop_) {
        continue;
      }
      if ((fds[0].revents & POLLIN) == 0) {
        continue;
      }
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        continue;
      }
      Serve(fd);
      ::close(fd);
    }
  }

  void Serve(int fd) {
    std::string request;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kReadTimeoutMs);
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequestBytes) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) {
        return;  // too slow: drop it
      }
      pollfd p = {fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) {
        return;
      }
      char buf[2048];
      const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        return;
      }
      request.append(buf, static_cast<size_t>(n));
    }
    HttpResponse response;
    const size_t line_end = request.find("\r\n");
    const std::string_view line = std::string_view(request).substr(0, line_end);
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    bool head = false;
    if (line_end == std::string::npos || sp2 == std::string_view::npos) {
      response = {400, "text/plain; charset=utf-8", "bad request\n"};
    } else {
      const std::string_view method = line.substr(0, sp1);
      std::string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
      path = path.substr(0, path.find('?'));
      head = method == "HEAD";
      if (method != "GET" && !head) {
        response = {405, "text/plain; charset=utf-8", "only GET and HEAD\n"};
      } else {
        response = handler_(path);
      }
    }
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " +
                      StatusText(response.status) + "\r\nContent-Type: " + response.content_type +
                      "\r\nContent-Length: " + std::to_string(response.body.size()) +
                      "\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n";
    if (!head) {
      out += response.body;
    }
    WriteAll(fd, out);
  }

  int listen_fd_;
  int port_;
  HttpHandler handler_;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(std::string_view listen,
                                                                  HttpHandler handler) {
  std::string host;
  std::string port;
  if (!SplitHostPort(listen, host, port)) {
    return absl::InvalidArgumentError("metrics.listen: expected HOST:PORT, got '" +
                                      std::string(listen) + "'");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const char* node = host == "*" ? nullptr : host.c_str();
  if (const int rc = ::getaddrinfo(node, port.c_str(), &hints, &found); rc != 0) {
    return absl::InvalidArgumentError("metrics.listen: cannot resolve '" + host +
                                      "': " + gai_strerror(rc));
  }
  int fd = -1;
  std::string error = "no address";
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      error = ErrnoText(errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
      error = ErrnoText(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    return absl::UnavailableError("metrics.listen: cannot listen on " + std::string(listen) + ": " +
                                  error);
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  const int bound_port = bound.ss_family == AF_INET6
                             ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
                             : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
  return std::unique_ptr<HttpEndpoint>(
      new HttpEndpoint(std::make_unique<Impl>(fd, bound_port, std::move(handler))));
}

HttpEndpoint::HttpEndpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpEndpoint::~HttpEndpoint() = default;

int HttpEndpoint::port() const { return impl_->port(); }

}  // namespace webpush::metrics
