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

%include "prov.i"

/* The pending error's registration status ("failed", "disabled"), which
 * prov.i keeps but has no accessor for yet. */
%exception prov_binding_last_registration_status "$action"
%inline %{
const char *prov_binding_last_registration_status(void) {
  return prov_binding_pending.registration_status;
}
%}
