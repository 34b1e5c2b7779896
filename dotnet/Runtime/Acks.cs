using System;
using System.Collections.Generic;

namespace Oxsio
{
    internal struct AckKey : IEquatable<AckKey>
    {
        internal IntPtr Socket;
        internal ulong Id;

        internal AckKey(IntPtr socket, ulong id) { Socket = socket; Id = id; }
        public bool Equals(AckKey o) { return Socket == o.Socket && Id == o.Id; }
        public override bool Equals(object o) { return o is AckKey && Equals((AckKey)o); }
        public override int GetHashCode() { return Socket.GetHashCode() * 31 + Id.GetHashCode(); }
    }

    /// <summary>
    /// The acknowledgements a client or server awaits. In poll mode the
    /// replies come out of Poll() and are matched here by (socket, id); the
    /// emit and the matching share one lock, so a reply polled on another
    /// thread right after the emit still finds its entry. In callback mode
    /// the reply goes straight to the PendingAck (user_data of the emit).
    /// Whatever is left when the handle is disposed fails with
    /// ObjectDisposedException.
    /// </summary>
    internal sealed class AckTable
    {
        internal readonly object Gate = new object();
        private readonly HashSet<PendingAck> live = new HashSet<PendingAck>();
        private readonly Dictionary<AckKey, PendingAck> byId = new Dictionary<AckKey, PendingAck>();
        private bool closed;

        internal PendingAck Begin(bool task, Action<Event> callback, Func<IntPtr, Socket> socketOf)
        {
            var p = new PendingAck(this, task, callback, socketOf);
            lock (Gate)
            {
                if (closed) throw new ObjectDisposedException("Oxsio", "emit after Dispose");
                live.Add(p);
            }
            return p;
        }

        /// <summary>Poll mode, under Gate: the emit returned this id.</summary>
        internal void Registered(PendingAck p, AckKey key) { byId[key] = p; }

        internal void Remove(PendingAck p)
        {
            lock (Gate) live.Remove(p);
        }

        /// <summary>Poll mode: the entry a reply answers, removed.</summary>
        internal PendingAck Take(AckKey key)
        {
            lock (Gate)
            {
                PendingAck p;
                if (!byId.TryGetValue(key, out p)) return null;
                byId.Remove(key);
                return p;
            }
        }

        internal void Close()
        {
            List<PendingAck> left;
            lock (Gate)
            {
                closed = true;
                left = new List<PendingAck>(live);
                live.Clear();
                byId.Clear();
            }
            foreach (var p in left) p.Fail(new ObjectDisposedException("Oxsio", "disposed while awaiting an acknowledgement"));
        }
    }
}
