/*
 * prov_lua.i — the Lua 5.4 module prov_native (prov_native.so). Everything
 * language-neutral comes from prov.i; the idiomatic layer (`require("prov")`,
 * nil-err returns, __gc/__close) is bindings/lua/prov.lua.
 *
 * What only Lua needs lives here:
 *  - the byte-buffer typemaps: the issued certificates as DER strings, and a
 *    caller-made CSR given as a DER string (Lua strings hold bytes; the
 *    methods themselves are in prov.i);
 *  - progress and log callbacks. Lua has no threads of its own: libprov calls
 *    the callbacks on the thread running prov_client_register, i.e. inside
 *    the client:register() call, so the trampolines call the Lua functions on
 *    the coroutine that called register (bound just before it by
 *    bind_callbacks_thread). lua_pcall keeps a Lua error from unwinding
 *    through libprov's C++ frames; prov.lua wraps the user's functions so
 *    their errors are reported after register returns.
 */
%module prov_native

/* Typemaps before prov.i: SWIG applies typemaps to the %extend members of a
 * class in the scope where prov.i declares the class. */
%typemap(out) prov_binding_bytes {
  if ($1.data != NULL) {
    lua_pushlstring(L, (const char *)$1.data, $1.length);
  } else {
    lua_pushnil(L);
  }
  SWIG_arg++;
}

/* A Lua string (bytes) or nil (clears) -> (pointer, length) for the call. */
%typemap(in, checkfn="SWIG_lua_isnilstring", fragment="SWIG_lua_isnilstring")
    (const uint8_t *der, size_t der_len) {
  size_t prov_lua_length = 0;
  $1 = lua_isnil(L, $input) ? NULL
                            : (uint8_t *)lua_tolstring(L, $input, &prov_lua_length);
  $2 = prov_lua_length;
}

%include "prov.i"

/* ------------------------------------------------------------------------ */
/* Progress and log callbacks                                               */
/* ------------------------------------------------------------------------ */


