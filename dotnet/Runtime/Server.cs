using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading.Tasks;

namespace Oxsio
{
    /// <summary>
    /// A selection of sockets of one namespace, for broadcasts and room
    /// operations: <c>new Target("/").To("room").Except(socketId)</c>.
    /// </summary>
    public sealed class Target
    {
        private readonly List<string> rooms = new List<string>();
        private readonly List<string> except = new List<string>();

        public Target(string nsp = "/") { Namespace = nsp ?? "/"; }

        public string Namespace { get; private set; }
        /// <summary>Drop the message for clients whose queue is full.</summary>
        public bool Volatile { get; set; }
        /// <summary>Only the sockets of this node (multi-node adapters).</summary>
        public bool Local { get; set; }

        /// <summary>Adds rooms to reach (union); none: every socket of the namespace.</summary>
        public Target To(params string[] names)
        {
            foreach (var r in names) rooms.Add(r ?? throw new ArgumentNullException("names"));
            return this;
        }

        /// <summary>Leaves out the sockets of these rooms (a socket id leaves out that socket).</summary>
        public Target Except(params string[] names)
        {
            foreach (var r in names) except.Add(r ?? throw new ArgumentNullException("names"));
            return this;
        }

        /// <summary>The oxsio_target for one call; strings live until Dispose.</summary>
        internal sealed class Marshalled : IDisposable
        {
            private readonly List<IntPtr> allocs = new List<IntPtr>();
            internal NativeTarget Value;

            internal Marshalled(Target t)
            {
                t = t ?? new Target();
                Value.Nsp = Str(t.Namespace);
                Value.Rooms = Array(t.rooms);
                Value.RoomCount = (UIntPtr)t.rooms.Count;
                Value.ExceptRooms = Array(t.except);
                Value.ExceptCount = (UIntPtr)t.except.Count;
                Value.Flags = (t.Volatile ? 1u : 0u) | (t.Local ? 2u : 0u);
            }

            private IntPtr Str(string s)
            {
                var b = Utf8.Z(s);
                IntPtr p = Marshal.AllocHGlobal(b.Length);
                allocs.Add(p);
                Marshal.Copy(b, 0, p, b.Length);
                return p;
            }

            private IntPtr Array(List<string> l)
            {
                if (l.Count == 0) return IntPtr.Zero;
                IntPtr p = Marshal.AllocHGlobal(IntPtr.Size * l.Count);
                allocs.Add(p);
                for (int i = 0; i < l.Count; i++) Marshal.WriteIntPtr(p, i * IntPtr.Size, Str(l[i]));
                return p;
            }

            public void Dispose()
            {
                foreach (var p in allocs) Marshal.FreeHGlobal(p);
                allocs.Clear();
            }
        }
    }

    /// <summary>
    /// A Socket.IO server. In <see cref="DispatchMode.Poll"/> (the default)
    /// connection, middleware and socket handlers run inside <see cref="Poll"/>
    /// on your thread (a game loop); in <see cref="DispatchMode.Callback"/>
    /// on library threads. Dispose it to stop: every socket of it then throws
    /// ObjectDisposedException.
    /// </summary>
    public sealed class Server : IDisposable
    {
        private readonly ServerHandle handle;
        private readonly DispatchMode mode;
        internal readonly AckTable Acks = new AckTable();
        private readonly object gate = new object();
        private readonly Dictionary<IntPtr, Socket> sockets = new Dictionary<IntPtr, Socket>();
        private readonly Dictionary<string, List<Action<Socket>>> onConnection = new Dictionary<string, List<Action<Socket>>>();
        private readonly Dictionary<string, Action<Event>> pollMiddleware = new Dictionary<string, Action<Event>>();
        private readonly Func<IntPtr, Socket> socketOf;

        /// <summary>configJson is the C ABI's server configuration object (e.g. {"ping_interval_ms":5000,"tls":{..}}); null for the defaults.</summary>
        public Server(string configJson = null, DispatchMode dispatch = DispatchMode.Poll)
        {
            IntPtr h;
            Check.Ok(Native.oxsio_server_new(Utf8.Z(configJson), (uint)dispatch, out h), "Server");
            handle = new ServerHandle(h);
            mode = dispatch;
            socketOf = SocketOf;
        }

