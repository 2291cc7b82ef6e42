// A minimal test harness for the codec tests: TEST(name) registers a case,
// CHECK* record failures with file:line and keep going, main() runs all cases
// (or those whose names contain argv[1]) and exits non-zero on any failure.
// Plain C++ rather than CMocka because the codecs report errors by exception.
#ifndef PROV_TESTS_MQTT_CHECK_H
#define PROV_TESTS_MQTT_CHECK_H

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace check {

struct Case {
  const char *name;
  std::function<void()> body;
};

inline std::vector<Case> &registry() {
  static std::vector<Case> cases;
  return cases;
}

inline int &failures() {
  static int count = 0;
  return count;
}

inline long &assertions() {
  static long count = 0;
  return count;
}

struct Registrar {
  Registrar(const char *name, std::function<void()> body) {
    registry().push_back({name, std::move(body)});
  }
};

inline void report(const char *file, int line, const std::string &what) {
  ++failures();
  std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
}

inline std::string hex(const std::vector<uint8_t> &bytes, size_t limit = 64) {
  std::string out;
  char buf[4];
  for (size_t i = 0; i < bytes.size() && i < limit; ++i) {
    std::snprintf(buf, sizeof buf, "%02x ", bytes[i]);
    out += buf;
  }
  if (bytes.size() > limit) out += "... (" + std::to_string(bytes.size()) + " bytes)";
  return out;
}

inline std::vector<uint8_t> bytes(std::initializer_list<int> values) {
  std::vector<uint8_t> out;
  for (int v : values) out.push_back(static_cast<uint8_t>(v));
  return out;
}

inline std::vector<uint8_t> bytes(std::string_view text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

inline std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t> &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline int run_all(int argc, char **argv) {
  const char *filter = argc > 1 ? argv[1] : nullptr;
  int ran = 0;
  for (const Case &c : registry()) {
    if (filter && !std::strstr(c.name, filter)) continue;
    const int before = failures();
    try {
      c.body();
    } catch (const std::exception &e) {
      report(__FILE__, __LINE__, std::string(c.name) + ": unexpected exception: " + e.what());
    }
    ++ran;
    std::printf("%s %s\n", failures() == before ? "ok  " : "FAIL", c.name);
  }
  std::printf("%d cases, %ld checks, %d failures\n", ran, assertions(), failures());
  if (ran == 0) {
    std::fprintf(stderr, "no test case matched\n");
    return 1;
  }
  return failures() == 0 ? 0 : 1;
}

}  // namespace check

#define CHECK_CONCAT_INNER(a, b) a##b
#define CHECK_CONCAT(a, b) CHECK_CONCAT_INNER(a, b)

#define TEST(name)                                                            \
  static void name();                                                         \
  static const check::Registrar CHECK_CONCAT(registrar_, name)(#name, &name); \
  static void name()

#define CHECK(cond)                                        \
  do {                                                     \
    ++check::assertions();                                 \
    if (!(cond)) check::report(__FILE__, __LINE__, #cond); \
  } while (0)

#define CHECK_EQ(actual, expected)                                                              \
  do {                                                                                          \
    ++check::assertions();                                                                      \
    if (!((actual) == (expected))) check::report(__FILE__, __LINE__, #actual " == " #expected); \
  } while (0)

#define CHECK_BYTES(actual, expected)                                                   \
  do {                                                                                  \
    ++check::assertions();                                                              \
    const std::vector<uint8_t> check_actual_ = (actual);                                \
    const std::vector<uint8_t> check_expected_ = (expected);                            \
    if (check_actual_ != check_expected_)                                               \
      check::report(__FILE__, __LINE__,                                                 \
                    std::string(#actual "\n  got:      ") + check::hex(check_actual_) + \
                        "\n  expected: " + check::hex(check_expected_));                \
  } while (0)

// Evaluates expr, which must throw `type` whose what() contains `needle`.
#define CHECK_THROWS(expr, type, needle)                                                    \
  do {                                                                                      \
    ++check::assertions();                                                                  \
    try {                                                                                   \
      (void)(expr);                                                                         \
      check::report(__FILE__, __LINE__, #expr " did not throw " #type);                     \
    } catch (const type &check_error_) {                                                    \
      if (!std::strstr(check_error_.what(), needle))                                        \
        check::report(__FILE__, __LINE__,                                                   \
                      std::string(#expr " threw \"") + check_error_.what() +                \
                          "\", expected it to mention \"" + needle + "\"");                 \
    } catch (const std::exception &check_other_) {                                          \
      check::report(__FILE__, __LINE__,                                                     \
                    std::string(#expr " threw another exception: ") + check_other_.what()); \
    }                                                                                       \
  } while (0)

#define CHECK_MAIN()                   \
  int main(int argc, char **argv) {    \
    return check::run_all(argc, argv); \
  }

#endif  // PROV_TESTS_MQTT_CHECK_H
