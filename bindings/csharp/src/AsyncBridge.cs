using System;
using System.Runtime.InteropServices;
using System.Text;
using Libprov.Internal;

namespace Libprov
{
    /// <summary>One step of a registration (prov_progress_state).</summary>
    public enum RegistrationProgressState
    {
        /// <summary>Opening the connection; Detail: "host:port" and the transport.</summary>
        Connecting = 1,
        /// <summary>Connected and authenticated.</summary>
        Connected = 2,
        /// <summary>The request was sent; Detail: "register" or the operation id.</summary>
        Registering = 3,
        /// <summary>The service is assigning; RetryAfter: the wait before polling again.</summary>
        Assigning = 4,
        /// <summary>A transient failure is retried; Detail: the reason.</summary>
        Retrying = 5,
        /// <summary>Assigned; Detail: the hub.</summary>
        Assigned = 6,
        /// <summary>Ended without assignment (also cancelled, timed out); Detail: "PROV_E_...: message".</summary>
        Failed = 7,
    }

    /// <summary>Level of a libprov log line (prov_log_level).</summary>
    public enum ProvisioningLogLevel
    {
        Debug = 0,
        Info = 1,
        Warning = 2,
        Error = 3,
    }

    /// <summary>A step of a registration, reported to the IProgress of RegisterAsync.</summary>
    public sealed class RegistrationProgress
    {
        internal RegistrationProgress(RegistrationProgressState state, string detail, TimeSpan retryAfter)
        {
            State = state;
            Detail = detail;
            RetryAfter = retryAfter;
        }

        public RegistrationProgressState State { get; private set; }
        /// <summary>Never null, never a secret.</summary>
        public string Detail { get; private set; }
        /// <summary>The wait before the next step for Assigning and Retrying, else zero.</summary>
        public TimeSpan RetryAfter { get; private set; }

        public override string ToString()
        {
            return State + " " + Detail + (RetryAfter == TimeSpan.Zero ? "" : " (retry after " + RetryAfter + ")");
        }
    }

    /// <summary>
    /// Where prov.i's dispatcher thread enters .NET for asynchronous registrations: two delegates,
    /// kept in static fields for the life of the process (a collected delegate would leave C with
    /// a dangling function pointer), registered once as function pointers. Each registration in
    /// flight is a GCHandle (the context prov.i hands back), freed by its completion.
    /// </summary>
    internal static class AsyncBridge
    {
        /// <summary>What a registration in flight does with its events (on the dispatcher thread).</summary>
        internal interface IRegistration
        {
            void Progress(RegistrationProgress progress);
            void Log(ProvisioningLogLevel level, string message);
            /// <summary>Owns completion (disposes it).</summary>
            void Complete(ProvCompletion completion);
        }

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void ProgressDelivery(long context, int state, IntPtr detail, uint retryAfterMs);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void CompletionDelivery(long context, IntPtr completion);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        private delegate void LogDelivery(long context, int level, IntPtr message);

        private static readonly ProgressDelivery progressDelivery = OnProgress;
        private static readonly CompletionDelivery completionDelivery = OnCompletion;
        private static readonly LogDelivery logDelivery = OnLog;

        static AsyncBridge()
        {
            ProvNative.set_async_delivery(
                Marshal.GetFunctionPointerForDelegate(progressDelivery).ToInt64(),
                Marshal.GetFunctionPointerForDelegate(completionDelivery).ToInt64(),
                Marshal.GetFunctionPointerForDelegate(logDelivery).ToInt64());
        }

        /// <summary>The context for register_async; the registration stays reachable until its end.</summary>
        internal static long Register(IRegistration registration)
        {
            return GCHandle.ToIntPtr(GCHandle.Alloc(registration)).ToInt64();
        }

        /// <summary>For a registration that did not start: nothing will be delivered.</summary>
        internal static void Forget(long context)
        {
            GCHandle.FromIntPtr(new IntPtr(context)).Free();
        }

        private static string Utf8(IntPtr text)
        {
            if (text == IntPtr.Zero) return "";
            int length = 0;
            while (Marshal.ReadByte(text, length) != 0) length++;
            var bytes = new byte[length];
            Marshal.Copy(text, bytes, 0, length);
            return Encoding.UTF8.GetString(bytes);
        }

        /// <summary>
        /// The runtime attaches the dispatcher thread on its first call and would then count it as
        /// a foreground thread, keeping the process from exiting: it must be a background thread.
        /// </summary>
        [ThreadStatic] private static bool markedBackground;

        private static void MarkBackground()
        {
            if (markedBackground) return;
            System.Threading.Thread.CurrentThread.IsBackground = true;
            markedBackground = true;
        }

        // Nothing may unwind into C: every exception is reported and swallowed here.
        private static void OnProgress(long context, int state, IntPtr detail, uint retryAfterMs)
        {
            try
            {
                MarkBackground();
                var registration = (IRegistration)GCHandle.FromIntPtr(new IntPtr(context)).Target;
                registration.Progress(new RegistrationProgress((RegistrationProgressState)state, Utf8(detail),
                    TimeSpan.FromMilliseconds(retryAfterMs)));
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("libprov: a progress handler threw " + e);
            }
        }

        private static void OnLog(long context, int level, IntPtr message)
        {
            try
            {
                MarkBackground();
                var registration = (IRegistration)GCHandle.FromIntPtr(new IntPtr(context)).Target;
                registration.Log((ProvisioningLogLevel)level, Utf8(message));
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("libprov: a log handler threw " + e);
            }
        }

        private static void OnCompletion(long context, IntPtr completion)
        {
            try
            {
                MarkBackground();
                GCHandle handle = GCHandle.FromIntPtr(new IntPtr(context));
                var registration = (IRegistration)handle.Target;
                handle.Free();
                registration.Complete(new ProvCompletion(completion, true));
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("libprov: completing a registration threw " + e);
            }
        }
    }
}
