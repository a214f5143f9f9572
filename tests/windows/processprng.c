/* bcryptprimitives.dll for Wine 8, which lacks it: Go >= 1.22 on Windows loads
 * ProcessPrng from it (from the system directory only) and dies at start without it.
 * A real Windows 10+ has the real one; this is for running Windows builds under Wine. */
#include <windows.h>

/* advapi32's SystemFunction036 is RtlGenRandom: Wine implements it. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a ULONG: feed it in chunks. */
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
