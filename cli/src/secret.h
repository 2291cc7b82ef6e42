// A string that holds a key. Its memory is wiped when it is destroyed or
// moved from, so keys do not linger in freed heap blocks.
#ifndef PROV_CLI_SECRET_H
#define PROV_CLI_SECRET_H

#include <string.h>

#include <string>
#include <utility>

namespace prov_cli {

class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string value) : value_(std::move(value)) {}
  SecretString(const SecretString &other) : value_(other.value_) {}
  SecretString(SecretString &&other) noexcept : value_(other.value_) { other.wipe(); }
  SecretString &operator=(const SecretString &other) {
    if (this != &other) {
      wipe();
      value_ = other.value_;
    }
    return *this;
  }
  SecretString &operator=(SecretString &&other) noexcept {
    if (this != &other) {
      wipe();
      value_ = other.value_;
      other.wipe();
    }
    return *this;
  }
  ~SecretString() { wipe(); }

  const std::string &str() const { return value_; }
  const char *c_str() const { return value_.c_str(); }
  bool empty() const { return value_.empty(); }

 private:
  // Overwrites the whole buffer (up to its capacity, which resize() exposes
  // without reallocating), then empties the string.
  void wipe() noexcept {
    value_.resize(value_.capacity());
    explicit_bzero(value_.data(), value_.size());
    value_.clear();
  }

  std::string value_;
};

// Wipes a plain std::string that held secret material (e.g. a file buffer).
inline void wipe_string(std::string &text) noexcept {
  text.resize(text.capacity());
  explicit_bzero(text.data(), text.size());
  text.clear();
}

}  // namespace prov_cli

#endif
