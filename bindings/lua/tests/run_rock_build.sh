#!/usr/bin/env bash
# Proves the packaging path of the Lua binding: install libprov's library
# rules into a temporary prefix, `luarocks make` the rockspec against it
# (no build-tree paths), then run the binding tests on the installed rock.
# Usage: run_rock_build.sh CMAKE BUILD_DIR SOURCE_DIR LUAROCKS LUA
set -euo pipefail
cmake=$1 build_dir=$2 source_dir=$3 luarocks=$4 lua=$5
work=$(mktemp -d /tmp/prov-lua-rock-XXXXXX)
trap 'rm -rf "$work"' EXIT

for component in runtime development; do
  "$cmake" --install "$build_dir/src" --prefix "$work/prefix" --component "$component" >/dev/null
done
# luarocks make builds in the current directory: use a copy of the sources.
mkdir -p "$work/src"
cp -r "$source_dir/bindings" "$work/src/"
cd "$work/src"
"$luarocks" --lua-version 5.4 --tree "$work/tree" make bindings/lua/prov-1.0.0-1.rockspec \
  PROV_DIR="$work/prefix" >"$work/luarocks.log" 2>&1 || { cat "$work/luarocks.log"; exit 1; }

export LUA_PATH="$work/tree/share/lua/5.4/?.lua;$source_dir/bindings/lua/tests/?.lua;;"
export LUA_CPATH="$work/tree/lib/lua/5.4/?.so;;"
# The module must come from the rock and load the installed libprov.
ROCK_TREE="$work/tree" ROCK_PREFIX="$work/prefix" "$lua" -e '
  local prov = require("prov")
  local module_path = package.searchpath("prov_native", package.cpath)
  assert(module_path:find(os.getenv("ROCK_TREE"), 1, true), module_path)
  local maps = io.open("/proc/self/maps"):read("a")
  local library = maps:match("(%S*libprov%.so[%w.]*)")
  assert(library and library:find(os.getenv("ROCK_PREFIX"), 1, true), tostring(library))
  print("rock module " .. module_path .. " uses " .. library)'
"$lua" "$source_dir/bindings/lua/tests/test_prov.lua"
echo "rock build OK"
