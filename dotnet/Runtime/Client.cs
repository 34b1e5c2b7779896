using System;
using System.Threading.Tasks;

namespace Oxsio
{
    /// <summary>Connection state of a client.</summary>
    public enum ClientState : uint
    {
        Disconnected = 0,
        Connecting = 1,
        Connected = 2,
        /// <summary>Refused by the server's middleware (final until Open).</summary>
        Refused = 3,
    }

    /// <summary>
    /// A Socket.IO client socket: one namespace of a connection to a server
    /// (the URL's path names the namespace). In <see cref="DispatchMode.Poll"/>
    /// (the default) handlers run inside <see cref="Poll"/>, on your thread:
    /// call it once per frame. In <see cref="DispatchMode.Callback"/> they
    /// run on a library thread. Dispose it to leave (every native resource is
    /// released exactly once; any later call throws ObjectDisposedException).
    /// </summary>
    public sealed class Client : IDisposable
    {
        private readonly ClientHandle handle;
        private readonly DispatchMode mode;
        private readonly Sink sink;
        private readonly AckTable acks = new AckTable();

        /// <summary>The library's event entry in callback mode (what GCHandle user_data points to).</summary>
        private sealed class Sink : IEventSink
        {
            internal readonly Handlers Handlers = new Handlers();
            public void Deliver(IntPtr ev) { Handlers.Dispatch(Event.Read(ev, false), "client"); }
        }

        /// <summary>
        /// Makes a client for url (http, https, ws, wss) without connecting:
        /// register handlers, then <see cref="Open"/>. configJson is the C
        /// ABI's client configuration object (e.g. {"auth":{..},"transports":["websocket"]});
        /// null for the defaults.
        /// </summary>
        public Client(string url, string configJson = null, DispatchMode dispatch = DispatchMode.Poll)
        {
            if (url == null) throw new ArgumentNullException("url");
            IntPtr h;
            Check.Ok(Native.oxsio_client_new(Utf8.Z(url), Utf8.Z(configJson), (uint)dispatch, out h), "Client");
            handle = new ClientHandle(h);
            mode = dispatch;
            sink = new Sink();
            RegisterSink();
        }

        private Client(ClientHandle handle, DispatchMode mode)
        {
            this.handle = handle;
            this.mode = mode;
            sink = new Sink();
            RegisterSink();
        }

        private void RegisterSink()
        {
            if (mode != DispatchMode.Callback) return;
            IntPtr ud = Trampolines.Pin(sink);
            uint rc = Native.oxsio_client_on(handle, null, Trampolines.OnEvent, ud, Trampolines.Free);
            if (rc != 0)
            {
                Trampolines.Unpin(ud);
                handle.Dispose();
                throw Check.Error(rc, "Client");
            }
        }

        /// <summary>The version of the native library (e.g. "0.1.0").</summary>
        public static string NativeVersion { get { return Utf8.ReadZ(Native.oxsio_version()); } }

        public DispatchMode Mode { get { return mode; } }

        private ClientHandle H
        {
            get
            {
                if (handle.IsClosed) throw new ObjectDisposedException("Oxsio.Client");
                return handle;
            }
        }

        /// <summary>Another namespace over the same connection (io(url + nsp) in JavaScript), same dispatch mode; call Open on it.</summary>
        public Client Of(string nsp, string authJson = null)
        {
            if (nsp == null) throw new ArgumentNullException("nsp");
            IntPtr h;
            Check.Ok(Native.oxsio_client_of(H, Utf8.Z(nsp), Utf8.Z(authJson), out h), "Of");
            return new Client(new ClientHandle(h), mode);
        }

        /// <summary>Starts connecting (or reconnecting after Disconnect); returns at once. "connect" or "connect_error" follows.</summary>
        public void Open() { Check.Ok(Native.oxsio_client_open(H), "Open"); }

        /// <summary>Waits until connected (blocks this thread; never call it from a callback-mode handler).</summary>
        public void WaitConnected(int timeoutMs)
        {
            Check.Ok(Native.oxsio_client_wait_connected(H, Ms(timeoutMs)), "WaitConnected");
        }

