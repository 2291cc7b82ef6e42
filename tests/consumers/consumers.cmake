# Consumer tests (LABELS consumer): install the current build into a fresh
# temporary prefix, build a program against the installed tree the way a
# user does, and register a device with it against a real dps-emulator:
#   consumer.pkgconfig  C program built with only `pkg-config --cflags --libs prov`
#   consumer.cmake      CMake project using find_package(prov) -> prov::prov
#   consumer.dlopen     C program using only dlopen/dlsym on libprov.so.1
# Each also checks the wolfSSL/OpenSSL binding trap (docs/DESIGN.md) in the
# dynamic linker's log. Driver: run_consumer.py.
#
# This file is included from tests/abi/CMakeLists.txt (tests/CMakeLists.txt
# adds a fixed list of test folders).
include_guard(GLOBAL)
find_package(Python3 REQUIRED COMPONENTS Interpreter)

# Programs the install must contain (by installed file name), and the
# imported targets provConfig.cmake must then define.
set(prov_installed_programs "")
if(TARGET prov-cli)
  list(APPEND prov_installed_programs prov)
endif()
if(TARGET dps-emulator)
  list(APPEND prov_installed_programs dps-emulator)
endif()
string(REPLACE ";" "," prov_installed_programs "${prov_installed_programs}")

foreach(mode IN ITEMS pkgconfig cmake dlopen)
  add_test(NAME consumer.${mode}
    COMMAND Python3::Interpreter ${CMAKE_CURRENT_LIST_DIR}/run_consumer.py
      --mode ${mode}
      --build-dir ${PROJECT_BINARY_DIR}
      --source-dir ${PROJECT_SOURCE_DIR}
      --emulator "${PROV_TEST_EMULATOR}"
      --cc ${CMAKE_C_COMPILER}
      --cmake ${CMAKE_COMMAND}
      --generator ${CMAKE_GENERATOR}
      --expected-version ${PROJECT_VERSION}
      --programs "${prov_installed_programs}")
  # Each installs into its own temporary prefix (taking turns only for the
  # install step, which rewrites install_manifest.txt), so they can run in
  # parallel with each other and with every other test.
  set_tests_properties(consumer.${mode} PROPERTIES LABELS consumer TIMEOUT 300)
endforeach()
