/*
 * prov_python.i — the Python module libprov.native (libprov/native.py +
 * libprov/_native*.so). Everything language-neutral comes from prov.i; the
 * idiomatic, Python-SDK-compatible layer is the pure-Python package around
 * it (bindings/python/libprov/).
 *
 * What only Python needs lives here:
 *  - progress and log callbacks: C trampolines (no SWIG directors) that take
 *    the GIL and call a Python callable. The registration runs with the GIL
 *    released (prov.i), and libprov calls the callbacks on that same thread,
 *    so PyGILState_Ensure re-acquires it for the duration of the call.
 *  - the byte-buffer typemaps: the issued certificates as DER `bytes`, and a
 *    caller-made CSR given as DER `bytes` (the methods are in prov.i).
 */
%module(package="libprov") native

%{
#include <string.h>

#include <prov/prov.h>

/* Emitted before prov.i so that the %extend methods below can name the
 * trampolines (SWIG emits all %extend bodies of a class where the class is
 * declared).
 *
 * user_data is a borrowed Python callable: the Python layer keeps it
 * referenced for as long as the native client can call it (until the client
 * is closed or another callable replaces it). An exception escaping the
 * callable cannot propagate through libprov; it is reported as
 * "unraisable" (the Python layer wraps user callables so that it logs them
 * itself first). */
static PyObject *prov_python_text(const char *text) {
  if (text == NULL) text = "";
  return PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
}

static void prov_python_call(PyObject *callable, PyObject *arguments) {
  PyObject *outcome = arguments ? PyObject_CallObject(callable, arguments) : NULL;
  Py_XDECREF(arguments);
  if (outcome == NULL) {
    PyErr_WriteUnraisable(callable);
  } else {
    Py_DECREF(outcome);
  }
}

static void prov_python_progress_trampoline(int state, const char *detail,
                                            uint32_t retry_after_ms, void *user_data) {
  PyGILState_STATE gil = PyGILState_Ensure();
  prov_python_call((PyObject *)user_data, Py_BuildValue("(iNk)", state, prov_python_text(detail),
                                                        (unsigned long)retry_after_ms));
  PyGILState_Release(gil);
}

static void prov_python_log_trampoline(int level, const char *message, void *user_data) {
  PyGILState_STATE gil = PyGILState_Ensure();
  prov_python_call((PyObject *)user_data, Py_BuildValue("(iN)", level, prov_python_text(message)));
  PyGILState_Release(gil);
}
%}

/* Typemaps before prov.i: SWIG applies typemaps to the %extend members of a
 * class in the scope where prov.i declares the class. */
/* bytes (or None, which clears) -> (pointer, length), borrowed for the call. */
%typemap(in) (const uint8_t *der, size_t der_len) {
  char *prov_python_bytes = NULL;
  Py_ssize_t prov_python_length = 0;
  if ($input == Py_None) {
    $1 = NULL;
    $2 = 0;
  } else {
    if (PyBytes_AsStringAndSize($input, &prov_python_bytes, &prov_python_length) < 0) SWIG_fail;
    $1 = (uint8_t *)prov_python_bytes;
    $2 = (size_t)prov_python_length;
  }
}

/* The issued certificates' DER (prov.i's issued_certificate_der) as bytes, or
 * None. */
%typemap(out) prov_binding_bytes {
  if ($1.data != NULL) {
    $result = PyBytes_FromStringAndSize((const char *)$1.data, (Py_ssize_t)$1.length);
    if ($result == NULL) SWIG_fail;
  } else {
    $result = Py_None;
    Py_INCREF(Py_None);
  }
}

/* Asynchronous registration (prov.i's dispatcher) for the asyncio client:
 * start_async(sink) below instead of the int64 register_async. */
#define PROV_SWIG_ASYNC
%ignore ProvClient::register_async;

%include "prov.i"

