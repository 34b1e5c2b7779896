using System;
using System.Runtime.InteropServices;
using System.Threading;

namespace Oxsio
{
    /// <summary>How a client or server hands its events to you (chosen when it is made).</summary>
    public enum DispatchMode : uint
    {
        /// <summary>Handlers run on a library thread, as events come. Keep them short.</summary>
        Callback = 0,
        /// <summary>Handlers run inside <c>Poll()</c>, on your thread (the game loop). The default.</summary>
        Poll = 1,
    }

    /// <summary>What an event is (<c>oxsio_event_kind</c>).</summary>
    public enum EventKind : uint
    {
        Invalid = 0,
        Message = 1,
        Connect = 2,
        Connection = 3,
        Disconnect = 4,
        ConnectError = 5,
        Ack = 6,
        ConnectionRequest = 7,
        ReconnectAttempt = 8,
        Reconnect = 9,
        ReconnectError = 10,
        ReconnectFailed = 11,
        /// <summary>Server: an event another node sent with server_side_emit.</summary>
        ServerEvent = 12,
    }

    /// <summary>The kind of one argument.</summary>
    public enum ValueKind : uint
    {
        Null = 0,
        Bool = 1,
        Number = 2,
        String = 3,
        Binary = 4,
        Array = 5,
        Object = 6,
    }

    /// <summary>
    /// Something that happened: a message with its arguments (JSON text plus
    /// binary buffers), a (dis)connection, an ack reply, a connection request
    /// to accept or refuse, a reconnection step. Its data is copied when it
    /// is made, so it stays readable anywhere. An event that asks for an
    /// answer (<see cref="WantsAck"/>, or a <see cref="EventKind.ConnectionRequest"/>)
    /// holds the native event until it is answered or disposed: answer it
    /// now or later, from any thread.
    /// </summary>
    public sealed class Event : IDisposable
    {
        private EventHandle answer;

        public EventKind Kind { get; private set; }
        /// <summary>The event name (application events), or the lifecycle name ("connect", "disconnect", ...).</summary>
        public string Name { get; private set; }
        public string Namespace { get; private set; }
        /// <summary>Every argument as one JSON array; buffers appear as {"_placeholder":true,"num":i} for Buffers[i].</summary>
        public string ArgsJson { get; private set; }
        /// <summary>The binary buffers of the arguments, in placeholder order.</summary>
        public byte[][] Buffers { get; private set; }
        /// <summary>The ack id (Ack events, as the emit returned it) or the attempt count (reconnection events).</summary>
        public ulong Id { get; private set; }
        /// <summary>Ok, or the failure of a ConnectError, ReconnectError or failed Ack.</summary>
        public ResultCode Result { get; private set; }
        /// <summary>The disconnect reason, or the error message; "" otherwise.</summary>
        public string Message { get; private set; }
        /// <summary>The handshake (Connection, ConnectionRequest) as a JSON object; null otherwise.</summary>
        public string HandshakeJson { get; private set; }
        /// <summary>True for a Connect/Connection that recovered its previous session.</summary>
        public bool Recovered { get; private set; }
        /// <summary>True when the peer asked for an acknowledgement (answer with Ack).</summary>
        public bool WantsAck { get; private set; }
        /// <summary>Server events: the socket it came from or concerns; null on a client.</summary>
        public Socket Socket { get; internal set; }

        private ValueKind[] kinds;
        private string[] argJson;
        private object[] values;

        internal IntPtr NativeSocket;

