#include "cli_flags.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace skiff::cli {

std::string defaultControlPlane() {
  const char* env = std::getenv(kControlPlaneEnv);
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(kDefaultControlPlane);
}

bool ArgCursor::next() {
  if (++index_ >= argc_) return false;
  arg_ = argv_[index_];
  has_inline_value_ = false;
  size_t eq = arg_.find('=');
  if (arg_.rfind("--", 0) == 0 && eq != std::string::npos) {
    inline_value_ = arg_.substr(eq + 1);
    arg_ = arg_.substr(0, eq);
    has_inline_value_ = true;
  }
  return true;
}

bool ArgCursor::value(std::string* out, std::string* error) {
  if (has_inline_value_) {
    *out = inline_value_;
    has_inline_value_ = false;
    return true;
  }
  if (index_ + 1 >= argc_) {
    *error = absl::StrCat(arg_, " needs a value");
    return false;
  }
  *out = argv_[++index_];
  return true;
}

bool ArgCursor::intValue(int64_t min, int64_t max, int64_t* out, std::string* error) {
  std::string flag = arg_;
  std::string text;
  if (!value(&text, error)) return false;
  int64_t parsed = 0;
  if (!absl::SimpleAtoi(text, &parsed) || parsed < min || parsed > max) {
    *error = absl::StrCat(flag, " needs a whole number from ", min, " to ", max, ", not \"",
                          text, "\"");
    return false;
  }
  *out = parsed;
  return true;
}

}  // namespace skiff::cli
