/*
 * prov.i — the language-neutral SWIG interface over include/prov/prov.h.
 *
 * Every binding (Python, Lua, Go, Java, C#) includes this file from a small
 * per-language file (prov_<lang>.i) that only chooses the module name,
 * packaging and disposal details. What lives here, once for all languages:
 *
 *  - Handles as proxy classes. SWIG sees two small wrapper structs,
 *    ProvClient and ProvResult, each holding one libprov handle. Their
 *    destructors call prov_client_free / prov_result_free, and each has an
 *    idempotent close() so languages with deterministic disposal (Python
 *    `with`, Lua __close, Java AutoCloseable, C# IDisposable) can release the
 *    native handle before the garbage collector gets to the proxy. Any call
 *    on a closed handle fails cleanly ("client is closed") instead of
 *    touching freed memory.
 *  - One error mapping. Each wrapper records a failure (prov_status, the
 *    message from prov_last_error_message() and, for registrations, the
 *    service's error details) in a thread-local "pending error"; a single
 *    %exception turns it into the target language's error idiom.
 *  - Ownership: %newobject on everything that returns a new object; owned
 *    strings (prov_derive_device_key, prov_generate_sas_token) are copied
 *    into the target language and released with prov_string_free (which
 *    wipes them) through the newfree typemap.
 *
 * Hooks for per-language files (define before %include "prov.i"):
 *  - PROV_SWIG_RAISE: a SWIG macro (%define) that raises the pending error
 *    in the target language; it may read prov_binding_pending (see below)
 *    and must end by leaving the wrapper (e.g. SWIG_fail; or return $null;).
 *    Python and Lua have built-in mappings here; other languages fall back
 *    to SWIG_exception(SWIG_RuntimeError, message).
 *  - PROV_SWIG_NO_EXCEPTIONS: no %exception at all (e.g. Go, whose
 *    hand-written layer reads the pending error through
 *    prov_binding_last_status() and friends right after each call).
 *  - PROV_SWIG_ASYNC: wrap prov_client_register_async with progress
 *    (ProvClient::register_async); the per-language file then defines
 *    prov_binding_deliver_progress/_completion (see the end of this file).
 *  - Byte buffers: typemaps for `prov_binding_bytes` (out) and
 *    `(const uint8_t *der, size_t der_len)` (in), before including this file.
 */

%{
#include <stdlib.h>
#include <string.h>

#include <prov/prov.h>

/* Bytes borrowed from a result (a DER certificate), or data NULL for none.
 * Each per-language file maps it (typemap out) to its byte-string type;
 * defined here because SWIG emits the %extend bodies that return it where
 * ProvResult is declared. */
typedef struct prov_binding_bytes {
  const uint8_t *data;
  size_t length;
} prov_binding_bytes;
%}

typedef struct prov_binding_bytes prov_binding_bytes;

%include <stdint.i>
%include <exception.i>

/* ------------------------------------------------------------------------ */
/* Pending error: set by the wrappers, raised by %exception                 */
/* ------------------------------------------------------------------------ */

%{
#if defined(__cplusplus) && __cplusplus >= 201103L
#define PROV_BINDING_THREAD_LOCAL thread_local
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define PROV_BINDING_THREAD_LOCAL _Thread_local
#elif defined(_MSC_VER)
#define PROV_BINDING_THREAD_LOCAL __declspec(thread)
#else
#define PROV_BINDING_THREAD_LOCAL __thread
#endif

/* The details of the last failure of a wrapper call on this thread. The
 * message must be copied at once: prov_last_error_message() is only valid
 * until the next libprov call on the same thread. Fixed buffers, so that
 * recording an error never allocates (it may be reporting PROV_E_NOMEM). */
typedef struct prov_binding_error {
  int status;                    /* a prov_status; PROV_OK = nothing pending */
  char message[1024];            /* libprov's explanation, never a secret */
  int32_t error_code;            /* DPS 6-digit error code, 0 = none */
  int32_t http_status;           /* HTTP-like status of the last response, 0 = none */
  char tracking_id[128];         /* "" = none */
  char service_message[1024];    /* the service's own message, "" = none */
  char registration_status[32];  /* e.g. "failed", "disabled"; "" = none */
} prov_binding_error;

static PROV_BINDING_THREAD_LOCAL prov_binding_error prov_binding_pending;

static void prov_binding_copy(char *destination, size_t capacity, const char *source) {
  size_t length = source ? strlen(source) : 0;
  if (length >= capacity) length = capacity - 1;
  if (length > 0) memcpy(destination, source, length);
  destination[length] = '\0';
}

static void prov_binding_clear(void) { prov_binding_pending.status = PROV_OK; }

/* Records into `pending` a failure whose explanation is libprov's last error
 * message, plus the service's details when a result came back with it. */
static void prov_binding_record(prov_binding_error *pending, int status,
                                const prov_result *details) {
  const char *message = prov_last_error_message();
  prov_binding_copy(pending->message, sizeof pending->message,
                    (message && message[0]) ? message : prov_status_str(status));
  pending->status = status;
  pending->error_code = details ? prov_result_error_code(details) : 0;
  pending->http_status = details ? prov_result_http_status(details) : 0;
  prov_binding_copy(pending->tracking_id, sizeof pending->tracking_id,
                    details ? prov_result_tracking_id(details) : NULL);
  prov_binding_copy(pending->service_message, sizeof pending->service_message,
                    details ? prov_result_error_message(details) : NULL);
  prov_binding_copy(pending->registration_status, sizeof pending->registration_status,
                    details ? prov_result_status(details) : NULL);
}

/* The same into this thread's pending error. */
static void prov_binding_fail(int status, const prov_result *details) {
  prov_binding_record(&prov_binding_pending, status, details);
}

/* Records a failure detected by the binding itself (not by libprov). */
static void prov_binding_fail_message(int status, const char *message) {
  prov_binding_error *pending = &prov_binding_pending;
  pending->status = status;
  prov_binding_copy(pending->message, sizeof pending->message, message);
  pending->error_code = 0;
  pending->http_status = 0;
  pending->tracking_id[0] = '\0';
  pending->service_message[0] = '\0';
  pending->registration_status[0] = '\0';
}

/* Returns 1 when status is PROV_OK, else records the failure and returns 0. */
static int prov_binding_check(int status) {
  if (status == PROV_OK) return 1;
  prov_binding_fail(status, NULL);
  return 0;
}
%}