        /// <summary>Copies a native event. With owned, takes ownership of it (freed here unless an answer is due).</summary>
        internal static Event Read(IntPtr ev, bool owned)
        {
            var e = new Event();
            try
            {
                e.Kind = (EventKind)Native.oxsio_event_get_kind(ev);
                IntPtr p; UIntPtr n;
                e.Name = Native.oxsio_event_name(ev, out p, out n) == 0 ? Utf8.Read(p, n) : "";
                e.Namespace = Native.oxsio_event_namespace(ev, out p, out n) == 0 ? Utf8.Read(p, n) : "/";
                // Only what the kind carries: a message (the hot path) reads
                // no message, id, result nor recovery flag.
                bool message = e.Kind == EventKind.Message || e.Kind == EventKind.ServerEvent;
                e.Message = !message && Native.oxsio_event_message(ev, out p, out n) == 0 ? Utf8.Read(p, n) : "";
                ulong id;
                e.Id = !message && Native.oxsio_event_id(ev, out id) == 0 ? id : 0;
                uint r;
                e.Result = !message && Native.oxsio_event_result(ev, out r) == 0 ? (ResultCode)r : ResultCode.Ok;
                bool b;
                e.Recovered = (e.Kind == EventKind.Connect || e.Kind == EventKind.Connection) &&
                    Native.oxsio_event_recovered(ev, out b) == 0 && b;
                e.WantsAck = message && Native.oxsio_event_wants_ack(ev, out b) == 0 && b;
                if (e.Kind == EventKind.Connection || e.Kind == EventKind.ConnectionRequest)
                    e.HandshakeJson = Native.oxsio_event_handshake_json(ev, out p, out n) == 0 ? Utf8.Read(p, n) : null;
                IntPtr s;
                if (Native.oxsio_event_socket(ev, out s) == 0) e.NativeSocket = s;
                e.ReadArgs(ev);
                bool answerDue = e.WantsAck || e.Kind == EventKind.ConnectionRequest;
                if (answerDue)
                {
                    if (owned)
                    {
                        e.answer = new EventHandle(ev);
                        owned = false;
                    }
                    else
                    {
                        IntPtr clone;
                        Check.Ok(Native.oxsio_event_clone(ev, out clone), "oxsio_event_clone");
                        e.answer = new EventHandle(clone);
                    }
                }
            }
            finally
            {
                if (owned) Native.oxsio_event_free(ev);
            }
            return e;
        }

        private void ReadArgs(IntPtr ev)
        {
            IntPtr p; UIntPtr n;
            ArgsJson = Native.oxsio_event_args_json(ev, out p, out n) == 0 ? Utf8.Read(p, n) : "[]";
            UIntPtr count;
            int bc = Native.oxsio_event_binary_count(ev, out count) == 0 ? (int)count.ToUInt64() : 0;
            Buffers = new byte[bc][];
            for (int i = 0; i < bc; i++)
                Buffers[i] = Native.oxsio_event_binary(ev, (UIntPtr)i, out p, out n) == 0 ? Utf8.Bytes(p, n) : new byte[0];
            int ac = Native.oxsio_event_arg_count(ev, out count) == 0 ? (int)count.ToUInt64() : 0;
            kinds = new ValueKind[ac];
            argJson = new string[ac];
            values = new object[ac];
            for (int i = 0; i < ac; i++)
            {
                var ix = (UIntPtr)i;
                uint k;
                kinds[i] = Native.oxsio_event_arg_kind(ev, ix, out k) == 0 ? (ValueKind)k : ValueKind.Null;
                argJson[i] = Native.oxsio_event_arg_json(ev, ix, out p, out n) == 0 ? Utf8.Read(p, n) : "null";
                switch (kinds[i])
                {
                    case ValueKind.String:
                        if (Native.oxsio_event_arg_string(ev, ix, out p, out n) == 0) values[i] = Utf8.Read(p, n);
                        break;
                    case ValueKind.Number:
                        double d;
                        if (Native.oxsio_event_arg_number(ev, ix, out d) == 0) values[i] = d;
                        break;
                    case ValueKind.Bool:
                        bool b;
                        if (Native.oxsio_event_arg_bool(ev, ix, out b) == 0) values[i] = b;
                        break;
                    case ValueKind.Binary:
                        if (Native.oxsio_event_arg_binary(ev, ix, out p, out n) == 0) values[i] = Utf8.Bytes(p, n);
                        break;
                }
            }
        }

