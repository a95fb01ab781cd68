#include "dispatcher/ctl/speed_command.h"

#include <cstdlib>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/batch.h"
#include "gtest/gtest.h"

namespace webpush::dispatcher::ctl {
namespace {

std::string Message(const absl::Status& s) { return std::string(s.message()); }

SpeedOptions Short(std::string path) {
  SpeedOptions o;
  o.seconds = 0.05;
  o.payload_size = 100;
  o.batch = 9;  // one full group of eight and a tail
  o.path = std::move(path);
  return o;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

const std::regex kRow(
    R"(^(reference|batch) +(reference|ifma|emulated) +(encrypt|p256-keygen|p256-ecdh) +)"
    R"(([0-9]+\.[0-9]) +([0-9]+\.[0-9])$)");

// Rows returns the table rows of `text`, each checked against kRow.
std::vector<std::smatch> Rows(const std::string& text, std::vector<std::string>& storage) {
  storage = Lines(text);
  std::vector<std::smatch> rows;
  for (const std::string& line : storage) {
    std::smatch m;
    if (std::regex_match(line, m, kRow)) {
      rows.push_back(m);
    }
  }
  return rows;
}

TEST(SpeedCommandTest, AutoPrintsTheReferenceAndTheBatchPathWithRatios) {
  std::ostringstream out;
  const absl::Status s = Speed(Short("auto"), out);
  ASSERT_TRUE(s.ok()) << s;
  const std::string text = out.str();
  std::vector<std::string> lines;
  const std::vector<std::smatch> rows = Rows(text, lines);
  ASSERT_EQ(rows.size(), 6u) << text;
  EXPECT_EQ(lines[0].rfind("webpushctl speed: 0.05 s per test, 1 thread(s) on ", 0), 0u) << text;
  EXPECT_NE(lines[0].find("payload 100 B, batch 9"), std::string::npos) << text;
  EXPECT_EQ(lines[1],
            std::string("cpu: avx512ifma ") + (crypto::CpuHasAvx512Ifma() ? "yes" : "no"));
  const char* tests[] = {"encrypt", "p256-keygen", "p256-ecdh"};
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][1], i < 3 ? "reference" : "batch") << text;
    EXPECT_EQ(rows[i][3], tests[i % 3]) << text;
    EXPECT_GT(std::stod(rows[i][4]), 0.0) << text;
    // One thread: per core equals total.
    EXPECT_EQ(rows[i][4], rows[i][5]) << text;
  }
  // The reference row is always OpenSSL; the batch row names the path production would run.
  EXPECT_EQ(rows[0][2], "reference");
  auto expected = crypto::BatchEncryptor::Create();
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(rows[3][2], std::string(crypto::P256PathName(expected->path())));
  for (const char* test : tests) {
    EXPECT_NE(text.find(std::string("ratio batch/reference ") + test + ": "), std::string::npos)
        << text;
  }
}

TEST(SpeedCommandTest, OnePathOnlyAndThreadsAddUp) {
  std::ostringstream out;
  SpeedOptions options = Short("reference");
  options.threads = 2;
  const absl::Status s = Speed(options, out);
  ASSERT_TRUE(s.ok()) << s;
  std::vector<std::string> lines;
  const std::vector<std::smatch> rows = Rows(out.str(), lines);
  ASSERT_EQ(rows.size(), 3u) << out.str();
  for (const std::smatch& row : rows) {
    EXPECT_EQ(row[1], "reference");
    const double per_core = std::stod(row[4]);
    const double total = std::stod(row[5]);
    EXPECT_NEAR(total, 2 * per_core, 0.2) << out.str();
  }
  EXPECT_EQ(out.str().find("ratio"), std::string::npos);
}

TEST(SpeedCommandTest, BatchPathReportsTheKernelThatRan) {
  std::ostringstream out;
  const absl::Status s = Speed(Short("batch"), out);
  ASSERT_TRUE(s.ok()) << s;
  std::vector<std::string> lines;
  const std::vector<std::smatch> rows = Rows(out.str(), lines);
  ASSERT_EQ(rows.size(), 3u) << out.str();
  crypto::BatchOptions batch;
  batch.path = crypto::PathOption::kBatch;
  auto expected = crypto::BatchEncryptor::Create(batch);
  ASSERT_TRUE(expected.ok());
  for (const std::smatch& row : rows) {
    EXPECT_EQ(row[1], "batch");
    EXPECT_EQ(row[2], std::string(crypto::P256PathName(expected->path())));
  }
}

TEST(SpeedCommandTest, RejectsBadOptionsNamingTheFlag) {
  std::ostringstream out;
  SpeedOptions o = Short("auto");
  o.payload_size = 3994;
  EXPECT_EQ(Message(Speed(o, out)).rfind("--payload-size: ", 0), 0u);
  o = Short("auto");
  o.seconds = 0;
  EXPECT_EQ(Message(Speed(o, out)).rfind("--seconds: ", 0), 0u);
  o = Short("auto");
  o.batch = 0;
  EXPECT_EQ(Message(Speed(o, out)).rfind("--batch: ", 0), 0u);
  o = Short("auto");
  o.threads = 0;
  EXPECT_EQ(Message(Speed(o, out)).rfind("--threads: ", 0), 0u);
  o = Short("fastest");
  const absl::Status s = Speed(o, out);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(s).rfind("--path: ", 0), 0u) << s;
  EXPECT_TRUE(out.str().empty());
}

TEST(SpeedCommandTest, ABadEnvironmentValueFailsBeforeAnyOutput) {
  const char* saved = std::getenv("WEBPUSH_CRYPTO_PATH");  // NOLINT(concurrency-mt-unsafe)
  const std::string saved_value = saved == nullptr ? "" : saved;
  setenv("WEBPUSH_CRYPTO_PATH", "fastest", 1);  // NOLINT(concurrency-mt-unsafe)
  std::ostringstream out;
  const absl::Status s = Speed(Short("auto"), out);
  if (saved == nullptr) {
    unsetenv("WEBPUSH_CRYPTO_PATH");  // NOLINT(concurrency-mt-unsafe)
  } else {
    setenv("WEBPUSH_CRYPTO_PATH", saved_value.c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
  }
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Message(s),
            "WEBPUSH_CRYPTO_PATH: unknown value 'fastest' (expected reference, "
            "batch or auto)");
  EXPECT_TRUE(out.str().empty());
}

}  // namespace
}  // namespace webpush::dispatcher::ctl
