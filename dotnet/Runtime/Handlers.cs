using System;
using System.Collections.Generic;

namespace Oxsio
{
    /// <summary>The managed handlers of one client or socket: by event name, plus catch-all ones.</summary>
    internal sealed class Handlers
    {
        private sealed class Entry
        {
            internal Action<Event> Handler;
            internal bool Once;
        }

        private readonly object gate = new object();
        private readonly Dictionary<string, List<Entry>> byName = new Dictionary<string, List<Entry>>();
        private readonly List<Entry> any = new List<Entry>();

        internal void Add(string name, Action<Event> handler, bool once)
        {
            if (handler == null) throw new ArgumentNullException("handler");
            var e = new Entry { Handler = handler, Once = once };
            lock (gate)
            {
                if (name == null) { any.Add(e); return; }
                List<Entry> l;
                if (!byName.TryGetValue(name, out l)) byName[name] = l = new List<Entry>();
                l.Add(e);
            }
        }

        /// <summary>Removes one handler of name (handler given) or every handler of name (null); name null: the catch-all ones.</summary>
        internal void Remove(string name, Action<Event> handler)
        {
            lock (gate)
            {
                List<Entry> l;
                if (name == null) l = any;
                else if (!byName.TryGetValue(name, out l)) return;
                if (handler == null) l.Clear();
                else l.RemoveAll(e => e.Handler == handler);
            }
        }

        /// <summary>Runs the handlers of the event's name, then the catch-all ones; an exception is logged, never thrown.</summary>
        internal void Dispatch(Event ev, string where)
        {
            var run = new List<Action<Event>>();
            lock (gate)
            {
                List<Entry> l;
                if (byName.TryGetValue(ev.Name, out l)) Take(l, run);
                Take(any, run);
            }
            foreach (var h in run)
            {
                try { h(ev); }
                catch (Exception e) { OxsioLog.HandlerFailed(where + " \"" + ev.Name + "\"", e); }
            }
        }

        private static void Take(List<Entry> l, List<Action<Event>> run)
        {
            foreach (var e in l) run.Add(e.Handler);
            l.RemoveAll(e => e.Once);
        }
    }
}