        /// <summary>Adds a handler for an event name, or a lifecycle name ("connect", "disconnect", "connect_error", "reconnect_attempt", "reconnect", "reconnect_error", "reconnect_failed").</summary>
        public void On(string eventName, Action<Event> handler)
        {
            if (eventName == null) throw new ArgumentNullException("eventName");
            ThrowIfDisposed();
            sink.Handlers.Add(eventName, handler, false);
        }

        /// <summary>As On, removed after its first call.</summary>
        public void Once(string eventName, Action<Event> handler)
        {
            if (eventName == null) throw new ArgumentNullException("eventName");
            ThrowIfDisposed();
            sink.Handlers.Add(eventName, handler, true);
        }

        /// <summary>A handler for every event (after the named ones).</summary>
        public void OnAny(Action<Event> handler)
        {
            ThrowIfDisposed();
            sink.Handlers.Add(null, handler, false);
        }

        /// <summary>Removes one handler of an event (or all of them when handler is null); eventName null: the OnAny handlers.</summary>
        public void Off(string eventName, Action<Event> handler = null)
        {
            ThrowIfDisposed();
            sink.Handlers.Remove(eventName, handler);
        }

        /// <summary>Sends an event; argsJson is a JSON array (null: no argument) with {"_placeholder":true,"num":i} for buffers[i]. Buffered while disconnected.</summary>
        public void Emit(string eventName, string argsJson = null, params byte[][] buffers)
        {
            if (eventName == null) throw new ArgumentNullException("eventName");
            using (var pin = PinnedBuffers.Pin(buffers))
                Check.Ok(Native.oxsio_client_emit(H, Utf8.Z(eventName), Utf8.Z(argsJson), pin.Bufs, pin.Count), "Emit");
        }

        /// <summary>Sends the "message" event.</summary>
        public void Send(string argsJson = null, params byte[][] buffers) { Emit("message", argsJson, buffers); }

        /// <summary>Sends an event with one binary argument, without JSON (game state); volatile drops it while disconnected or congested.</summary>
        public void EmitBinary(string eventName, byte[] data, bool volatileEmit = false)
        {
            if (eventName == null) throw new ArgumentNullException("eventName");
            if (data == null) throw new ArgumentNullException("data");
            Check.Ok(Native.oxsio_client_emit_binary(H, Utf8.Z(eventName), data, (UIntPtr)data.Length, volatileEmit ? 1u : 0u), "EmitBinary");
        }

        /// <summary>
        /// Sends an event and awaits the server's acknowledgement (timeoutMs 0:
        /// the client's ack_timeout_ms). The Task ends with the reply, or
        /// fails with OxsioTimeoutException / OxsioStateException
        /// (disconnected). In poll mode it completes inside Poll().
        /// </summary>
        public Task<Event> EmitWithAckAsync(string eventName, string argsJson = null, byte[][] buffers = null, int timeoutMs = 0)
        {
            return EmitWithAck(eventName, argsJson, buffers, timeoutMs, true, null).Task;
        }

        /// <summary>As EmitWithAckAsync, with a callback (a failure arrives as an event whose Result is not Ok). Returns the ack id.</summary>
        public ulong EmitWithAck(string eventName, string argsJson, Action<Event> callback, byte[][] buffers = null, int timeoutMs = 0)
        {
            if (callback == null) throw new ArgumentNullException("callback");
            ulong id;
            EmitWithAck(eventName, argsJson, buffers, timeoutMs, false, callback, out id);
            return id;
        }

        private PendingAck EmitWithAck(string eventName, string argsJson, byte[][] buffers, int timeoutMs, bool task, Action<Event> callback)
        {
            ulong id;
            return EmitWithAck(eventName, argsJson, buffers, timeoutMs, task, callback, out id);
        }

        private PendingAck EmitWithAck(string eventName, string argsJson, byte[][] buffers, int timeoutMs, bool task, Action<Event> callback, out ulong id)
        {
            if (eventName == null) throw new ArgumentNullException("eventName");
            var h = H;
            var p = acks.Begin(task, callback, null);
            uint rc;
            using (var pin = PinnedBuffers.Pin(buffers))
            {
                if (mode == DispatchMode.Callback)
                {
                    IntPtr ud = Trampolines.Pin(p);
                    rc = Native.oxsio_client_emit_with_ack(h, Utf8.Z(eventName), Utf8.Z(argsJson), pin.Bufs, pin.Count, Ms(timeoutMs),
                        Trampolines.OnEvent, ud, Trampolines.Free, out id);
                    if (rc != 0) Trampolines.Unpin(ud);
                }
                else
                {
                    lock (acks.Gate)
                    {
                        rc = Native.oxsio_client_emit_with_ack(h, Utf8.Z(eventName), Utf8.Z(argsJson), pin.Bufs, pin.Count, Ms(timeoutMs),
                            null, IntPtr.Zero, null, out id);
                        if (rc == 0) acks.Registered(p, new AckKey(IntPtr.Zero, id));
                    }
                }
            }
            if (rc != 0)
            {
                var ex = Check.Error(rc, "EmitWithAck");
                p.Fail(ex);
                throw ex;
            }
            return p;
        }

