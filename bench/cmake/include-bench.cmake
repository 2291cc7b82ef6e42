# Used by scripts/bench.sh as CMAKE_PROJECT_INCLUDE while the top-level
# CMakeLists.txt does not add bench/ itself: includes bench/CMakeLists.txt at
# the end of the top-level directory, when every target exists.
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL include ${CMAKE_SOURCE_DIR}/bench/CMakeLists.txt)
