# ramp.py N C H W OUT_PREFIX: N ramp images (float32, values 0..1 shifted per sample) and labels
import struct, sys
n, c, h, w, pre = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def npy(path, descr, shape, data):
    hdr = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (descr, ", ".join(map(str, shape)) + ("," if len(shape) == 1 else ""))
    hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + data)
size = c * h * w
vals = bytearray()
for s in range(n):
    vals += struct.pack("<%df" % size, *(((i * 7 + s * 131) % 256) / 255.0 for i in range(size)))
npy(pre + "_x.npy", "<f4", (n, c, h, w), bytes(vals))
npy(pre + "_y.npy", "<i8", (n,), struct.pack("<%dq" % n, *range(n)))
