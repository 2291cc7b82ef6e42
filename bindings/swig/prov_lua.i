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

/* ------------------------------------------------------------------------ */
/* Asynchronous registration by polling                                     */
/* ------------------------------------------------------------------------ */

/* prov_client_register_async runs the registration on libprov's event-loop
 * threads and calls back there. A Lua state must never be entered from
 * another thread, so nothing Lua-related happens in those callbacks: they
 * copy the event into the operation's mutex-protected queue (and the end
 * into its outcome) and signal a condition variable. Lua polls the queue
 * (async_poll) or waits on the condition (async_wait, plain C waiting).
 *
 * Lifetimes: the queue and outcome live in a heap block with two
 * references, the Lua operation userdata's and the pending completion
 * callback's; whichever lets go last frees it, so a callback never writes
 * freed memory. The operation userdata keeps the client proxy alive (its
 * user value), and Lua finalizes objects in the reverse order of creation,
 * so an operation is always finalized before its client. */
%{
#include <errno.h>
#include <pthread.h>
#include <time.h>

typedef struct prov_lua_async_event {
  struct prov_lua_async_event *next;
  int state;
  uint32_t retry_after_ms;
  char detail[1]; /* copied: libprov lends it for the call only */
} prov_lua_async_event;

typedef struct prov_lua_async_shared {
  pthread_mutex_t lock;
  pthread_cond_t changed; /* signalled when the registration ends */
  prov_lua_async_event *head, *tail;
  int finished;           /* the completion callback has run */
  int status;
  prov_result *result;    /* owned until taken */
  prov_binding_error error;
  int references;         /* the Lua userdata + the pending completion callback */
} prov_lua_async_shared;

typedef struct prov_lua_async_op {
  prov_lua_async_shared *shared; /* NULL once released */
  ProvClient *client;            /* the wrapper; kept alive by the user value */
  int settled; /* the end was seen and the client made idle for Lua */
  int taken;   /* the outcome was handed to Lua */
} prov_lua_async_op;

static const char prov_lua_async_type[] = "prov_native.AsyncRegistration";

static void prov_lua_async_release(prov_lua_async_shared *shared) {
  int remaining;
  pthread_mutex_lock(&shared->lock);
  remaining = --shared->references;
  pthread_mutex_unlock(&shared->lock);
  if (remaining > 0) return;
  while (shared->head) {
    prov_lua_async_event *next = shared->head->next;
    free(shared->head);
    shared->head = next;
  }
  prov_result_free(shared->result);
  pthread_cond_destroy(&shared->changed);
  pthread_mutex_destroy(&shared->lock);
  free(shared);
}

/* libprov's progress callback (an event-loop thread): copy and queue. An
 * event that cannot be allocated is dropped; the outcome never is. */
static void prov_lua_async_progress(int state, const char *detail, uint32_t retry_after_ms,
                                    void *user_data) {
  prov_lua_async_shared *shared = (prov_lua_async_shared *)user_data;
  size_t length = detail ? strlen(detail) : 0;
  prov_lua_async_event *event = (prov_lua_async_event *)malloc(sizeof *event + length);
  if (event == NULL) return;
  event->next = NULL;
  event->state = state;
  event->retry_after_ms = retry_after_ms;
  if (length > 0) memcpy(event->detail, detail, length);
  event->detail[length] = '\0';
  pthread_mutex_lock(&shared->lock);
  if (shared->tail) {
    shared->tail->next = event;
  } else {
    shared->head = event;
  }
  shared->tail = event;
  pthread_mutex_unlock(&shared->lock);
}

/* libprov's completion callback (an event-loop thread). */
static void prov_lua_async_done(int status, prov_result *result, void *user_data) {
  prov_lua_async_shared *shared = (prov_lua_async_shared *)user_data;
  pthread_mutex_lock(&shared->lock);
  shared->status = status;
  if (status == PROV_OK) {
    shared->result = result;
  } else {
    /* prov_last_error_message() describes the failure on this thread only. */
    prov_binding_record(&shared->error, status, result);
    prov_result_free(result);
  }
  shared->finished = 1;
  pthread_cond_broadcast(&shared->changed);
  pthread_mutex_unlock(&shared->lock);
  prov_lua_async_release(shared);
}

static prov_lua_async_op *prov_lua_check_async(lua_State *L, int index) {
  return (prov_lua_async_op *)luaL_checkudata(L, index, prov_lua_async_type);
}

static int prov_lua_async_is_finished(prov_lua_async_shared *shared) {
  int finished;
  pthread_mutex_lock(&shared->lock);
  finished = shared->finished;
  pthread_mutex_unlock(&shared->lock);
  return finished;
}

/* Once the end was seen: wait until libprov counts the client idle (it does
 * once the completion callback has returned, microseconds later), detach
 * the progress relay from this operation's memory, and let the wrapper
 * accept other calls. Clearing the relay is a setter, refused with
 * PROV_E_BUSY exactly while the client is busy, so it is also the idle
 * test (bounded at about 5 s). */
static void prov_lua_async_settle(prov_lua_async_op *op) {
  int attempt;
  if (op->settled) return;
  op->settled = 1;
  for (attempt = 0; attempt < 50000; attempt++) {
    struct timespec pause = {0, 100000}; /* 100 us */
    if (prov_client_set_progress_callback(op->client->handle, NULL, NULL) != PROV_E_BUSY) break;
    nanosleep(&pause, NULL);
  }
  PROV_BINDING_ATOMIC_ADD(&op->client->registrations_in_flight, -1);
}

/* Waits up to timeout_ms (< 0: without limit) for the end; 1 if finished. */
static int prov_lua_async_wait_for(prov_lua_async_shared *shared, lua_Integer timeout_ms) {
  struct timespec deadline;
  int finished;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  if (timeout_ms >= 0) {
    deadline.tv_sec += (time_t)(timeout_ms / 1000);
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec += 1;
      deadline.tv_nsec -= 1000000000L;
    }
  }
  pthread_mutex_lock(&shared->lock);
  while (!shared->finished) {
    if (timeout_ms < 0) {
      pthread_cond_wait(&shared->changed, &shared->lock);
    } else if (pthread_cond_timedwait(&shared->changed, &shared->lock, &deadline) == ETIMEDOUT) {
      break;
    }
  }
  finished = shared->finished;
  pthread_mutex_unlock(&shared->lock);
  return finished;
}