        /// <summary>The auth payload (a JSON object; null: none) of the next connection attempts, reconnections included (e.g. a fresh token on "reconnect_attempt").</summary>
        public void SetAuth(string authJson) { Check.Ok(Native.oxsio_client_set_auth(H, Utf8.Z(authJson)), "SetAuth"); }

        /// <summary>Leaves the namespace ("disconnect" follows); no reconnection until Open.</summary>
        public void Disconnect() { Check.Ok(Native.oxsio_client_disconnect(H), "Disconnect"); }

        public ClientState State
        {
            get
            {
                uint s;
                Check.Ok(Native.oxsio_client_get_state(H, out s), "State");
                return (ClientState)s;
            }
        }

        /// <summary>The socket id the server gave, or null while not connected.</summary>
        public string Id
        {
            get
            {
                var h = H;
                UIntPtr len;
                uint rc = Native.oxsio_client_id(h, null, UIntPtr.Zero, out len);
                if (rc == (uint)ResultCode.NotConnected) return null;
                if (rc != (uint)ResultCode.BufferTooSmall) Check.Ok(rc, "Id");
                var buf = new byte[(int)len.ToUInt64() + 1];
                rc = Native.oxsio_client_id(h, buf, (UIntPtr)buf.Length, out len);
                if (rc == (uint)ResultCode.NotConnected) return null;
                Check.Ok(rc, "Id");
                return System.Text.Encoding.UTF8.GetString(buf, 0, (int)len.ToUInt64());
            }
        }

        /// <summary>Poll mode: how many message events the bounded queue dropped so far.</summary>
        public ulong DroppedEvents
        {
            get
            {
                ulong n;
                Check.Ok(Native.oxsio_client_dropped_events(H, out n), "DroppedEvents");
                return n;
            }
        }

        /// <summary>
        /// Poll mode: runs the handlers of the queued events (at most max) on
        /// this thread and completes the acknowledgements that arrived.
        /// Never blocks. Returns the number of events handled.
        /// </summary>
        public int Poll(int max = int.MaxValue)
        {
            var h = H;
            int n = 0;
            while (n < max)
            {
                IntPtr ev;
                uint rc = Native.oxsio_client_poll(h, out ev);
                if (rc == (uint)ResultCode.Empty) break;
                Check.Ok(rc, "Poll");
                n++;
                var e = Event.Read(ev, true);
                if (e.Kind == EventKind.Ack)
                {
                    var p = acks.Take(new AckKey(IntPtr.Zero, e.Id));
                    if (p != null) p.Complete(e);
                    continue;
                }
                sink.Handlers.Dispatch(e, "client");
            }
            return n;
        }

        /// <summary>Poll mode: waits until an event is queued, at most timeoutMs; true when one is.</summary>
        public bool Wait(int timeoutMs)
        {
            uint rc = Native.oxsio_client_wait(H, Ms(timeoutMs));
            if (rc == (uint)ResultCode.Timeout) return false;
            Check.Ok(rc, "Wait");
            return true;
        }

        public bool IsDisposed { get { return handle.IsClosed; } }

        private void ThrowIfDisposed()
        {
            if (handle.IsClosed) throw new ObjectDisposedException("Oxsio.Client");
        }

        /// <summary>Leaves the namespace and releases the native client (idempotent). Pending acknowledgements fail with ObjectDisposedException.</summary>
        public void Dispose()
        {
            handle.Dispose();
            acks.Close();
        }

        internal static uint Ms(int ms)
        {
            if (ms < 0) throw new ArgumentOutOfRangeException("timeoutMs", "a timeout is not negative");
            return (uint)ms;
        }
    }
}