/* Accessors for the pending error, for languages without exceptions
 * (PROV_SWIG_NO_EXCEPTIONS). Valid until the next wrapper call on the same
 * OS thread. */
%inline %{
int prov_binding_last_status(void) { return prov_binding_pending.status; }
const char *prov_binding_last_message(void) { return prov_binding_pending.message; }
int32_t prov_binding_last_error_code(void) { return prov_binding_pending.error_code; }
int32_t prov_binding_last_http_status(void) { return prov_binding_pending.http_status; }
const char *prov_binding_last_tracking_id(void) { return prov_binding_pending.tracking_id; }
const char *prov_binding_last_service_message(void) { return prov_binding_pending.service_message; }
/* The registration status that came with the failure ("failed", "disabled"). */
const char *prov_binding_last_registration_status(void) {
  return prov_binding_pending.registration_status;
}
%}

/* ------------------------------------------------------------------------ */
/* Per-language raising of the pending error                                */
/* ------------------------------------------------------------------------ */

#if defined(SWIGPYTHON)
%{
/* libprov.native.NativeError(status, status_name, message, details): the
 * Python layer (libprov/_errors.py) maps it to the Python SDK's exception
 * classes. Created in %init below. */
static PyObject *prov_binding_native_error = NULL;

static const char *prov_binding_or_null(const char *text) {
  return (text && text[0]) ? text : NULL;
}

static void prov_binding_raise_python(void) {
  const prov_binding_error *pending = &prov_binding_pending;
  PyObject *arguments = Py_BuildValue(
      "(iss{s:i,s:i,s:z,s:z,s:z})", pending->status, prov_status_str(pending->status),
      pending->message, "error_code", (int)pending->error_code, "http_status",
      (int)pending->http_status, "tracking_id", prov_binding_or_null(pending->tracking_id),
      "service_message", prov_binding_or_null(pending->service_message),
      "registration_status", prov_binding_or_null(pending->registration_status));
  if (arguments == NULL) return; /* Py_BuildValue set MemoryError */
  PyErr_SetObject(prov_binding_native_error, arguments);
  Py_DECREF(arguments);
}

/* Registration blocks for up to its deadline: let other Python threads (and
 * the asyncio loop driving run_in_executor) run meanwhile. */
#define PROV_BINDING_BEGIN_BLOCKING PyThreadState *prov_binding_thread_state = PyEval_SaveThread();
#define PROV_BINDING_END_BLOCKING PyEval_RestoreThread(prov_binding_thread_state);
%}
%init %{
  prov_binding_native_error =
      PyErr_NewException("libprov.native.NativeError", PyExc_RuntimeError, NULL);
  if (prov_binding_native_error) {
    PyDict_SetItemString(d, "NativeError", prov_binding_native_error);
  }
%}
#elif defined(SWIGLUA)
%{
/* The error value is a table {status, status_name, message, error_code,
 * http_status, tracking_id, service_message, registration_status}; the
 * prov.lua layer turns `error(table)` into the `nil, err` idiom. */
static void prov_binding_push_lua_error(lua_State *L) {
  const prov_binding_error *pending = &prov_binding_pending;
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, pending->status);
  lua_setfield(L, -2, "status");
  lua_pushstring(L, prov_status_str(pending->status));
  lua_setfield(L, -2, "status_name");
  lua_pushstring(L, pending->message);
  lua_setfield(L, -2, "message");
  lua_pushinteger(L, pending->error_code);
  lua_setfield(L, -2, "error_code");
  lua_pushinteger(L, pending->http_status);
  lua_setfield(L, -2, "http_status");
  if (pending->tracking_id[0]) {
    lua_pushstring(L, pending->tracking_id);
    lua_setfield(L, -2, "tracking_id");
  }
  if (pending->service_message[0]) {
    lua_pushstring(L, pending->service_message);
    lua_setfield(L, -2, "service_message");
  }
  if (pending->registration_status[0]) {
    lua_pushstring(L, pending->registration_status);
    lua_setfield(L, -2, "registration_status");
  }
}
%}
#endif

%{
#ifndef PROV_BINDING_BEGIN_BLOCKING
#define PROV_BINDING_BEGIN_BLOCKING
#define PROV_BINDING_END_BLOCKING
#endif
%}

#if !defined(PROV_SWIG_NO_EXCEPTIONS)
#if defined(PROV_SWIG_RAISE)
%exception {
  prov_binding_clear();
  $action
  if (prov_binding_pending.status != PROV_OK) {
    PROV_SWIG_RAISE
  }
}
#elif defined(SWIGPYTHON)
%exception {
  prov_binding_clear();
  $action
  if (prov_binding_pending.status != PROV_OK) {
    prov_binding_raise_python();
    SWIG_fail;
  }
}
#elif defined(SWIGLUA)
%exception {
  prov_binding_clear();
  $action
  if (prov_binding_pending.status != PROV_OK) {
    prov_binding_push_lua_error(L);
    SWIG_fail;
  }
}
#else
%exception {
  prov_binding_clear();
  $action
  if (prov_binding_pending.status != PROV_OK) {
    SWIG_exception(SWIG_RuntimeError, prov_binding_pending.message);
  }
}
#endif
#else
%exception {
  prov_binding_clear();
  $action
}
#endif

/* The accessors above must not clear what they report. */
%exception prov_binding_last_status "$action"
%exception prov_binding_last_message "$action"
%exception prov_binding_last_error_code "$action"
%exception prov_binding_last_http_status "$action"
%exception prov_binding_last_tracking_id "$action"
%exception prov_binding_last_service_message "$action"
%exception prov_binding_last_registration_status "$action"

/* ------------------------------------------------------------------------ */
/* Owned strings                                                            */
/* ------------------------------------------------------------------------ */

