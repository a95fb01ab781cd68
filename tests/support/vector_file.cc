#include "tests/support/vector_file.h"

#include <fstream>

namespace webpush::testing {
namespace {

bool DecodeHex(const std::string& hex, std::string& out) {
  if (hex.size() % 2 != 0) {
    return false;
  }
  out.clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int byte = 0;
    for (size_t j = 0; j < 2; ++j) {
      const char c = hex[i + j];
      int v = 0;
      if (c >= '0' && c <= '9') {
        v = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        v = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        v = c - 'A' + 10;
      } else {
        return false;
      }
      byte = byte * 16 + v;
    }
    out.push_back(static_cast<char>(byte));
  }
  return true;
}

// ParseValue turns `"quoted"` (with \" and \\ escapes) or hex into raw bytes.
bool ParseValue(const std::string& text, std::string& out) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    out.clear();
    for (size_t i = 1; i + 1 < text.size(); ++i) {
      if (text[i] == '\\') {
        if (i + 2 >= text.size() || (text[i + 1] != '"' && text[i + 1] != '\\')) {
          return false;
        }
        ++i;
      }
      out.push_back(text[i]);
    }
    return true;
  }
  return DecodeHex(text, out);
}

}  // namespace

std::vector<uint8_t> VectorCase::Bytes(const std::string& key) {
  const auto it = values_.find(key);
  if (it == values_.end()) {
    ADD_FAILURE() << source_ << ": missing key " << key;
    return {};
  }
  used_.insert(key);
  return {it->second.begin(), it->second.end()};
}

std::string VectorCase::Text(const std::string& key) {
  const std::vector<uint8_t> bytes = Bytes(key);
  return {bytes.begin(), bytes.end()};
}

::testing::AssertionResult VectorCase::CheckAllUsed() const {
  for (const auto& [key, value] : values_) {
    if (!used_.contains(key)) {
      return ::testing::AssertionFailure() << source_ << ": key " << key << " was never used";
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<VectorCase> ReadVectorFile(const std::string& path) {
  const std::string full =
      (!path.empty() && path[0] == '/') ? path : std::string(WEBPUSH_TEST_VECTORS_DIR) + "/" + path;
  std::ifstream in(full);
  std::vector<VectorCase> cases;
  if (!in) {
    ADD_FAILURE() << "cannot open vector file " << full;
    return cases;
  }
  std::map<std::string, std::string> current;
  std::string current_source;
  std::string line;
  int line_no = 0;
  auto flush = [&] {
    if (!current.empty()) {
      cases.emplace_back(current_source, std::move(current));
      current.clear();
    }
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (line.empty()) {
      flush();
      continue;
    }
    if (line[0] == '#') {
      continue;
    }
    const size_t colon = line.find(": ");
    std::string value;
    if (colon == std::string::npos || !ParseValue(line.substr(colon + 2), value)) {
      ADD_FAILURE() << full << ":" << line_no << ": malformed line";
      return cases;
    }
    const std::string key = line.substr(0, colon);
    if (current.empty()) {
      current_source = full + ":" + std::to_string(line_no);
    }
    if (!current.emplace(key, std::move(value)).second) {
      ADD_FAILURE() << full << ":" << line_no << ": duplicate key " << key;
      return cases;
    }
  }
  flush();
  return cases;
}

std::vector<uint8_t> HexBytes(const std::string& hex) {
  std::string out;
  if (!DecodeHex(hex, out)) {
    ADD_FAILURE() << "bad hex: " << hex;
    return {};
  }
  return {out.begin(), out.end()};
}

}  // namespace webpush::testing
