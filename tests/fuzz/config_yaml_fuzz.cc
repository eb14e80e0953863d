// Drives the configuration front door over arbitrary text: YAML into a Bootstrap through the
// schema walk and the JSON mapping, then the semantic validation. Every input must end in a
// message or an error with a path, never in a crash or an escaped exception.

#include <cstddef>
#include <cstdint>
#include <string>

#include "config/bootstrap_loader.h"
#include "skiff/config/v1/bootstrap.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  skiff::config::v1::Bootstrap bootstrap;
  if (skiff::config::yamlToMessage(text, bootstrap).ok()) {
    (void)skiff::config::validateBootstrap(bootstrap);
  }
  return 0;
}
