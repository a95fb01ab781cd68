#include "tests/push_service/http1_client.h"

#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>

namespace webpush::testing {
namespace {

constexpr std::string_view kCrlf = "\r\n";

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::string Http1Client::Response::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) {
      return v;
    }
  }
  return "";
}

Http1Client::~Http1Client() {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);
  }
  if (fd_ >= 0) {
    close(fd_);
  }
  if (ctx_ != nullptr) {
    SSL_CTX_free(ctx_);
  }
}

bool Http1Client::Connect(uint16_t port, const std::vector<std::string>& alpn) {
  ctx_ = SSL_CTX_new(TLS_client_method());
  // The service ends connections without close_notify (as after a scripted drop): an EOF.
  SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (!alpn.empty()) {
    std::string wire;  // RFC 7301 §3.1: length-prefixed names
    for (const std::string& name : alpn) {
      wire.push_back(static_cast<char>(name.size()));
      wire.append(name);
    }
    SSL_CTX_set_alpn_protos(ctx_, reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned int>(wire.size()));
  }
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return false;
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  SSL_set_tlsext_host_name(ssl_, "push.test.example");
  if (SSL_connect(ssl_) != 1) {
    ERR_clear_error();
    return false;
  }
  return true;
}

std::string Http1Client::alpn() const {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  if (ssl_ != nullptr) {
    SSL_get0_alpn_selected(ssl_, &data, &len);
  }
  return {reinterpret_cast<const char*>(data), len};
}

bool Http1Client::Write(std::string_view bytes) {
  while (!bytes.empty()) {
    const int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
    if (n <= 0) {
      ERR_clear_error();
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool Http1Client::Fill() {
  std::array<char, 16384> chunk{};
  const int n = SSL_read(ssl_, chunk.data(), static_cast<int>(chunk.size()));
  if (n <= 0) {
    ERR_clear_error();
    return false;
  }
  buffer_.append(chunk.data(), static_cast<size_t>(n));
  return true;
}

std::optional<Http1Client::Response> Http1Client::ReadResponse() {
  size_t end = 0;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!Fill()) {
      return std::nullopt;
    }
  }
  const std::string_view head = std::string_view(buffer_).substr(0, end);
  Response response;
  size_t line_end = head.find(kCrlf);
  const std::string_view status_line = head.substr(0, line_end);
  // "HTTP/1.1 201 Created"
  if (!status_line.starts_with("HTTP/1.1 ") || status_line.size() < 12) {
    return std::nullopt;
  }
  std::from_chars(status_line.data() + 9, status_line.data() + 12, response.status);
  size_t length = 0;
  while (line_end != std::string_view::npos) {
    const size_t start = line_end + kCrlf.size();
    line_end = head.find(kCrlf, start);
    const std::string_view line = head.substr(start, line_end - start);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return std::nullopt;
    }
    response.headers.emplace_back(Lower(line.substr(0, colon)),
                                  std::string(Trim(line.substr(colon + 1))));
    if (response.headers.back().first == "content-length") {
      const std::string& v = response.headers.back().second;
      std::from_chars(v.data(), v.data() + v.size(), length);
    }
  }
  buffer_.erase(0, end + 4);
  while (buffer_.size() < length) {
    if (!Fill()) {
      return std::nullopt;
    }
  }
  response.body = buffer_.substr(0, length);
  buffer_.erase(0, length);
  return response;
}

bool Http1Client::ClosedByPeer() {
  if (!buffer_.empty()) {
    return false;
  }
  std::array<char, 256> chunk{};
  const int n = SSL_read(ssl_, chunk.data(), static_cast<int>(chunk.size()));
  if (n > 0) {
    buffer_.append(chunk.data(), static_cast<size_t>(n));
    return false;
  }
  // A timeout (EAGAIN) is not a close.
  const int error = SSL_get_error(ssl_, n);
  ERR_clear_error();
  return error == SSL_ERROR_ZERO_RETURN ||
         (error == SSL_ERROR_SYSCALL && errno != EAGAIN && errno != EWOULDBLOCK);
}

std::string Http1Request(std::string_view method, std::string_view path,
                         const Http1Client::Headers& headers, std::string_view body) {
  std::string out;
  out.append(method).append(" ").append(path).append(" HTTP/1.1\r\nHost: push.test.example\r\n");
  for (const auto& [name, value] : headers) {
    out.append(name).append(": ").append(value).append("\r\n");
  }
  if (!body.empty()) {
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  out.append("\r\n").append(body);
  return out;
}

}  // namespace webpush::testing
