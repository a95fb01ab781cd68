#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

// Child processes for the push service tests (the nghttp client, the service executable). Their
// stdin is /dev/null and stdout+stderr go to a file, never a pipe ctest could wait on.
namespace webpush::testing {

// ChildProcess is a running child; the destructor kills (SIGKILL) and reaps it if still running.
class ChildProcess {
 public:
  // Spawn starts `argv` (argv[0] looked up on PATH) with output to `output_file`. On failure
  // running() is false.
  ChildProcess(const std::vector<std::string>& argv, const std::string& output_file);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  [[nodiscard]] bool running() const { return pid_ > 0; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  // Wait waits up to `timeout` for the exit; returns the exit status (128 + signal when killed
  // by a signal), or -1 on timeout (the child is then killed).
  int Wait(std::chrono::milliseconds timeout);
  // Signal sends `signal` (e.g. SIGTERM) to the child.
  void Signal(int signal) const;

 private:
  pid_t pid_ = -1;
};

// CommandResult is the outcome of RunCommand.
struct CommandResult {
  int exit_status = -1;  // -1: timed out or could not start
  std::string output;    // stdout and stderr, interleaved
};

// RunCommand runs `argv` to completion (bounded by `timeout`) and returns its output.
[[nodiscard]] CommandResult RunCommand(const std::vector<std::string>& argv,
                                       std::chrono::milliseconds timeout);

// ReadFile returns the content of `path` ("" if it cannot be read).
[[nodiscard]] std::string ReadFile(const std::string& path);

// TempDir is a fresh temporary directory, removed with its content by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace webpush::testing
