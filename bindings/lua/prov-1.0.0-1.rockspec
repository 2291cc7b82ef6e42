-- LuaRocks package for the Lua binding, built against the INSTALLED libprov
-- (prov/prov.h and libprov.so found through PROV_DIR / the system paths).
-- From the root of a libprov checkout:
--   luarocks --lua-version 5.4 make bindings/lua/prov-1.0.0-1.rockspec PROV_DIR=<prefix>
-- SWIG (>= 4.0) generates the wrapper at build time; nothing generated is
-- committed.
rockspec_format = "3.0"
package = "prov"
version = "1.0.0-1"
source = {
  -- `luarocks make` builds the checkout it runs in and never fetches this.
  -- Placeholder: set it to the published repository before uploading.
  url = "git+https://example.invalid/libprov.git",
  tag = "v1.0.0",
}
description = {
  summary = "Azure IoT DPS device client (libprov) for Lua 5.4",
  detailed = [[
    require("prov"): create_symkey{...}, client:register() returning a result
    table or nil, err (status, message, DPS error code, tracking id); handles
    freed by close(), <close> variables and the garbage collector.
  ]],
  license = "MIT",
}
dependencies = { "lua >= 5.4" }
external_dependencies = {
  PROV = { header = "prov/prov.h", library = "prov" },
}
build = {
  type = "command",
  build_command = [[
    swig -lua -Ibindings/swig -I$(PROV_INCDIR) -module prov_native \
      -o prov_native_wrap.c bindings/swig/prov_lua.i &&
    $(CC) $(CFLAGS) -I$(LUA_INCDIR) -I$(PROV_INCDIR) $(LIBFLAG) -o prov_native.$(LIB_EXTENSION) \
      prov_native_wrap.c -L$(PROV_LIBDIR) -Wl,-rpath,$(PROV_LIBDIR) -lprov
  ]],
  install = {
    lua = { prov = "bindings/lua/prov.lua" },
    lib = { prov_native = "prov_native.so" },
  },
}
