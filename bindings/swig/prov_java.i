/*
 * prov_java.i — the JNI layer of the Java binding: package
 * org.libprov.internal (ProvNative, ProvClient, ProvResult; generated, never
 * committed) and libprov_java.so. Everything else comes from prov.i. The
 * public API is the hand-written package org.libprov (bindings/java).
 *
 * Errors: this layer raises nothing (PROV_SWIG_NO_EXCEPTIONS). The
 * hand-written layer reads the pending error through
 * ProvNative.prov_binding_last_*() right after each call, on the same
 * thread, and throws its checked exception hierarchy; a JNI-thrown
 * exception could not be checked and would need the same mapping anyway.
 *
 * Disposal: no finalize() (deprecated, unpredictable). The org.libprov
 * classes are AutoCloseable and register a java.lang.ref.Cleaner as the
 * safety net, which calls delete() on these proxies.
 */
%module ProvNative

#define PROV_SWIG_NO_EXCEPTIONS

%typemap(javafinalize) SWIGTYPE ""

/* Loads libprov_java.so: from the path in the system property
 * org.libprov.native.path, else from java.library.path, else from the jar
 * (org/libprov/native/linux-x86_64/libprov_java.so, extracted to a
 * temporary file). libprov.so.1 itself is found by the dynamic linker. */
