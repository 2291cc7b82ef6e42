package org.libprov;

import java.time.Duration;

/** One step of a registration, as libprov reports it (prov_progress_callback). */
public final class RegistrationProgress {
  /** The states a registration goes through (prov_progress_state). */
  public enum State {
    /** Opening the connection; detail: "host:port" and the transport. */
    CONNECTING(1),
    /** Connected and authenticated. */
    CONNECTED(2),
    /** The request was sent; detail: "register" or the operation id. */
    REGISTERING(3),
    /** The service is assigning; retryAfter: the wait before polling again. */
    ASSIGNING(4),
    /** A transient failure is retried; detail: the reason. */
    RETRYING(5),
    /** Assigned; detail: the hub. */
    ASSIGNED(6),
    /** Ended without assignment (also cancelled, timed out); detail: "PROV_E_...: message". */
    FAILED(7);

    final int nativeValue;

    State(int nativeValue) {
      this.nativeValue = nativeValue;
    }

    static State of(int nativeValue) {
      for (State state : values()) {
        if (state.nativeValue == nativeValue) {
          return state;
        }
      }
      throw new IllegalArgumentException("unknown progress state " + nativeValue);
    }
  }

  private final State state;
  private final String detail;
  private final Duration retryAfter;

  RegistrationProgress(State state, String detail, Duration retryAfter) {
    this.state = state;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }

  public State getState() {
    return state;
  }

  /** Never null, never a secret. */
  public String getDetail() {
    return detail;
  }

  /** The wait before the next step for ASSIGNING and RETRYING, else zero. */
  public Duration getRetryAfter() {
    return retryAfter;
  }

  @Override
  public String toString() {
    return state + " " + detail + (retryAfter.isZero() ? "" : " (retry after " + retryAfter + ")");
  }
}