        public DispatchMode Mode { get { return mode; } }

        internal ServerHandle H
        {
            get
            {
                if (handle.IsClosed) throw new ObjectDisposedException("Oxsio.Server");
                return handle;
            }
        }

        public bool IsDisposed { get { return handle.IsClosed; } }

        /// <summary>Starts serving on address ("127.0.0.1:0" picks a free port); returns the port. https/wss when the config has tls.</summary>
        public int Listen(string address = "127.0.0.1:0")
        {
            if (address == null) throw new ArgumentNullException("address");
            ushort port;
            Check.Ok(Native.oxsio_server_listen(H, Utf8.Z(address), out port), "Listen");
            return port;
        }

        /// <summary>The bound port (0 when not listening).</summary>
        public int Port
        {
            get
            {
                ushort p;
                Check.Ok(Native.oxsio_server_port(H, out p), "Port");
                return p;
            }
        }

        /// <summary>Declares a namespace (idempotent): clients can only join declared ones.</summary>
        public void Of(string nsp)
        {
            if (nsp == null) throw new ArgumentNullException("nsp");
            Check.Ok(Native.oxsio_server_of(H, Utf8.Z(nsp)), "Of");
        }

        /// <summary>
        /// Calls handler with each socket joining nsp (declared if needed).
        /// Register the socket's handlers inside it: its events wait until it
        /// returns (callback mode) or come after it in Poll (poll mode).
        /// </summary>
        public void OnConnection(string nsp, Action<Socket> handler)
        {
            if (handler == null) throw new ArgumentNullException("handler");
            nsp = nsp ?? "/";
            var h = H;
            lock (gate)
            {
                List<Action<Socket>> l;
                bool first = !onConnection.TryGetValue(nsp, out l);
                if (first)
                {
                    if (mode == DispatchMode.Callback)
                    {
                        IntPtr ud = Trampolines.Pin(new ConnectionSink(this, nsp));
                        uint rc = Native.oxsio_server_on_connection(h, Utf8.Z(nsp), Trampolines.OnEvent, ud, Trampolines.Free);
                        if (rc != 0) { Trampolines.Unpin(ud); throw Check.Error(rc, "OnConnection"); }
                    }
                    else
                    {
                        Check.Ok(Native.oxsio_server_of(h, Utf8.Z(nsp)), "OnConnection");
                    }
                    onConnection[nsp] = l = new List<Action<Socket>>();
                }
                l.Add(handler);
            }
        }

        /// <summary>
        /// Adds a connect middleware to nsp: each client joining it first
        /// produces a <see cref="EventKind.ConnectionRequest"/> event, answered
        /// with Accept or Refuse (now or later, from any thread; unanswered
        /// it is refused after connect_timeout_ms). Callback mode: several
        /// per namespace, run in order. Poll mode: one per namespace.
        /// </summary>
        public void Use(string nsp, Action<Event> middleware)
        {
            if (middleware == null) throw new ArgumentNullException("middleware");
            nsp = nsp ?? "/";
            var h = H;
            if (mode == DispatchMode.Callback)
            {
                IntPtr ud = Trampolines.Pin(new MiddlewareSink(this, middleware));
                uint rc = Native.oxsio_server_use(h, Utf8.Z(nsp), Trampolines.OnEvent, ud, Trampolines.Free);
                if (rc != 0) { Trampolines.Unpin(ud); throw Check.Error(rc, "Use"); }
                return;
            }
            lock (gate)
            {
                if (pollMiddleware.ContainsKey(nsp))
                    throw new InvalidOperationException("Use: a poll-mode server takes one middleware per namespace (" + nsp + " has one)");
                Check.Ok(Native.oxsio_server_use(h, Utf8.Z(nsp), null, IntPtr.Zero, null), "Use");
                pollMiddleware[nsp] = middleware;
            }
        }

        /// <summary>Sends an event to the sockets target selects (null: every socket of "/"); encoded once.</summary>
        public void Emit(Target target, string eventName, string argsJson = null, params byte[][] buffers)
        {
            if (eventName == null) throw new ArgumentNullException("eventName");
            var h = H;
            using (var t = new Target.Marshalled(target))
            using (var pin = PinnedBuffers.Pin(buffers))
                Check.Ok(Native.oxsio_server_emit(h, ref t.Value, Utf8.Z(eventName), Utf8.Z(argsJson), pin.Bufs, pin.Count), "Emit");
        }

