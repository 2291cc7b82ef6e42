/*
 * prov_lua.i — the Lua 5.4 module prov_native (prov_native.so). Everything
 * else comes from prov.i; the idiomatic layer (`require("prov")`, nil-err
 * returns, __gc/__close) is bindings/lua/prov.lua.
 */
%module prov_native

%include "prov.i"
