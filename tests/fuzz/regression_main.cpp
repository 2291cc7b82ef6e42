// Runs a fuzz target over every file of its committed corpus directories
// without libFuzzer, so every compiler and every ctest run replays the
// corpus (crashes found by fuzzing are added there as regressions).
//
// Usage: <runner> DIR_OR_FILE...   Fails when no input was found at all.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

namespace fs = std::filesystem;

int main(int argc, char **argv) {
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg = argv[i];
    std::error_code error;
    if (fs::is_directory(arg, error)) {
      for (const fs::directory_entry &entry : fs::directory_iterator(arg)) {
        if (entry.is_regular_file()) inputs.push_back(entry.path());
      }
    } else if (fs::is_regular_file(arg, error)) {
      inputs.push_back(arg);
    } else {
      std::fprintf(stderr, "fuzz regression: %s is neither a file nor a directory\n", argv[i]);
      return 1;
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr,
                 "fuzz regression: no corpus inputs given (an empty corpus proves nothing)\n");
    return 1;
  }
  std::sort(inputs.begin(), inputs.end());
  size_t total_bytes = 0;
  for (const fs::path &path : inputs) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "fuzz regression: cannot read %s\n", path.c_str());
      return 1;
    }
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    // A crash or failed invariant aborts here, naming the input first.
    std::fprintf(stderr, "running %s (%zu bytes)\n", path.filename().c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
    total_bytes += bytes.size();
  }
  std::printf("fuzz regression: %zu inputs, %zu bytes, no failure\n", inputs.size(), total_bytes);
  return 0;
}