        /// <summary>Broadcasts an event with one binary argument, without JSON.</summary>
        public void EmitBinary(Target target, string eventName, byte[] data)
        {
            if (eventName == null) throw new ArgumentNullException("eventName");
            if (data == null) throw new ArgumentNullException("data");
            var h = H;
            using (var t = new Target.Marshalled(target))
                Check.Ok(Native.oxsio_server_emit_binary(h, ref t.Value, Utf8.Z(eventName), data, (UIntPtr)data.Length), "EmitBinary");
        }

        /// <summary>
        /// Sends an event to the sockets target selects, each asked for an
        /// acknowledgement; the Task gets one ACK event whose arguments are
        /// the replies, one JSON array per socket ([[..],[..]]), or fails
        /// with OxsioTimeoutException when some did not answer in time. Poll
        /// mode: completes inside Poll().
        /// </summary>
        public Task<Event> EmitWithAckAsync(Target target, string eventName, string argsJson = null, byte[][] buffers = null, int timeoutMs = 0)
        {
            if (eventName == null) throw new ArgumentNullException("eventName");
            var h = H;
            var p = Acks.Begin(true, null, socketOf);
            uint rc;
            ulong id;
            using (var t = new Target.Marshalled(target))
            using (var pin = PinnedBuffers.Pin(buffers))
            {
                if (mode == DispatchMode.Callback)
                {
                    IntPtr ud = Trampolines.Pin(p);
                    rc = Native.oxsio_server_emit_with_ack(h, ref t.Value, Utf8.Z(eventName), Utf8.Z(argsJson), pin.Bufs, pin.Count, Client.Ms(timeoutMs),
                        Trampolines.OnEvent, ud, Trampolines.Free, out id);
                    if (rc != 0) Trampolines.Unpin(ud);
                }
                else
                {
                    lock (Acks.Gate)
                    {
                        rc = Native.oxsio_server_emit_with_ack(h, ref t.Value, Utf8.Z(eventName), Utf8.Z(argsJson), pin.Bufs, pin.Count, Client.Ms(timeoutMs),
                            null, IntPtr.Zero, null, out id);
                        if (rc == 0) Acks.Registered(p, new AckKey(IntPtr.Zero, id));
                    }
                }
            }
            if (rc != 0)
            {
                var ex = Check.Error(rc, "EmitWithAckAsync");
                p.Fail(ex);
                throw ex;
            }
            return p.Task;
        }

        /// <summary>
        /// The sockets target selects, on every node, as a JSON array of
        /// {"id","nsp","rooms","handshake","data"} (Node's fetchSockets).
        /// Blocks at most timeoutMs (0: 5000); not from a callback-mode handler.
        /// </summary>
        public string FetchSocketsJson(Target target, int timeoutMs = 0)
        {
            var h = H;
            using (var t = new Target.Marshalled(target))
            {
                for (int tries = 0; tries < 8; tries++)
                {
                    UIntPtr len;
                    uint rc = Native.oxsio_server_fetch_sockets(h, ref t.Value, Client.Ms(timeoutMs), null, UIntPtr.Zero, out len);
                    if (rc != (uint)ResultCode.BufferTooSmall) Check.Ok(rc, "FetchSocketsJson");
                    var buf = new byte[(int)len.ToUInt64() + 1 + 1024];
                    rc = Native.oxsio_server_fetch_sockets(h, ref t.Value, Client.Ms(timeoutMs), buf, (UIntPtr)buf.Length, out len);
                    if (rc == (uint)ResultCode.BufferTooSmall) continue; // sockets came in between
                    Check.Ok(rc, "FetchSocketsJson");
                    return System.Text.Encoding.UTF8.GetString(buf, 0, (int)len.ToUInt64());
                }
                throw new OxsioStateException(ResultCode.BufferTooSmall, "FetchSocketsJson: the selection kept growing while read");
            }
        }