/* Strings that libprov hands over through `char **out` are returned by the
 * wrappers below as `char *` marked %newobject: SWIG copies them into the
 * target language, then this typemap wipes and frees the C copy. */
%typemap(newfree) char * "prov_string_free($1);";

%newobject derive_device_key;
%newobject generate_sas_token;

%inline %{
/* base64(HMAC-SHA256(base64decode(group_key), registration_id)). */
char *derive_device_key(const char *group_key, const char *registration_id) {
  char *device_key = NULL;
  if (!prov_binding_check(prov_derive_device_key(group_key, registration_id, &device_key))) {
    return NULL;
  }
  return device_key;
}

/* The SAS token a device presents, valid until `expiry` (Unix seconds). */
char *generate_sas_token(const char *id_scope, const char *registration_id,
                         const char *symmetric_key, int64_t expiry) {
  char *token = NULL;
  if (!prov_binding_check(
          prov_generate_sas_token(id_scope, registration_id, symmetric_key, expiry, &token))) {
    return NULL;
  }
  return token;
}

const char *version_string(void) { return prov_version_string(); }
uint32_t version_number(void) { return prov_version_number(); }
/* "PROV_E_TIMEOUT" for 6, and so on. */
const char *status_name(int status) { return prov_status_str(status); }
%}

/* Status codes as constants of the module (append-only, as in prov.h). */
%constant int PROV_OK = PROV_OK;
%constant int PROV_E_INVALID_ARG = PROV_E_INVALID_ARG;
%constant int PROV_E_NOMEM = PROV_E_NOMEM;
%constant int PROV_E_CREDENTIAL = PROV_E_CREDENTIAL;
%constant int PROV_E_CONNECTION_FAILED = PROV_E_CONNECTION_FAILED;
%constant int PROV_E_CONNECTION_DROPPED = PROV_E_CONNECTION_DROPPED;
%constant int PROV_E_TIMEOUT = PROV_E_TIMEOUT;
%constant int PROV_E_CANCELLED = PROV_E_CANCELLED;
%constant int PROV_E_SERVICE = PROV_E_SERVICE;
%constant int PROV_E_PROTOCOL = PROV_E_PROTOCOL;
%constant int PROV_E_BUSY = PROV_E_BUSY;
%constant int PROV_E_INTERNAL = PROV_E_INTERNAL;

/* ------------------------------------------------------------------------ */
/* Handles                                                                  */
/* ------------------------------------------------------------------------ */

%{
typedef struct ProvResult {
  prov_result *handle; /* NULL once closed */
} ProvResult;

/* The end of an asynchronous registration (see register_async below). */
typedef struct ProvCompletion {
  int status;
  prov_binding_error error; /* meaningful when status != PROV_OK */
  prov_result *result;      /* owned; NULL once taken, or on failure */
} ProvCompletion;

struct ProvClient;

/* An event of an asynchronous registration on its way to the language
 * (see the dispatcher below). */
typedef struct prov_binding_event {
  struct prov_binding_event *next;
  int64_t context;
  ProvCompletion *completion; /* the end of the registration; NULL for progress */
  prov_client *client;        /* with a completion: the native client it ran on */
  void *relay_data;           /* with a completion: the progress relay's user_data */
  int is_log;                 /* a log line (state = its level), else progress */
  int state;
  uint32_t retry_after_ms;
  char detail[1]; /* progress detail, copied (libprov lends it for the call) */
} prov_binding_event;

/* A wrapper's asynchronous registration, allocated by its first
 * register_async and reached by libprov's callbacks through user_data. One
 * registration at a time (registrations_in_flight guards it). */
typedef struct prov_binding_async_state {
  int active;                 /* 1 while a registration started here is in flight */
  int64_t context;            /* the language's token for it */
  struct ProvClient *client;  /* the wrapper */
  /* The completion's queue entry (with its ProvCompletion), allocated at the
   * start and handed to the dispatcher at the end. */
  prov_binding_event *completion_event;
} prov_binding_async_state;

typedef struct ProvClient {
  prov_client *handle; /* NULL once closed */
  /* close() racing a registration on another thread (the GIL is released
   * during register in Python; Java/C# callers may close from any thread):
   * prov_client_free must never run under prov_client_register. Both sides
   * publish their intent first and then look at the other's (sequentially
   * consistent atomics), so at least one of them sees the other and backs
   * off: register fails with "client is closed", or close with PROV_E_BUSY. */
  int registrations_in_flight;
  int closing;
  prov_binding_async_state *async; /* NULL until the first register_async */
} ProvClient;

#if defined(__GNUC__) || defined(__clang__)
#define PROV_BINDING_ATOMIC_ADD(place, delta) __atomic_add_fetch((place), (delta), __ATOMIC_SEQ_CST)
#define PROV_BINDING_ATOMIC_LOAD(place) __atomic_load_n((place), __ATOMIC_SEQ_CST)
#define PROV_BINDING_ATOMIC_STORE(place, value) __atomic_store_n((place), (value), __ATOMIC_SEQ_CST)
#else
#define PROV_BINDING_ATOMIC_ADD(place, delta) (*(place) += (delta))
#define PROV_BINDING_ATOMIC_LOAD(place) (*(place))
#define PROV_BINDING_ATOMIC_STORE(place, value) (*(place) = (value))
#endif

static int prov_binding_client_open(const ProvClient *client) {
  if (client->handle != NULL) return 1;
  prov_binding_fail_message(PROV_E_INVALID_ARG, "client is closed");
  return 0;
}
%}

