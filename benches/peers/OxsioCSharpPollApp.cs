// The benchmark app on oxsio hosted from C# (dotnet/Runtime over liboxsio,
// Mono), poll mode: one thread drains the queue with Server.Wait +
// Server.Poll, as a Unity game loop would with Update().
//
// On connect join room "all"; "echo" -> emit back to the sender;
// "broadcast" -> emit to room "all", sender included. Prints
// "LISTENING <port>" once bound on 127.0.0.1 and serves until SIGTERM.
// Usage: mono OxsioCSharpPollApp.exe [--port N] [--ping-interval-ms N] [--ping-timeout-ms N]
using System;
using System.Threading;
using Oxsio;

internal static class OxsioCSharpPollApp
{
    private static long Arg(string[] args, string name, long dflt)
    {
        for (int i = 0; i + 1 < args.Length; i++)
            if (args[i] == name) return long.Parse(args[i + 1]);
        return dflt;
    }

    private static int Main(string[] args)
    {
        long interval = Arg(args, "--ping-interval-ms", 0), timeout = Arg(args, "--ping-timeout-ms", 0);
        string config = interval > 0 && timeout > 0
            ? "{\"ping_interval_ms\":" + interval + ",\"ping_timeout_ms\":" + timeout + "}"
            : null;
        var stop = new ManualResetEventSlim();
        // SIGTERM: Mono's UnixSignal lives in Mono.Posix; a watcher thread keeps the loop free of it.
        var term = new Mono.Unix.UnixSignal(Mono.Unix.Native.Signum.SIGTERM);
        var intr = new Mono.Unix.UnixSignal(Mono.Unix.Native.Signum.SIGINT);
        var watcher = new Thread(() => { Mono.Unix.UnixSignal.WaitAny(new[] { term, intr }); stop.Set(); });
        watcher.IsBackground = true;
        watcher.Start();
        using (var server = new Server(config))
        {
            var all = new Target("/").To("all");
            server.OnConnection("/", s =>
            {
                s.Join("all");
                s.On("echo", e => s.Emit("echo", e.ArgsJson, e.Buffers));
                s.On("broadcast", e => server.Emit(all, "broadcast", e.ArgsJson, e.Buffers));
            });
            int port = server.Listen("127.0.0.1:" + Arg(args, "--port", 0));
            Console.WriteLine("LISTENING " + port);
            Console.Out.Flush();
            while (!stop.IsSet)
            {
                if (server.Wait(100)) server.Poll();
            }
            try { server.Shutdown(1000); } catch (OxsioTimeoutException) { }
        }
        return 0;
    }
}