        public void SocketsJoin(Target target, string room)
        {
            var h = H;
            using (var t = new Target.Marshalled(target))
                Check.Ok(Native.oxsio_server_sockets_join(h, ref t.Value, Utf8.Z(room ?? throw new ArgumentNullException("room"))), "SocketsJoin");
        }

        public void SocketsLeave(Target target, string room)
        {
            var h = H;
            using (var t = new Target.Marshalled(target))
                Check.Ok(Native.oxsio_server_sockets_leave(h, ref t.Value, Utf8.Z(room ?? throw new ArgumentNullException("room"))), "SocketsLeave");
        }

        /// <summary>Disconnects the selected sockets; with close, their connections too.</summary>
        public void DisconnectSockets(Target target, bool close = false)
        {
            var h = H;
            using (var t = new Target.Marshalled(target))
                Check.Ok(Native.oxsio_server_disconnect_sockets(h, ref t.Value, close), "DisconnectSockets");
        }

        /// <summary>The connected socket sid of nsp, or null.</summary>
        public Socket GetSocket(string nsp, string sid)
        {
            if (sid == null) throw new ArgumentNullException("sid");
            IntPtr s;
            uint rc = Native.oxsio_server_socket(H, Utf8.Z(nsp), Utf8.Z(sid), out s);
            if (rc == (uint)ResultCode.InvalidArgument) return null;
            Check.Ok(rc, "GetSocket");
            return SocketOf(s);
        }

        /// <summary>The number of sockets connected to nsp on this node.</summary>
        public int SocketCount(string nsp = "/")
        {
            UIntPtr n;
            Check.Ok(Native.oxsio_server_socket_count(H, Utf8.Z(nsp), out n), "SocketCount");
            return (int)n.ToUInt64();
        }

        /// <summary>Poll mode: how many message events the bounded queue dropped so far.</summary>
        public ulong DroppedEvents
        {
            get
            {
                ulong n;
                Check.Ok(Native.oxsio_server_dropped_events(H, out n), "DroppedEvents");
                return n;
            }
        }

        /// <summary>
        /// Poll mode: runs the handlers of the queued events (at most max) on
        /// this thread: connections, middleware requests, socket events,
        /// disconnections, acknowledgements. Never blocks. Returns the number
        /// of events handled.
        /// </summary>
        public int Poll(int max = int.MaxValue)
        {
            var h = H;
            int n = 0;
            while (n < max)
            {
                IntPtr ev;
                uint rc = Native.oxsio_server_poll(h, out ev);
                if (rc == (uint)ResultCode.Empty) break;
                Check.Ok(rc, "Poll");
                n++;
                Handle(Event.Read(ev, true));
            }
            return n;
        }

        /// <summary>Poll mode: waits until an event is queued, at most timeoutMs; true when one is.</summary>
        public bool Wait(int timeoutMs)
        {
            uint rc = Native.oxsio_server_wait(H, Client.Ms(timeoutMs));
            if (rc == (uint)ResultCode.Timeout) return false;
            Check.Ok(rc, "Wait");
            return true;
        }

        /// <summary>Stops accepting and disconnects everyone, waiting at most timeoutMs (OxsioTimeoutException if still closing).</summary>
        public void Shutdown(int timeoutMs)
        {
            Check.Ok(Native.oxsio_server_shutdown(H, Client.Ms(timeoutMs)), "Shutdown");
        }

        /// <summary>Releases the server (idempotent): connections close in the background, pending acknowledgements fail with ObjectDisposedException.</summary>
        public void Dispose()
        {
            handle.Dispose();
            Acks.Close();
            lock (gate) sockets.Clear();
        }

        // ------------------------------------------------------------ dispatch

        internal Socket SocketOf(IntPtr s)
        {
            if (s == IntPtr.Zero) return null;
            lock (gate)
            {
                Socket sock;
                if (!sockets.TryGetValue(s, out sock)) sockets[s] = sock = new Socket(this, s);
                return sock;
            }
        }

        private void Forget(IntPtr s)
        {
            lock (gate) sockets.Remove(s);
        }

