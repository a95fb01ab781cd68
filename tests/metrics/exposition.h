#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

// SampleValue reads one sample of a Prometheus text exposition: the first line of `name` whose
// labels include every one of `labels` (a subset match). NaN when there is none.
namespace webpush::testing {

inline double SampleValue(const std::string& text, const std::string& name,
                          const std::map<std::string, std::string>& labels) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind(name, 0) != 0) {
      continue;
    }
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != '{' && next != ' ') {
      continue;  // a longer name with this prefix
    }
    const size_t close = next == '{' ? line.find("} ") : name.size() - 1;
    if (close == std::string::npos) {
      continue;
    }
    const std::string label_text = next == '{' ? line.substr(name.size(), close - name.size()) : "";
    bool all = true;
    for (const auto& [key, value] : labels) {
      if (label_text.find(key + "=\"" + value + "\"") == std::string::npos) {
        all = false;
        break;
      }
    }
    if (all) {
      return std::strtod(line.c_str() + close + 2, nullptr);
    }
  }
  return std::nan("");
}

// SampleSum adds up every sample of `name` whose labels include `labels` (0 when none).
inline double SampleSum(const std::string& text, const std::string& name,
                        const std::map<std::string, std::string>& labels) {
  std::istringstream in(text);
  std::string line;
  double sum = 0;
  while (std::getline(in, line)) {
    const double v = SampleValue(line, name, labels);  // one line: its own value or NaN
    if (!std::isnan(v)) {
      sum += v;
    }
  }
  return sum;
}

}  // namespace webpush::testing