#if defined(PROV_SWIG_ASYNC)
%{
/* Asynchronous registration (see register_async at the end of this file),
 * here because SWIG emits the %extend bodies where the class is declared.
 *
 * libprov calls its callbacks on its event-loop threads, inside the fiber
 * (a small stack of its own) that runs the registration. A managed runtime
 * must not be entered there: the JVM and Mono check stack bounds and scan
 * thread stacks, and a slow callback would stall every registration sharing
 * that loop. So the callbacks below only append the event to one queue, and
 * one dispatcher thread per process (an ordinary thread with an ordinary
 * stack, never one per registration; started by register_async, gone again
 * 200 ms after the last registration was delivered) hands the events, in
 * order, to the language through the functions the per-language file
 * defines: */
static void prov_binding_deliver_progress(int64_t context, int state, const char *detail,
                                          uint32_t retry_after_ms);
static void prov_binding_deliver_completion(int64_t context, ProvCompletion *completion);
/* Called on the dispatcher thread just before it exits (e.g. to detach it
 * from the JVM). */
static void prov_binding_dispatcher_exiting(void);
/* A log line (prov_client_set_log_callback) of the registration `context`. */
static void prov_binding_deliver_log(int64_t context, int level, const char *message);
static void prov_binding_async_progress(int state, const char *detail, uint32_t retry_after_ms,
                                        void *user_data);

#include <errno.h>
#include <pthread.h>
#include <time.h>


static pthread_mutex_t prov_binding_queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t prov_binding_queue_ready = PTHREAD_COND_INITIALIZER;
static prov_binding_event *prov_binding_queue_head;
static prov_binding_event *prov_binding_queue_tail;
static int prov_binding_dispatcher_started; /* guarded by the queue lock */
/* Asynchronous registrations started and not yet delivered; guarded by the
 * queue lock. The dispatcher exits once this is 0 and it has been idle for
 * a moment: a runtime that attached it (Mono) then need not wait for it at
 * exit, and the next register_async starts it again. */
static long prov_binding_outstanding;

static void prov_binding_enqueue(prov_binding_event *event) {
  event->next = NULL;
  pthread_mutex_lock(&prov_binding_queue_lock);
  if (prov_binding_queue_tail) {
    prov_binding_queue_tail->next = event;
  } else {
    prov_binding_queue_head = event;
  }
  prov_binding_queue_tail = event;
  pthread_cond_signal(&prov_binding_queue_ready);
  pthread_mutex_unlock(&prov_binding_queue_lock);
}

/* libprov counts the client as busy until its completion callback has
 * returned, and the dispatcher may reach the completion a moment before
 * that: the language must not hear of the end (and, say, set an option or
 * register again at once, which would fail with PROV_E_BUSY) until then.
 * Re-installing the same progress relay is a no-op setter that answers
 * PROV_E_BUSY exactly while the client is busy; the wait is microseconds
 * (bounded at about 5 s, after which the completion is delivered anyway).
 * The client is alive: every language layer keeps it, and refuses to close
 * it, until the completion is delivered. */
static void prov_binding_wait_until_idle(prov_client *client, void *relay_data) {
  int attempt;
  for (attempt = 0; attempt < 50000; attempt++) {
    struct timespec pause = {0, 100000}; /* 100 us */
    if (prov_client_set_progress_callback(client, prov_binding_async_progress, relay_data) !=
        PROV_E_BUSY) {
      return;
    }
    nanosleep(&pause, NULL);
  }
}

static void *prov_binding_dispatch(void *unused) {
  (void)unused;
  for (;;) {
    prov_binding_event *event;
    pthread_mutex_lock(&prov_binding_queue_lock);
    while (prov_binding_queue_head == NULL) {
      struct timespec deadline;
      clock_gettime(CLOCK_REALTIME, &deadline);
      deadline.tv_nsec += 200000000L; /* 200 ms */
      if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
      }
      if (pthread_cond_timedwait(&prov_binding_queue_ready, &prov_binding_queue_lock, &deadline) ==
              ETIMEDOUT &&
          prov_binding_queue_head == NULL && prov_binding_outstanding == 0) {
        prov_binding_dispatcher_started = 0;
        pthread_mutex_unlock(&prov_binding_queue_lock);
        prov_binding_dispatcher_exiting();
        return NULL;
      }
    }
    event = prov_binding_queue_head;
    prov_binding_queue_head = event->next;
    if (prov_binding_queue_head == NULL) prov_binding_queue_tail = NULL;
    pthread_mutex_unlock(&prov_binding_queue_lock);
    if (event->completion) {
      prov_binding_wait_until_idle(event->client, event->relay_data);
      prov_binding_deliver_completion(event->context, event->completion);
      pthread_mutex_lock(&prov_binding_queue_lock);
      prov_binding_outstanding--;
      pthread_mutex_unlock(&prov_binding_queue_lock);
    } else if (event->is_log) {
      prov_binding_deliver_log(event->context, event->state, event->detail);
    } else {
      prov_binding_deliver_progress(event->context, event->state, event->detail,
                                    event->retry_after_ms);
    }
    free(event);
  }
  return NULL;
}

/* Counts one more registration outstanding and makes sure the dispatcher
 * runs; 0 (nothing counted) when its thread cannot be created. */
static int prov_binding_start_dispatcher(void) {
  int ok = 1;
  pthread_mutex_lock(&prov_binding_queue_lock);
  if (!prov_binding_dispatcher_started) {
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attributes, prov_binding_dispatch, NULL) == 0) {
      prov_binding_dispatcher_started = 1;
    } else {
      ok = 0;
    }
    pthread_attr_destroy(&attributes);
  }
  if (ok) prov_binding_outstanding++;
  pthread_mutex_unlock(&prov_binding_queue_lock);
  return ok;
}

/* For a registration counted by prov_binding_start_dispatcher that did not
 * start after all. */
static void prov_binding_forget_outstanding(void) {
  pthread_mutex_lock(&prov_binding_queue_lock);
  prov_binding_outstanding--;
  pthread_mutex_unlock(&prov_binding_queue_lock);
}

/* Queues a progress step or log line of the wrapper's asynchronous
 * registration in flight; nothing otherwise (e.g. during register()). An
 * event that cannot be allocated is dropped (both are advisory). */
static void prov_binding_async_event(prov_binding_async_state *async, int is_log, int state,
                                     const char *detail, uint32_t retry_after_ms) {
  size_t length;
  prov_binding_event *event;
  if (!PROV_BINDING_ATOMIC_LOAD(&async->active)) return;
  if (detail == NULL) detail = "";
  length = strlen(detail);
  event = (prov_binding_event *)malloc(sizeof *event + length);
  if (event == NULL) return;
  event->context = async->context;
  event->completion = NULL;
  event->is_log = is_log;
  event->state = state;
  event->retry_after_ms = retry_after_ms;
  memcpy(event->detail, detail, length + 1);
  prov_binding_enqueue(event);
}

