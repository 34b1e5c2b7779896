using System;

namespace Oxsio
{
    /// <summary>The result codes of the C ABI (<c>oxsio_result</c>): grouped by family, never renumbered.</summary>
    public enum ResultCode : uint
    {
        Ok = 0,
        NullArgument = 100,
        InvalidUtf8 = 101,
        InvalidJson = 102,
        InvalidArgument = 103,
        InvalidConfig = 104,
        BufferTooSmall = 105,
        InvalidHandle = 200,
        WrongHandleType = 201,
        WrongMode = 202,
        Closed = 203,
        Empty = 300,
        Timeout = 301,
        NotConnected = 302,
        Disconnected = 303,
        QueueFull = 304,
        BufferFull = 305,
        PayloadTooLarge = 306,
        ReservedEvent = 307,
        AlreadyAnswered = 308,
        NoAck = 309,
        WouldBlock = 310,
        PartialBroadcast = 311,
        TooManyPending = 312,
        TooManyRooms = 313,
        Io = 400,
        Connect = 401,
        Tls = 402,
        Protocol = 403,
        Http = 404,
        Refused = 405,
        InvalidUrl = 406,
        Panic = 900,
        Internal = 901,
    }

    /// <summary>
    /// A failed oxsio call. <see cref="Code"/> is the native result code; the
    /// subclasses group them by family so a catch can be as broad as needed.
    /// </summary>
    public class OxsioException : Exception
    {
        /// <summary>The native result code.</summary>
        public ResultCode Code { get; private set; }

        public OxsioException(ResultCode code, string message) : base(message) { Code = code; }

        /// <summary>The typed exception for a result code (the one mapping of the binding).</summary>
        public static OxsioException For(ResultCode code, string message)
        {
            uint c = (uint)code;
            if (code == ResultCode.Timeout) return new OxsioTimeoutException(message);
            if (code == ResultCode.Refused) return new OxsioRefusedException(message);
            if (c >= 100 && c < 200) return new OxsioArgumentException(code, message);
            if (c >= 200 && c < 300) return new OxsioHandleException(code, message);
            if (c >= 300 && c < 400) return new OxsioStateException(code, message);
            if (c >= 400 && c < 500) return new OxsioNetworkException(code, message);
            return new OxsioInternalException(code, message);
        }
    }

    /// <summary>1xx: a bad argument (NULL, bad UTF-8, bad JSON, bad config, out of range).</summary>
    public sealed class OxsioArgumentException : OxsioException
    {
        public OxsioArgumentException(ResultCode code, string message) : base(code, message) { }
    }

    /// <summary>2xx: the native handle is invalid, of another type, in the wrong dispatch mode, or closed.</summary>
    public sealed class OxsioHandleException : OxsioException
    {
        public OxsioHandleException(ResultCode code, string message) : base(code, message) { }
    }

    /// <summary>3xx: the call does not fit the current state (not connected, queue full, already answered, ...).</summary>
    public class OxsioStateException : OxsioException
    {
        public OxsioStateException(ResultCode code, string message) : base(code, message) { }
    }

    /// <summary>301: a wait or an acknowledgement timed out.</summary>
    public sealed class OxsioTimeoutException : OxsioStateException
    {
        public OxsioTimeoutException(string message) : base(ResultCode.Timeout, message) { }
    }

    /// <summary>4xx: network, TLS, protocol or HTTP failure.</summary>
    public class OxsioNetworkException : OxsioException
    {
        public OxsioNetworkException(ResultCode code, string message) : base(code, message) { }
    }

    /// <summary>405: the server refused the connection (its middleware said no).</summary>
    public sealed class OxsioRefusedException : OxsioNetworkException
    {
        public OxsioRefusedException(string message) : base(ResultCode.Refused, message) { }
    }

    /// <summary>9xx: a bug in the library (a caught panic or an internal error).</summary>
    public sealed class OxsioInternalException : OxsioException
    {
        public OxsioInternalException(ResultCode code, string message) : base(code, message) { }
    }

    /// <summary>Severity of the native library's log records.</summary>
    public enum LogLevel : uint
    {
        Off = 0,
        Error = 1,
        Warn = 2,
        Info = 3,
        Debug = 4,
        Trace = 5,
    }

    internal static class Check
    {
        /// <summary>Throws the typed exception for a non-OK result, with the native detail.</summary>
        internal static void Ok(uint rc, string what)
        {
            if (rc == 0) return;
            throw Error(rc, what);
        }

        internal static OxsioException Error(uint rc, string what)
        {
            // Read at once, on the calling thread: the detail is per thread.
            string detail = Utf8.ReadZ(Native.oxsio_last_error_message());
            string text = Utf8.ReadZ(Native.oxsio_result_message(rc));
            string msg = what + ": " + text + (detail.Length > 0 && detail != text ? " (" + detail + ")" : "");
            return OxsioException.For((ResultCode)rc, msg);
        }
    }

