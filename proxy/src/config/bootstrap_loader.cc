#include "config/bootstrap_loader.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace skiff::config {
namespace {

// Far beyond any hand-written bootstrap; stops a wrong path (a log, /dev/zero) from eating memory.
constexpr off_t kMaxFileBytes = 16 << 20;

absl::Status withFileName(const std::string& path, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
}

}  // namespace

absl::StatusOr<v1::Bootstrap> parseBootstrapYaml(const std::string& yaml_text) {
  v1::Bootstrap bootstrap;
  if (absl::Status status = yamlToMessage(yaml_text, bootstrap); !status.ok()) return status;
  if (absl::Status status = validateBootstrap(bootstrap); !status.ok()) return status;
  return bootstrap;
}

absl::StatusOr<v1::Bootstrap> loadBootstrapFile(const std::string& path) {
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    }
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", std::strerror(error)));
  }
  if (S_ISDIR(info.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, not a file"));
  }
  if (S_ISREG(info.st_mode) && info.st_size > kMaxFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": too large for a configuration (", info.st_size, " bytes)"));
  }
  std::ifstream file(path, std::ios::in | std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) return absl::InvalidArgumentError(absl::StrCat(path, ": read error"));

  absl::StatusOr<v1::Bootstrap> bootstrap = parseBootstrapYaml(contents.str());
  if (!bootstrap.ok()) return withFileName(path, bootstrap.status());
  return bootstrap;
}

}  // namespace skiff::config