%{
/* The dispatcher's deliveries: `context` is a sink object (a strong
 * reference taken by start_async, released after its completion) with the
 * methods progress(state, detail, retry_after_ms), log(level, message) and
 * complete(completion). Called with the GIL taken here; an exception is
 * reported as unraisable (the sink catches its own). */
static void prov_python_sink_call(int64_t context, const char *method, PyObject *arguments) {
  PyObject *sink = (PyObject *)(intptr_t)context;
  PyObject *bound = arguments ? PyObject_GetAttrString(sink, method) : NULL;
  PyObject *outcome = bound ? PyObject_CallObject(bound, arguments) : NULL;
  Py_XDECREF(bound);
  Py_XDECREF(arguments);
  if (outcome == NULL) {
    PyErr_WriteUnraisable(sink);
  } else {
    Py_DECREF(outcome);
  }
}

static void prov_binding_deliver_progress(int64_t context, int state, const char *detail,
                                          uint32_t retry_after_ms) {
  PyGILState_STATE gil;
  if (!Py_IsInitialized()) return;
  gil = PyGILState_Ensure();
  prov_python_sink_call(context, "progress",
                        Py_BuildValue("(iNk)", state, prov_python_text(detail),
                                      (unsigned long)retry_after_ms));
  PyGILState_Release(gil);
}

static void prov_binding_deliver_log(int64_t context, int level, const char *message) {
  PyGILState_STATE gil;
  if (!Py_IsInitialized()) return;
  gil = PyGILState_Ensure();
  prov_python_sink_call(context, "log", Py_BuildValue("(iN)", level, prov_python_text(message)));
  PyGILState_Release(gil);
}

static void prov_binding_deliver_completion(int64_t context, ProvCompletion *completion) {
  PyGILState_STATE gil;
  PyObject *wrapped;
  if (!Py_IsInitialized()) return; /* the interpreter is gone: nobody waits */
  gil = PyGILState_Ensure();
  wrapped = SWIG_NewPointerObj(completion, SWIGTYPE_p_ProvCompletion, SWIG_POINTER_OWN);
  prov_python_sink_call(context, "complete", wrapped ? Py_BuildValue("(N)", wrapped) : NULL);
  Py_DECREF((PyObject *)(intptr_t)context);
  PyGILState_Release(gil);
}

/* The dispatcher's Python thread state goes with its last PyGILState_Release. */
static void prov_binding_dispatcher_exiting(void) {}
%}

%extend ProvClient {
  /* prov_client_register_async for the asyncio client: sink receives the
   * registration's progress, log lines and completion on the binding's
   * dispatcher thread (see prov_binding_deliver_* above). Raises when the
   * registration cannot start (nothing is delivered then). */
  void start_async(PyObject *sink) {
    Py_INCREF(sink);
    prov_binding_register_async($self, (int64_t)(intptr_t)sink);
    if (prov_binding_pending.status != PROV_OK) Py_DECREF(sink);
  }
}

/* ------------------------------------------------------------------------ */
/* Progress and log callbacks                                               */
/* ------------------------------------------------------------------------ */



%extend ProvClient {
  /* callable(state, detail, retry_after_ms), or None to clear. */
  void set_progress_callback(PyObject *callable) {
    if (!prov_binding_client_open($self)) return;
    if (callable == Py_None) {
      prov_binding_check(prov_client_set_progress_callback($self->handle, NULL, NULL));
    } else {
      prov_binding_check(prov_client_set_progress_callback(
          $self->handle, prov_python_progress_trampoline, callable));
    }
  }
  /* callable(level, message) for messages of level >= min_level, or None. */
  void set_log_callback(int min_level, PyObject *callable) {
    if (!prov_binding_client_open($self)) return;
    if (callable == Py_None) {
      prov_binding_check(prov_client_set_log_callback($self->handle, min_level, NULL, NULL));
    } else {
      prov_binding_check(prov_client_set_log_callback($self->handle, min_level,
                                                      prov_python_log_trampoline, callable));
    }
  }
}

