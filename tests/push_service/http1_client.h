#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Http1Client is a blocking HTTP/1.1 client over OpenSSL for the push service tests: one TLS
// connection to 127.0.0.1, requests written as raw bytes (so a test can pipeline them or break
// the syntax), responses read one at a time by Content-Length. Socket timeouts (5 s) bound every
// call. No certificate check (the TLS probe test covers it). Test use only.
namespace webpush::testing {

class Http1Client {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // Response is one response as read: status, header fields (names lower case), body.
  struct Response {
    int status = 0;
    Headers headers;
    std::string body;
    // Header returns the value of the first field called `name` (lower case), or "".
    [[nodiscard]] std::string Header(std::string_view name) const;
  };

  Http1Client() = default;
  ~Http1Client();
  Http1Client(const Http1Client&) = delete;
  Http1Client& operator=(const Http1Client&) = delete;

  // Connect opens TLS to 127.0.0.1:`port` offering the ALPN protocols `alpn` in that order (none:
  // no ALPN extension at all). False when the connection or the handshake fails.
  [[nodiscard]] bool Connect(uint16_t port, const std::vector<std::string>& alpn = {"http/1.1"});
  // alpn is the protocol the server selected ("" for none).
  [[nodiscard]] std::string alpn() const;
  // Write sends `bytes` as they are.
  [[nodiscard]] bool Write(std::string_view bytes);
  // ReadResponse reads the next response (an interim 100 is returned like any other); nullopt
  // when the connection ends or times out first, or the response is malformed.
  [[nodiscard]] std::optional<Response> ReadResponse();
  // ClosedByPeer waits (bounded) for the server to end the connection; true if it did with no
  // further bytes.
  [[nodiscard]] bool ClosedByPeer();

 private:
  // Fill reads more bytes into `buffer_`; false at the end of the connection or on timeout.
  [[nodiscard]] bool Fill();

  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  std::string buffer_;
};

// Http1Request builds `method path HTTP/1.1` with `Host: push.test.example`, the `headers`, a
// `Content-Length` for `body` (when non-empty) and the body.
[[nodiscard]] std::string Http1Request(std::string_view method, std::string_view path,
                                       const Http1Client::Headers& headers,
                                       std::string_view body = "");

}  // namespace webpush::testing