/* libprov's progress callback (user_data: the wrapper's async state). */
static void prov_binding_async_progress(int state, const char *detail, uint32_t retry_after_ms,
                                        void *user_data) {
  prov_binding_async_event((prov_binding_async_state *)user_data, 0, state, detail,
                           retry_after_ms);
}

/* libprov's log callback, when the language asked for log lines. */
static void prov_binding_async_log(int level, const char *message, void *user_data) {
  prov_binding_async_event((prov_binding_async_state *)user_data, 1, level, message, 0);
}

/* The wrapper's async state, created (with the progress relay installed) on
 * first use; NULL with the failure recorded as the pending error. */
static prov_binding_async_state *prov_binding_async_state_of(ProvClient *client) {
  prov_binding_async_state *async = client->async;
  int status;
  if (async != NULL) return async;
  async = (prov_binding_async_state *)calloc(1, sizeof *async);
  if (async == NULL) {
    prov_binding_fail_message(PROV_E_NOMEM, "out of memory starting the registration");
    return NULL;
  }
  async->client = client;
  status = prov_client_set_progress_callback(client->handle, prov_binding_async_progress, async);
  if (status != PROV_OK) {
    free(async);
    prov_binding_fail(status, NULL);
    return NULL;
  }
  client->async = async;
  return async;
}

/* libprov's completion callback. Allocates nothing (the completion and its
 * event were allocated when the registration started), so the language
 * always hears of the end. */
static void prov_binding_async_done(int status, prov_result *result, void *user_data) {
  prov_binding_async_state *async = (prov_binding_async_state *)user_data;
  ProvClient *client = async->client;
  prov_binding_event *event = async->completion_event;
  ProvCompletion *completion = event->completion;
  async->completion_event = NULL;
  completion->status = status;
  if (status == PROV_OK) {
    completion->result = result;
  } else {
    prov_binding_record(&completion->error, status, result);
    prov_result_free(result);
  }
  /* The wrapper counts as idle before the language hears of the end, so that
   * a continuation may close it at once. After this the wrapper is not
   * touched again (prov_client_free from another thread waits for this
   * callback to return). */
  PROV_BINDING_ATOMIC_STORE(&async->active, 0);
  PROV_BINDING_ATOMIC_ADD(&client->registrations_in_flight, -1);
  prov_binding_enqueue(event);
}

/* prov_client_register_async: starts the registration on a library thread
 * and returns at once; prov_binding_deliver_progress reports its progress
 * and prov_binding_deliver_completion its end, exactly once, with this
 * context. On failure to start (closed, busy, out of memory) nothing is
 * delivered and the failure is the pending error. */
static void prov_binding_register_async(ProvClient *self, int64_t context) {
  prov_binding_async_state *async;
  ProvCompletion *completion;
  prov_binding_event *event;
  int status;
  if (!prov_binding_client_open(self)) return;
  if (PROV_BINDING_ATOMIC_ADD(&self->registrations_in_flight, 1) != 1 ||
      PROV_BINDING_ATOMIC_LOAD(&self->closing)) {
    int closing = PROV_BINDING_ATOMIC_LOAD(&self->closing);
    PROV_BINDING_ATOMIC_ADD(&self->registrations_in_flight, -1);
    prov_binding_fail_message(closing ? PROV_E_INVALID_ARG : PROV_E_BUSY,
                              closing ? "client is closed"
                                      : "another registration on this client is in flight");
    return;
  }
  async = prov_binding_async_state_of(self);
  if (async == NULL) {
    PROV_BINDING_ATOMIC_ADD(&self->registrations_in_flight, -1);
    return;
  }
  /* Again each time: a language (Python) may have installed its own
   * progress callback for a blocking register() since. */
  status = prov_client_set_progress_callback(self->handle, prov_binding_async_progress, async);
  if (status != PROV_OK) {
    PROV_BINDING_ATOMIC_ADD(&self->registrations_in_flight, -1);
    prov_binding_fail(status, NULL);
    return;
  }
  if (!prov_binding_start_dispatcher()) {
    PROV_BINDING_ATOMIC_ADD(&self->registrations_in_flight, -1);
    prov_binding_fail_message(PROV_E_NOMEM, "cannot start the binding's dispatcher thread");
    return;
  }
  completion = (ProvCompletion *)calloc(1, sizeof *completion);
  event = (prov_binding_event *)calloc(1, sizeof *event);
  if (completion == NULL || event == NULL) {
    free(completion);
    free(event);
    prov_binding_forget_outstanding();
    PROV_BINDING_ATOMIC_ADD(&self->registrations_in_flight, -1);
    prov_binding_fail_message(PROV_E_NOMEM, "out of memory starting the registration");
    return;
  }
  event->context = context;
  event->completion = completion;
  event->client = self->handle;
  event->relay_data = async;
  async->completion_event = event;
  async->context = context;
  PROV_BINDING_ATOMIC_STORE(&async->active, 1);
  status = prov_client_register_async(self->handle, prov_binding_async_done, async);
  if (status != PROV_OK) {
    PROV_BINDING_ATOMIC_STORE(&async->active, 0);
    async->completion_event = NULL;
    free(completion);
    free(event);
    prov_binding_forget_outstanding();
    PROV_BINDING_ATOMIC_ADD(&self->registrations_in_flight, -1);
    prov_binding_fail(status, NULL);
  }
}
%}
#endif

/* SWIG sees the wrappers as opaque structs with these members only. */
typedef struct ProvResult {} ProvResult;
typedef struct ProvClient {} ProvClient;

%nodefaultctor ProvResult;

