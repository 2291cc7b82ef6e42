# Unit tests of the emulator's PKI module (emulator/src/pki.cpp). Included from
# emulator/CMakeLists.txt when BUILD_TESTING is on:
#     include(${CMAKE_CURRENT_SOURCE_DIR}/tests/pki_tests.cmake)
# Builds pki.cpp (and util.cpp, its base64 encoder) into the test directly, so it does not depend
# on how dps-emulator is assembled.
find_package(OpenSSL 3.0 REQUIRED COMPONENTS Crypto)
find_package(Threads REQUIRED)

add_executable(emulator_pki_test
  ${CMAKE_CURRENT_LIST_DIR}/pki_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../src/pki.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../src/util.cpp)
target_include_directories(emulator_pki_test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../src)
target_link_libraries(emulator_pki_test PRIVATE OpenSSL::Crypto Threads::Threads)
target_compile_options(emulator_pki_test PRIVATE ${PROV_WARNINGS})
set_target_properties(emulator_pki_test PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON
                                                   CXX_EXTENSIONS OFF)

add_test(NAME emulator.pki COMMAND emulator_pki_test)
# Own temp dirs (mkdtemp under TMPDIR), no ports: safe to run in parallel.
set_tests_properties(emulator.pki PROPERTIES LABELS "emulator;unit" TIMEOUT 120)