/* __gc: an unfinished registration is cancelled (libprov stops within
 * 100 ms) and waited for, so the client is idle again before it can be
 * finalized; the memory the callbacks write is released by the last user. */
static int prov_lua_async_gc(lua_State *L) {
  prov_lua_async_op *op = prov_lua_check_async(L, 1);
  prov_lua_async_shared *shared = op->shared;
  if (shared == NULL) return 0;
  if (!prov_lua_async_is_finished(shared)) {
    prov_client_cancel(op->client->handle);
    prov_lua_async_wait_for(shared, 10000);
  }
  if (prov_lua_async_is_finished(shared)) {
    prov_lua_async_settle(op);
  } else {
    /* Not ended within 10 s of a cancel (never expected): keep the client
     * counted busy; prov_client_free still waits for the registration. */
    op->settled = 1;
  }
  op->shared = NULL;
  prov_lua_async_release(shared);
  return 0;
}

/* async_start(client_proxy) -> an operation userdata, or raises the error
 * table (closed, busy, ...). */
static int prov_lua_async_start(lua_State *L) {
  ProvClient *client = NULL;
  prov_lua_async_op *op;
  prov_lua_async_shared *shared;
  pthread_condattr_t attributes;
  int status;
  if (!SWIG_IsOK(SWIG_ConvertPtr(L, 1, (void **)&client, SWIGTYPE_p_ProvClient, 0)) ||
      client == NULL) {
    return luaL_argerror(L, 1, "expected a prov_native.ProvClient");
  }
  prov_binding_clear();
  if (!prov_binding_client_open(client)) goto fail;
  /* The userdata first: if Lua runs out of memory here nothing has started. */
  op = (prov_lua_async_op *)lua_newuserdatauv(L, sizeof *op, 1);
  op->shared = NULL;
  op->client = client;
  op->settled = 1;
  op->taken = 0;
  if (luaL_newmetatable(L, prov_lua_async_type)) {
    lua_pushcfunction(L, prov_lua_async_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);

  if (PROV_BINDING_ATOMIC_ADD(&client->registrations_in_flight, 1) != 1 ||
      PROV_BINDING_ATOMIC_LOAD(&client->closing)) {
    PROV_BINDING_ATOMIC_ADD(&client->registrations_in_flight, -1);
    prov_binding_fail_message(PROV_E_BUSY, "another registration on this client is in flight");
    goto fail;
  }
  shared = (prov_lua_async_shared *)calloc(1, sizeof *shared);
  if (shared == NULL) {
    PROV_BINDING_ATOMIC_ADD(&client->registrations_in_flight, -1);
    prov_binding_fail_message(PROV_E_NOMEM, "out of memory starting the registration");
    goto fail;
  }
  pthread_mutex_init(&shared->lock, NULL);
  pthread_condattr_init(&attributes);
  pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
  pthread_cond_init(&shared->changed, &attributes);
  pthread_condattr_destroy(&attributes);
  shared->references = 2;
  /* No Lua function may run on libprov's threads: the synchronous
   * register()'s log trampoline is detached here (register() installs it
   * again), the progress relay only queues. */
  status = prov_client_set_log_callback(client->handle, PROV_LOG_INFO, NULL, NULL);
  if (status == PROV_OK) {
    status = prov_client_set_progress_callback(client->handle, prov_lua_async_progress, shared);
  }
  if (status == PROV_OK) {
    status = prov_client_register_async(client->handle, prov_lua_async_done, shared);
  }
  if (status != PROV_OK) {
    prov_client_set_progress_callback(client->handle, NULL, NULL);
    PROV_BINDING_ATOMIC_ADD(&client->registrations_in_flight, -1);
    shared->references = 1;
    prov_lua_async_release(shared);
    prov_binding_fail(status, NULL);
    goto fail;
  }
  op->shared = shared;
  op->settled = 0;
  return 1;
fail:
  prov_binding_push_lua_error(L);
  return lua_error(L);
}

/* async_poll(op) -> events, finished: the progress events since the last
 * poll as a list of {state, detail, retry_after_ms} (in order), and whether
 * the registration has ended (then the client is idle again). */
static int prov_lua_async_poll(lua_State *L) {
  prov_lua_async_op *op = prov_lua_check_async(L, 1);
  prov_lua_async_shared *shared = op->shared;
  prov_lua_async_event *events = NULL;
  lua_Integer count = 0;
  int finished = 1;
  if (shared != NULL) {
    pthread_mutex_lock(&shared->lock);
    events = shared->head;
    shared->head = shared->tail = NULL;
    finished = shared->finished;
    pthread_mutex_unlock(&shared->lock);
  }
  lua_newtable(L);
  while (events) {
    prov_lua_async_event *next = events->next;
    /* Should Lua raise (out of memory) while building the table, the
     * remaining events of this poll are lost (not freed): one
     * registration's handful at most. */
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, events->state);
    lua_setfield(L, -2, "state");
    lua_pushstring(L, events->detail);
    lua_setfield(L, -2, "detail");
    lua_pushinteger(L, (lua_Integer)events->retry_after_ms);
    lua_setfield(L, -2, "retry_after_ms");
    lua_rawseti(L, -2, ++count);
    free(events);
    events = next;
  }
  if (finished && shared != NULL) prov_lua_async_settle(op);
  lua_pushboolean(L, finished);
  return 2;
}