    /// <summary>
    /// Where the binding reports what it cannot throw: an exception thrown by
    /// a handler (it never crosses into the native library; the connection
    /// goes on). Subscribe to <see cref="Message"/> (e.g. Debug.LogError in
    /// Unity); without a subscriber the text goes to Console.Error.
    /// </summary>
    public static class OxsioLog
    {
        /// <summary>Raised with each log line, on the thread that hit the problem.</summary>
        public static event Action<string> Message;

        /// <summary>
        /// The native library's own log records (its tracing events) of
        /// maxLevel and more severe, queued until <see cref="PollNative"/>
        /// (call it each frame: the library runs no managed code).
        /// Process-wide; replaces <see cref="ForwardNative"/>.
        /// </summary>
        public static void EnableNativeQueue(LogLevel maxLevel, int capacity = 0)
        {
            if (capacity < 0) throw new ArgumentOutOfRangeException("capacity");
            Check.Ok(Native.oxsio_log_enable_queue((uint)maxLevel, (UIntPtr)capacity), "EnableNativeQueue");
        }

        /// <summary>Raises <see cref="Message"/> on this thread for each queued native record ("oxsio[LEVEL] target: message"); returns how many.</summary>
        public static int PollNative(int max = int.MaxValue)
        {
            var target = new byte[256];
            var message = new byte[2048];
            int n = 0;
            while (n < max)
            {
                uint level;
                UIntPtr tl, ml;
                uint rc = Native.oxsio_log_poll(out level, target, (UIntPtr)target.Length, out tl, message, (UIntPtr)message.Length, out ml);
                if (rc == (uint)ResultCode.Empty) break;
                if (rc == (uint)ResultCode.BufferTooSmall)
                {
                    target = new byte[Math.Max(target.Length, (int)tl.ToUInt64() + 1)];
                    message = new byte[Math.Max(message.Length, (int)ml.ToUInt64() + 1)];
                    continue;
                }
                Check.Ok(rc, "PollNative");
                Write(Format(level, System.Text.Encoding.UTF8.GetString(target, 0, (int)tl.ToUInt64()),
                    System.Text.Encoding.UTF8.GetString(message, 0, (int)ml.ToUInt64())));
                n++;
            }
            return n;
        }

        /// <summary>
        /// The native library's log records of maxLevel and more severe raise
        /// <see cref="Message"/> on the library's log thread (not Unity's main
        /// thread). Process-wide; replaces <see cref="EnableNativeQueue"/>.
        /// </summary>
        public static void ForwardNative(LogLevel maxLevel)
        {
            Check.Ok(Native.oxsio_log_set_callback((uint)maxLevel, OnNativeLog, IntPtr.Zero, null), "ForwardNative");
        }

        /// <summary>Stops the native log records.</summary>
        public static void DisableNative() { Check.Ok(Native.oxsio_log_off(), "DisableNative"); }

        /// <summary>How many native log records were dropped (queue or backlog full).</summary>
        public static ulong NativeDropped
        {
            get
            {
                ulong n;
                Check.Ok(Native.oxsio_log_dropped(out n), "NativeDropped");
                return n;
            }
        }

        private static readonly NativeLogCallback OnNativeLog = OnNativeLogImpl;

        [AOT.MonoPInvokeCallback(typeof(NativeLogCallback))]
        private static void OnNativeLogImpl(IntPtr userData, uint level, IntPtr target, IntPtr message)
        {
            try { Write(Format(level, Utf8.ReadZ(target), Utf8.ReadZ(message))); }
            catch (Exception) { }
        }

        private static string Format(uint level, string target, string message)
        {
            return "oxsio[" + (LogLevel)level + "] " + target + ": " + message;
        }

        internal static void HandlerFailed(string where, Exception e)
        {
            Write("oxsio: a handler of " + where + " threw " + e.GetType().FullName + ": " + e.Message);
        }

        internal static void Write(string line)
        {
            var m = Message;
            if (m == null)
            {
                Console.Error.WriteLine(line);
                return;
            }
            try { m(line); }
            catch (Exception) { Console.Error.WriteLine(line); }
        }
    }
}

#if !UNITY_5_3_OR_NEWER
namespace AOT
{
    /// <summary>
    /// Marks a static method that native code calls through a delegate, so an
    /// ahead-of-time compiler (IL2CPP, Mono full-AOT) emits a native entry for
    /// it. Unity defines this type in UnityEngine; elsewhere this copy is
    /// used (AOT compilers match it by name).
    /// </summary>
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        public MonoPInvokeCallbackAttribute(Type type) { Type = type; }
        public Type Type { get; private set; }
    }
}
#endif
