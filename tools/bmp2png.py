#!/usr/bin/python3
"""bmp2png: turns the 24/32-bit BMP that sdl_view_screenshot() writes into a
PNG, with the standard library only (no ImageMagick, no PIL needed).
usage: tools/bmp2png.py in.bmp out.png [scale-down factor]"""
import struct, sys, zlib

def main():
    data = open(sys.argv[1], 'rb').read()
    off, = struct.unpack_from('<I', data, 10)
    w, h = struct.unpack_from('<ii', data, 18)
    bpp, = struct.unpack_from('<H', data, 28)
    k = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    bytespp = bpp // 8
    stride = (w * bytespp + 3) & ~3
    rows = []
    for y in range(abs(h)):
        src = y if h < 0 else abs(h) - 1 - y
        rows.append(data[off + src * stride: off + src * stride + w * bytespp])
    out = bytearray()
    for y in range(0, abs(h), k):
        out.append(0)
        r = rows[y]
        for x in range(0, w, k):
            b, g, rr = r[x * bytespp], r[x * bytespp + 1], r[x * bytespp + 2]
            out += bytes((rr, g, b))
    W, H = (w + k - 1) // k, (abs(h) + k - 1) // k
    def chunk(t, d):
        c = struct.pack('>I', len(d)) + t + d
        return c + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', W, H, 8, 2, 0, 0, 0))
    png += chunk(b'IDAT', zlib.compress(bytes(out), 9)) + chunk(b'IEND', b'')
    open(sys.argv[2], 'wb').write(png)

main()