%extend ProvResult {
  ~ProvResult() {
    prov_result_free($self->handle);
    free($self);
  }
  /* Frees the native result now; getters then return null. Idempotent. */
  void close() {
    prov_result_free($self->handle);
    $self->handle = NULL;
  }
  int is_closed() { return $self->handle == NULL; }

  /* Borrowed strings (copied by SWIG); null when the service did not send
   * the field. */
  const char *operation_id() { return prov_result_operation_id($self->handle); }
  const char *status() { return prov_result_status($self->handle); }
  const char *registration_id() { return prov_result_registration_id($self->handle); }
  const char *device_id() { return prov_result_device_id($self->handle); }
  const char *assigned_hub() { return prov_result_assigned_hub($self->handle); }
  const char *substatus() { return prov_result_substatus($self->handle); }
  const char *created_date_time() { return prov_result_created_date_time($self->handle); }
  const char *last_update_date_time() {
    return prov_result_last_update_date_time($self->handle);
  }
  const char *etag() { return prov_result_etag($self->handle); }
  /* registrationState.payload as JSON text. */
  const char *payload() { return prov_result_payload($self->handle); }
  /* The whole registrationState object as JSON text. */
  const char *registration_state_json() {
    return prov_result_registration_state_json($self->handle);
  }
  int32_t error_code() { return $self->handle ? prov_result_error_code($self->handle) : 0; }
  int32_t http_status() { return $self->handle ? prov_result_http_status($self->handle) : 0; }
  const char *tracking_id() { return prov_result_tracking_id($self->handle); }
  const char *error_message() { return prov_result_error_message($self->handle); }
}

%newobject ProvClient::register_device;
/* `register` is a C keyword, so the C-side name differs. */
%rename("register") ProvClient::register_device;

%extend ProvClient {
  /* prov_client_create_symkey: a client for a symmetric-key registration. */
  ProvClient(const char *provisioning_host, const char *registration_id, const char *id_scope,
             const char *symmetric_key) {
    ProvClient *client = (ProvClient *)calloc(1, sizeof *client);
    int status;
    if (client == NULL) {
      prov_binding_fail_message(PROV_E_NOMEM, "out of memory creating the client wrapper");
      return NULL;
    }
    status = prov_client_create_symkey(&client->handle, provisioning_host, registration_id,
                                       id_scope, symmetric_key);
    if (!prov_binding_check(status)) {
      free(client);
      return NULL;
    }
    return client;
  }
  ~ProvClient() {
    /* A proxy is only collected when nothing (including a running register
     * call) refers to it, so no registration can be in flight here. */
    prov_client_free($self->handle);
    if ($self->async && $self->async->completion_event) {
      free($self->async->completion_event->completion);
      free($self->async->completion_event);
    }
    free($self->async);
    free($self);
  }
  /* Frees the native client (wiping its key) now. Idempotent. Fails with
   * PROV_E_BUSY while a registration on it is in flight. */
  void close() {
    if ($self->handle == NULL) return;
    PROV_BINDING_ATOMIC_STORE(&$self->closing, 1);
    if (PROV_BINDING_ATOMIC_LOAD(&$self->registrations_in_flight) > 0) {
      PROV_BINDING_ATOMIC_STORE(&$self->closing, 0);
      prov_binding_fail_message(PROV_E_BUSY, "cannot close the client: a registration is in flight");
      return;
    }
    prov_client_free($self->handle);
    $self->handle = NULL;
  }
  int is_closed() { return $self->handle == NULL; }

  /* Options (see prov.h); null restores the default where prov.h allows. */
  void set_server_verification_cert(const char *pem) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_server_verification_cert($self->handle, pem));
    }
  }
  void set_gateway_hostname(const char *hostname) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_gateway_hostname($self->handle, hostname));
    }
  }
  void set_cipher(const char *cipher_list) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_cipher($self->handle, cipher_list));
    }
  }
  void set_keep_alive(int32_t seconds) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_keep_alive($self->handle, seconds));
    }
  }
  void set_sastoken_ttl(int32_t seconds) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_sastoken_ttl($self->handle, seconds));
    }
  }
  void set_provisioning_payload(const char *json) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_provisioning_payload($self->handle, json));
    }
  }
  void set_register_timeout(uint32_t milliseconds) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_register_timeout($self->handle, milliseconds));
    }
  }
  void set_response_timeout(uint32_t milliseconds) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_response_timeout($self->handle, milliseconds));
    }
  }

  /* prov_client_register. Returns the (assigned) result; on failure raises
   * with the service's details when the service answered. */
  ProvResult *register_device() {
    prov_result *raw = NULL;
    ProvResult *result;
    int status;
    if (!prov_binding_client_open($self)) return NULL;
    PROV_BINDING_ATOMIC_ADD(&$self->registrations_in_flight, 1);
    if (PROV_BINDING_ATOMIC_LOAD(&$self->closing)) {
      PROV_BINDING_ATOMIC_ADD(&$self->registrations_in_flight, -1);
      prov_binding_fail_message(PROV_E_INVALID_ARG, "client is closed");
      return NULL;
    }
    {
      PROV_BINDING_BEGIN_BLOCKING
      status = prov_client_register($self->handle, &raw);
      /* Read the details while still on this thread and before any other
       * libprov call replaces the last error message. */
      if (status != PROV_OK) prov_binding_fail(status, raw);
      PROV_BINDING_END_BLOCKING
    }
    PROV_BINDING_ATOMIC_ADD(&$self->registrations_in_flight, -1);
    if (status != PROV_OK) {
      prov_result_free(raw);
      return NULL;
    }
    if (raw == NULL) {
      prov_binding_fail_message(PROV_E_INTERNAL, "registration succeeded without a result");
      return NULL;
    }
    result = (ProvResult *)malloc(sizeof *result);
    if (result == NULL) {
      prov_result_free(raw);
      prov_binding_fail_message(PROV_E_NOMEM, "out of memory wrapping the registration result");
      return NULL;
    }
    result->handle = raw;
    return result;
  }
}

/* ------------------------------------------------------------------------ */
/* More of prov.h: group and X.509 clients, transports, proxies,            */
/* certificate issuance, X.509 and issuance result fields; the same error   */
/* mapping as above. The byte buffers (prov_client_set_csr_der,             */
/* prov_result_issued_certificate_der) are wrapped here once; each          */
/* per-language file only supplies, before including this file, the        */
/* typemaps for `(const uint8_t *der, size_t der_len)` (in) and             */
/* `prov_binding_bytes` (out) in its own byte-string type.                  */
/* ------------------------------------------------------------------------ */

