#pragma once

// What skiffctl and skiff-xds-load share: reading "--flag VALUE" / "--flag=VALUE" arguments,
// and where skiff-control is (flag, else $SKIFF_CONTROL_PLANE, else 127.0.0.1:15010).

#include <cstdint>
#include <string>

namespace skiff::cli {

inline constexpr char kDefaultControlPlane[] = "127.0.0.1:15010";
inline constexpr char kControlPlaneEnv[] = "SKIFF_CONTROL_PLANE";

// The control plane address when no --control-plane flag was given.
std::string defaultControlPlane();

// Walks argv one argument at a time. A flag's value is either inline ("--rounds=5") or the next
// argument ("--rounds 5"); anything not starting with "-" is a positional argument.
class ArgCursor {
 public:
  ArgCursor(int argc, char** argv) : argc_(argc), argv_(argv) {}

  // Moves to the next argument; false at the end.
  bool next();
  const std::string& arg() const { return arg_; }
  bool isFlag() const { return arg_.size() > 1 && arg_[0] == '-'; }
  bool is(const char* flag) const { return arg_ == flag; }
  // The current flag's value; false (and *error set) when it is missing.
  bool value(std::string* out, std::string* error);
  // The value as a whole number in [min, max].
  bool intValue(int64_t min, int64_t max, int64_t* out, std::string* error);

 private:
  int argc_;
  char** argv_;
  int index_ = 0;
  std::string arg_;
  std::string inline_value_;
  bool has_inline_value_ = false;
};

}  // namespace skiff::cli
