"""The one wire format for everything a computation party sends another: no code, fixed widths.

Why: MPyC marshals its messages with ``pickle`` (``mpc.transfer``, and every secure-array
path: ``mpc.input``, ``mpc.output``, resharing), and ``pickle.loads`` runs whatever code the
sender chose. The trust model lets one of the three parties be dishonest, so no byte a peer
sends may ever reach a decoder that can build arbitrary objects. This module is that decoder:
a closed grammar of plain values, each with an explicit type tag, explicit lengths and
explicit limits, decoded without ``eval``, ``pickle``, ``marshal`` or any class lookup.
Anything else — an unknown tag, a length that runs past the message, bytes left over, a
depth or size above the limits, an integer at or above the field bound — raises
:class:`PeerMessageError`. (``mpc_programs.runtime.hardened_runtime`` installs it into MPyC and turns
that error into an abort of the run that names the peer and the message label.)

Grammar (little-endian; one tag byte per value)::

    N                       None
    F | T                   False | True
    I sign:u8 len:u16 mag   an int: sign 0/1, |value| in len ≤ 1024 bytes (minimal, no leading 0)
    S len:u32 utf8          a str (valid UTF-8)
    B len:u32 raw           bytes
    L count:u32 value*      a list
    U count:u32 value*      a tuple
    A kind:u8 ndim:u8 dim:u64*ndim payload
                            a numpy array; kind 0: non-negative Python ints (dtype object) as
                            width:u8 then count·width bytes, width ≤ 64; kinds 1..9: the fixed
                            numpy dtypes of ``_NATIVE`` as raw little-endian items

The decoder needs no schema: what a message may contain is checked where it is used (a
shape, a count, a field bound). :func:`encode_uints`/:func:`decode_uints` are the fast path
for the bare field-element vectors the statistics exchange in bulk (no header at all: the
receiver knows the count and width, so a wrong length is an error).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

MAX_INT_BYTES = 1024  # far above any field element (24 bytes); bounds the work per integer
MAX_DEPTH = 8  # nesting of lists/tuples
MAX_NDIM = 4
MAX_WIDTH = 64  # bytes per element of an object-int array (a 512-bit field would fit)

_NATIVE = {1: np.dtype('<u1'), 2: np.dtype('<i1'), 3: np.dtype('<u2'), 4: np.dtype('<i2'),
           5: np.dtype('<u4'), 6: np.dtype('<i4'), 7: np.dtype('<u8'), 8: np.dtype('<i8'),
           9: np.dtype('?')}
_NATIVE_KIND = {dtype: kind for kind, dtype in _NATIVE.items()}


class PeerMessageError(ValueError):
    """A peer's message does not decode under this grammar (or breaks a limit)."""


# -- encoding (our own values: a failure here is a bug in this program, raised as TypeError) --

def encode(obj: Any) -> bytes:
    """The wire form of ``obj`` (None, bool, int, str, bytes, list, tuple, int ndarray)."""
    out: list[bytes] = []
    _encode(obj, out, 0)
    return b''.join(out)


