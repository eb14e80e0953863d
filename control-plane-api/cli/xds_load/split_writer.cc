#include "split_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace skiff::cli {
namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace

std::string splitPolicyYaml(const std::string& service, const std::vector<std::string>& versions,
                            int first_weight, int round) {
  // The round is only in a comment: the change the control plane sees is the split itself.
  std::string yaml = absl::StrCat("# Written by skiff-xds-load (round ", round, ").\n",
                                  "traffic_policies:\n  - service: ", service,
                                  "\n    default_split:\n");
  int others = static_cast<int>(versions.size()) - 1;
  int rest = 100 - first_weight;
  for (size_t i = 0; i < versions.size(); ++i) {
    int weight = first_weight;
    if (i > 0) {
      weight = rest / others + (static_cast<int>(i) == others ? rest % others : 0);
    }
    absl::StrAppend(&yaml, "      - version: ", versions[i], "\n        weight: ", weight, "\n");
  }
  return yaml;
}

absl::Status writeSplitRound(const std::string& path, const std::string& service,
                             const std::vector<std::string>& versions, int round) {
  if (versions.size() < 2) return absl::InvalidArgumentError("a split needs two versions");
  int first_weight = round % 2 == 0 ? 100 : 0;
  std::string yaml = splitPolicyYaml(service, versions, first_weight, round);
  std::string current = readFile(path);
  // Compare without the comment line, which is not part of the mesh.
  auto body = [](const std::string& text) { return text.substr(text.find('\n') + 1); };
  if (!current.empty() && body(current) == body(yaml)) {
    yaml = splitPolicyYaml(service, versions, 100 - first_weight, round);
  }

  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  // Hidden and not *.yaml, so the control plane never loads the temporary file.
  std::string temp = absl::StrCat(dir, "/.", base, ".skiff-xds-load.tmp");
  FILE* file = fopen(temp.c_str(), "wb");
  if (file == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot write ", temp, ": ", strerror(errno)));
  }
  bool written = fwrite(yaml.data(), 1, yaml.size(), file) == yaml.size();
  if (fclose(file) != 0 || !written) {
    return absl::UnavailableError(absl::StrCat("cannot write ", temp, ": ", strerror(errno)));
  }
  if (rename(temp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot rename ", temp, " to ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace skiff::cli
