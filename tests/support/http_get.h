#pragma once

#include <string>

// HttpGet fetches http://127.0.0.1:`port``path` over plain HTTP/1.1 (the metrics port), for
// tests: status 0 when nothing answered within `timeout_ms`.
namespace webpush::testing {

struct HttpGetResult {
  int status = 0;
  std::string content_type;
  std::string body;
};

[[nodiscard]] HttpGetResult HttpGet(int port, const std::string& path,
                                    const std::string& method = "GET", int timeout_ms = 5000);

}  // namespace webpush::testing
