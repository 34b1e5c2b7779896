// P/Invoke declarations of include/oxsio.h. Only this file names native
// symbols; everything else goes through it. No generic signatures (IL2CPP),
// strings cross as NUL-terminated UTF-8 byte arrays (the same on every
// platform, whatever the runtime's default string marshalling), handles we
// own cross as SafeHandles (the marshaller keeps them alive for the call and
// refuses a disposed one).
using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Oxsio
{
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeBuf
    {
        public IntPtr Data;
        public UIntPtr Len;
    }

    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeTarget
    {
        public IntPtr Nsp;
        public IntPtr Rooms;
        public UIntPtr RoomCount;
        public IntPtr ExceptRooms;
        public UIntPtr ExceptCount;
        public uint Flags;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void NativeEventCallback(IntPtr userData, IntPtr ev);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void NativeFreeCallback(IntPtr userData);

    /// <summary>An owned oxsio_client handle, freed exactly once by <c>oxsio_client_free</c>.</summary>
    internal sealed class ClientHandle : SafeHandle
    {
        internal ClientHandle(IntPtr h) : base(IntPtr.Zero, true) { SetHandle(h); }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { return Native.oxsio_client_free(handle) == 0; }
    }

    /// <summary>An owned oxsio_server handle, freed exactly once by <c>oxsio_server_free</c>.</summary>
    internal sealed class ServerHandle : SafeHandle
    {
        internal ServerHandle(IntPtr h) : base(IntPtr.Zero, true) { SetHandle(h); }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { return Native.oxsio_server_free(handle) == 0; }
    }

    /// <summary>An owned oxsio_event handle (from poll or clone), freed by <c>oxsio_event_free</c>.</summary>
    internal sealed class EventHandle : SafeHandle
    {
        internal EventHandle(IntPtr h) : base(IntPtr.Zero, true) { SetHandle(h); }
        public override bool IsInvalid { get { return handle == IntPtr.Zero; } }
        protected override bool ReleaseHandle() { return Native.oxsio_event_free(handle) == 0; }
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    internal delegate void NativeLogCallback(IntPtr userData, uint level, IntPtr target, IntPtr message);

    internal static class Native
    {
#if UNITY_IOS && !UNITY_EDITOR
        private const string Lib = "__Internal";
#else
        private const string Lib = "oxsio";
#endif
        private const CallingConvention CC = CallingConvention.Cdecl;

        // ------------------------------------------------------------ library
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr oxsio_version();
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr oxsio_result_message(uint result);
        [DllImport(Lib, CallingConvention = CC)] internal static extern IntPtr oxsio_last_error_message();

        // ---------------------------------------------------------------- log
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_log_set_callback(uint maxLevel, NativeLogCallback cb, IntPtr userData, NativeFreeCallback userDataFree);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_log_enable_queue(uint maxLevel, UIntPtr capacity);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_log_off();
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_log_poll(out uint level, byte[] target, UIntPtr targetCapacity, out UIntPtr targetLen,
            byte[] message, UIntPtr messageCapacity, out UIntPtr messageLen);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_log_dropped(out ulong count);

        // ------------------------------------------------------------- client
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_client_new(byte[] url, byte[] configJson, uint dispatch, out IntPtr outClient);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_client_of(ClientHandle client, byte[] nsp, byte[] authJson, out IntPtr outClient);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_client_open(ClientHandle client);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_client_wait_connected(ClientHandle client, uint timeoutMs);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_client_on(ClientHandle client, byte[] ev, NativeEventCallback cb, IntPtr userData, NativeFreeCallback userDataFree);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_client_emit(ClientHandle client, byte[] ev, byte[] argsJson, [In] NativeBuf[] buffers, UIntPtr count);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_client_emit_binary(ClientHandle client, byte[] ev, byte[] data, UIntPtr len, uint flags);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_client_emit_with_ack(ClientHandle client, byte[] ev, byte[] argsJson, [In] NativeBuf[] buffers, UIntPtr count,
            uint timeoutMs, NativeEventCallback cb, IntPtr userData, NativeFreeCallback userDataFree, out ulong outAckId);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_client_disconnect(ClientHandle client);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_client_set_auth(ClientHandle client, byte[] authJson);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_client_get_state(ClientHandle client, out uint state);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_client_id(ClientHandle client, byte[] buf, UIntPtr capacity, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_client_poll(ClientHandle client, out IntPtr outEvent);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_client_wait(ClientHandle client, uint timeoutMs);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_client_dropped_events(ClientHandle client, out ulong count);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_client_free(IntPtr client);

        // -------------------------------------------------------------- event
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_get_kind(IntPtr ev);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_name(IntPtr ev, out IntPtr str, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_namespace(IntPtr ev, out IntPtr str, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_args_json(IntPtr ev, out IntPtr str, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_arg_count(IntPtr ev, out UIntPtr count);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_arg_kind(IntPtr ev, UIntPtr index, out uint kind);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_arg_json(IntPtr ev, UIntPtr index, out IntPtr str, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_arg_string(IntPtr ev, UIntPtr index, out IntPtr str, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_arg_number(IntPtr ev, UIntPtr index, out double value);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_event_arg_bool(IntPtr ev, UIntPtr index, [MarshalAs(UnmanagedType.U1)] out bool value);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_arg_binary(IntPtr ev, UIntPtr index, out IntPtr data, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_binary_count(IntPtr ev, out UIntPtr count);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_binary(IntPtr ev, UIntPtr index, out IntPtr data, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_socket(IntPtr ev, out IntPtr socket);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_id(IntPtr ev, out ulong id);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_event_recovered(IntPtr ev, [MarshalAs(UnmanagedType.U1)] out bool recovered);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_result(IntPtr ev, out uint result);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_message(IntPtr ev, out IntPtr str, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_handshake_json(IntPtr ev, out IntPtr str, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_event_wants_ack(IntPtr ev, [MarshalAs(UnmanagedType.U1)] out bool wants);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_event_ack(EventHandle ev, byte[] argsJson, [In] NativeBuf[] buffers, UIntPtr count);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_ack_binary(EventHandle ev, byte[] data, UIntPtr len);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_accept(EventHandle ev);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_refuse(EventHandle ev, byte[] message, byte[] dataJson);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_clone(IntPtr ev, out IntPtr outEvent);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_event_free(IntPtr ev);

        // ------------------------------------------------------------- server
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_server_new(byte[] configJson, uint dispatch, out IntPtr outServer);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_server_listen(ServerHandle server, byte[] address, out ushort port);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_server_port(ServerHandle server, out ushort port);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_server_of(ServerHandle server, byte[] nsp);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_server_on_connection(ServerHandle server, byte[] nsp, NativeEventCallback cb, IntPtr userData, NativeFreeCallback userDataFree);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_server_use(ServerHandle server, byte[] nsp, NativeEventCallback cb, IntPtr userData, NativeFreeCallback userDataFree);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_server_emit(ServerHandle server, ref NativeTarget target, byte[] ev, byte[] argsJson, [In] NativeBuf[] buffers, UIntPtr count);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_server_emit_binary(ServerHandle server, ref NativeTarget target, byte[] ev, byte[] data, UIntPtr len);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_server_sockets_join(ServerHandle server, ref NativeTarget target, byte[] room);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_server_sockets_leave(ServerHandle server, ref NativeTarget target, byte[] room);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_server_disconnect_sockets(ServerHandle server, ref NativeTarget target, [MarshalAs(UnmanagedType.U1)] bool close);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_server_socket(ServerHandle server, byte[] nsp, byte[] sid, out IntPtr socket);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_server_fetch_sockets(ServerHandle server, ref NativeTarget target, uint timeoutMs, byte[] buf, UIntPtr capacity, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_server_emit_with_ack(ServerHandle server, ref NativeTarget target, byte[] ev, byte[] argsJson, [In] NativeBuf[] buffers, UIntPtr count,
            uint timeoutMs, NativeEventCallback cb, IntPtr userData, NativeFreeCallback userDataFree, out ulong outAckId);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_server_socket_count(ServerHandle server, byte[] nsp, out UIntPtr count);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_server_poll(ServerHandle server, out IntPtr outEvent);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_server_wait(ServerHandle server, uint timeoutMs);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_server_dropped_events(ServerHandle server, out ulong count);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_server_shutdown(ServerHandle server, uint timeoutMs);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_server_free(IntPtr server);

        // ------------------------------------------------------------- socket
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_socket_id(IntPtr socket, out IntPtr str, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_socket_namespace(IntPtr socket, out IntPtr str, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_socket_auth_json(IntPtr socket, out IntPtr str, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_socket_handshake_json(IntPtr socket, out IntPtr str, out UIntPtr len);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_socket_data_json(IntPtr socket, byte[] buf, UIntPtr capacity, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_socket_set_data_json(IntPtr socket, byte[] json);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_socket_rooms(IntPtr socket, byte[] buf, UIntPtr capacity, out UIntPtr outLen);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_socket_connected(IntPtr socket, [MarshalAs(UnmanagedType.U1)] out bool connected);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_socket_on(IntPtr socket, byte[] ev, NativeEventCallback cb, IntPtr userData, NativeFreeCallback userDataFree);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_socket_emit(IntPtr socket, byte[] ev, byte[] argsJson, [In] NativeBuf[] buffers, UIntPtr count);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_socket_emit_binary(IntPtr socket, byte[] ev, byte[] data, UIntPtr len, uint flags);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_socket_emit_with_ack(IntPtr socket, byte[] ev, byte[] argsJson, [In] NativeBuf[] buffers, UIntPtr count,
            uint timeoutMs, NativeEventCallback cb, IntPtr userData, NativeFreeCallback userDataFree, out ulong outAckId);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_socket_join(IntPtr socket, byte[] room);
        [DllImport(Lib, CallingConvention = CC)] internal static extern uint oxsio_socket_leave(IntPtr socket, byte[] room);
        [DllImport(Lib, CallingConvention = CC)]
        internal static extern uint oxsio_socket_disconnect(IntPtr socket, [MarshalAs(UnmanagedType.U1)] bool close);
    }

    /// <summary>UTF-8 in and out of the C ABI.</summary>
    internal static class Utf8
    {
        /// <summary>NUL-terminated UTF-8 bytes, or null for null.</summary>
        internal static byte[] Z(string s)
        {
            if (s == null) return null;
            int n = Encoding.UTF8.GetByteCount(s);
            var b = new byte[n + 1];
            Encoding.UTF8.GetBytes(s, 0, s.Length, b, 0);
            return b;
        }

        internal static string Read(IntPtr p, UIntPtr len)
        {
            if (p == IntPtr.Zero) return "";
            int n = checked((int)len.ToUInt64());
            if (n == 0) return "";
            var b = new byte[n];
            Marshal.Copy(p, b, 0, n);
            return Encoding.UTF8.GetString(b);
        }

        internal static string ReadZ(IntPtr p)
        {
            if (p == IntPtr.Zero) return "";
            int n = 0;
            while (Marshal.ReadByte(p, n) != 0) n++;
            return Read(p, (UIntPtr)n);
        }

        internal static byte[] Bytes(IntPtr p, UIntPtr len)
        {
            int n = checked((int)len.ToUInt64());
            var b = new byte[n];
            if (n > 0) Marshal.Copy(p, b, 0, n);
            return b;
        }
    }

    /// <summary>Pins byte arrays for one call and describes them as oxsio_buf.</summary>
    internal struct PinnedBuffers : IDisposable
    {
        private GCHandle[] pins;
        internal NativeBuf[] Bufs;
        internal UIntPtr Count { get { return (UIntPtr)(Bufs == null ? 0 : Bufs.Length); } }

        internal static PinnedBuffers Pin(byte[][] buffers)
        {
            var p = new PinnedBuffers();
            if (buffers == null || buffers.Length == 0) return p;
            p.pins = new GCHandle[buffers.Length];
            p.Bufs = new NativeBuf[buffers.Length];
            for (int i = 0; i < buffers.Length; i++)
            {
                var b = buffers[i];
                if (b == null) { p.Dispose(); throw new ArgumentNullException("buffers[" + i + "]"); }
                p.pins[i] = GCHandle.Alloc(b, GCHandleType.Pinned);
                p.Bufs[i].Data = b.Length == 0 ? IntPtr.Zero : p.pins[i].AddrOfPinnedObject();
                p.Bufs[i].Len = (UIntPtr)b.Length;
            }
            return p;
        }

        public void Dispose()
        {
            if (pins == null) return;
            for (int i = 0; i < pins.Length; i++)
                if (pins[i].IsAllocated) pins[i].Free();
            pins = null;
        }
    }
}
