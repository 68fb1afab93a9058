#!/usr/bin/python3
"""imgdiff: compares screenshots with reference pictures, standard library only.

  imgdiff.py compare [--region X,Y,W,H] ACTUAL REFERENCE [DIFF.png]
                                                    exit 0 within tolerance, 1 not
  imgdiff.py topng IN.bmp OUT.png                   (as tools/bmp2png.py, scale 1)

ACTUAL and REFERENCE may each be a BMP (24/32 bit, as sdl_view_screenshot()
writes) or a PNG (8-bit RGB or RGBA, not interlaced, any filter). Within
tolerance means: the same size, a mean absolute difference per channel below
1 % of full scale, and fewer than 0.5 % of the pixels with a channel that
differs by more than 32. The two renderers SDL may use (software under the
offscreen driver, or under Xvfb) differ by an edge pixel here and there; a
digit, an icon or a menu screen more or less is far beyond both limits.
--region compares only that rectangle (pixels from the top left), with the
same limits relative to its size: the LCD glass is a sixth of the window, so
a digit more or less there is caught even where it is lost in the whole.
A DIFF picture (changed pixels in red on the dimmed reference) is written
when asked and the pictures differ.
"""
import struct
import sys
import zlib

MEAN_LIMIT = 0.01      # mean |a - b| per channel, fraction of 255
PIXEL_LIMIT = 0.005    # fraction of pixels allowed to differ by more than ...
PIXEL_DELTA = 32       # ... this much in some channel


def read_bmp(data):
    off, = struct.unpack_from('<I', data, 10)
    w, h = struct.unpack_from('<ii', data, 18)
    bpp, = struct.unpack_from('<H', data, 28)
    if bpp not in (24, 32):
        raise ValueError('BMP with %d bits per pixel' % bpp)
    n = bpp // 8
    stride = (w * n + 3) & ~3
    rows = []
    for y in range(abs(h)):
        src = y if h < 0 else abs(h) - 1 - y
        row = data[off + src * stride: off + src * stride + w * n]
        rgb = bytearray(w * 3)
        rgb[0::3] = row[2::n]
        rgb[1::3] = row[1::n]
        rgb[2::3] = row[0::n]
        rows.append(bytes(rgb))
    return w, abs(h), b''.join(rows)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(data):
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise ValueError('not a PNG')
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        n, = struct.unpack_from('>I', data, pos)
        kind = data[pos + 4: pos + 8]
        body = data[pos + 8: pos + 8 + n]
        if kind == b'IHDR':
            hdr = struct.unpack('>IIBBBBB', body)
        elif kind == b'IDAT':
            idat.append(body)
        elif kind == b'IEND':
            break
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError('PNG not 8-bit RGB/RGBA non-interlaced')
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b''.join(idat))
    stride = w * bpp
    prev = bytearray(stride)
    out = []
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1: (y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 255
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                ul = prev[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + paeth(left, prev[i], ul)) & 255
        elif f != 0:
            raise ValueError('PNG filter %d' % f)
        prev = line
        if bpp == 4:
            rgb = bytearray(w * 3)
            rgb[0::3], rgb[1::3], rgb[2::3] = line[0::4], line[1::4], line[2::4]
            out.append(bytes(rgb))
        else:
            out.append(bytes(line))
    return w, h, b''.join(out)


def read_image(path):
    data = open(path, 'rb').read()
    return read_png(data) if data[:4] == b'\x89PNG' else read_bmp(data)


def write_png(path, w, h, rgb):
    def chunk(t, d):
        c = struct.pack('>I', len(d)) + t + d
        return c + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    raw = b''.join(b'\x00' + rgb[y * w * 3:(y + 1) * w * 3] for y in range(h))
    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0))
    png += chunk(b'IDAT', zlib.compress(raw, 9)) + chunk(b'IEND', b'')
    open(path, 'wb').write(png)


def crop(img, region):
    w, h, rgb = img
    x, y, cw, ch = region
    if x < 0 or y < 0 or x + cw > w or y + ch > h:
        raise ValueError('region outside the %dx%d picture' % (w, h))
    return cw, ch, b''.join(rgb[(y + r) * w * 3 + x * 3:(y + r) * w * 3 + (x + cw) * 3] for r in range(ch))


def compare(a, b, diff_path=None):
    """(within tolerance, message)."""
    (wa, ha, pa), (wb, hb, pb) = a, b
    if (wa, ha) != (wb, hb):
        return False, 'size %dx%d, reference %dx%d' % (wa, ha, wb, hb)
    d = bytes(abs(x - y) for x, y in zip(pa, pb))
    mean = sum(d) / (len(d) * 255.0)
    big = bytes(1 if max(d[i], d[i + 1], d[i + 2]) > PIXEL_DELTA else 0 for i in range(0, len(d), 3))
    frac = sum(big) / float(wa * ha)
    ok = mean < MEAN_LIMIT and frac < PIXEL_LIMIT
    msg = 'mean difference %.3f %% (limit %.1f %%), pixels off by more than %d: %.3f %% (limit %.1f %%)' % (
        100 * mean, 100 * MEAN_LIMIT, PIXEL_DELTA, 100 * frac, 100 * PIXEL_LIMIT)
    if diff_path and frac > 0:
        out = bytearray(x // 3 for x in pb)
        for p, bad in enumerate(big):
            if bad:
                out[3 * p: 3 * p + 3] = b'\xff\x00\x00'
        write_png(diff_path, wb, hb, bytes(out))
    return ok, msg


def main(argv):
    if len(argv) >= 4 and argv[1] == 'compare':
        region = None
        if argv[2] == '--region':
            region = tuple(int(v) for v in argv[3].split(','))
            argv = argv[:2] + argv[4:]
        a, b = read_image(argv[2]), read_image(argv[3])
        if region:
            a, b = crop(a, region), crop(b, region)
        ok, msg = compare(a, b, argv[4] if len(argv) > 4 else None)
        print(msg)
        return 0 if ok else 1
    if len(argv) == 4 and argv[1] == 'topng':
        w, h, rgb = read_image(argv[2])
        write_png(argv[3], w, h, rgb)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