/* async_wait(op, timeout_ms | nil = no limit) -> finished. Plain C waiting
 * on the condition variable; events stay queued for the next poll. */
static int prov_lua_async_wait(lua_State *L) {
  prov_lua_async_op *op = prov_lua_check_async(L, 1);
  lua_Integer timeout_ms = luaL_optinteger(L, 2, -1);
  int finished = 1;
  if (op->shared != NULL) {
    finished = prov_lua_async_wait_for(op->shared, timeout_ms);
    if (finished) prov_lua_async_settle(op);
  }
  lua_pushboolean(L, finished);
  return 1;
}

/* async_cancel(op): libprov stops the registration within 100 ms; it then
 * ends with PROV_E_CANCELLED. Nothing happens once it has ended. */
static int prov_lua_async_cancel(lua_State *L) {
  prov_lua_async_op *op = prov_lua_check_async(L, 1);
  if (op->shared != NULL && !op->settled && !prov_lua_async_is_finished(op->shared)) {
    prov_client_cancel(op->client->handle);
  }
  return 0;
}

/* async_take(op) -> a ProvResult proxy, or raises the registration's error
 * table (the same mapping as register()). Once only, after the end. */
static int prov_lua_async_take(lua_State *L) {
  prov_lua_async_op *op = prov_lua_check_async(L, 1);
  prov_lua_async_shared *shared = op->shared;
  prov_result *raw;
  ProvResult *wrapper;
  if (shared == NULL || op->taken || !prov_lua_async_is_finished(shared)) {
    return luaL_error(L, "async_take: the registration has not ended or was already taken");
  }
  prov_lua_async_settle(op);
  op->taken = 1;
  if (shared->status != PROV_OK) {
    prov_binding_pending = shared->error;
    prov_binding_push_lua_error(L);
    return lua_error(L);
  }
  raw = shared->result;
  wrapper = (ProvResult *)malloc(sizeof *wrapper);
  if (raw == NULL || wrapper == NULL) {
    free(wrapper);
    prov_binding_fail_message(raw == NULL ? PROV_E_INTERNAL : PROV_E_NOMEM,
                              raw == NULL ? "registration succeeded without a result"
                                          : "out of memory wrapping the registration result");
    prov_binding_push_lua_error(L);
    return lua_error(L);
  }
  shared->result = NULL;
  wrapper->handle = raw;
  SWIG_NewPointerObj(L, wrapper, SWIGTYPE_p_ProvResult, 1);
  return 1;
}
%}

%native(async_start) int prov_lua_async_start(lua_State *L);
%native(async_poll) int prov_lua_async_poll(lua_State *L);
%native(async_wait) int prov_lua_async_wait(lua_State *L);
%native(async_cancel) int prov_lua_async_cancel(lua_State *L);
%native(async_take) int prov_lua_async_take(lua_State *L);