        /// <summary>One event of either mode (callback mode: from a sink, borrowed data already copied).</summary>
        private void Handle(Event e)
        {
            if (e.NativeSocket != IntPtr.Zero) e.Socket = SocketOf(e.NativeSocket);
            switch (e.Kind)
            {
                case EventKind.Connection:
                    Connected(e);
                    break;
                case EventKind.ConnectionRequest:
                    Action<Event> mw;
                    lock (gate) pollMiddleware.TryGetValue(e.Namespace, out mw);
                    if (mw == null) { e.Dispose(); break; }
                    try { mw(e); }
                    catch (Exception ex) { OxsioLog.HandlerFailed("the middleware of " + e.Namespace, ex); }
                    break;
                case EventKind.Ack:
                    var p = Acks.Take(new AckKey(e.NativeSocket, e.Id));
                    if (p != null) p.Complete(e);
                    break;
                default:
                    if (e.Socket != null) e.Socket.Dispatch(e);
                    if (e.Kind == EventKind.Disconnect) Forget(e.NativeSocket);
                    break;
            }
        }

        private void Connected(Event e)
        {
            var s = e.Socket;
            if (s == null) return;
            if (mode == DispatchMode.Callback) s.RegisterSink();
            List<Action<Socket>> l;
            Action<Socket>[] run;
            lock (gate)
            {
                if (!onConnection.TryGetValue(e.Namespace, out l)) return;
                run = l.ToArray();
            }
            foreach (var h in run)
            {
                try { h(s); }
                catch (Exception ex) { OxsioLog.HandlerFailed("the connection handler of " + e.Namespace, ex); }
            }
        }

        private sealed class ConnectionSink : IEventSink
        {
            private readonly Server server;
            private readonly string nsp;
            internal ConnectionSink(Server server, string nsp) { this.server = server; this.nsp = nsp; }
            public void Deliver(IntPtr ev) { server.Handle(Event.Read(ev, false)); }
            public override string ToString() { return nsp; }
        }

        private sealed class MiddlewareSink : IEventSink
        {
            private readonly Server server;
            private readonly Action<Event> middleware;
            internal MiddlewareSink(Server server, Action<Event> middleware) { this.server = server; this.middleware = middleware; }

            public void Deliver(IntPtr ev)
            {
                var e = Event.Read(ev, false);
                try { middleware(e); }
                catch (Exception ex) { OxsioLog.HandlerFailed("the middleware of " + e.Namespace, ex); }
                GC.KeepAlive(server);
            }
        }

        /// <summary>Callback mode: the events of one socket (user_data of oxsio_socket_on).</summary>
        internal sealed class SocketSink : IEventSink
        {
            private readonly Server server;
            internal SocketSink(Server server) { this.server = server; }
            public void Deliver(IntPtr ev) { server.Handle(Event.Read(ev, false)); }
        }

        internal Func<IntPtr, Socket> SocketLookup { get { return socketOf; } }
    }

    /// <summary>
    /// One client in one namespace of a <see cref="Server"/>. Owned by the
    /// server: valid until its "disconnect" event was handled; afterwards
    /// calls throw OxsioHandleException, and after the server's Dispose
    /// ObjectDisposedException.
    /// </summary>
    public sealed class Socket
    {
        private readonly Server server;
        private readonly IntPtr s;
        private readonly Handlers handlers = new Handlers();
        private string id;
        private string nsp;

        internal Socket(Server server, IntPtr s)
        {
            this.server = server;
            this.s = s;
        }

        internal void RegisterSink()
        {
            IntPtr ud = Trampolines.Pin(new Server.SocketSink(server));
            uint rc = Native.oxsio_socket_on(S, null, Trampolines.OnEvent, ud, Trampolines.Free);
            if (rc != 0) { Trampolines.Unpin(ud); throw Check.Error(rc, "Socket"); }
        }

        private IntPtr S
        {
            get
            {
                if (server.IsDisposed) throw new ObjectDisposedException("Oxsio.Socket", "the server was disposed");
                return s;
            }
        }

        public Server Server { get { return server; } }

        /// <summary>The socket id (also the name of its own room).</summary>
        public string Id
        {
            get
            {
                if (id == null) id = Str(Native.oxsio_socket_id, "Id");
                return id;
            }
        }

        public string Namespace
        {
            get
            {
                if (nsp == null) nsp = Str(Native.oxsio_socket_namespace, "Namespace");
                return nsp;
            }
        }