        /// <summary>The number of arguments.</summary>
        public int ArgCount { get { return kinds.Length; } }

        /// <summary>The kind of argument i (Null past the end).</summary>
        public ValueKind ArgKind(int i) { return i >= 0 && i < kinds.Length ? kinds[i] : ValueKind.Null; }

        /// <summary>Argument i as JSON text (placeholders number into Buffers).</summary>
        public string ArgJson(int i) { return (string)Arg(i, ValueKind.Null, true); }

        /// <summary>Argument i, which must be a string.</summary>
        public string GetString(int i) { return (string)Arg(i, ValueKind.String, false); }

        /// <summary>Argument i, which must be a number.</summary>
        public double GetNumber(int i) { return (double)Arg(i, ValueKind.Number, false); }

        /// <summary>Argument i, which must be a boolean.</summary>
        public bool GetBool(int i) { return (bool)Arg(i, ValueKind.Bool, false); }

        /// <summary>Argument i, which must be a binary buffer.</summary>
        public byte[] GetBinary(int i) { return (byte[])Arg(i, ValueKind.Binary, false); }

        private object Arg(int i, ValueKind want, bool json)
        {
            if (i < 0 || i >= kinds.Length)
                throw new OxsioArgumentException(ResultCode.InvalidArgument, "argument " + i + " of " + kinds.Length + " does not exist");
            if (json) return argJson[i];
            if (kinds[i] != want || values[i] == null)
                throw new OxsioArgumentException(ResultCode.InvalidArgument, "argument " + i + " is " + kinds[i] + ", not " + want);
            return values[i];
        }

        private EventHandle Answer(string what)
        {
            var h = answer;
            if (h == null)
                throw new OxsioStateException(ResultCode.NoAck, what + ": this event asks for no answer");
            if (h.IsClosed)
                throw new ObjectDisposedException("Oxsio.Event", what + " after the event was answered or disposed");
            return h;
        }

        /// <summary>Answers the peer's acknowledgement request (arguments as a JSON array plus buffers). Only the first answer is sent.</summary>
        public void Ack(string argsJson = null, params byte[][] buffers)
        {
            var h = Answer("Ack");
            using (var pin = PinnedBuffers.Pin(buffers))
                Check.Ok(Native.oxsio_event_ack(h, Utf8.Z(argsJson), pin.Bufs, pin.Count), "Ack");
            h.Dispose();
        }

        /// <summary>Answers the acknowledgement request with one binary argument, without JSON.</summary>
        public void AckBinary(byte[] data)
        {
            if (data == null) throw new ArgumentNullException("data");
            var h = Answer("AckBinary");
            Check.Ok(Native.oxsio_event_ack_binary(h, data, (UIntPtr)data.Length), "AckBinary");
            h.Dispose();
        }

        /// <summary>Accepts a connection request: the socket joins its namespace.</summary>
        public void Accept()
        {
            var h = Answer("Accept");
            Check.Ok(Native.oxsio_event_accept(h), "Accept");
            h.Dispose();
        }

        /// <summary>Refuses a connection request: the client gets connect_error with message and, when given, data (any JSON value).</summary>
        public void Refuse(string message, string dataJson = null)
        {
            var h = Answer("Refuse");
            Check.Ok(Native.oxsio_event_refuse(h, Utf8.Z(message), Utf8.Z(dataJson)), "Refuse");
            h.Dispose();
        }

        /// <summary>Releases the native event early (an unanswered connection request is then refused). Idempotent.</summary>
        public void Dispose()
        {
            var h = answer;
            if (h != null) h.Dispose();
        }

        public override string ToString()
        {
            return Kind + " " + Name + " " + ArgsJson + (Message.Length > 0 ? " (" + Message + ")" : "");
        }
    }

    /// <summary>Receives native events for one registration (a client, a socket, a namespace, an ack).</summary>
    internal interface IEventSink
    {
        /// <summary>A borrowed event, on a library thread (callback mode).</summary>
        void Deliver(IntPtr ev);
    }

