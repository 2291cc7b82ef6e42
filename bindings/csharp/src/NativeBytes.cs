using System;
using System.Runtime.InteropServices;

namespace Libprov.Internal
{
    /// <summary>
    /// prov.i's prov_binding_bytes as P/Invoke returns it: bytes borrowed from a native result
    /// (Data is zero for none). Copied at once by the generated getters.
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct NativeBytes
    {
        public IntPtr Data;
        public UIntPtr Length;

        /// <summary>A managed copy, or null for none.</summary>
        public byte[] ToArray()
        {
            if (Data == IntPtr.Zero) return null;
            var copy = new byte[checked((int)Length.ToUInt64())];
            Marshal.Copy(Data, copy, 0, copy.Length);
            return copy;
        }
    }
}