%constant int PROV_E_CERTIFICATE = PROV_E_CERTIFICATE;
%constant int PROV_TRANSPORT_MQTT = PROV_TRANSPORT_MQTT;
%constant int PROV_TRANSPORT_MQTT_WS = PROV_TRANSPORT_MQTT_WS;
%constant int PROV_TRANSPORT_HTTPS = PROV_TRANSPORT_HTTPS;
%constant int PROV_PROXY_NONE = PROV_PROXY_NONE;
%constant int PROV_PROXY_HTTP = PROV_PROXY_HTTP;
%constant int PROV_PROXY_HTTPS = PROV_PROXY_HTTPS;
%constant int PROV_PROXY_SOCKS4 = PROV_PROXY_SOCKS4;
%constant int PROV_PROXY_SOCKS4A = PROV_PROXY_SOCKS4A;
%constant int PROV_PROXY_SOCKS5 = PROV_PROXY_SOCKS5;
%constant int PROV_PROXY_SOCKS5H = PROV_PROXY_SOCKS5H;
%constant int PROV_KEY_NONE = PROV_KEY_NONE;
%constant int PROV_KEY_EC_P256 = PROV_KEY_EC_P256;
%constant int PROV_KEY_RSA_2048 = PROV_KEY_RSA_2048;
%constant int PROV_CSR_API_2025_07_01_PREVIEW = PROV_CSR_API_2025_07_01_PREVIEW;
%constant int PROV_CSR_API_2021_11_01_PREVIEW = PROV_CSR_API_2021_11_01_PREVIEW;

%{
/* Wraps a handle from a prov_client_create_* call, or records its failure. */
static ProvClient *prov_binding_new_client(int status, prov_client *handle) {
  ProvClient *client;
  if (!prov_binding_check(status)) return NULL;
  client = (ProvClient *)calloc(1, sizeof *client);
  if (client == NULL) {
    prov_client_free(handle);
    prov_binding_fail_message(PROV_E_NOMEM, "out of memory creating the client wrapper");
    return NULL;
  }
  client->handle = handle;
  return client;
}
%}

/* Other constructors, as factory functions (several take the same number of
 * strings, so they cannot be overloads). The proxies own what they return. */
%newobject create_symkey_group_client;
%newobject create_x509_client;
%newobject create_x509_pem_client;

%inline %{
/* prov_client_create_symkey_group: the device key is derived from group_key. */
ProvClient *create_symkey_group_client(const char *provisioning_host, const char *registration_id,
                                       const char *id_scope, const char *group_key) {
  prov_client *handle = NULL;
  int status = prov_client_create_symkey_group(&handle, provisioning_host, registration_id,
                                               id_scope, group_key);
  return prov_binding_new_client(status, handle);
}

/* prov_client_create_x509: certificate chain and key from PEM files;
 * pass_phrase may be null. */
ProvClient *create_x509_client(const char *provisioning_host, const char *registration_id,
                               const char *id_scope, const char *cert_file, const char *key_file,
                               const char *pass_phrase) {
  prov_client *handle = NULL;
  int status = prov_client_create_x509(&handle, provisioning_host, registration_id, id_scope,
                                       cert_file, key_file, pass_phrase);
  return prov_binding_new_client(status, handle);
}

/* prov_client_create_x509_pem: the same from PEM text in memory. */
ProvClient *create_x509_pem_client(const char *provisioning_host, const char *registration_id,
                                   const char *id_scope, const char *cert_pem, const char *key_pem,
                                   const char *pass_phrase) {
  prov_client *handle = NULL;
  int status = prov_client_create_x509_pem(&handle, provisioning_host, registration_id, id_scope,
                                           cert_pem, key_pem, pass_phrase);
  return prov_binding_new_client(status, handle);
}
%}

%extend ProvClient {
  /* A prov_transport value (PROV_TRANSPORT_*). */
  void set_transport(int transport) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_transport($self->handle, transport));
    }
  }
  /* A prov_proxy_type (PROV_PROXY_*); username and password may be null. */
  void set_proxy(int proxy_type, const char *address, int32_t port, const char *username,
                 const char *password) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(
          prov_client_set_proxy($self->handle, proxy_type, address, port, username, password));
    }
  }
  /* "scheme://[user[:password]@]host[:port]"; null or "" removes the proxy. */
  void set_proxy_url(const char *url) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_proxy_url($self->handle, url));
    }
  }
  void set_proxy_ca_cert(const char *pem) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_proxy_ca_cert($self->handle, pem));
    }
  }
  /* PROV_KEY_*: a fresh key pair and CSR per registration; PROV_KEY_NONE clears. */
  void set_csr_auto(int key_type) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_csr_auto($self->handle, key_type));
    }
  }
  /* A caller-made CSR as PEM text; null clears. */
  void set_csr_pem(const char *csr_pem) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_csr_pem($self->handle, csr_pem));
    }
  }
  /* PROV_CSR_API_*. */
  void set_csr_api(int csr_api) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_csr_api($self->handle, csr_api));
    }
  }
}

%extend ProvResult {
  const char *enrollment_group_id() { return prov_result_enrollment_group_id($self->handle); }
  /* registrationState.x509 as JSON text. */
  const char *x509_json() { return prov_result_x509_json($self->handle); }
  const char *x509_certificate_info_json() {
    return prov_result_x509_certificate_info_json($self->handle);
  }
  /* The issued chain as PEM, leaf first. */
  const char *issued_certificate_chain_pem() {
    return prov_result_issued_certificate_chain_pem($self->handle);
  }
  int issued_certificate_count() {
    return $self->handle ? (int)prov_result_issued_certificate_count($self->handle) : 0;
  }
  /* Secret: the key generated for the CSR (prov_client_set_csr_auto). */
  const char *generated_private_key_pem() {
    return prov_result_generated_private_key_pem($self->handle);
  }
  const char *trust_bundle_pem() { return prov_result_trust_bundle_pem($self->handle); }
  /* Certificate `index` (0 = leaf) of the issued chain as DER bytes, or none
   * (null/nil/empty, per language) when index is out of range. */
  prov_binding_bytes issued_certificate_der(size_t index) {
    prov_binding_bytes bytes = {NULL, 0};
    if ($self->handle) {
      bytes.data = prov_result_issued_certificate_der($self->handle, index, &bytes.length);
    }
    return bytes;
  }
}