%pragma(java) jniclasscode=%{
  static {
    loadNativeLibrary();
  }

  private static void loadNativeLibrary() {
    String path = System.getProperty("org.libprov.native.path");
    if (path != null && !path.isEmpty()) {
      System.load(path);
      return;
    }
    try {
      System.loadLibrary("prov_java");
      return;
    } catch (UnsatisfiedLinkError notOnLibraryPath) {
      String resource = "/org/libprov/native/" + System.getProperty("os.name").toLowerCase().replace(' ', '-')
          + "-" + System.getProperty("os.arch").replace("amd64", "x86_64") + "/libprov_java.so";
      try (java.io.InputStream in = ProvNativeJNI.class.getResourceAsStream(resource)) {
        if (in == null) {
          throw new UnsatisfiedLinkError("libprov_java.so is neither at -Dorg.libprov.native.path, nor on "
              + "java.library.path (" + System.getProperty("java.library.path") + "), nor in the jar at " + resource);
        }
        java.nio.file.Path extracted = java.nio.file.Files.createTempFile("libprov_java", ".so");
        extracted.toFile().deleteOnExit();
        java.nio.file.Files.copy(in, extracted, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        System.load(extracted.toAbsolutePath().toString());
      } catch (java.io.IOException e) {
        throw new UnsatisfiedLinkError("cannot extract " + resource + ": " + e.getMessage());
      }
    }
  }
%}

/* Byte buffers as byte[] (null = none). */
%apply (char *STRING, size_t LENGTH) { (const uint8_t *der, size_t der_len) }
%typemap(jni) prov_binding_bytes "jbyteArray"
%typemap(jtype) prov_binding_bytes "byte[]"
%typemap(jstype) prov_binding_bytes "byte[]"
%typemap(out) prov_binding_bytes {
  $result = NULL;
  if ($1.data != NULL) {
    $result = (*jenv)->NewByteArray(jenv, (jsize)$1.length);
    if ($result != NULL) {
      (*jenv)->SetByteArrayRegion(jenv, $result, 0, (jsize)$1.length, (const jbyte *)$1.data);
    }
  }
}
%typemap(javaout) prov_binding_bytes {
    return $jnicall;
  }

/* ProvClient.register_async (prov.i): prov.i's dispatcher thread calls the
 * static methods of org.libprov.AsyncBridge through JNI (below). The completion's
 * pointer constructor is public so that AsyncBridge can wrap it. */
#define PROV_SWIG_ASYNC
SWIG_JAVABODY_PROXY(public, public, SWIGTYPE)

%include "prov.i"

/* The JNIEnv of the calling Java thread, for prov_java_async_init. */
%typemap(in, numinputs=0) JNIEnv *jenv "$1 = jenv;"

%{
/* Set once by prov_java_async_init (from AsyncBridge's static initializer,
 * which the JVM runs once), before any registration can start. */
static JavaVM *prov_java_vm;
static jclass prov_java_bridge;
static jmethodID prov_java_on_progress;
static jmethodID prov_java_on_completion;
static jmethodID prov_java_on_log;

/* The JNIEnv of prov.i's dispatcher thread (the only caller), attached
 * once as a daemon (it never keeps the JVM alive) and left attached until
 * the dispatcher exits (prov_binding_dispatcher_exiting). */
static JNIEnv *prov_java_enter(void) {
  JNIEnv *env = NULL;
  jint got;
  if (prov_java_vm == NULL) return NULL;
  got = (*prov_java_vm)->GetEnv(prov_java_vm, (void **)&env, JNI_VERSION_1_6);
  if (got == JNI_EDETACHED) {
    JavaVMAttachArgs arguments;
    arguments.version = JNI_VERSION_1_6;
    arguments.name = (char *)"libprov-dispatcher";
    arguments.group = NULL;
    if ((*prov_java_vm)->AttachCurrentThreadAsDaemon(prov_java_vm, (void **)&env, &arguments) !=
        JNI_OK) {
      return NULL;
    }
  } else if (got != JNI_OK) {
    return NULL;
  }
  return env;
}

/* Nothing may unwind into C: a Java exception is printed and cleared. */
static void prov_java_leave(JNIEnv *env) {
  if ((*env)->ExceptionCheck(env)) {
    (*env)->ExceptionDescribe(env);
    (*env)->ExceptionClear(env);
  }
}

static void prov_binding_deliver_progress(int64_t context, int state, const char *detail,
                                          uint32_t retry_after_ms) {
  JNIEnv *env = prov_java_enter();
  jstring text;
  if (env == NULL) return;
  text = (*env)->NewStringUTF(env, detail);
  if (text != NULL) {
    (*env)->CallStaticVoidMethod(env, prov_java_bridge, prov_java_on_progress, (jlong)context,
                                 (jint)state, text, (jlong)retry_after_ms);
    (*env)->DeleteLocalRef(env, text);
  }
  prov_java_leave(env);
}

static void prov_binding_deliver_log(int64_t context, int level, const char *message) {
  JNIEnv *env = prov_java_enter();
  jstring text;
  if (env == NULL) return;
  text = (*env)->NewStringUTF(env, message);
  if (text != NULL) {
    (*env)->CallStaticVoidMethod(env, prov_java_bridge, prov_java_on_log, (jlong)context,
                                 (jint)level, text);
    (*env)->DeleteLocalRef(env, text);
  }
  prov_java_leave(env);
}

/* An attached thread must detach before it exits. */
static void prov_binding_dispatcher_exiting(void) {
  JNIEnv *env = NULL;
  if (prov_java_vm != NULL &&
      (*prov_java_vm)->GetEnv(prov_java_vm, (void **)&env, JNI_VERSION_1_6) == JNI_OK) {
    (*prov_java_vm)->DetachCurrentThread(prov_java_vm);
  }
}

static void prov_binding_deliver_completion(int64_t context, ProvCompletion *completion) {
  JNIEnv *env = prov_java_enter();
  if (env == NULL) {
    /* Cannot happen once the bridge is initialised (a registration cannot
     * start before); release the completion rather than leak it. */
    prov_result_free(completion->result);
    free(completion);
    return;
  }
  (*env)->CallStaticVoidMethod(env, prov_java_bridge, prov_java_on_completion, (jlong)context,
                               (jlong)(intptr_t)completion);
  prov_java_leave(env);
}
%}

%inline %{
/* Binds the callbacks to org.libprov.AsyncBridge. 1 on success, else 0 with
 * a Java exception pending (NoClassDefFoundError, NoSuchMethodError). */
int prov_java_async_init(JNIEnv *jenv) {
  jclass found;
  if ((*jenv)->GetJavaVM(jenv, &prov_java_vm) != JNI_OK) return 0;
  found = (*jenv)->FindClass(jenv, "org/libprov/AsyncBridge");
  if (found == NULL) return 0;
  prov_java_on_progress =
      (*jenv)->GetStaticMethodID(jenv, found, "onProgress", "(JILjava/lang/String;J)V");
  prov_java_on_completion = (*jenv)->GetStaticMethodID(jenv, found, "onCompletion", "(JJ)V");
  prov_java_on_log = (*jenv)->GetStaticMethodID(jenv, found, "onLog", "(JILjava/lang/String;)V");
  if (prov_java_on_progress == NULL || prov_java_on_completion == NULL || prov_java_on_log == NULL) {
    return 0;
  }
  prov_java_bridge = (jclass)(*jenv)->NewGlobalRef(jenv, found);
  (*jenv)->DeleteLocalRef(jenv, found);
  return prov_java_bridge != NULL;
}
%}