        /// <summary>The auth payload the client sent with CONNECT, as JSON ({} when none).</summary>
        public string AuthJson { get { return Str(Native.oxsio_socket_auth_json, "AuthJson"); } }

        /// <summary>The handshake as a JSON object (Node's socket.handshake).</summary>
        public string HandshakeJson { get { return Str(Native.oxsio_socket_handshake_json, "HandshakeJson"); } }

        private delegate uint StrGetter(IntPtr socket, out IntPtr str, out UIntPtr len);

        private string Str(StrGetter get, string what)
        {
            IntPtr p; UIntPtr n;
            Check.Ok(get(S, out p, out n), what);
            return Utf8.Read(p, n);
        }

        /// <summary>Node's socket.data as JSON text (any JSON value; {} at first).</summary>
        public string DataJson
        {
            get
            {
                var h = S;
                for (int tries = 0; tries < 8; tries++)
                {
                    UIntPtr len;
                    uint rc = Native.oxsio_socket_data_json(h, null, UIntPtr.Zero, out len);
                    if (rc != (uint)ResultCode.BufferTooSmall) Check.Ok(rc, "DataJson");
                    var buf = new byte[(int)len.ToUInt64() + 1];
                    rc = Native.oxsio_socket_data_json(h, buf, (UIntPtr)buf.Length, out len);
                    if (rc == (uint)ResultCode.BufferTooSmall) continue; // changed in between
                    Check.Ok(rc, "DataJson");
                    return System.Text.Encoding.UTF8.GetString(buf, 0, (int)len.ToUInt64());
                }
                throw new OxsioStateException(ResultCode.BufferTooSmall, "DataJson: the data kept changing while read");
            }
            set
            {
                Check.Ok(Native.oxsio_socket_set_data_json(S, Utf8.Z(value ?? throw new ArgumentNullException("value"))), "DataJson");
            }
        }

        /// <summary>The rooms the socket is in (its own id room included) as a JSON array of strings.</summary>
        public string RoomsJson
        {
            get
            {
                var h = S;
                for (int tries = 0; tries < 8; tries++)
                {
                    UIntPtr len;
                    uint rc = Native.oxsio_socket_rooms(h, null, UIntPtr.Zero, out len);
                    if (rc != (uint)ResultCode.BufferTooSmall) Check.Ok(rc, "RoomsJson");
                    var buf = new byte[(int)len.ToUInt64() + 1];
                    rc = Native.oxsio_socket_rooms(h, buf, (UIntPtr)buf.Length, out len);
                    if (rc == (uint)ResultCode.BufferTooSmall) continue;
                    Check.Ok(rc, "RoomsJson");
                    return System.Text.Encoding.UTF8.GetString(buf, 0, (int)len.ToUInt64());
                }
                throw new OxsioStateException(ResultCode.BufferTooSmall, "RoomsJson: the rooms kept changing while read");
            }
        }

        /// <summary>True until the socket disconnects.</summary>
        public bool Connected
        {
            get
            {
                bool c;
                uint rc = Native.oxsio_socket_connected(S, out c);
                if (rc == (uint)ResultCode.InvalidHandle) return false;
                Check.Ok(rc, "Connected");
                return c;
            }
        }

        /// <summary>Adds a handler for an event from this client, or "disconnect".</summary>
        public void On(string eventName, Action<Event> handler)
        {
            if (eventName == null) throw new ArgumentNullException("eventName");
            GC.KeepAlive(S);
            handlers.Add(eventName, handler, false);
        }

        /// <summary>As On, removed after its first call.</summary>
        public void Once(string eventName, Action<Event> handler)
        {
            if (eventName == null) throw new ArgumentNullException("eventName");
            GC.KeepAlive(S);
            handlers.Add(eventName, handler, true);
        }

        /// <summary>A handler for every event of this socket (after the named ones).</summary>
        public void OnAny(Action<Event> handler)
        {
            GC.KeepAlive(S);
            handlers.Add(null, handler, false);
        }

        /// <summary>Removes one handler (or all of an event when handler is null); eventName null: the OnAny ones.</summary>
        public void Off(string eventName, Action<Event> handler = null)
        {
            GC.KeepAlive(S);
            handlers.Remove(eventName, handler);
        }