%extend ProvClient {
  /* prov_client_set_csr_der: a caller-made CSR as DER bytes; none clears. */
  void set_csr_der(const uint8_t *der, size_t der_len) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_csr_der($self->handle, der, der_len));
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Retries and cancellation (prov_client_set_retry_policy,                  */
/* prov_client_cancel). The asynchronous registration with progress is at  */
/* the end of this file; Python and Lua have C trampolines for the progress */
/* and log callbacks of the blocking register() in prov_python.i and        */
/* prov_lua.i.                                                              */
/* ------------------------------------------------------------------------ */

%extend ProvClient {
  void set_retry_policy(uint32_t max_retries, uint32_t initial_backoff_ms,
                        uint32_t max_backoff_ms) {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_set_retry_policy($self->handle, max_retries,
                                                      initial_backoff_ms, max_backoff_ms));
    }
  }
  /* Stops the registration in flight on this client (it then fails with
   * PROV_E_CANCELLED within ~100 ms); nothing happens without one. Callable
   * from any thread while the client is open; the language layers keep
   * close() from racing it. */
  void cancel() {
    if (prov_binding_client_open($self)) {
      prov_binding_check(prov_client_cancel($self->handle));
    }
  }
}

/* ------------------------------------------------------------------------ */
/* Progress states and log levels (prov.h), for every language.             */
/* ------------------------------------------------------------------------ */

%constant int PROV_PROGRESS_CONNECTING = PROV_PROGRESS_CONNECTING;
%constant int PROV_PROGRESS_CONNECTED = PROV_PROGRESS_CONNECTED;
%constant int PROV_PROGRESS_REGISTERING = PROV_PROGRESS_REGISTERING;
%constant int PROV_PROGRESS_ASSIGNING = PROV_PROGRESS_ASSIGNING;
%constant int PROV_PROGRESS_RETRYING = PROV_PROGRESS_RETRYING;
%constant int PROV_PROGRESS_ASSIGNED = PROV_PROGRESS_ASSIGNED;
%constant int PROV_PROGRESS_FAILED = PROV_PROGRESS_FAILED;
%constant int PROV_LOG_DEBUG = PROV_LOG_DEBUG;
%constant int PROV_LOG_INFO = PROV_LOG_INFO;
%constant int PROV_LOG_WARNING = PROV_LOG_WARNING;
%constant int PROV_LOG_ERROR = PROV_LOG_ERROR;

/* ------------------------------------------------------------------------ */
/* Asynchronous registration (prov_client_register_async) with progress     */
/* ------------------------------------------------------------------------ */
/*
 * For languages whose runtime can take calls from a native thread (Go: cgo
 * exports; Java: JNI; C#: delegates). A per-language file opts in with
 * `#define PROV_SWIG_ASYNC` and defines, in a %{ %} block after including
 * this file, the two delivery functions declared with the handles above.
 * They run on the binding's one dispatcher thread (never on libprov's
 * event-loop threads, see there), in order; they should hand the event over
 * and return, since every registration's events pass through that thread.
 * `context` is the language's own token for the registration (a
 * cgo.Handle, a map key, a GCHandle).
 *
 * The completion travels as a ProvCompletion: the status, the error details
 * copied on the library thread (where prov_last_error_message() explains
 * the failure), and the result. Its take_result() returns the result, or
 * records the failure as this thread's pending error exactly as register()
 * does, so each language reuses its one error mapping.
 *
 * Progress: the first register_async on a client installs one relay as the
 * client's progress callback (user_data = the wrapper, which outlives the
 * native client); it forwards events only while an asynchronous
 * registration is in flight. Python and Lua keep their own progress
 * callbacks (prov_python.i, prov_lua.i) on the blocking register().
 */

%nodefaultctor ProvCompletion;
typedef struct ProvCompletion {} ProvCompletion;
%newobject ProvCompletion::take_result;

%extend ProvCompletion {
  ~ProvCompletion() {
    prov_result_free($self->result);
    free($self);
  }
  /* The registration's prov_status (PROV_OK when assigned). */
  int status() { return $self->status; }
  /* The result as register() returns it: on success the result (once; null
   * afterwards), on failure null with the failure recorded as the pending
   * error (raised by languages with %exception). */
  ProvResult *take_result() {
    ProvResult *result;
    if ($self->status != PROV_OK) {
      prov_binding_pending = $self->error;
      return NULL;
    }
    if ($self->result == NULL) {
      prov_binding_fail_message(PROV_E_INTERNAL, "no registration result (already taken?)");
      return NULL;
    }
    result = (ProvResult *)malloc(sizeof *result);
    if (result == NULL) {
      prov_binding_fail_message(PROV_E_NOMEM, "out of memory wrapping the registration result");
      return NULL;
    }
    result->handle = $self->result;
    $self->result = NULL;
    return result;
  }
}

#if defined(PROV_SWIG_ASYNC)
%extend ProvClient {
  /* See prov_binding_register_async. */
  void register_async(int64_t context) { prov_binding_register_async($self, context); }
}

%extend ProvClient {
  /* Log lines of level >= min_level (PROV_LOG_*) of the asynchronous
   * registrations go through prov_binding_deliver_log, with the
   * registration's context; min_level -1 turns them off (the default). */
  void set_async_log_level(int min_level) {
    prov_binding_async_state *async;
    if (!prov_binding_client_open($self)) return;
    if (min_level < 0) {
      prov_binding_check(prov_client_set_log_callback($self->handle, PROV_LOG_ERROR, NULL, NULL));
      return;
    }
    async = prov_binding_async_state_of($self);
    if (async == NULL) return;
    prov_binding_check(
        prov_client_set_log_callback($self->handle, min_level, prov_binding_async_log, async));
  }
}
#endif
