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
            Action<Event>[] run;
            lock (gate)
            {
                List<Entry> l;
                byName.TryGetValue(ev.Name, out l);
                int count = (l == null ? 0 : l.Count) + any.Count;
                if (count == 0) return;
                run = new Action<Event>[count];
                int i = 0;
                if (l != null) i = Take(l, run, i);
                Take(any, run, i);
            }
            foreach (var h in run)
            {
                try { h(ev); }
                catch (Exception e) { OxsioLog.HandlerFailed(where + " \"" + ev.Name + "\"", e); }
            }
        }

        private static int Take(List<Entry> l, Action<Event>[] run, int i)
        {
            bool once = false;
            foreach (var e in l)
            {
                run[i++] = e.Handler;
                once |= e.Once;
            }
            if (once) l.RemoveAll(e => e.Once);
            return i;
        }
    }
}
