#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

// Reader for test vector files in the format of BoringSSL's crypto/test/file_test.h:
// `NAME: value` lines whose value is hex or "quoted", a blank line between cases, `#` comments.
namespace webpush::testing {

// VectorCase is one case of a vector file. Every value read is marked used; CheckAllUsed fails the
// test for keys nobody read, so a typo in a file or a forgotten check cannot pass silently.
class VectorCase {
 public:
  VectorCase(std::string source, std::map<std::string, std::string> values)
      : source_(std::move(source)), values_(std::move(values)) {}

  // Has tells whether `key` is present (without marking it used).
  [[nodiscard]] bool Has(const std::string& key) const { return values_.contains(key); }
  // Bytes returns the raw value of `key`; a missing key fails the test and returns empty.
  [[nodiscard]] std::vector<uint8_t> Bytes(const std::string& key);
  // Text returns the value of `key` as a string.
  [[nodiscard]] std::string Text(const std::string& key);
  // CheckAllUsed fails unless every key of the case was read.
  [[nodiscard]] ::testing::AssertionResult CheckAllUsed() const;
  [[nodiscard]] const std::string& source() const { return source_; }

 private:
  std::string source_;  // "file:line" of the case, for messages
  std::map<std::string, std::string> values_;
  std::set<std::string> used_;
};

// ReadVectorFile parses `path` (relative to WEBPUSH_TEST_VECTORS_DIR when not absolute). A
// malformed file fails the test with the line number and returns what was read before it.
[[nodiscard]] std::vector<VectorCase> ReadVectorFile(const std::string& path);

// HexBytes decodes a hex string (test helper; fails the test on bad input).
[[nodiscard]] std::vector<uint8_t> HexBytes(const std::string& hex);

}  // namespace webpush::testing