    /// <summary>
    /// The static entry points native code calls (IL2CPP-safe: static,
    /// marked for reverse P/Invoke, the target found through a GCHandle
    /// passed as user_data). No exception leaves them.
    /// </summary>
    internal static class Trampolines
    {
        internal static readonly NativeEventCallback OnEvent = OnEventImpl;
        internal static readonly NativeFreeCallback Free = FreeImpl;

        [AOT.MonoPInvokeCallback(typeof(NativeEventCallback))]
        private static void OnEventImpl(IntPtr userData, IntPtr ev)
        {
            try
            {
                var sink = GCHandle.FromIntPtr(userData).Target as IEventSink;
                if (sink != null) sink.Deliver(ev);
            }
            catch (Exception e)
            {
                OxsioLog.HandlerFailed("a native callback", e);
            }
        }

        [AOT.MonoPInvokeCallback(typeof(NativeFreeCallback))]
        private static void FreeImpl(IntPtr userData)
        {
            try
            {
                var h = GCHandle.FromIntPtr(userData);
                if (h.IsAllocated) h.Free();
            }
            catch (Exception e)
            {
                OxsioLog.HandlerFailed("user_data_free", e);
            }
        }

        /// <summary>A GCHandle for a sink, as user_data.</summary>
        internal static IntPtr Pin(object sink)
        {
            return GCHandle.ToIntPtr(GCHandle.Alloc(sink));
        }

        /// <summary>Frees user_data the library did not take (the registering call failed).</summary>
        internal static void Unpin(IntPtr userData)
        {
            GCHandle.FromIntPtr(userData).Free();
        }
    }

    /// <summary>One awaited acknowledgement: a Task, a callback, or both.</summary>
    internal sealed class PendingAck : IEventSink
    {
        private readonly AckTable table;
        private readonly TaskCompletionSourceOfEvent tcs;
        private readonly Action<Event> callback;
        private readonly Func<IntPtr, Socket> socketOf;
        private int done;

        internal PendingAck(AckTable table, bool task, Action<Event> callback, Func<IntPtr, Socket> socketOf)
        {
            this.table = table;
            if (task) tcs = new TaskCompletionSourceOfEvent();
            this.callback = callback;
            this.socketOf = socketOf;
        }

        internal System.Threading.Tasks.Task<Event> Task { get { return tcs == null ? null : tcs.Task; } }

        public void Deliver(IntPtr ev) { Complete(Event.Read(ev, false)); }

        internal void Complete(Event e)
        {
            if (Interlocked.Exchange(ref done, 1) != 0) return;
            table.Remove(this);
            if (socketOf != null && e.NativeSocket != IntPtr.Zero) e.Socket = socketOf(e.NativeSocket);
            if (tcs != null)
            {
                if (e.Result == ResultCode.Ok) tcs.TrySetResult(e);
                else tcs.TrySetException(OxsioException.For(e.Result, "acknowledgement #" + e.Id + ": " + e.Message));
            }
            if (callback != null)
            {
                try { callback(e); }
                catch (Exception ex) { OxsioLog.HandlerFailed("an ack callback", ex); }
            }
        }

        /// <summary>No reply will come (the emit failed, or the handle was disposed).</summary>
        internal void Fail(Exception ex)
        {
            if (Interlocked.Exchange(ref done, 1) != 0) return;
            table.Remove(this);
            if (tcs != null) tcs.TrySetException(ex);
        }
    }

    /// <summary>A TaskCompletionSource whose continuations never run inline on a library thread.</summary>
    internal sealed class TaskCompletionSourceOfEvent : System.Threading.Tasks.TaskCompletionSource<Event>
    {
        internal TaskCompletionSourceOfEvent()
            : base(System.Threading.Tasks.TaskCreationOptions.RunContinuationsAsynchronously) { }
    }
}
