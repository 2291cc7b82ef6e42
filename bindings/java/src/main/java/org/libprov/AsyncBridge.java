package org.libprov;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.libprov.internal.ProvCompletion;
import org.libprov.internal.ProvNative;

/**
 * Where prov.i's dispatcher thread enters Java for asynchronous registrations (prov_java.i calls
 * the static methods through JNI; the dispatcher is attached as a daemon thread while it runs). Each
 * registration in flight has a key in {@link #IN_FLIGHT}; the key is the context prov.i hands
 * back, so no JNI global reference is needed and the registration (and its client) stay
 * reachable until the completion arrives.
 */
final class AsyncBridge {
  /** What a registration in flight does with its events (on the dispatcher thread). */
  interface Registration {
    void progress(RegistrationProgress progress);

    void log(RegistrationLogListener.Level level, String message);

    /** Owns completion (deletes it). */
    void complete(ProvCompletion completion);
  }

  private static final Map<Long, Registration> IN_FLIGHT = new ConcurrentHashMap<>();
  private static final AtomicLong NEXT_KEY = new AtomicLong();

  static {
    if (ProvNative.prov_java_async_init() == 0) {
      throw new IllegalStateException("libprov_java: cannot bind the asynchronous callbacks");
    }
  }

  private AsyncBridge() {}

  /** Keeps registration reachable until its completion; the key goes to register_async. */
  static long register(Registration registration) {
    long key = NEXT_KEY.incrementAndGet();
    IN_FLIGHT.put(key, registration);
    return key;
  }

  /** For a registration that did not start: nothing will be delivered. */
  static void forget(long key) {
    IN_FLIGHT.remove(key);
  }

  // Called from C (prov_java.i) on the dispatcher thread.
  @SuppressWarnings("unused")
  private static void onProgress(long key, int state, String detail, long retryAfterMs) {
    Registration registration = IN_FLIGHT.get(key);
    if (registration != null) {
      registration.progress(
          new RegistrationProgress(
              RegistrationProgress.State.of(state), detail, Duration.ofMillis(retryAfterMs)));
    }
  }

  // Called from C (prov_java.i) on the dispatcher thread.
  @SuppressWarnings("unused")
  private static void onLog(long key, int level, String message) {
    Registration registration = IN_FLIGHT.get(key);
    if (registration != null) {
      registration.log(RegistrationLogListener.Level.of(level), message);
    }
  }

  // Called from C (prov_java.i) on the dispatcher thread, exactly once per registration.
  @SuppressWarnings("unused")
  private static void onCompletion(long key, long completionPointer) {
    ProvCompletion completion = new ProvCompletion(completionPointer, true);
    Registration registration = IN_FLIGHT.remove(key);
    if (registration == null) {
      completion.delete();
      return;
    }
    registration.complete(completion);
  }
}