def _encode(obj: Any, out: list[bytes], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise TypeError("value nested too deeply for the peer codec")
    if obj is None:
        out.append(b'N')
    elif obj is True or obj is False or isinstance(obj, np.bool_):
        out.append(b'T' if obj else b'F')
    elif isinstance(obj, (int, np.integer)):
        value = int(obj)
        magnitude = abs(value)
        size = (magnitude.bit_length() + 7) // 8
        if size > MAX_INT_BYTES:
            raise TypeError("integer too large for the peer codec")
        out.append(b'I' + struct.pack('<BH', value < 0, size) + magnitude.to_bytes(size, 'little'))
    elif isinstance(obj, str):
        data = obj.encode('utf-8')
        out.append(b'S' + struct.pack('<I', len(data)) + data)
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        out.append(b'B' + struct.pack('<I', len(data)) + data)
    elif isinstance(obj, (list, tuple)):
        out.append((b'L' if isinstance(obj, list) else b'U') + struct.pack('<I', len(obj)))
        for item in obj:
            _encode(item, out, depth + 1)
    elif isinstance(obj, np.ndarray):
        _encode_array(obj, out)
    else:
        raise TypeError(f"the peer codec does not carry {type(obj).__name__}")


def _encode_array(array: np.ndarray, out: list[bytes]) -> None:
    if array.ndim > MAX_NDIM:
        raise TypeError("array has too many dimensions for the peer codec")
    header = struct.pack(f'<BB{array.ndim}Q', 0, array.ndim, *array.shape)
    if array.dtype == object:
        flat = [int(v) for v in array.reshape(-1).tolist()]
        if any(v < 0 for v in flat):
            raise TypeError("object arrays on the wire hold non-negative integers only")
        width = max(1, (max(flat, default=0).bit_length() + 7) // 8)
        if width > MAX_WIDTH:
            raise TypeError("array element too large for the peer codec")
        out.append(b'A' + header + bytes([width]) + encode_uints(flat, width))
        return
    dtype = array.dtype.newbyteorder('<') if array.dtype.byteorder == '>' else array.dtype
    kind = _NATIVE_KIND.get(dtype)
    if kind is None:
        raise TypeError(f"the peer codec does not carry arrays of {array.dtype}")
    header = struct.pack(f'<BB{array.ndim}Q', kind, array.ndim, *array.shape)
    out.append(b'A' + header + np.ascontiguousarray(array, dtype=dtype).tobytes())


def encode_uints(values: Any, width: int) -> bytes:
    """``values`` (non-negative ints below 2^(8·width)) as ``width`` bytes each, no header."""
    return b''.join([int(v).to_bytes(width, 'little') for v in values])


# -- decoding (a peer's bytes: every failure is a PeerMessageError) --------------------------

def decode(data: bytes, *, bound: int | None = None) -> Any:
    """Decode one whole message; object-int array elements must be < ``bound`` if given."""
    reader = _Reader(memoryview(bytes(data)) if not isinstance(data, bytes) else memoryview(data),
                     bound)
    value = reader.value(0)
    if reader.pos != len(reader.data):
        raise PeerMessageError(f"{len(reader.data) - reader.pos} bytes after the message's end")
    return value


def decode_uints(data: bytes, count: int, width: int, bound: int) -> np.ndarray:
    """``count`` integers of ``width`` bytes each, every one below ``bound`` (object ndarray)."""
    if len(data) != count * width:
        raise PeerMessageError(f"expected {count} values of {width} bytes ({count * width} bytes), "
                               f"got {len(data)} bytes")
    from_bytes = int.from_bytes
    out = np.empty(count, dtype=object)
    out[:] = [from_bytes(data[i:i + width], 'little') for i in range(0, count * width, width)]
    if count and max(out.tolist()) >= bound:
        raise PeerMessageError("a value is outside the field")
    return out


class _Reader:
    __slots__ = ('data', 'pos', 'bound')

    def __init__(self, data: memoryview, bound: int | None) -> None:
        self.data, self.pos, self.bound = data, 0, bound

    def take(self, size: int) -> memoryview:
        end = self.pos + size
        if size < 0 or end > len(self.data):
            raise PeerMessageError(f"message truncated: needs {size} bytes at offset {self.pos}, "
                                   f"has {len(self.data) - self.pos}")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def unpack(self, fmt: str) -> tuple[int, ...]:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise PeerMessageError("message nested too deeply")
        tag = bytes(self.take(1))
        if tag == b'N':
            return None
        if tag in (b'F', b'T'):
            return tag == b'T'
        if tag == b'I':
            negative, size = self.unpack('<BH')
            if negative > 1 or size > MAX_INT_BYTES:
                raise PeerMessageError("malformed integer header")
            magnitude = int.from_bytes(self.take(size), 'little')
            if size and magnitude >> (8 * size - 8) == 0:
                raise PeerMessageError("integer not in minimal form")
            return -magnitude if negative else magnitude
        if tag == b'S':
            (size,) = self.unpack('<I')
            try:
                return str(self.take(size), 'utf-8')
            except UnicodeDecodeError:
                raise PeerMessageError("string is not valid UTF-8") from None
        if tag == b'B':
            (size,) = self.unpack('<I')
            return bytes(self.take(size))
        if tag in (b'L', b'U'):
            (count,) = self.unpack('<I')
            if count > len(self.data) - self.pos:  # every item takes at least one byte
                raise PeerMessageError("list longer than the message")
            items = [self.value(depth + 1) for _ in range(count)]
            return items if tag == b'L' else tuple(items)
        if tag == b'A':
            return self.array()
        raise PeerMessageError(f"unknown type tag {tag!r}")

    def array(self) -> np.ndarray:
        kind, ndim = self.unpack('<BB')
        if ndim > MAX_NDIM:
            raise PeerMessageError("array has too many dimensions")
        shape = self.unpack(f'<{ndim}Q')
        count = 1
        for dim in shape:
            count *= dim
        if kind == 0:
            (width,) = self.unpack('<B')
            if not 1 <= width <= MAX_WIDTH:
                raise PeerMessageError("bad array element width")
            if count * width > len(self.data) - self.pos:
                raise PeerMessageError("array longer than the message")
            raw = bytes(self.take(count * width))
            bound = self.bound if self.bound is not None else 1 << (8 * width)
            return decode_uints(raw, count, width, bound).reshape(shape)
        dtype = _NATIVE.get(kind)
        if dtype is None:
            raise PeerMessageError(f"unknown array kind {kind}")
        raw = self.take(count * dtype.itemsize)
        array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        if dtype == np.dtype('?') and raw and max(raw) > 1:
            raise PeerMessageError("boolean array holds a byte other than 0 or 1")
        if self.bound is not None and array.size and dtype.kind in 'iu' and (
                int(array.min()) < 0 or int(array.max()) >= self.bound):
            raise PeerMessageError("a value is outside the field")
        return array
