// Tests of the C# binding (run by dotnet/run-tests.sh under Mono): the C#
// client against the official Node server, the C# server (poll and callback
// mode) against the official JS client and the C# client, emits from several
// threads, and misuse. Prints one line per test and "csharp: N passed, M failed".
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Oxsio;

internal static class Tests
{
    private static string dir;   // dotnet/Tests
    private static string node;  // node executable
    private static string caPem; // the TLS test CA (PEM text)
    private static string certFile, keyFile;

    private static int Main(string[] args)
    {
        dir = Path.GetDirectoryName(Path.GetFullPath(args.Length > 0 ? args[0] : "Tests/Tests.cs"));
        node = Environment.GetEnvironmentVariable("NODE") ?? "node";
        certFile = Environment.GetEnvironmentVariable("OXSIO_TEST_CERT");
        keyFile = Environment.GetEnvironmentVariable("OXSIO_TEST_KEY");
        string ca = Environment.GetEnvironmentVariable("OXSIO_TEST_CA");
        caPem = ca != null ? File.ReadAllText(ca) : null;
        string only = args.Length > 1 ? args[1] : null;

        var tests = new List<KeyValuePair<string, Action>>
        {
            T("client_events_json_and_scalars", ClientEvents),
            T("client_nested_binary_both_ways", ClientNestedBinary),
            T("client_acks_both_ways_task_and_callback", ClientAcksBothWays),
            T("client_two_namespaces_one_connection", ClientTwoNamespaces),
            T("client_refused_with_data", ClientRefusedWithData),
            T("client_reconnects_and_sends_buffered_emits", ClientReconnectBuffered),
            T("client_tls_with_ca_and_refused_without", ClientTls),
            T("client_callback_mode_runs_on_a_library_thread", ClientCallbackMode),
            T("client_emits_from_several_threads", ClientThreads),
            T("server_poll_mode_js_client_websocket", () => ServerPollJsClient("websocket")),
            T("server_poll_mode_js_client_polling", () => ServerPollJsClient("polling")),
            T("server_poll_mode_js_client_polling_upgrade", () => ServerPollJsClient("upgrade")),
            T("server_callback_mode_csharp_client", ServerCallbackMode),
            T("server_poll_mode_rooms_fetch_sockets_broadcast_ack_set_auth", ServerPollParity),
            T("server_two_csharp_servers_one_cluster_over_redis", ServerClusterOverRedis),
            T("misuse_double_dispose_and_use_after_dispose", MisuseDispose),
            T("misuse_bad_arguments_are_typed_exceptions", MisuseArguments),
            T("a_throwing_handler_is_logged_and_the_connection_lives", ThrowingHandler),
            T("native_log_records_polled_and_forwarded", NativeLogs),
        };
        int passed = 0, failed = 0;
        foreach (var t in tests)
        {
            if (only != null && !t.Key.Contains(only)) continue;
            var sw = Stopwatch.StartNew();
            Exception error = null;
            var th = new Thread(() =>
            {
                try { t.Value(); }
                catch (Exception e) { error = e; }
            });
            th.IsBackground = true;
            th.Start();
            if (!th.Join(60000)) error = new TimeoutException("did not finish within 60 s");
            if (error == null)
            {
                passed++;
                Console.WriteLine("ok     {0} ({1} ms)", t.Key, sw.ElapsedMilliseconds);
            }
            else
            {
                failed++;
                Console.WriteLine("FAILED {0}: {1}", t.Key, error);
            }
        }
        Console.WriteLine("csharp: {0} passed, {1} failed", passed, failed);
        Console.Out.Flush();
        // A hung test thread must not keep the process alive, and neither
        // may Mono's shutdown: on the CI machine it was seen spinning in
        // Environment.Exit (finalizers and the library's runtime threads)
        // after every test had passed. _exit skips both.
        _exit(failed == 0 ? 0 : 1);
        return 0;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "_exit")]
    private static extern void _exit(int status);

    private static KeyValuePair<string, Action> T(string name, Action a) { return new KeyValuePair<string, Action>(name, a); }

    // ------------------------------------------------------------ helpers

    private static void Assert(bool cond, string what)
    {
        if (!cond) throw new Exception("assertion failed: " + what);
    }

    private static void Eq<TV>(TV want, TV got, string what)
    {
        if (!EqualityComparer<TV>.Default.Equals(want, got))
            throw new Exception(what + ": expected <" + want + ">, got <" + got + ">");
    }

    private static T Throws<T>(Action a, string what) where T : Exception
    {
        try { a(); }
        catch (T e) { return e; }
        catch (Exception e) { throw new Exception(what + ": expected " + typeof(T).Name + ", got " + e.GetType().Name + ": " + e.Message); }
        throw new Exception(what + ": expected " + typeof(T).Name + ", nothing thrown");
    }

    /// <summary>A child process whose stdout lines are collected.</summary>
    private sealed class Proc : IDisposable
    {
        private readonly Process p;
        private readonly List<string> lines = new List<string>();

        internal Proc(string exe, params string[] args)
        {
            var si = new ProcessStartInfo(exe, string.Join(" ", args.Select(a => "\"" + a + "\"")))
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = false,
                WorkingDirectory = dir,
            };
            p = Process.Start(si);
            p.OutputDataReceived += (s, e) => { if (e.Data != null) lock (lines) { lines.Add(e.Data); Monitor.PulseAll(lines); } };
            p.BeginOutputReadLine();
        }

        internal string WaitLine(string prefix, int timeoutMs)
        {
            var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
            lock (lines)
            {
                while (true)
                {
                    foreach (var l in lines) if (l.StartsWith(prefix)) return l;
                    var left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero || p.HasExited && !Monitor.Wait(lines, 200))
                        throw new Exception("no line starting with \"" + prefix + "\"; got: " + string.Join(" | ", lines));
                    Monitor.Wait(lines, left > TimeSpan.FromMilliseconds(200) ? TimeSpan.FromMilliseconds(200) : left);
                }
            }
        }

        internal bool Exited(int timeoutMs) { return p.WaitForExit(timeoutMs); }
        internal int ExitCode { get { return p.ExitCode; } }
        internal string Output { get { lock (lines) return string.Join("\n", lines); } }

        public void Dispose()
        {
            try { if (!p.HasExited) { p.Kill(); p.WaitForExit(5000); } } catch (InvalidOperationException) { }
            p.Dispose();
        }
    }

    private static Proc NodeServer(out int port, bool tls = false)
    {
        var proc = tls
            ? new Proc(node, Path.Combine(dir, "node_server.js"), "0", certFile, keyFile)
            : new Proc(node, Path.Combine(dir, "node_server.js"), "0");
        port = int.Parse(proc.WaitLine("listening ", 20000).Substring("listening ".Length).Trim());
        return proc;
    }

    /// <summary>Polls the clients until cond holds (bounded).</summary>
    private static void Pump(Func<bool> cond, int timeoutMs, string what, params Client[] clients)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!cond())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("waiting for " + what);
            int n = 0;
            foreach (var c in clients) n += c.Mode == DispatchMode.Poll ? c.Poll() : 0;
            if (n == 0)
            {
                if (clients.Length == 1 && clients[0].Mode == DispatchMode.Poll) clients[0].Wait(20);
                else Thread.Sleep(5);
            }
        }
    }

    private static Event Await(Task<Event> t, int timeoutMs, params Client[] clients)
    {
        Pump(() => t.IsCompleted, timeoutMs, "an acknowledgement", clients);
        return t.Result;
    }

    /// <summary>A poll-mode client connected to url, its "welcome" handled.</summary>
    private static Client Connected(string url, string config, out Event welcome)
    {
        var c = new Client(url, config);
        Event w = null;
        c.Once("welcome", e => w = e);
        c.Open();
        Pump(() => w != null, 10000, "welcome", c);
        Eq(ClientState.Connected, c.State, "state");
        welcome = w;
        return c;
    }

    private static string Url(int port, string nsp = "/") { return "http://127.0.0.1:" + port + nsp; }

    // -------------------------------------------------------- client tests

    private static void ClientEvents()
    {
        int port;
        using (NodeServer(out port))
        {
            Event welcome;
            using (var c = Connected(Url(port), "{\"auth\":{\"user\":\"cs\"}}", out welcome))
            {
                Assert(welcome.ArgsJson.Contains("\"auth\":{\"user\":\"cs\"}"), "auth reached the server: " + welcome.ArgsJson);
                Assert(welcome.ArgsJson.Contains(c.Id), "welcome names the client's id " + c.Id);
                var got = new List<Event>();
                c.On("echo", got.Add);
                c.Emit("echo", "[\"héllo\",1.5,true,null,{\"a\":[1,2]}]");
                Pump(() => got.Count == 1, 10000, "echo", c);
                var e = got[0];
                Eq(EventKind.Message, e.Kind, "kind");
                Eq("echo", e.Name, "name");
                Eq("/", e.Namespace, "namespace");
                Eq(5, e.ArgCount, "arg count");
                Eq("héllo", e.GetString(0), "string");
                Eq(1.5, e.GetNumber(1), "number");
                Eq(true, e.GetBool(2), "bool");
                Eq(ValueKind.Null, e.ArgKind(3), "null");
                Eq(ValueKind.Object, e.ArgKind(4), "object");
                Eq("{\"a\":[1,2]}", e.ArgJson(4), "object json");
                Throws<OxsioArgumentException>(() => e.GetNumber(0), "a string read as a number");
                Throws<OxsioArgumentException>(() => e.GetString(9), "past the end");
                c.Send("[\"m\"]");
            }
        }
    }

    private static void ClientNestedBinary()
    {
        int port;
        using (NodeServer(out port))
        {
            Event welcome;
            using (var c = Connected(Url(port), null, out welcome))
            {
                var echo = new List<Event>();
                var nested = new List<Event>();
                c.On("echo", echo.Add);
                c.On("nested", nested.Add);
                var b0 = new byte[] { 0, 1, 2, 255 };
                var b1 = new byte[70000];
                for (int i = 0; i < b1.Length; i++) b1[i] = (byte)(i * 7);
                c.Emit("echo", "[{\"a\":[1,{\"_placeholder\":true,\"num\":0}]},{\"_placeholder\":true,\"num\":1},\"t\"]", b0, b1);
                c.EmitBinary("echo", new byte[] { 42, 43 });
                c.Emit("nested");
                Pump(() => echo.Count == 2 && nested.Count == 1, 10000, "binary echoes", c);
                var e = echo[0];
                Eq(2, e.Buffers.Length, "buffer count");
                Assert(e.Buffers[0].SequenceEqual(b0), "buffer 0 round trip");
                Assert(e.Buffers[1].SequenceEqual(b1), "buffer 1 round trip (70000 bytes)");
                Eq("[{\"a\":[1,{\"_placeholder\":true,\"num\":0}]},{\"_placeholder\":true,\"num\":1},\"t\"]", e.ArgsJson, "placeholders");
                Assert(e.GetBinary(1).SequenceEqual(b1), "top-level binary argument");
                Assert(echo[1].GetBinary(0).SequenceEqual(new byte[] { 42, 43 }), "EmitBinary round trip");
                var n = nested[0];
                Eq(2, n.Buffers.Length, "nested buffers from node");
                Assert(n.Buffers.Any(b => b.SequenceEqual(new byte[] { 1, 2, 3 })), "deep buffer");
                Assert(n.Buffers.Any(b => b.SequenceEqual(System.Text.Encoding.ASCII.GetBytes("xyz"))), "top buffer");
                Eq("end", n.GetString(1), "second argument");
            }
        }
    }

    private static void ClientAcksBothWays()
    {
        int port;
        using (NodeServer(out port))
        {
            Event welcome;
            using (var c = Connected(Url(port), null, out welcome))
            {
                // Client → server, awaited as a Task.
                var reply = Await(c.EmitWithAckAsync("echo-ack", "[\"x\",2,{\"_placeholder\":true,\"num\":0}]", new[] { new byte[] { 5 } }), 10000, c);
                Eq(EventKind.Ack, reply.Kind, "ack kind");
                Eq("x", reply.GetString(0), "ack arg 0");
                Eq(2.0, reply.GetNumber(1), "ack arg 1");
                Assert(reply.GetBinary(2).SequenceEqual(new byte[] { 5 }), "ack binary");
                // Client → server, with a callback.
                Event viaCallback = null;
                ulong id = c.EmitWithAck("echo-ack", "[\"cb\"]", e => viaCallback = e);
                Pump(() => viaCallback != null, 10000, "ack callback", c);
                Eq(id, viaCallback.Id, "ack id");
                Eq("cb", viaCallback.GetString(0), "callback reply");
                // A server that never answers: the Task fails with a timeout.
                var t = c.EmitWithAckAsync("echo", "[1]", null, 300);
                Pump(() => t.IsCompleted, 10000, "ack timeout", c);
                Assert(t.IsFaulted && t.Exception.InnerException is OxsioTimeoutException, "timeout → OxsioTimeoutException: " + t.Status);
                // Server → client: the client answers the server's ack request.
                Event answer = null;
                c.On("question", q =>
                {
                    Assert(q.WantsAck, "the question wants an ack");
                    q.Ack("[\"answer\",{\"_placeholder\":true,\"num\":0}]", new byte[] { 7, 7 });
                    Throws<ObjectDisposedException>(() => q.Ack("[2]"), "a second answer");
                });
                c.On("answer", e => answer = e);
                c.Emit("ask-client", "[\"q1\"]");
                Pump(() => answer != null, 10000, "answer", c);
                Eq("answer", answer.GetString(0), "server got the client's ack");
                Assert(answer.GetBinary(1).SequenceEqual(new byte[] { 7, 7 }), "binary in the client's ack");
            }
        }
    }

    private static void ClientTwoNamespaces()
    {
        int port;
        using (NodeServer(out port))
        {
            Event welcome;
            using (var c = Connected(Url(port), null, out welcome))
            using (var admin = c.Of("/admin"))
            {
                Event aw = null;
                var echoes = new List<Event>();
                admin.On("welcome", e => aw = e);
                admin.On("echo", echoes.Add);
                c.On("echo", e => { throw new Exception("the / client got /admin's echo"); });
                admin.Open();
                Pump(() => aw != null, 10000, "admin welcome", c, admin);
                Assert(aw.ArgsJson.Contains("\"nsp\":\"/admin\""), "admin welcome: " + aw.ArgsJson);
                Eq("/admin", aw.Namespace, "namespace of the event");
                admin.Emit("echo", "[\"in admin\"]");
                Pump(() => echoes.Count == 1, 10000, "admin echo", c, admin);
                Eq("in admin", echoes[0].GetString(0), "admin echo");
                Assert(c.Id != admin.Id, "one socket id per namespace");
                Eq(ClientState.Connected, c.State, "/ still connected");
            }
        }
    }

    private static void ClientRefusedWithData()
    {
        int port;
        using (NodeServer(out port))
        using (var c = new Client(Url(port), "{\"auth\":{\"token\":\"bad\"}}"))
        {
            Event err = null;
            c.On("connect_error", e => err = e);
            c.On("connect", e => { throw new Exception("connected with a bad token"); });
            c.Open();
            Pump(() => err != null, 10000, "connect_error", c);
            Eq(EventKind.ConnectError, err.Kind, "kind");
            Eq(ResultCode.Refused, err.Result, "result");
            Eq("unauthorized", err.Message, "the server's message, unchanged");
            Assert(err.ArgsJson.Contains("\"reason\":\"bad token\"") && err.ArgsJson.Contains("4001"), "data: " + err.ArgsJson);
            Eq(ClientState.Refused, c.State, "state");
            Throws<OxsioRefusedException>(() => c.WaitConnected(1000), "WaitConnected on a refused client");
        }
    }

    private static void ClientReconnectBuffered()
    {
        int port;
        using (NodeServer(out port))
        {
            Event welcome;
            using (var c = Connected(Url(port), "{\"reconnection_delay_ms\":400,\"reconnection_delay_max_ms\":400,\"randomization_factor\":0}", out welcome))
            {
                string reason = null;
                int reconnects = 0, welcomes = 0;
                c.On("disconnect", e => reason = e.Message);
                c.On("reconnect", e => reconnects++);
                c.On("welcome", e => welcomes++);
                c.Emit("drop");
                Pump(() => reason != null, 10000, "disconnect", c);
                Eq("transport close", reason, "reason");
                Assert(c.State != ClientState.Connected, "disconnected while emitting");
                for (int i = 1; i <= 5; i++) c.Emit("buffered", "[" + i + "]");
                Pump(() => reconnects == 1 && welcomes == 1, 10000, "reconnection", c);
                var count = Await(c.EmitWithAckAsync("count"), 10000, c);
                Eq("[[1,2,3,4,5]]", count.ArgsJson, "the buffered emits arrived after the reconnection, in order");
            }
        }
    }

    private static void ClientTls()
    {
        if (caPem == null) throw new Exception("OXSIO_TEST_CA/CERT/KEY not set (run through dotnet/run-tests.sh)");
        int port;
        using (NodeServer(out port, true))
        {
            string url = "https://127.0.0.1:" + port + "/";
            string cfg = "{\"transports\":[\"websocket\"],\"tls_ca_pem\":" + JsonString(caPem) + "}";
            Event welcome;
            using (var c = Connected(url, cfg, out welcome))
            {
                var echoes = new List<Event>();
                c.On("echo", echoes.Add);
                c.Emit("echo", "[\"over tls\"]");
                Pump(() => echoes.Count == 1, 10000, "echo over wss", c);
                Eq("over tls", echoes[0].GetString(0), "echo");
            }
            // Polling over https with the CA.
            using (var c = Connected(url, "{\"transports\":[\"polling\"],\"tls_ca_pem\":" + JsonString(caPem) + "}", out welcome)) { }
            // Without the CA the certificate is refused.
            using (var c = new Client(url, "{\"reconnection\":false}"))
            {
                Event err = null;
                c.On("connect_error", e => err = e);
                c.Open();
                Pump(() => err != null, 10000, "connect_error without CA", c);
                Eq(ResultCode.Tls, err.Result, "a TLS failure: " + err.Message);
                Assert(c.State != ClientState.Connected, "not connected");
            }
        }
    }

    private static string JsonString(string s)
    {
        var sb = new System.Text.StringBuilder("\"");
        foreach (char ch in s)
        {
            if (ch == '"' || ch == '\\') sb.Append('\\').Append(ch);
            else if (ch == '\n') sb.Append("\\n");
            else if (ch == '\r') sb.Append("\\r");
            else sb.Append(ch);
        }
        return sb.Append('"').ToString();
    }

    private static void ClientCallbackMode()
    {
        int port;
        using (NodeServer(out port))
        using (var c = new Client(Url(port), null, DispatchMode.Callback))
        {
            int main = Thread.CurrentThread.ManagedThreadId;
            var connected = new ManualResetEventSlim();
            var echoed = new ManualResetEventSlim();
            int handlerThread = 0;
            c.On("connect", e => connected.Set());
            c.On("echo", e => { handlerThread = Thread.CurrentThread.ManagedThreadId; echoed.Set(); });
            Throws<OxsioHandleException>(() => c.Poll(), "Poll on a callback-mode client");
            c.Open();
            Assert(connected.Wait(10000), "connect");
            c.Emit("echo", "[1]");
            Assert(echoed.Wait(10000), "echo");
            Assert(handlerThread != 0 && handlerThread != main, "the handler ran on a library thread");
            var t = c.EmitWithAckAsync("echo-ack", "[\"cb-mode\"]");
            Assert(t.Wait(10000), "ack task completes without Poll");
            Eq("cb-mode", t.Result.GetString(0), "ack");
            var cbDone = new ManualResetEventSlim();
            Event viaCb = null;
            c.EmitWithAck("echo-ack", "[3]", e => { viaCb = e; cbDone.Set(); });
            Assert(cbDone.Wait(10000), "ack callback");
            Eq(3.0, viaCb.GetNumber(0), "callback reply");
        }
    }

    private static void ClientThreads()
    {
        int port;
        using (NodeServer(out port))
        {
            Event welcome;
            using (var c = Connected(Url(port), null, out welcome))
            {
                int echoes = 0;
                c.On("echo", e => echoes++);
                const int threads = 4, each = 50;
                var tasks = new Task<Event>[threads * each];
                var workers = new Thread[threads];
                for (int t = 0; t < threads; t++)
                {
                    int tt = t;
                    workers[t] = new Thread(() =>
                    {
                        for (int i = 0; i < each; i++)
                        {
                            tasks[tt * each + i] = c.EmitWithAckAsync("echo-ack", "[" + tt + "," + i + "]");
                            c.Emit("echo", "[" + i + "]");
                        }
                    });
                    workers[t].Start();
                }
                // The main thread polls while the others emit.
                Pump(() => workers.All(w => !w.IsAlive) && tasks.All(x => x != null && x.IsCompleted) && echoes == threads * each,
                    20000, "every ack and echo", c);
                for (int t = 0; t < threads; t++)
                    for (int i = 0; i < each; i++)
                    {
                        var r = tasks[t * each + i].Result;
                        Eq("[" + t + "," + i + "]", r.ArgsJson, "ack matched to its emit");
                    }
            }
        }
    }

    // -------------------------------------------------------- server tests

    private static void ServerPollJsClient(string mode)
    {
        using (var server = new Server("{\"ping_interval_ms\":1000,\"ping_timeout_ms\":1000}"))
        {
            int port = server.Listen();
            Eq(port, server.Port, "Port");
            var log = new List<string>();
            server.Use("/", req =>
            {
                log.Add("request");
                if (req.HandshakeJson.Contains("\"name\":\"js\"")) req.Accept();
                else req.Refuse("name required", "{\"need\":\"name\"}");
            });
            Task<Event> question = null;
            server.OnConnection("/", s =>
            {
                log.Add("connection " + s.Id);
                Eq("/", s.Namespace, "namespace");
                Assert(s.AuthJson.Contains("\"name\":\"js\""), "auth: " + s.AuthJson);
                s.DataJson = "{\"score\":1}";
                s.Join("players");
                s.Emit("welcome", "[{\"name\":\"js\"}]");
                s.On("chat", e =>
                {
                    log.Add("chat " + e.GetString(0));
                    e.Ack("[\"got\"," + e.ArgJson(0) + "]");
                });
                s.On("bin", e =>
                {
                    log.Add("bin " + e.Buffers.Length);
                    Assert(e.Buffers[0].SequenceEqual(new byte[] { 9, 8, 7 }), "nested binary from js");
                    s.Emit("bin", e.ArgsJson, e.Buffers);
                    question = s.EmitWithAckAsync("question", "[\"q?\"]");
                });
                s.On("disconnect", e => log.Add("disconnect " + e.Message));
            });
            var js = new Proc(node, Path.Combine(dir, "js_client.js"), Url(port), mode);
            using (js)
            {
                var deadline = DateTime.UtcNow.AddSeconds(20);
                bool answered = false;
                while (!(answered && log.Any(l => l.StartsWith("disconnect"))))
                {
                    if (DateTime.UtcNow > deadline) throw new TimeoutException("server scenario: " + string.Join(", ", log) + "; js: " + js.Output);
                    if (server.Poll() == 0) server.Wait(20);
                    if (!answered && question != null && question.IsCompleted)
                    {
                        var a = question.Result;
                        Eq("answer-from-js", a.GetString(0), "the JS client's ack");
                        Assert(a.Socket != null && a.Socket.Id == jsSocketId(log), "ack names its socket");
                        Eq("{\"score\":1}", a.Socket.DataJson, "socket data");
                        server.Emit(new Target("/").To("players"), "done");
                        answered = true;
                    }
                }
                Assert(js.Exited(10000), "js client exits");
                var ok = js.WaitLine("ok ", 1000);
                string want = mode == "polling" ? "polling" : "websocket";
                Assert(ok.StartsWith("ok " + want + " "), "final transport " + want + ": " + ok);
                Assert(ok.Contains("chat-ack:got,hi") && ok.Contains("bin-echo") && ok.Contains("question:q?"), "js saw everything: " + ok);
                if (mode == "upgrade") Assert(ok.Contains("upgrade:websocket"), "upgraded: " + ok);
                Eq(0, js.ExitCode, "js exit code");
                Assert(log.Contains("request") && log.Contains("chat hi") && log.Contains("bin 2"), "server log: " + string.Join(", ", log));
                Eq(0, server.SocketCount("/"), "no socket left");
            }
        }
    }

    private static string jsSocketId(List<string> log)
    {
        var l = log.First(x => x.StartsWith("connection "));
        return l.Substring("connection ".Length);
    }

    private static void ServerCallbackMode()
    {
        using (var server = new Server(null, DispatchMode.Callback))
        {
            server.Of("/game");
            var requests = 0;
            server.Use("/game", req =>
            {
                Interlocked.Increment(ref requests);
                if (req.HandshakeJson.Contains("\"name\":\"ok\"")) req.Accept();
                else req.Refuse("name required", "{\"need\":\"name\"}");
            });
            var joined = new List<string>();
            server.OnConnection("/game", s =>
            {
                lock (joined) joined.Add(s.Id);
                s.Join("room1");
                s.On("ping", e => e.Ack("[\"pong\"]"));
                s.On("ask", e =>
                {
                    s.EmitWithAck("q", "[1]", reply => s.Emit("asked", "[" + reply.ArgJson(0) + "]"));
                });
            });
            int port = server.Listen();
            using (var bad = new Client(Url(port, "/game"), "{\"auth\":{\"name\":\"nope\"},\"reconnection\":false}"))
            using (var a = new Client(Url(port, "/game"), "{\"auth\":{\"name\":\"ok\"}}"))
            using (var b = new Client(Url(port, "/game"), "{\"auth\":{\"name\":\"ok\"}}"))
            {
                Event refused = null;
                bad.On("connect_error", e => refused = e);
                bad.Open();
                Pump(() => refused != null, 10000, "refusal", bad);
                Eq("name required", refused.Message, "CONNECT_ERROR message");
                Assert(refused.ArgsJson.Contains("\"need\":\"name\""), "refusal data: " + refused.ArgsJson);
                var got = new List<Event>();
                a.On("room-msg", got.Add);
                b.On("room-msg", got.Add);
                a.On("q", e => e.Ack("[\"a-answers\"]"));
                Event asked = null;
                a.On("asked", e => asked = e);
                a.Open();
                b.Open();
                Pump(() => a.State == ClientState.Connected && b.State == ClientState.Connected, 10000, "both connected", a, b);
                Pump(() => { lock (joined) return joined.Count == 2; }, 10000, "both joined", a, b);
                Eq(2, server.SocketCount("/game"), "socket count");
                server.Emit(new Target("/game").To("room1").Except(b.Id), "room-msg", "[\"only a\"]");
                var pong = Await(a.EmitWithAckAsync("ping"), 10000, a, b);
                Eq("pong", pong.GetString(0), "middleware-accepted socket answers acks");
                a.Emit("ask");
                Pump(() => asked != null && got.Count >= 1, 10000, "server→client ack in callback mode", a, b);
                Eq("a-answers", asked.GetString(0), "server's ack callback");
                Eq(1, got.Count, "Except left b out");
                var sock = server.GetSocket("/game", a.Id);
                Assert(sock != null && sock.Connected, "GetSocket");
                sock.Disconnect();
                string reason = null;
                a.On("disconnect", e => reason = e.Message);
                Pump(() => reason != null, 10000, "server-side disconnect", a, b);
                Eq("io server disconnect", reason, "reason");
                Assert(requests >= 3, "the middleware saw every request");
            }
        }
    }

    private static void ServerPollParity()
    {
        using (var server = new Server())
        {
            var sockets = new List<Socket>();
            server.OnConnection("/", s =>
            {
                sockets.Add(s);
                s.Join("team");
                s.DataJson = "{\"n\":" + sockets.Count + "}";
            });
            int port = server.Listen();
            using (var a = new Client(Url(port), "{\"auth\":{\"who\":\"a\"}}", DispatchMode.Callback))
            using (var b = new Client(Url(port), "{\"auth\":{\"who\":\"b\"}}", DispatchMode.Callback))
            {
                a.On("survey", e => e.Ack("[\"a\"]"));
                b.On("survey", e => e.Ack("[\"b\"]"));
                a.Open();
                b.Open();
                var deadline = DateTime.UtcNow.AddSeconds(10);
                while (sockets.Count < 2 && DateTime.UtcNow < deadline) { if (server.Poll() == 0) server.Wait(20); }
                Eq(2, sockets.Count, "two sockets");
                string rooms = sockets[0].RoomsJson;
                Assert(rooms.Contains("\"team\"") && rooms.Contains("\"" + sockets[0].Id + "\""), "rooms: " + rooms);
                string fetched = server.FetchSocketsJson(new Target("/").To("team"), 2000);
                Assert(fetched.Contains("\"who\":\"a\"") && fetched.Contains("\"who\":\"b\"") && fetched.Contains("\"data\":{\"n\":1}"),
                    "fetch: " + fetched);
                Eq("[]", server.FetchSocketsJson(new Target("/").To("nobody")), "an empty room");
                var replies = server.EmitWithAckAsync(new Target("/").To("team"), "survey", "[]", null, 5000);
                deadline = DateTime.UtcNow.AddSeconds(10);
                while (!replies.IsCompleted && DateTime.UtcNow < deadline) { if (server.Poll() == 0) server.Wait(20); }
                Assert(replies.IsCompleted && !replies.IsFaulted, "broadcast ack: " + replies.Status);
                var r = replies.Result;
                Eq(2, r.ArgCount, "one reply per socket");
                Assert(r.ArgsJson.Contains("[\"a\"]") && r.ArgsJson.Contains("[\"b\"]"), "replies: " + r.ArgsJson);
                Assert(r.Socket == null, "a broadcast ack has no socket");
                // A new auth payload is used at the next connection.
                a.SetAuth("{\"who\":\"a2\"}");
                Throws<OxsioArgumentException>(() => a.SetAuth("[1]"), "an array is not an auth payload");
                a.Disconnect();
                a.Open();
                deadline = DateTime.UtcNow.AddSeconds(10);
                while (sockets.Count < 3 && DateTime.UtcNow < deadline) { if (server.Poll() == 0) server.Wait(20); }
                Eq(3, sockets.Count, "reconnected");
                Assert(sockets[2].AuthJson.Contains("\"who\":\"a2\""), "new auth: " + sockets[2].AuthJson);
            }
        }
    }

    /// <summary>Two C# servers joined by the Redis adapter ("adapter" in the
    /// config) on a redis-server this test starts and stops by PID: a room
    /// broadcast from one reaches both servers' clients, and FetchSocketsJson
    /// on the other sees both sockets with their data.</summary>
    private static void ServerClusterOverRedis()
    {
        int redisPort;
        var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        redisPort = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        using (new Proc("redis-server", "--port", redisPort.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"))
        {
            var up = DateTime.UtcNow.AddSeconds(10);
            while (true)
            {
                try { using (new System.Net.Sockets.TcpClient("127.0.0.1", redisPort)) break; }
                catch (System.Net.Sockets.SocketException)
                {
                    if (DateTime.UtcNow > up) throw new TimeoutException("redis-server did not start (tests/run-all.sh installs it)");
                    Thread.Sleep(25);
                }
            }
            string config = "{\"adapter\":{\"kind\":\"redis\",\"url\":\"redis://127.0.0.1:" + redisPort + "\",\"requests_timeout_ms\":2000}}";
            using (var s1 = new Server(config, DispatchMode.Callback))
            using (var s2 = new Server(config, DispatchMode.Callback))
            {
                s1.OnConnection("/", s => { s.Join("team"); s.DataJson = "{\"node\":1}"; });
                s2.OnConnection("/", s => { s.Join("team"); s.DataJson = "{\"node\":2}"; });
                int p1 = s1.Listen(), p2 = s2.Listen();
                using (var a = new Client(Url(p1)))
                using (var b = new Client(Url(p2)))
                {
                    var got = new List<string>();
                    a.On("news", e => { lock (got) got.Add("a:" + e.GetString(0)); });
                    b.On("news", e => { lock (got) got.Add("b:" + e.GetString(0)); });
                    a.Open();
                    b.Open();
                    Pump(() => a.State == ClientState.Connected && b.State == ClientState.Connected, 10000, "both connected", a, b);
                    // The adapter subscribes in the background: emit until both sides hear it.
                    var deadline = DateTime.UtcNow.AddSeconds(20);
                    Func<bool> both = () => { lock (got) return got.Contains("a:across") && got.Contains("b:across"); };
                    while (!both())
                    {
                        if (DateTime.UtcNow > deadline) throw new TimeoutException("the broadcast never crossed: " + string.Join(",", got));
                        s1.Emit(new Target("/").To("team"), "news", "[\"across\"]");
                        try { Pump(both, 300, "news on both servers", a, b); } catch (TimeoutException) { }
                    }
                    string fetched = s2.FetchSocketsJson(new Target("/").To("team"), 3000);
                    Assert(fetched.Contains("\"node\":1") && fetched.Contains("\"node\":2") && fetched.Contains(a.Id) && fetched.Contains(b.Id),
                        "fetchSockets across the servers: " + fetched);
                }
            }
        }
    }

    // ----------------------------------------------------------- misuse

    private static void MisuseDispose()
    {
        var c = new Client("http://127.0.0.1:9/");
        Task<Event> pending;
        c.Open();
        pending = c.EmitWithAckAsync("never", null, null, 60000);
        c.Dispose();
        c.Dispose();
        Assert(c.IsDisposed, "IsDisposed");
        Assert(pending.IsFaulted && pending.Exception.InnerException is ObjectDisposedException, "a pending ack fails with ObjectDisposedException");
        Throws<ObjectDisposedException>(() => c.Emit("x"), "Emit after Dispose");
        Throws<ObjectDisposedException>(() => c.EmitWithAckAsync("x"), "EmitWithAckAsync after Dispose");
        Throws<ObjectDisposedException>(() => c.Poll(), "Poll after Dispose");
        Throws<ObjectDisposedException>(() => c.On("x", e => { }), "On after Dispose");
        Throws<ObjectDisposedException>(() => { var s = c.State; }, "State after Dispose");
        Throws<ObjectDisposedException>(() => c.Of("/a"), "Of after Dispose");
        Throws<ObjectDisposedException>(() => c.Open(), "Open after Dispose");

        var server = new Server();
        Socket sock = null;
        server.OnConnection("/", s => sock = s);
        int port = server.Listen();
        using (var cl = new Client(Url(port)))
        {
            cl.Open();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (sock == null && DateTime.UtcNow < deadline) { server.Poll(); cl.Poll(); Thread.Sleep(5); }
            Assert(sock != null, "connected");
            server.Dispose();
            server.Dispose();
            Throws<ObjectDisposedException>(() => sock.Emit("x"), "Socket.Emit after the server's Dispose");
            Throws<ObjectDisposedException>(() => { var d = sock.DataJson; }, "Socket.DataJson after the server's Dispose");
            Throws<ObjectDisposedException>(() => server.Listen(), "Listen after Dispose");
            Throws<ObjectDisposedException>(() => server.Poll(), "Server.Poll after Dispose");
            Throws<ObjectDisposedException>(() => server.Emit(null, "x"), "Server.Emit after Dispose");
        }
        // Finalizers release what was never disposed, without crashing.
        for (int i = 0; i < 20; i++) new Client("http://127.0.0.1:9/");
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    private static void MisuseArguments()
    {
        Throws<OxsioArgumentException>(() => new Client("http://127.0.0.1:9/", "{\"nope\":1}"), "unknown config key");
        Throws<OxsioNetworkException>(() => new Client("ftp://x/"), "unsupported scheme");
        Throws<ArgumentNullException>(() => new Client(null), "null url");
        using (var c = new Client("http://127.0.0.1:9/"))
        {
            var e = Throws<OxsioArgumentException>(() => c.Emit("x", "[1,"), "bad JSON");
            Eq(ResultCode.InvalidJson, e.Code, "code");
            Assert(e.Message.Contains("Emit"), "message names the call: " + e.Message);
            Throws<OxsioArgumentException>(() => c.Emit("x", "[{\"_placeholder\":true,\"num\":3}]"), "a placeholder without buffer");
            Throws<OxsioStateException>(() => c.Emit("connect"), "reserved event name");
            Throws<ArgumentNullException>(() => c.Emit("x", "[]", new byte[][] { null }), "null buffer");
            Throws<ArgumentOutOfRangeException>(() => c.Wait(-1), "negative timeout");
        }
        using (var s = new Server())
        {
            Throws<OxsioArgumentException>(() => s.Emit(new Target("/undeclared"), "x"), "undeclared namespace");
            s.Use("/", r => r.Accept());
            Throws<InvalidOperationException>(() => s.Use("/", r => r.Accept()), "a second poll-mode middleware");
            var d = Throws<OxsioArgumentException>(() => new Server(null, (DispatchMode)7), "bad dispatch value");
            Eq(ResultCode.InvalidArgument, d.Code, "code");
        }
    }

    /// <summary>Opens a polling session and sends an invalid Socket.IO packet: the server logs it at DEBUG.</summary>
    private static void InvalidPacket(int port)
    {
        Func<string, string> http = req =>
        {
            using (var tcp = new System.Net.Sockets.TcpClient("127.0.0.1", port))
            using (var st = tcp.GetStream())
            {
                var b = System.Text.Encoding.ASCII.GetBytes(req);
                st.Write(b, 0, b.Length);
                return new StreamReader(st).ReadToEnd();
            }
        };
        string open = http("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        int at = open.IndexOf("\"sid\":\"");
        Assert(at >= 0, "handshake: " + open);
        string sid = open.Substring(at + 7, open.IndexOf('"', at + 7) - at - 7);
        string answer = http("POST /socket.io/?EIO=4&transport=polling&sid=" + sid +
            " HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n49");
        Assert(answer.StartsWith("HTTP/1.1 200"), "post: " + answer);
    }

    private static void NativeLogs()
    {
        var lines = new List<string>();
        Action<string> sink = l => { lock (lines) lines.Add(l); };
        OxsioLog.Message += sink;
        try
        {
            using (var server = new Server())
            {
                int port = server.Listen();
                // Poll mode: records wait until PollNative, which raises Message on this thread.
                OxsioLog.EnableNativeQueue(LogLevel.Debug);
                InvalidPacket(port);
                var deadline = DateTime.UtcNow.AddSeconds(10);
                while (DateTime.UtcNow < deadline)
                {
                    server.Poll();
                    OxsioLog.PollNative();
                    lock (lines) if (lines.Any(l => l.Contains("invalid packet"))) break;
                    Thread.Sleep(10);
                }
                lock (lines)
                    Assert(lines.Any(l => l.StartsWith("oxsio[Debug] oxsio::socketio::conn: invalid packet, closing")),
                        "queued record: " + string.Join(" | ", lines));
                // Callback mode: on the library's log thread.
                lock (lines) lines.Clear();
                OxsioLog.ForwardNative(LogLevel.Debug);
                InvalidPacket(port);
                deadline = DateTime.UtcNow.AddSeconds(10);
                while (DateTime.UtcNow < deadline)
                {
                    server.Poll();
                    lock (lines) if (lines.Any(l => l.Contains("invalid packet"))) break;
                    Thread.Sleep(10);
                }
                lock (lines) Assert(lines.Any(l => l.Contains("invalid packet, closing")), "forwarded record: " + string.Join(" | ", lines));
                OxsioLog.DisableNative();
                Throws<OxsioHandleException>(() => OxsioLog.PollNative(), "PollNative with the sink off");
            }
        }
        finally
        {
            OxsioLog.Message -= sink;
            OxsioLog.DisableNative();
        }
    }

    private static void ThrowingHandler()
    {
        var logged = new List<string>();
        Action<string> sink = l => { lock (logged) logged.Add(l); };
        OxsioLog.Message += sink;
        try
        {
            int port;
            using (NodeServer(out port))
            {
                // Poll mode: the throw is logged, the other handlers and the connection go on.
                Event welcome;
                using (var c = Connected(Url(port), null, out welcome))
                {
                    int after = 0;
                    c.On("echo", e => { throw new InvalidOperationException("boom in poll mode"); });
                    c.On("echo", e => after++);
                    c.Emit("echo", "[1]");
                    Pump(() => after == 1, 10000, "the second handler", c);
                    var r = Await(c.EmitWithAckAsync("echo-ack", "[\"alive\"]"), 10000, c);
                    Eq("alive", r.GetString(0), "connection alive after a throw");
                    Eq(ClientState.Connected, c.State, "state");
                }
                // Callback mode: the throw happens on a library thread; it is logged, never crosses into native code.
                using (var c = new Client(Url(port), null, DispatchMode.Callback))
                {
                    var second = new ManualResetEventSlim();
                    int n = 0;
                    c.On("echo", e => { if (Interlocked.Increment(ref n) == 1) throw new InvalidOperationException("boom on a library thread"); second.Set(); });
                    c.Open();
                    c.WaitConnected(10000);
                    c.Emit("echo", "[1]");
                    c.Emit("echo", "[2]");
                    Assert(second.Wait(10000), "a later event is still delivered");
                    var t = c.EmitWithAckAsync("echo-ack", "[\"alive\"]");
                    Assert(t.Wait(10000), "ack after a throw");
                    Eq(ClientState.Connected, c.State, "state");
                }
            }
            lock (logged)
            {
                Assert(logged.Any(l => l.Contains("boom in poll mode") && l.Contains("InvalidOperationException")), "poll-mode throw logged: " + string.Join(" | ", logged));
                Assert(logged.Any(l => l.Contains("boom on a library thread")), "callback-mode throw logged");
            }
        }
        finally
        {
            OxsioLog.Message -= sink;
        }
    }
}