%{
/* One per client that has callbacks: a full userdata owned by the Lua
 * client table (so it lives as long as the client can call it), holding
 * registry references to the Lua functions and the coroutine to call them
 * on. Its __gc releases the references. */
typedef struct prov_lua_callbacks {
  lua_State *thread; /* the coroutine inside client:register(); NULL outside */
  int progress_ref;  /* LUA_NOREF = none */
  int log_ref;
} prov_lua_callbacks;

static const char prov_lua_callbacks_type[] = "prov_native.callbacks";

static prov_lua_callbacks *prov_lua_check_callbacks(lua_State *L, int index) {
  return (prov_lua_callbacks *)luaL_checkudata(L, index, prov_lua_callbacks_type);
}

static void prov_lua_replace_ref(lua_State *L, int *ref, int value_index) {
  luaL_unref(L, LUA_REGISTRYINDEX, *ref);
  *ref = LUA_NOREF;
  if (!lua_isnoneornil(L, value_index)) {
    luaL_checktype(L, value_index, LUA_TFUNCTION);
    lua_pushvalue(L, value_index);
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
}

static int prov_lua_callbacks_gc(lua_State *L) {
  prov_lua_callbacks *callbacks = prov_lua_check_callbacks(L, 1);
  luaL_unref(L, LUA_REGISTRYINDEX, callbacks->progress_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, callbacks->log_ref);
  callbacks->progress_ref = callbacks->log_ref = LUA_NOREF;
  return 0;
}

/* Calls registry function `ref` with the `arguments` values on top of the
 * stack of callbacks->thread; an error is dropped (prov.lua's wrappers catch
 * and keep the user's errors themselves). */
static void prov_lua_call(prov_lua_callbacks *callbacks, int ref, int arguments) {
  lua_State *L = callbacks->thread;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_insert(L, -(arguments + 1));
  if (lua_pcall(L, arguments, 0, 0) != LUA_OK) lua_pop(L, 1);
}

static void prov_lua_progress_trampoline(int state, const char *detail, uint32_t retry_after_ms,
                                         void *user_data) {
  prov_lua_callbacks *callbacks = (prov_lua_callbacks *)user_data;
  lua_State *L = callbacks->thread;
  if (L == NULL || callbacks->progress_ref == LUA_NOREF || !lua_checkstack(L, 4)) return;
  lua_pushinteger(L, state);
  lua_pushstring(L, detail ? detail : "");
  lua_pushinteger(L, (lua_Integer)retry_after_ms);
  prov_lua_call(callbacks, callbacks->progress_ref, 3);
}

static void prov_lua_log_trampoline(int level, const char *message, void *user_data) {
  prov_lua_callbacks *callbacks = (prov_lua_callbacks *)user_data;
  lua_State *L = callbacks->thread;
  if (L == NULL || callbacks->log_ref == LUA_NOREF || !lua_checkstack(L, 3)) return;
  lua_pushinteger(L, level);
  lua_pushstring(L, message ? message : "");
  prov_lua_call(callbacks, callbacks->log_ref, 2);
}

/* new_callbacks() -> a callbacks userdata with no functions. */
static int prov_lua_new_callbacks(lua_State *L) {
  prov_lua_callbacks *callbacks =
      (prov_lua_callbacks *)lua_newuserdatauv(L, sizeof(prov_lua_callbacks), 0);
  callbacks->thread = NULL;
  callbacks->progress_ref = LUA_NOREF;
  callbacks->log_ref = LUA_NOREF;
  if (luaL_newmetatable(L, prov_lua_callbacks_type)) {
    lua_pushcfunction(L, prov_lua_callbacks_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return 1;
}

/* install_callbacks(client, callbacks, progress_fn|nil, log_fn|nil, min_level)
 * points the native client's callbacks at this userdata (or clears them).
 * Returns true, or raises the pending-error table (as the other wrappers). */
static int prov_lua_install_callbacks(lua_State *L) {
  ProvClient *client = NULL;
  prov_lua_callbacks *callbacks;
  int min_level = (int)luaL_optinteger(L, 5, PROV_LOG_INFO);
  int status;
  if (!SWIG_IsOK(SWIG_ConvertPtr(L, 1, (void **)&client, SWIGTYPE_p_ProvClient, 0)) ||
      client == NULL) {
    return luaL_argerror(L, 1, "expected a prov_native.ProvClient");
  }
  callbacks = prov_lua_check_callbacks(L, 2);
  prov_binding_clear();
  if (!prov_binding_client_open(client)) goto fail;
  prov_lua_replace_ref(L, &callbacks->progress_ref, 3);
  prov_lua_replace_ref(L, &callbacks->log_ref, 4);
  status = prov_client_set_progress_callback(
      client->handle, callbacks->progress_ref != LUA_NOREF ? prov_lua_progress_trampoline : NULL,
      callbacks);
  if (!prov_binding_check(status)) goto fail;
  status = prov_client_set_log_callback(
      client->handle, min_level,
      callbacks->log_ref != LUA_NOREF ? prov_lua_log_trampoline : NULL, callbacks);
  if (!prov_binding_check(status)) goto fail;
  lua_pushboolean(L, 1);
  return 1;
fail:
  prov_binding_push_lua_error(L);
  return lua_error(L);
}

/* bind_callbacks_thread(callbacks): the running coroutine receives the
 * callbacks of the register() call that follows; unbind with nil. */
static int prov_lua_bind_callbacks_thread(lua_State *L) {
  prov_lua_callbacks *callbacks = prov_lua_check_callbacks(L, 1);
  callbacks->thread = lua_toboolean(L, 2) ? L : NULL;
  return 0;
}
%}

%native(new_callbacks) int prov_lua_new_callbacks(lua_State *L);
%native(install_callbacks) int prov_lua_install_callbacks(lua_State *L);
%native(bind_callbacks_thread) int prov_lua_bind_callbacks_thread(lua_State *L);