        internal void Dispatch(Event e) { handlers.Dispatch(e, "socket " + e.Namespace); }

        /// <summary>Sends an event to this client (argsJson a JSON array with placeholders for buffers).</summary>
        public void Emit(string eventName, string argsJson = null, params byte[][] buffers)
        {
            if (eventName == null) throw new ArgumentNullException("eventName");
            var h = S;
            using (var pin = PinnedBuffers.Pin(buffers))
                Check.Ok(Native.oxsio_socket_emit(h, Utf8.Z(eventName), Utf8.Z(argsJson), pin.Bufs, pin.Count), "Emit");
        }

        /// <summary>Sends an event with one binary argument, without JSON; volatile drops it when the queue is full.</summary>
        public void EmitBinary(string eventName, byte[] data, bool volatileEmit = false)
        {
            if (eventName == null) throw new ArgumentNullException("eventName");
            if (data == null) throw new ArgumentNullException("data");
            Check.Ok(Native.oxsio_socket_emit_binary(S, Utf8.Z(eventName), data, (UIntPtr)data.Length, volatileEmit ? 1u : 0u), "EmitBinary");
        }

        /// <summary>Sends an event and awaits the client's acknowledgement (timeoutMs 0: the server's ack timeout). Poll mode: completes inside Server.Poll.</summary>
        public Task<Event> EmitWithAckAsync(string eventName, string argsJson = null, byte[][] buffers = null, int timeoutMs = 0)
        {
            ulong id;
            return EmitWithAck(eventName, argsJson, buffers, timeoutMs, true, null, out id).Task;
        }

        /// <summary>As EmitWithAckAsync with a callback (a failure arrives as an event whose Result is not Ok). Returns the ack id.</summary>
        public ulong EmitWithAck(string eventName, string argsJson, Action<Event> callback, byte[][] buffers = null, int timeoutMs = 0)
        {
            if (callback == null) throw new ArgumentNullException("callback");
            ulong id;
            EmitWithAck(eventName, argsJson, buffers, timeoutMs, false, callback, out id);
            return id;
        }

        private PendingAck EmitWithAck(string eventName, string argsJson, byte[][] buffers, int timeoutMs, bool task, Action<Event> callback, out ulong id)
        {
            if (eventName == null) throw new ArgumentNullException("eventName");
            var h = S;
            var acks = server.Acks;
            var p = acks.Begin(task, callback, server.SocketLookup);
            uint rc;
            using (var pin = PinnedBuffers.Pin(buffers))
            {
                if (server.Mode == DispatchMode.Callback)
                {
                    IntPtr ud = Trampolines.Pin(p);
                    rc = Native.oxsio_socket_emit_with_ack(h, Utf8.Z(eventName), Utf8.Z(argsJson), pin.Bufs, pin.Count, Client.Ms(timeoutMs),
                        Trampolines.OnEvent, ud, Trampolines.Free, out id);
                    if (rc != 0) Trampolines.Unpin(ud);
                }
                else
                {
                    lock (acks.Gate)
                    {
                        rc = Native.oxsio_socket_emit_with_ack(h, Utf8.Z(eventName), Utf8.Z(argsJson), pin.Bufs, pin.Count, Client.Ms(timeoutMs),
                            null, IntPtr.Zero, null, out id);
                        if (rc == 0) acks.Registered(p, new AckKey(h, id));
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

        public void Join(string room)
        {
            Check.Ok(Native.oxsio_socket_join(S, Utf8.Z(room ?? throw new ArgumentNullException("room"))), "Join");
        }

        public void Leave(string room)
        {
            Check.Ok(Native.oxsio_socket_leave(S, Utf8.Z(room ?? throw new ArgumentNullException("room"))), "Leave");
        }

        /// <summary>Removes the socket from its namespace (the client sees "io server disconnect"); with close, closes the connection.</summary>
        public void Disconnect(bool close = false)
        {
            Check.Ok(Native.oxsio_socket_disconnect(S, close), "Disconnect");
        }

        public override string ToString() { return "Socket " + (id ?? "?") + " " + (nsp ?? ""); }
    }
}
